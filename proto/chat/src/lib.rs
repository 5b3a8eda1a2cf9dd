//! Sans-IO chat for livecdn (`docs/chat-protocol.md` is the spec): tokens, wire messages, room
//! sequencing, like coalescing and moderation rules. No sockets, runtime or clock: durations
//! come in as `now: Instant`, wall time as `now_ms` (unix ms), and the relay's driver
//! (`chat-relay`) moves JSON text and time in and out.
//!
//! | Module / type | Role | Spec |
//! |---|---|---|
//! | [`token`] | signed chat tokens in the `token` query parameter | §3 |
//! | [`wire`] | client, server and federation frames; [`decode_client`], [`encode_server`] | §4, §5, §9 |
//! | [`RoomSequencer`] | the home relay's order, dedupe, history and resume | §6 |
//! | [`RoomMirror`] | an edge relay's in-order copy, gap detection, catch-up | §9.3 |
//! | [`LikeCoalescer`] | likes summed and flushed every 200 ms | §7 |
//! | [`DurableLikeTotal`] | the home's room total, persisted before it is broadcast | §7.1 |
//! | [`Moderation`] | bans, timeouts, slow mode, blocked words, size | §8 |
//! | [`limits`] | every named bound | §10 |
//!
//! # Example: one message through a home relay
//!
//! ```
//! use std::time::Instant;
//! use livecdn_chat_proto::{
//!     ClientFrame, Limits, Moderation, Resume, RoomConfig, RoomSequencer, ServerFrame,
//!     Submitted, decode_client, encode_server, token,
//! };
//!
//! let secret = b"shared with the token issuer";
//! let claims = token::ChatClaims {
//!     user_id: "u1".into(),
//!     name: "Ada".into(),
//!     role: token::ChatRole::Viewer,
//!     room: Some("demo".into()),
//!     exp: 1_800_000_000,
//! };
//! // At connect: `ws://relay/ws?room=demo&token=…` (token from the control plane).
//! let t = token::sign(&claims, secret);
//! let claims = token::verify(&t, secret, 1_764_060_960)?;
//! assert!(claims.allows_room("demo"));
//!
//! let (now, now_ms) = (Instant::now(), 1_764_060_960_000); // the driver's clock boundary
//! let mut room = RoomSequencer::new(RoomConfig::default(), 0);
//! let mut rules = Moderation::new(Limits::default().max_text_chars);
//!
//! let frame = decode_client(br#"{"type":"chat","text":" hi! ","client_id":"c1"}"#, &Limits::default())?;
//! let ClientFrame::Chat { text, client_id } = frame else { unreachable!() };
//! assert_eq!(room.duplicate_of(&claims.user_id, "c1"), None);
//! rules.check_chat(&claims, &text, now)?;
//! let Submitted::New(event) = room.submit_chat(&claims, text, client_id, now_ms) else {
//!     unreachable!()
//! };
//! assert_eq!(event.seq, 1);
//! let json = encode_server(&ServerFrame::Event(event.clone()));
//! assert!(json.starts_with(r#"{"type":"chat","seq":1,"#));
//!
//! // A client that saw nothing resumes with `since=0` and gets exactly the missed event.
//! assert_eq!(room.resume(0), Resume::Missed(vec![event]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod history;
mod likes;
pub mod limits;
mod mirror;
mod moderation;
mod sequencer;
pub mod token;
pub mod wire;

pub use history::{Resume, RoomConfig};
pub use likes::{DEFAULT_LIKE_INTERVAL, DurableLikeTotal, LikeCoalescer, LikeFlush, LikeOutput};
pub use mirror::{MirrorOutcome, MirrorOutput, RoomMirror};
pub use moderation::{ModAction, Moderation, Refusal};
pub use sequencer::{DeleteError, RoomSequencer, Submitted};
pub use token::{ChatClaims, ChatRole, TokenError};
pub use wire::{
    ChatEvent, ChatMessage, ClientFrame, DecodeError, ErrorCode, EventKind, FederationFrame,
    GiftEvent, Limits, ServerFrame, SystemEvent, decode_client, encode_client, encode_server,
};
