//! What a [`PartWindow`](super::PartWindow) reports: events to drain and refused inputs.

use std::time::Duration;

use super::PartPosition;

/// What changed in a [`PartWindow`](super::PartWindow), drained with
/// [`PartWindow::poll_output`](super::PartWindow::poll_output).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowEvent {
    /// An init segment of a new generation is available.
    InitReady {
        /// Its generation.
        generation: u32,
    },
    /// A part was appended and is listed in the playlist.
    PartReady {
        /// Media Sequence Number of its segment.
        msn: u64,
        /// Its Part Index.
        part: u64,
    },
    /// A segment closed: its `EXTINF` is listed and `segment(msn)` serves it.
    SegmentClosed {
        /// Its Media Sequence Number.
        msn: u64,
    },
    /// A segment left the playlist. Its bytes stay servable until [`WindowEvent::Released`].
    Evicted {
        /// Its Media Sequence Number.
        msn: u64,
    },
    /// A segment evicted earlier is no longer served (caches may drop it).
    Released {
        /// Its Media Sequence Number.
        msn: u64,
    },
    /// A segment longer than `EXT-X-TARGETDURATION` closed, so the target duration was raised
    /// (worth a warning log: the publisher's GOP is longer than the configured segment target).
    TargetDurationRaised {
        /// Previous value, seconds.
        from: u64,
        /// New value, seconds.
        to: u64,
    },
    /// The stream ended; the playlist now carries `EXT-X-ENDLIST`.
    Ended,
}

/// An input the window refused. Nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    /// The stream already ended.
    #[error("stream already ended")]
    Ended,
    /// A part arrived before any init segment.
    #[error("part before any init segment")]
    MissingInit,
    /// An init segment with no bytes.
    #[error("empty init segment")]
    EmptyInit,
    /// An init generation older than the current one.
    #[error("init generation {generation} is older than current generation {current}")]
    StaleGeneration {
        /// The generation offered.
        generation: u32,
        /// The generation in force.
        current: u32,
    },
    /// The current generation was offered again with different bytes.
    #[error("init generation {generation} reused with different bytes")]
    GenerationReused {
        /// The generation offered.
        generation: u32,
    },
    /// A part with no bytes or zero duration.
    #[error("empty part")]
    EmptyPart,
    /// A part longer than the part target (RFC 8216bis §4.4.4.9 forbids listing it).
    #[error("part of {duration:?} exceeds part target {part_target:?}")]
    PartTooLong {
        /// The part's duration.
        duration: Duration,
        /// The configured part target.
        part_target: Duration,
    },
    /// A segment would start with a part that does not start with a keyframe.
    #[error("segment {msn} would start without a keyframe")]
    SegmentStartsWithoutKeyframe {
        /// The segment that would have started.
        msn: u64,
    },
    /// A segment reached [`MAX_PARTS_PER_SEGMENT`](super::MAX_PARTS_PER_SEGMENT) without closing.
    #[error("segment {msn} already holds the maximum number of parts")]
    TooManyParts {
        /// The open segment.
        msn: u64,
    },
    /// [`PartWindow::handle_part_at`](super::PartWindow::handle_part_at) was given a part that is not the next one.
    #[error("part {}.{} is not the next part {}.{}", got.msn, got.index, expected.msn, expected.index)]
    UnexpectedPosition {
        /// The next part the window expects.
        expected: PartPosition,
        /// The part offered.
        got: PartPosition,
    },
    /// Media Sequence Numbers ran out (only reachable from a hostile start position).
    #[error("media sequence number overflow")]
    MsnOverflow,
}

impl WindowError {
    /// A closed snake_case label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Ended => "ended",
            Self::MissingInit => "missing_init",
            Self::EmptyInit => "empty_init",
            Self::StaleGeneration { .. } => "stale_generation",
            Self::GenerationReused { .. } => "generation_reused",
            Self::EmptyPart => "empty_part",
            Self::PartTooLong { .. } => "part_too_long",
            Self::SegmentStartsWithoutKeyframe { .. } => "segment_starts_without_keyframe",
            Self::TooManyParts { .. } => "too_many_parts",
            Self::UnexpectedPosition { .. } => "unexpected_position",
            Self::MsnOverflow => "msn_overflow",
        }
    }
}
