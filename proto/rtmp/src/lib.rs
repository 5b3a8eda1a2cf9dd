//! Sans-IO RTMP for the livecdn ingest: handshake, chunk stream, AMF0, and
//! the publish-side session state machines.
//!
//! # What it does
//!
//! [`ServerSession`] is what the origin runs per accepted TCP connection:
//! OBS, FFmpeg or any librtmp client publishing to
//! `rtmp://HOST/live/{stream_key}` is taken through the handshake, `connect`,
//! `createStream` and `publish`, then its audio/video arrive as [`Event`]s
//! carrying raw FLV tag bodies (parsing them is another crate's job).
//! [`ClientSession`] is the other end, used by the built-in demo publisher.
//!
//! No sockets, no clock, no OS randomness: bytes go in through
//! `handle_input`, bytes come out of `poll_transmit`, decisions come out of
//! `poll_output`, and the handshake's random filler is derived from a seed.
//!
//! # The drain rule
//!
//! After constructing a session and **after every `handle_*` call** (and
//! every `accept_publish`/`reject_publish`/`send_*` call), drain
//! `poll_output()` and `poll_transmit()` until both return `None`, writing
//! transmitted bytes to the socket in order. Errors from `handle_input` are
//! fatal; each error has a `reason()` label for metrics.
//!
//! ```
//! # use livecdn_rtmp as rtmp; // the workspace imports this crate as `rtmp`
//! use rtmp::{ClientConfig, ClientEvent, ClientSession, Event, ServerConfig, ServerSession};
//!
//! let mut server = ServerSession::new(ServerConfig::default(), 1);
//! let mut client = ClientSession::new(
//!     ClientConfig::new("live", "rtmp://localhost/live", "key?token=abc"),
//!     2,
//! );
//! let mut started = false;
//! for _ in 0..16 {
//!     while let Some(bytes) = client.poll_transmit() {
//!         server.handle_input(&bytes).unwrap();
//!     }
//!     while let Some(event) = server.poll_output() {
//!         if let Event::PublishRequested { stream_key, .. } = event {
//!             assert_eq!(stream_key, "key");
//!             server.accept_publish().unwrap(); // or reject_publish(..)
//!         }
//!     }
//!     while let Some(bytes) = server.poll_transmit() {
//!         client.handle_input(&bytes).unwrap();
//!     }
//!     while let Some(event) = client.poll_output() {
//!         started |= event == ClientEvent::PublishStarted;
//!     }
//! }
//! assert!(started && server.is_publishing());
//! ```
//!
//! # Specifications implemented
//!
//! | Area | Reference |
//! |------|-----------|
//! | Handshake C0–C2/S0–S2, version 3 | Adobe RTMP spec (2012-12-21), 5.2 |
//! | Digest ("complex") handshake | not in the spec; de-facto Flash Player 9 scheme (schemes 0 and 1), documented in `src/handshake/digest.rs` |
//! | Chunk basic/message headers, fmt 0–3, extended timestamp | RTMP spec 5.3.1 (incl. 5.3.1.3 errata on fmt 3) |
//! | Set Chunk Size, Abort, Acknowledgement, Window Ack Size, Set Peer Bandwidth | RTMP spec 5.4.1–5.4.5 |
//! | User Control: Stream Begin, Ping Request/Response | RTMP spec 6.2, 7.1.7 |
//! | Command / data / audio / video / aggregate messages | RTMP spec 7.1 |
//! | NetConnection `connect`, `createStream`; NetStream `publish`, `deleteStream`, `onStatus` | RTMP spec 7.2 |
//! | AMF0 number … strict array, date, long string, XML document | Adobe AMF0 spec (2007), 2.2–2.17 |
//! | `releaseStream`, `FCPublish`, `FCUnpublish`, `@setDataFrame` | de-facto (FMLE, FFmpeg, OBS) |
//!
//! # Why hand-written
//!
//! The existing Rust RTMP crates either own the socket and timeouts (so they
//! do not fit a sans-IO core) or lack named limits on hostile input
//! (chunk-stream count, message size, pending bytes, AMF depth). The protocol
//! surface a publish-only ingest needs is small enough to write from the spec.
//!
//! # Limits
//!
//! Every limit is a named constant and every breach a distinct error variant:
//! [`MAX_CHUNK_STREAMS`], [`MAX_MESSAGE_SIZE`], [`MAX_PENDING_BYTES`],
//! [`MAX_CHUNK_SIZE`], [`MAX_STREAMS`], [`amf0::MAX_AMF_DEPTH`],
//! [`amf0::MAX_AMF_ITEMS`].
#![warn(missing_docs)]

pub mod amf0;
pub mod chunk;
mod client;
pub mod command;
mod conn;
mod error;
pub mod handshake;
pub mod message;
mod rng;
mod server;
mod timestamp;

pub use amf0::Amf0Value;
pub use chunk::{
    ChunkDecoder, ChunkEncoder, ChunkError, MAX_CHUNK_SIZE, MAX_CHUNK_STREAMS, MAX_MESSAGE_SIZE,
    MAX_PENDING_BYTES, Message,
};
pub use client::{ClientConfig, ClientEvent, ClientSession};
pub use error::SessionError;
pub use handshake::{ClientHandshake, HandshakeError, HandshakeKind, ServerHandshake};
pub use server::{Event, MAX_STREAMS, RejectCode, ServerConfig, ServerSession};
pub use timestamp::TimestampUnwrapper;
