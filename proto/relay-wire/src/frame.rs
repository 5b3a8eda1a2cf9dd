//! The frames of the relay protocol and their binary form (`docs/relay-wire.md` §4).
//!
//! Every frame is `type (u8) | length (varint) | payload`. Integers in payloads are QUIC
//! variable-length integers (RFC 9000 §16); text is a varint byte length then UTF-8; the body of
//! a data frame is the rest of its payload. Encoding is [`Frame::encode`]; decoding is
//! incremental through [`FrameDecoder`].

mod decode;
mod decoder;
mod encode;
#[cfg(test)]
mod tests;
mod varint;

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use hls::{PartPosition, WindowConfig, WindowStart};

pub use self::decoder::FrameDecoder;
pub use self::encode::EncodedFrame;
pub use self::varint::MAX_VARINT;

/// A protocol version. Peers with different majors cannot talk; minors add only what older
/// peers can ignore (extension frames, trailing control-frame fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    /// Incompatible revisions; also in the ALPN (`livecdn-relay/1`).
    pub major: u64,
    /// Compatible additions.
    pub minor: u64,
}

/// The two kinds of QUIC stream the protocol uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// The one bidirectional stream per connection: control frames, both ways, in order.
    Control,
    /// A unidirectional stream from publisher to subscriber carrying exactly one data frame.
    Data,
}

impl fmt::Display for StreamKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Control => "control",
            Self::Data => "data",
        })
    }
}

/// One frame of the relay protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// First frame on the control stream, both ways.
    Hello(Hello),
    /// Subscriber → publisher: send me this rendition.
    Subscribe(Subscribe),
    /// Publisher → subscriber: accepted; the window to build and where parts start.
    SubscribeOk(SubscribeOk),
    /// Publisher → subscriber: refused.
    SubscribeError(SubscribeError),
    /// Subscriber → publisher: stop sending.
    Unsubscribe {
        /// Publisher-assigned id.
        subscription_id: u64,
    },
    /// Publisher → subscriber: the stream ended after part `last` (`None`: before any part).
    StreamEnded {
        /// Publisher-assigned id.
        subscription_id: u64,
        /// The last part of the stream.
        last: Option<PartPosition>,
    },
    /// Publisher → subscriber: the upstream window closed its open segment after part `last`
    /// and the next segment starts with `EXT-X-DISCONTINUITY`.
    Discontinuity {
        /// Publisher-assigned id.
        subscription_id: u64,
        /// The last part before the discontinuity.
        last: Option<PartPosition>,
    },
    /// Data stream: an init segment.
    Init(InitFrame),
    /// Data stream: one part.
    Part(PartFrame),
}

/// `Hello`: the sender's version and node id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// The sender's protocol version.
    pub version: Version,
    /// The sender's node id (for logs), at most [`MAX_NAME_LEN`](crate::limits::MAX_NAME_LEN).
    pub node_id: String,
}

/// Where a subscriber left off: the last part it holds, in the upstream's numbering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResumePoint {
    /// The last part held.
    pub position: PartPosition,
    /// Its init generation (guards against a restarted upstream reusing numbers).
    pub generation: u32,
}

/// `Subscribe`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    /// Chosen by the subscriber, unique among its pending requests on the connection.
    pub request_id: u64,
    /// Stream name.
    pub stream: String,
    /// Rendition name.
    pub rendition: String,
    /// Continue after this part instead of joining fresh.
    pub resume: Option<ResumePoint>,
}

/// What a subscriber needs to build (or continue) its window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowSnapshot {
    /// The upstream window's configuration.
    pub config: WindowConfig,
    /// Numbering of the segment the first sent part belongs to.
    pub start: WindowStart,
    /// The upstream's current init generation, if it has one.
    pub generation: Option<u32>,
    /// The upstream stream already ended (a `StreamEnded` follows the backfill).
    pub ended: bool,
    /// The first part the publisher sends. Part index 0 unless `continues`.
    pub first_part: PartPosition,
    /// `first_part` directly follows the subscriber's resume point: nothing was missed.
    pub continues: bool,
}

/// `SubscribeOk`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeOk {
    /// The request it answers.
    pub request_id: u64,
    /// Publisher-assigned id used by every later frame of this subscription.
    pub subscription_id: u64,
    /// The window.
    pub window: WindowSnapshot,
}

/// Why a subscription was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// 0x1: the upstream does not hold this stream.
    UnknownStream,
    /// 0x2: the stream exists but not this rendition.
    UnknownRendition,
    /// 0x3: the upstream will not take more subscriptions now; retry elsewhere or later.
    Overloaded,
    /// 0x4: the peers' major versions differ.
    Version,
    /// A code this version does not define (treated like `Overloaded`).
    Other(u64),
}

