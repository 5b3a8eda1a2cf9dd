//! Chunk stream (Adobe RTMP spec, section 5.3): messages ⇄ interleaved chunks.
//!
//! [`ChunkDecoder`] reassembles messages from chunks with fmt 0–3 headers,
//! 1/2/3-byte chunk stream ids, extended timestamps and per-chunk-stream
//! header compression; it applies Set Chunk Size and Abort (5.4.1, 5.4.2)
//! itself, because they change how the very next chunk is framed.
//! [`ChunkEncoder`] splits messages into chunks with the current outgoing
//! chunk size.

use bytes::Bytes;

mod decoder;
mod encoder;
mod header;

pub use decoder::ChunkDecoder;
pub use encoder::ChunkEncoder;

/// Chunk size both directions start with (spec 5.4.1).
pub const DEFAULT_CHUNK_SIZE: u32 = 128;

/// Largest chunk size a peer may set. The spec allows up to 2^31-1, but a
/// message is at most 2^24-1 bytes long, so larger chunks mean nothing and
/// only make buffering harder to reason about.
pub const MAX_CHUNK_SIZE: u32 = 0x00FF_FFFF;

/// Most distinct chunk stream ids one peer may use. Encoders use a handful
/// (OBS and FFmpeg: 2–8); each tracked id costs a header state.
pub const MAX_CHUNK_STREAMS: usize = 64;

/// Largest message the decoder accepts, checked against the length in the
/// chunk header before any payload is buffered. A 4K keyframe is a few MB.
pub const MAX_MESSAGE_SIZE: u32 = 8 * 1024 * 1024;

/// Most bytes the decoder will hold across all partially received messages
/// (sum of their declared lengths), so interleaving many large messages on
/// different chunk streams cannot multiply [`MAX_MESSAGE_SIZE`].
pub const MAX_PENDING_BYTES: u64 = 16 * 1024 * 1024;

/// Lowest and highest chunk stream ids (0 and 1 select the longer basic
/// header forms; 2 is the protocol-control stream).
pub const MIN_CSID: u32 = 2;
/// Highest chunk stream id expressible (3-byte basic header).
pub const MAX_CSID: u32 = 65_599;

/// A complete RTMP message as carried by the chunk stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Chunk stream it travelled on (a transport detail, kept for replies).
    pub csid: u32,
    /// Timestamp in milliseconds, 32-bit as on the wire (it wraps).
    pub timestamp: u32,
    /// Message type id (see [`crate::message::type_id`]).
    pub type_id: u8,
    /// Message stream id (0 for connection-level messages).
    pub stream_id: u32,
    /// Message body.
    pub payload: Bytes,
}

/// Why the chunk stream could not be decoded (or a message not encoded).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// More than [`MAX_CHUNK_STREAMS`] chunk stream ids in use.
    #[error("more than {MAX_CHUNK_STREAMS} chunk streams")]
    TooManyChunkStreams,
    /// A message header announced more than [`MAX_MESSAGE_SIZE`] bytes.
    #[error("message of {0} bytes exceeds the limit")]
    MessageTooLarge(u32),
    /// Partially received messages would exceed [`MAX_PENDING_BYTES`].
    #[error("partial messages exceed {MAX_PENDING_BYTES} bytes")]
    TooManyPendingBytes,
    /// Set Chunk Size of 0 (or with the reserved top bit set).
    #[error("invalid chunk size {0}")]
    InvalidChunkSize(u32),
    /// Set Chunk Size above [`MAX_CHUNK_SIZE`].
    #[error("chunk size {0} exceeds the limit")]
    ChunkSizeTooLarge(u32),
    /// A fmt 1–3 chunk on a chunk stream that never had a fmt 0 header.
    #[error("chunk stream {0} starts without a full header")]
    NoPreviousHeader(u32),
    /// A protocol control message with a short body.
    #[error("malformed control message type {0}")]
    BadControlMessage(u8),
    /// Encoder only: a chunk stream id outside [`MIN_CSID`]..=[`MAX_CSID`].
    #[error("chunk stream id {0} out of range")]
    InvalidChunkStreamId(u32),
}

impl ChunkError {
    /// Short, closed-set label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooManyChunkStreams => "too_many_chunk_streams",
            Self::MessageTooLarge(_) => "message_too_large",
            Self::TooManyPendingBytes => "too_many_pending_bytes",
            Self::InvalidChunkSize(_) => "invalid_chunk_size",
            Self::ChunkSizeTooLarge(_) => "chunk_size_too_large",
            Self::NoPreviousHeader(_) => "bad_chunk_header",
            Self::BadControlMessage(_) => "bad_control_message",
            Self::InvalidChunkStreamId(_) => "invalid_chunk_stream_id",
        }
    }
}

/// Timestamps at or above this value move to the 4-byte extended field.
const EXTENDED_TIMESTAMP: u32 = 0x00FF_FFFF;

/// Validate a Set Chunk Size value (spec 5.4.1: bit 31 must be 0).
fn check_chunk_size(size: u32) -> Result<u32, ChunkError> {
    if size == 0 || size & 0x8000_0000 != 0 {
        return Err(ChunkError::InvalidChunkSize(size));
    }
    if size > MAX_CHUNK_SIZE {
        return Err(ChunkError::ChunkSizeTooLarge(size));
    }
    Ok(size)
}

#[cfg(test)]
mod tests;
