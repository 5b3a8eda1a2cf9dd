//! The crate's one error type.
//!
//! Every variant is a refusal of one input (a tag body, a config record, a file): the
//! state machines stay usable after returning it. [`Error::reason`] gives a closed
//! snake_case label so callers can count refusals in metrics without parsing text.

/// Why an input was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input ended before a field it announces.
    #[error("truncated {0}")]
    Truncated(&'static str),
    /// A video codec other than H.264/AVC (FLV codec id or enhanced-RTMP fourcc).
    #[error("unsupported video codec {0}")]
    UnsupportedVideoCodec(String),
    /// An audio codec other than AAC with 1024/960-sample frames.
    #[error("unsupported audio codec {0}")]
    UnsupportedAudioCodec(String),
    /// A packet type this crate does not handle (e.g. enhanced-RTMP multitrack).
    #[error("unsupported packet type {0}")]
    UnsupportedPacketType(String),
    /// An FLV field holds a value the spec does not define.
    #[error("invalid flv field {field}: {value}")]
    InvalidFlv {
        /// Which field.
        field: &'static str,
        /// The value found.
        value: u32,
    },
    /// One NAL unit is longer than [`crate::MAX_NALU_SIZE`].
    #[error("nal unit of {size} bytes exceeds the limit of {max}")]
    NaluTooLarge {
        /// Announced size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// One frame (tag body) is longer than [`crate::MAX_FRAME_SIZE`].
    #[error("frame of {size} bytes exceeds the limit of {max}")]
    FrameTooLarge {
        /// Actual size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A parameter set is longer than [`crate::MAX_SPS_SIZE`] (or the pps limit).
    #[error("parameter set of {size} bytes exceeds the limit of {max}")]
    ParameterSetTooLarge {
        /// Actual size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The AVCDecoderConfigurationRecord is malformed.
    #[error("invalid avc decoder configuration: {0}")]
    InvalidAvcConfig(&'static str),
    /// The sequence parameter set is malformed or out of range.
    #[error("invalid sps: {0}")]
    InvalidSps(&'static str),
    /// The AudioSpecificConfig is malformed.
    #[error("invalid audio specific config: {0}")]
    InvalidAudioConfig(&'static str),
    /// Coded frames arrived before the sequence header that configures them.
    #[error("{0} frame before its sequence header")]
    MissingDecoderConfig(&'static str),
    /// The packager holds [`crate::MAX_PENDING_FRAMES`] frames or
    /// [`crate::MAX_PENDING_BYTES`] bytes already.
    #[error("too many pending frames")]
    TooManyPendingFrames,
    /// The FLV file header is not `FLV` version 1.
    #[error("invalid flv file header")]
    InvalidFlvHeader,
    /// An encrypted (filtered) FLV tag.
    #[error("encrypted flv tags are not supported")]
    EncryptedTag,
    /// mp4-atom refused to encode a box (a value out of its range).
    #[error("mp4 encode failed: {0}")]
    Mp4Encode(String),
}

impl Error {
    /// A closed snake_case label for metrics (one per variant).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Truncated(_) => "truncated",
            Self::UnsupportedVideoCodec(_) => "unsupported_video_codec",
            Self::UnsupportedAudioCodec(_) => "unsupported_audio_codec",
            Self::UnsupportedPacketType(_) => "unsupported_packet_type",
            Self::InvalidFlv { .. } => "invalid_flv",
            Self::NaluTooLarge { .. } => "nalu_too_large",
            Self::FrameTooLarge { .. } => "frame_too_large",
            Self::ParameterSetTooLarge { .. } => "parameter_set_too_large",
            Self::InvalidAvcConfig(_) => "invalid_avc_config",
            Self::InvalidSps(_) => "invalid_sps",
            Self::InvalidAudioConfig(_) => "invalid_audio_config",
            Self::MissingDecoderConfig(_) => "missing_decoder_config",
            Self::TooManyPendingFrames => "too_many_pending_frames",
            Self::InvalidFlvHeader => "invalid_flv_header",
            Self::EncryptedTag => "encrypted_tag",
            Self::Mp4Encode(_) => "mp4_encode",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_snake_case_and_messages_lowercase() {
        let all = [
            Error::Truncated("x"),
            Error::UnsupportedVideoCodec("hevc".into()),
            Error::UnsupportedAudioCodec("mp3".into()),
            Error::UnsupportedPacketType("multitrack".into()),
            Error::InvalidFlv {
                field: "frame_type",
                value: 9,
            },
            Error::NaluTooLarge { size: 1, max: 0 },
            Error::FrameTooLarge { size: 1, max: 0 },
            Error::ParameterSetTooLarge { size: 1, max: 0 },
            Error::InvalidAvcConfig("x"),
            Error::InvalidSps("x"),
            Error::InvalidAudioConfig("x"),
            Error::MissingDecoderConfig("video"),
            Error::TooManyPendingFrames,
            Error::InvalidFlvHeader,
            Error::EncryptedTag,
            Error::Mp4Encode("x".into()),
        ];
        for e in all {
            let r = e.reason();
            assert!(
                r.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{r}"
            );
            let msg = e.to_string();
            assert!(!msg.ends_with('.'));
            assert!(
                msg.chars().next().is_some_and(|c| !c.is_ascii_uppercase()),
                "{msg}"
            );
        }
    }
}
