//! Errors: [`WireError`] for bytes that do not decode, [`ProtocolError`] for frames that decode
//! but break the protocol. Both carry a closed `reason()` label for
//! `livecdn_relay_rejected_total{reason}`.

use crate::frame::StreamKind;
use crate::limits::{
    MAX_CONTROL_FRAME_SIZE, MAX_INIT_SIZE, MAX_NAME_LEN, MAX_PART_SIZE, MAX_REASON_LEN,
};

/// Bytes that are not a valid frame. The stream they came on is unusable afterwards: the
/// driver closes the connection (control stream) or stops the uni stream (data stream).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// A control frame longer than [`MAX_CONTROL_FRAME_SIZE`].
    #[error("control frame of {len} bytes exceeds {MAX_CONTROL_FRAME_SIZE}")]
    ControlFrameTooLarge {
        /// Declared payload length.
        len: u64,
    },
    /// A `Part` body longer than [`MAX_PART_SIZE`].
    #[error("part of {len} bytes exceeds {MAX_PART_SIZE}")]
    PartTooLarge {
        /// Declared payload or body length.
        len: u64,
    },
    /// An `Init` body longer than [`MAX_INIT_SIZE`].
    #[error("init segment of {len} bytes exceeds {MAX_INIT_SIZE}")]
    InitTooLarge {
        /// Declared payload or body length.
        len: u64,
    },
    /// A stream, rendition or node name longer than [`MAX_NAME_LEN`].
    #[error("name of {len} bytes exceeds {MAX_NAME_LEN}")]
    NameTooLong {
        /// Its length.
        len: u64,
    },
    /// A `SubscribeError` reason longer than [`MAX_REASON_LEN`].
    #[error("reason of {len} bytes exceeds {MAX_REASON_LEN}")]
    ReasonTooLong {
        /// Its length.
        len: u64,
    },
    /// A frame type this version does not define (outside the extension range).
    #[error("unknown frame type {0:#04x}")]
    UnknownFrameType(u8),
    /// A frame that belongs on the other kind of stream.
    #[error("frame type {frame_type:#04x} is not allowed on a {stream} stream")]
    WrongStream {
        /// The frame type.
        frame_type: u8,
        /// The stream it arrived on.
        stream: StreamKind,
    },
    /// A field runs past the end of its frame.
    #[error("frame truncated")]
    Truncated,
    /// The stream ended in the middle of a frame, or a data stream ended without one.
    #[error("stream ended inside a frame")]
    IncompleteFrame,
    /// Bytes after the one frame of a data stream.
    #[error("data after the frame of a data stream")]
    TrailingData,
    /// A name or reason that is not UTF-8.
    #[error("text is not utf-8")]
    InvalidUtf8,
    /// A flags byte with undefined bits, or a boolean that is neither 0 nor 1.
    #[error("invalid flags {0:#04x}")]
    InvalidFlags(u8),
    /// A number outside the range of its field.
    #[error("field {0} out of range")]
    OutOfRange(&'static str),
}

impl WireError {
    /// A closed snake_case label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::ControlFrameTooLarge { .. } => "control_frame_too_large",
            Self::PartTooLarge { .. } => "part_too_large",
            Self::InitTooLarge { .. } => "init_too_large",
            Self::NameTooLong { .. } => "name_too_long",
            Self::ReasonTooLong { .. } => "reason_too_long",
            Self::UnknownFrameType(_) => "unknown_frame_type",
            Self::WrongStream { .. } => "wrong_stream",
            Self::Truncated => "truncated",
            Self::IncompleteFrame => "incomplete_frame",
            Self::TrailingData => "trailing_data",
            Self::InvalidUtf8 => "invalid_utf8",
            Self::InvalidFlags(_) => "invalid_flags",
            Self::OutOfRange(_) => "out_of_range",
        }
    }
}

/// A well-formed frame that breaks the protocol. The driver closes the connection with
/// [`ProtocolError::code`] as the QUIC application error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// The peer speaks a major version we do not.
    #[error("peer speaks relay protocol {major}.{minor}, we speak {}", crate::VERSION.major)]
    UnsupportedVersion {
        /// The peer's major version.
        major: u64,
        /// The peer's minor version.
        minor: u64,
    },
    /// A frame other than `Hello` before the peer's `Hello`, or a second `Hello`.
    #[error("hello missing or repeated")]
    HelloOutOfOrder,
    /// A frame only the other side may send (a `Subscribe` sent to a subscriber, ...).
    #[error("frame {0} not allowed in this direction")]
    WrongDirection(&'static str),
    /// A `Subscribe` reused the `request_id` of a pending request.
    #[error("duplicate request id {0}")]
    DuplicateRequest(u64),
    /// An answer for a request we never made, or for a subscription we do not hold.
    #[error("unknown request or subscription id {0}")]
    UnknownId(u64),
    /// A `SubscribeOk` whose snapshot cannot start a window (bad config, no segment boundary).
    #[error("invalid window snapshot")]
    InvalidSnapshot,
    /// A frame that did not decode.
    #[error("malformed frame: {0}")]
    Wire(#[from] WireError),
}

impl ProtocolError {
    /// A closed snake_case label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::UnsupportedVersion { .. } => "unsupported_version",
            Self::HelloOutOfOrder => "hello_out_of_order",
            Self::WrongDirection(_) => "wrong_direction",
            Self::DuplicateRequest(_) => "duplicate_request",
            Self::UnknownId(_) => "unknown_id",
            Self::InvalidSnapshot => "invalid_snapshot",
            Self::Wire(e) => e.reason(),
        }
    }

    /// QUIC application error code to close the connection with (see `docs/relay-wire.md`).
    pub fn code(&self) -> u64 {
        match self {
            Self::UnsupportedVersion { .. } => 0x2,
            Self::Wire(_) => 0x3,
            _ => 0x1,
        }
    }
}
