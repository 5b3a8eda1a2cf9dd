//! Errors of the session state machines.

use crate::amf0::Amf0Error;
use crate::chunk::ChunkError;
use crate::handshake::HandshakeError;

/// Why a [`ServerSession`](crate::ServerSession) or
/// [`ClientSession`](crate::ClientSession) gave up (or refused a call).
///
/// Any error from `handle_input` is fatal: the session is closed and the
/// driver should flush [`poll_transmit`](crate::ServerSession::poll_transmit)
/// and drop the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// The handshake failed.
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
    /// The chunk stream was malformed or broke a limit.
    #[error(transparent)]
    Chunk(#[from] ChunkError),
    /// A command or data message held bad AMF0.
    #[error(transparent)]
    Amf(#[from] Amf0Error),
    /// A command message without a leading name string.
    #[error("command message without a name")]
    MalformedCommand,
    /// An aggregate message whose embedded tags do not add up.
    #[error("malformed aggregate message")]
    BadAggregate,
    /// Audio or video before the publish was accepted.
    #[error("media before an accepted publish")]
    MediaBeforePublish,
    /// The peer called `createStream` more than [`MAX_STREAMS`](crate::MAX_STREAMS) times.
    #[error("too many message streams")]
    TooManyStreams,
    /// A command out of sequence (the text says which).
    #[error("protocol violation: {0}")]
    Protocol(&'static str),
    /// Driver misuse: `accept_publish`/`reject_publish` without a pending publish.
    #[error("no publish is pending")]
    NoPendingPublish,
    /// Driver misuse: sending media before the server started the publish.
    #[error("not publishing")]
    NotPublishing,
}

impl SessionError {
    /// Short, closed-set label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Handshake(e) => e.reason(),
            Self::Chunk(e) => e.reason(),
            Self::Amf(e) => e.reason(),
            Self::MalformedCommand => "bad_command",
            Self::BadAggregate => "bad_aggregate",
            Self::MediaBeforePublish => "media_before_publish",
            Self::TooManyStreams => "too_many_streams",
            Self::Protocol(_) => "protocol_violation",
            Self::NoPendingPublish => "no_pending_publish",
            Self::NotPublishing => "not_publishing",
        }
    }
}
