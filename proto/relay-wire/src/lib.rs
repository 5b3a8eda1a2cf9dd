//! Sans-IO replication protocol between livecdn nodes (`docs/relay-wire.md` is the spec).
//!
//! An origin (or an edge feeding child edges) pushes every LL-HLS part of a rendition to its
//! subscribers over QUIC: one bidirectional **control stream** per connection (`Hello`,
//! `Subscribe`, `SubscribeOk`, ...) and one unidirectional stream per **data frame** (`Init`,
//! `Part`), so parts never block each other. This crate has no IO, clock or runtime; a thin
//! quinn driver moves bytes and time in and out.
//!
//! - [`frame`]: the versioned binary format: [`Frame::encode`] and the incremental
//!   [`FrameDecoder`], with named limits ([`limits`]) and [`WireError`].
//! - [`RelayWindow`]: an [`hls::PartWindow`] plus the per-part metadata replication needs, on
//!   the origin and on every edge; [`RelayWindow::snapshot`] answers a subscribe.
//! - [`RelayPublisher`]: one per downstream connection: answers subscribes, backfills, sends
//!   live parts under the congestion rule.
//! - [`RelaySubscriber`]: one per upstream connection: builds each subscription's
//!   [`RelayWindow`], feeds it strictly in order (reordering, gaps, resume after reconnect).
//! - [`Backoff`]: reconnect delays for the subscriber's driver.
//!
//! # The drain rule
//!
//! Every state machine here follows the house verb set: inputs are `handle_*(…, now)`, outputs
//! are drained with `poll_output()`, and `poll_timeout()` says when to call `handle_timeout`.
//! **After every input, drain `poll_output()` until it returns `None`**, then re-arm the timer
//! from `poll_timeout()`. Outputs are queued, not bounded, so an undrained machine grows.
//!
//! # Example
//!
//! An origin window, a publisher and a subscriber wired by hand (a driver does this with QUIC
//! streams; see `tests/replication.rs` for a simulated link).
//!
//! ```
//! use std::time::{Duration, Instant};
//! use bytes::Bytes;
//! # use livecdn_relay_wire as relay_wire;
//! use hls::{PartInput, PlaylistQuery, RenderOptions, WindowConfig};
//! use relay_wire::{
//!     FrameDecoder, PublisherOutput, RelayPublisher, RelaySubscriber, RelayWindow,
//!     SubscriberConfig, SubscriberOutput,
//! };
//!
//! let now = Instant::now(); // a driver reads node::clock; here any instant will do
//! let mut origin = RelayWindow::new(WindowConfig::default())?;
//! let mut publisher = RelayPublisher::new("origin-1");
//! let mut subscriber = RelaySubscriber::new(SubscriberConfig::new("edge-1"));
//! let edge = subscriber.subscribe("demo", "720p", now);
//! subscriber.handle_connected(now);
//!
//! // Move frames until both sides are quiet. Control frames and data frames go through the
//! // decoder, as bytes off a stream would.
//! fn pump(
//!     origin: &mut RelayWindow,
//!     publisher: &mut RelayPublisher,
//!     subscriber: &mut RelaySubscriber,
//!     now: Instant,
//! ) {
//!     while let Some(event) = origin.poll_output() {
//!         publisher.handle_window_event("demo", "720p", origin, &event, now);
//!     }
//!     loop {
//!         let mut idle = true;
//!         while let Some(out) = subscriber.poll_output() {
//!             if let SubscriberOutput::SendControl(frame) = out {
//!                 publisher.handle_control(frame, now);
//!                 idle = false;
//!             }
//!         }
//!         while let Some(out) = publisher.poll_output() {
//!             idle = false;
//!             match out {
//!                 PublisherOutput::SendControl(frame) => subscriber.handle_control(frame, now),
//!                 PublisherOutput::LookupWindow { request_id, resume, .. } => {
//!                     publisher.answer_subscribe(request_id, Ok(origin.snapshot(resume)), now);
//!                 }
//!                 PublisherOutput::OpenUniStream { token, frame, .. } => {
//!                     let bytes = frame.to_bytes();
//!                     let frame = FrameDecoder::decode_data_stream(&bytes).expect("valid");
//!                     subscriber.handle_uni_frame(frame, now);
//!                     publisher.handle_stream_finished(token, now);
//!                 }
//!                 PublisherOutput::CancelUniStream { .. } | PublisherOutput::Error(_) => {}
//!             }
//!         }
//!         if idle {
//!             break;
//!         }
//!     }
//! }
//!
//! origin.handle_init(0, Bytes::from_static(b"ftyp+moov"))?;
//! for i in 0..10u64 {
//!     origin.handle_part(
//!         PartInput {
//!             data: Bytes::from(format!("part {i}")),
//!             duration: Duration::from_millis(200),
//!             independent: i % 5 == 0,
//!             ends_segment: i % 5 == 4,
//!             program_date_time_ms: 1_764_060_960_000 + i * 200,
//!         },
//!         1_764_060_960_000_000 + i * 200_000,
//!     )?;
//!     pump(&mut origin, &mut publisher, &mut subscriber, now);
//! }
//!
//! // The edge renders the same playlist as the origin, from the same renderer.
//! let query = PlaylistQuery::default();
//! let options = RenderOptions::default();
//! let at_origin = hls::render_media(origin.window(), &query, &options);
//! let at_edge = hls::render_media(subscriber.window(edge).expect("subscribed"), &query, &options);
//! assert_eq!(at_origin, at_edge);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod backoff;
mod error;
pub mod frame;
pub mod limits;
mod publisher;
mod subscriber;
mod window;

pub use crate::backoff::{Backoff, DEFAULT_BACKOFF_BASE, DEFAULT_BACKOFF_MAX};
pub use crate::error::{ProtocolError, WireError};
pub use crate::frame::{
    EncodedFrame, ErrorCode, Frame, FrameDecoder, PartMeta, ResumePoint, StreamKind, Version,
    WindowSnapshot,
};
pub use crate::publisher::{
    INIT_PRIORITY, PRIORITY_SEGMENT_STRIDE, PublisherOutput, RelayPublisher, StreamToken,
};
pub use crate::subscriber::{
    GapReason, RelaySubscriber, SubscriberConfig, SubscriberOutput, SubscriptionHandle,
};
pub use crate::window::{RelayEvent, RelayWindow, ReplicatedPart, SnapshotAndBackfill};

/// The protocol version this crate speaks.
pub const VERSION: Version = Version { major: 1, minor: 0 };

/// ALPN of the relay protocol; its number is [`VERSION`]`.major`. The driver sets it on both
/// ends (with mutual TLS against the cluster CA); a connection without it is refused there.
pub const ALPN: &[u8] = b"livecdn-relay/1";