impl ErrorCode {
    /// The code on the wire.
    pub fn to_wire(self) -> u64 {
        match self {
            Self::UnknownStream => 0x1,
            Self::UnknownRendition => 0x2,
            Self::Overloaded => 0x3,
            Self::Version => 0x4,
            Self::Other(code) => code,
        }
    }

    /// The code for a wire value.
    pub fn from_wire(code: u64) -> Self {
        match code {
            0x1 => Self::UnknownStream,
            0x2 => Self::UnknownRendition,
            0x3 => Self::Overloaded,
            0x4 => Self::Version,
            other => Self::Other(other),
        }
    }

    /// A closed snake_case label for metrics.
    pub fn reason(self) -> &'static str {
        match self {
            Self::UnknownStream => "unknown_stream",
            Self::UnknownRendition => "unknown_rendition",
            Self::Overloaded => "overloaded",
            Self::Version => "version",
            Self::Other(_) => "other",
        }
    }
}

/// `SubscribeError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeError {
    /// The request it answers.
    pub request_id: u64,
    /// Why.
    pub code: ErrorCode,
    /// Human-readable detail for logs, at most [`MAX_REASON_LEN`](crate::limits::MAX_REASON_LEN).
    pub reason: String,
}

/// `Init`: one init segment of a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitFrame {
    /// Publisher-assigned id.
    pub subscription_id: u64,
    /// Init generation.
    pub generation: u32,
    /// `ftyp`+`moov`, at most [`MAX_INIT_SIZE`](crate::limits::MAX_INIT_SIZE).
    pub data: Bytes,
}

/// Everything about a part except its position and bytes, as replicated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartMeta {
    /// Init generation the part was packaged against.
    pub generation: u32,
    /// Media duration (nanosecond precision on the wire, so `EXTINF` sums match exactly).
    pub duration: Duration,
    /// Starts with a keyframe.
    pub independent: bool,
    /// Last part of its segment.
    pub ends_segment: bool,
    /// First part of a segment that carries `EXT-X-DISCONTINUITY`.
    pub discontinuity_before: bool,
    /// `EXT-X-PROGRAM-DATE-TIME` of the part, ms since the Unix epoch.
    pub program_date_time_ms: u64,
    /// The origin's wall clock when it made the part, µs since the Unix epoch. Tiers forward it
    /// unchanged, so every edge can measure its delay behind the origin.
    pub origin_time_us: u64,
}

/// `Part`: one part of a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartFrame {
    /// Publisher-assigned id.
    pub subscription_id: u64,
    /// Position in the upstream's numbering.
    pub position: PartPosition,
    /// Duration, flags and clocks.
    pub meta: PartMeta,
    /// One `moof`+`mdat`, at most [`MAX_PART_SIZE`](crate::limits::MAX_PART_SIZE).
    pub data: Bytes,
}

/// Frame type codes (`docs/relay-wire.md` §4.2).
pub(crate) mod frame_type {
    pub(crate) const HELLO: u8 = 0x01;
    pub(crate) const SUBSCRIBE: u8 = 0x02;
    pub(crate) const SUBSCRIBE_OK: u8 = 0x03;
    pub(crate) const SUBSCRIBE_ERROR: u8 = 0x04;
    pub(crate) const UNSUBSCRIBE: u8 = 0x05;
    pub(crate) const STREAM_ENDED: u8 = 0x06;
    pub(crate) const DISCONTINUITY: u8 = 0x07;
    pub(crate) const INIT: u8 = 0x10;
    pub(crate) const PART: u8 = 0x11;
    /// Control frame types from here up are extensions a receiver skips.
    pub(crate) const FIRST_EXTENSION: u8 = 0x20;
}

impl Frame {
    /// The stream this frame travels on.
    pub fn stream_kind(&self) -> StreamKind {
        match self {
            Self::Init(_) | Self::Part(_) => StreamKind::Data,
            _ => StreamKind::Control,
        }
    }

    /// A closed snake_case name for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Hello(_) => "hello",
            Self::Subscribe(_) => "subscribe",
            Self::SubscribeOk(_) => "subscribe_ok",
            Self::SubscribeError(_) => "subscribe_error",
            Self::Unsubscribe { .. } => "unsubscribe",
            Self::StreamEnded { .. } => "stream_ended",
            Self::Discontinuity { .. } => "discontinuity",
            Self::Init(_) => "init",
            Self::Part(_) => "part",
        }
    }
}
