//! The chat relay end to end: the real router on 127.0.0.1:0, a temporary SQLite file,
//! tokio-tungstenite clients. One file per flow under `relay/`.

mod support;

mod bad_input;
mod federation;
mod federation_tls;
mod gifts;
mod moderation;
mod restart;
mod rooms;
