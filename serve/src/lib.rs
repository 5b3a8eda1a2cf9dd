//! LL-HLS over HTTP, shared by the origin and the edge, so both serve the same URLs, headers,
//! blocking reloads and held parts through the same code (and `hls` renders the playlists).
//!
//! - [`StreamTable`] / [`ServedStream`]: the streams a node serves, each an `hls::PartWindow`
//!   behind a mutex, with the held requests waiting on it ([`waiters`]);
//! - [`StreamSource`]: how a request finds its stream (the origin looks in its table; the edge
//!   may subscribe upstream first and hold the request meanwhile);
//! - [`routes`]: the axum routes of `design.md`:
//!   `GET /live/{stream}/index.m3u8` (multivariant),
//!   `GET /live/{stream}/{rendition}/index.m3u8[?_HLS_msn=M[&_HLS_part=P]][&_HLS_skip=YES|v2]`,
//!   `GET /live/{stream}/{rendition}/{init.mp4|init-{g}.mp4|seg{msn}.m4s|part{msn}.{i}.m4s}`.
//!
//! Held requests (blocking reload, the hinted part) wait for the part or segment that can
//! satisfy them (`waiters`): one `Notified` each, no polling, no task of their own; a new part
//! wakes only the requests it may answer, and they share one rendering of the playlist.
#![warn(missing_docs)]

pub mod cache;
mod memo;
mod metrics;
mod routes;
mod table;
pub mod viewers;
pub mod waiters;

pub use cache::{CacheMetrics, ObjectCache};
pub use metrics::ServeMetrics;
pub use routes::routes;
pub use table::{
    EVENT_BACKLOG, ServedState, ServedStream, SourceFuture, StreamSource, StreamTable, VariantInfo,
};

/// The one rendition served today: the publisher's own encoding, audio and video muxed.
pub const SOURCE_RENDITION: &str = "source";

pub use hls::is_valid_stream_name;
