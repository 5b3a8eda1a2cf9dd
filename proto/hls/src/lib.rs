//! Sans-IO Low-Latency HLS core shared by the origin and the edges.
//!
//! This crate owns everything about LL-HLS that is not IO:
//!
//! - [`PartWindow`], one per rendition: a state machine fed with init segments, parts,
//!   discontinuities and end of stream (`handle_*`), which keeps the sliding window of segments
//!   and parts and reports what changed through [`PartWindow::poll_output`] ([`WindowEvent`]).
//! - [`render_media`] and [`render_multivariant`]: pure functions from window state to playlist
//!   text. They are the *only* renderer for origin and edge, so the same window always renders
//!   to the same text.
//! - [`PlaylistQuery::parse`] for `_HLS_msn`, `_HLS_part`, `_HLS_skip`, and
//!   [`PartWindow::blocking_decision`] for when a blocking playlist request can be answered.
//! - [`parse_object_name`] and [`PartWindow::object_decision`] for init, part and segment
//!   requests (serve, hold the hinted part, 404, 410).
//!
//! There is no clock, socket or runtime here. Wall-clock values (`EXT-X-PROGRAM-DATE-TIME`)
//! arrive as data in [`PartInput::program_date_time_ms`]; the IO layer owns timeouts
//! ([`PartWindow::blocking_timeout`]) and waking held requests on [`WindowEvent`]s.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use bytes::Bytes;
//! # use livecdn_hls as hls;
//! use hls::{BlockingDecision, PartInput, PartWindow, PlaylistQuery, RenderOptions, WindowConfig};
//!
//! let mut window = PartWindow::new(WindowConfig::default())?;
//! window.handle_init(0, Bytes::from_static(b"ftyp+moov"))?;
//! for i in 0..5u64 {
//!     window.handle_part(PartInput {
//!         data: Bytes::from_static(b"moof+mdat"),
//!         duration: Duration::from_millis(200),
//!         independent: i == 0,
//!         ends_segment: i == 4,
//!         program_date_time_ms: 1_764_060_960_000 + i * 200,
//!     })?;
//! }
//! // Drain rule: after every handle_* call, drain the events (wake waiters, purge caches).
//! while let Some(event) = window.poll_output() {
//!     let _ = event;
//! }
//!
//! // A player asks for the playlist once part 0 of segment 1 exists.
//! let query = PlaylistQuery::parse("_HLS_msn=1&_HLS_part=0")?;
//! assert_eq!(window.blocking_decision(&query), BlockingDecision::Wait);
//!
//! let text = hls::render_media(&window, &query, &RenderOptions::default());
//! assert!(text.contains("#EXTINF:1.00000,\nseg0.m4s\n"));
//! assert!(text.contains("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part1.0.m4s\""));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Specification map
//!
//! References are to *HTTP Live Streaming 2nd Edition* (draft-pantos-hls-rfc8216bis), cited in
//! code as `RFC 8216bis §x.y`, and to `shared/llhls-checklist.md`.
//!
//! | Section | Subject | Where |
//! |---|---|---|
//! | §4.2 | decimal-integer, quoted-string | `query.rs` (directive values), `names.rs` |
//! | §4.4.1.2, §7 | `EXT-X-VERSION` (9 with `EXT-X-SKIP`, 6 with `EXT-X-MAP`) | `playlist.rs` |
//! | §4.4.2.1 | `EXT-X-INDEPENDENT-SEGMENTS` | `playlist/multivariant.rs`, `window.rs` |
//! | §4.4.3.1 | `EXT-X-TARGETDURATION` ≥ every rounded `EXTINF` | `window.rs`, `format.rs` |
//! | §4.4.3.2, §4.4.3.3 | `EXT-X-MEDIA-SEQUENCE`, `EXT-X-DISCONTINUITY-SEQUENCE` | `window.rs` |
//! | §4.4.3.4 | `EXT-X-ENDLIST` | `playlist/media.rs` |
//! | §4.4.3.7 | `EXT-X-PART-INF:PART-TARGET` | `playlist/media.rs` |
//! | §4.4.3.8 | `EXT-X-SERVER-CONTROL` (hold-backs, skip boundary) | `playlist/media.rs` |
//! | §4.4.4.1 | `EXTINF` | `playlist/media.rs` |
//! | §4.4.4.3 | `EXT-X-DISCONTINUITY` | `window.rs`, `playlist/media.rs` |
//! | §4.4.4.5 | `EXT-X-MAP` (one URI per init generation) | `playlist/media.rs`, `object.rs` |
//! | §4.4.4.6 | `EXT-X-PROGRAM-DATE-TIME` (ISO 8601, ms, UTC) | `format.rs` |
//! | §4.4.4.9 | `EXT-X-PART`, duration ≤ PART-TARGET | `window.rs`, `playlist/media.rs` |
//! | §4.4.5.2 | `EXT-X-SKIP` | `playlist/media.rs` |
//! | §4.4.5.3 | `EXT-X-PRELOAD-HINT` | `playlist/media.rs`, `window.rs` (`next_part`) |
//! | §4.4.5.4 | `EXT-X-RENDITION-REPORT` | `playlist.rs`, `playlist/media.rs` |
//! | §4.4.6.2 | `EXT-X-STREAM-INF` | `playlist/multivariant.rs` |
//! | §6.2.2 | removing segments and parts, availability after removal | `window.rs`, `playlist/media.rs` |
//! | §6.2.5 | Delivery Directives (`_HLS_` query parameters) | `query.rs` |
//! | §6.2.5.1 | Playlist Delta Updates | `playlist/media.rs` |
//! | §6.2.5.2 | Blocking Playlist Reload, Advance Part Limit, 400/503 | `blocking.rs` |
//! | §6.2.6 | Preload hints: hold hinted parts, 404 for unknown ones | `object.rs` |

#![warn(missing_docs)]

mod blocking;
mod config;
mod format;
mod names;
mod object;
mod playlist;
mod query;
#[cfg(test)]
mod testing;
mod window;

pub use crate::blocking::BlockingDecision;
pub use crate::config::{
    ConfigError, DEFAULT_PART_TARGET, DEFAULT_SEGMENT_TARGET, DEFAULT_WINDOW_SEGMENTS,
    MAX_PART_TARGET, MAX_SEGMENT_TARGET, MAX_WINDOW_SEGMENTS, MIN_PART_TARGET, MIN_WINDOW_SEGMENTS,
    WindowConfig, WindowStart,
};
pub use crate::names::{
    Codecs, MAX_CODECS_LEN, MAX_RENDITION_NAME_LEN, NameError, RenditionName, is_valid_stream_name,
};
pub use crate::object::{HOLD_AHEAD_PARTS, MediaObject, ObjectDecision, parse_object_name};
pub use crate::playlist::{
    HOLD_BACK_TARGET_DURATIONS, PART_HOLD_BACK_PART_TARGETS, PART_LISTING_TARGET_DURATIONS,
    SKIP_BOUNDARY_TARGET_DURATIONS,
};
pub use crate::playlist::{
    MAX_FRAME_RATE, RenderOptions, RenditionReport, Resolution, VERSION_WITH_DELTA_UPDATES,
    VERSION_WITHOUT_DELTA_UPDATES, Variant, render_media, render_multivariant,
};
pub use crate::query::{
    MAX_DIRECTIVE_DIGITS, MAX_QUERY_LEN, PlaylistQuery, QueryError, SkipRequest,
};
pub use crate::window::{
    MAX_PARTS_PER_SEGMENT, PartInput, PartPosition, PartWindow, WindowError, WindowEvent,
};
