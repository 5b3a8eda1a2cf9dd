//! Window configuration, its named limits, and the position a window starts from.

use std::time::Duration;

/// Default [`WindowConfig::part_target`]: 200 ms.
pub const DEFAULT_PART_TARGET: Duration = Duration::from_millis(200);
/// Smallest accepted [`WindowConfig::part_target`].
pub const MIN_PART_TARGET: Duration = Duration::from_millis(100);
/// Largest accepted [`WindowConfig::part_target`].
pub const MAX_PART_TARGET: Duration = Duration::from_millis(1000);

/// Default [`WindowConfig::segment_target`]: 1 s (a segment closes at the first keyframe after it).
pub const DEFAULT_SEGMENT_TARGET: Duration = Duration::from_secs(1);
/// Largest accepted [`WindowConfig::segment_target`].
pub const MAX_SEGMENT_TARGET: Duration = Duration::from_secs(30);

/// Default [`WindowConfig::window_segments`].
pub const DEFAULT_WINDOW_SEGMENTS: usize = 6;
/// Smallest accepted [`WindowConfig::window_segments`].
pub const MIN_WINDOW_SEGMENTS: usize = 3;
/// Largest accepted [`WindowConfig::window_segments`]: bounds memory per rendition.
pub const MAX_WINDOW_SEGMENTS: usize = 1000;

/// How one rendition's [`PartWindow`](crate::PartWindow) cuts, lists and evicts media.
///
/// Origin and edge must use the same values for a stream so that both render the same text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowConfig {
    /// Part Target Duration, advertised as `EXT-X-PART-INF:PART-TARGET`. Every part must be at
    /// most this long (RFC 8216bis §4.4.4.9). Between [`MIN_PART_TARGET`] and
    /// [`MAX_PART_TARGET`]. Default 200 ms.
    pub part_target: Duration,
    /// The packager's segment target. `EXT-X-TARGETDURATION` starts at this value rounded up to
    /// whole seconds (at least 1). At least `part_target`, at most [`MAX_SEGMENT_TARGET`].
    /// Default 1 s.
    pub segment_target: Duration,
    /// Closed segments listed in the media playlist; older ones are evicted. Between
    /// [`MIN_WINDOW_SEGMENTS`] and [`MAX_WINDOW_SEGMENTS`]. Default 6.
    pub window_segments: usize,
    /// Offer Playlist Delta Updates (`CAN-SKIP-UNTIL`, `_HLS_skip`). Raises `EXT-X-VERSION` to 9.
    /// Default `true`.
    pub delta_updates: bool,
}

impl Default for WindowConfig {
    fn default() -> Self {
        Self {
            part_target: DEFAULT_PART_TARGET,
            segment_target: DEFAULT_SEGMENT_TARGET,
            window_segments: DEFAULT_WINDOW_SEGMENTS,
            delta_updates: true,
        }
    }
}

impl WindowConfig {
    /// Checks every field against its named limit.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(MIN_PART_TARGET..=MAX_PART_TARGET).contains(&self.part_target) {
            return Err(ConfigError::PartTarget(self.part_target));
        }
        if !(self.part_target..=MAX_SEGMENT_TARGET).contains(&self.segment_target) {
            return Err(ConfigError::SegmentTarget(self.segment_target));
        }
        if !(MIN_WINDOW_SEGMENTS..=MAX_WINDOW_SEGMENTS).contains(&self.window_segments) {
            return Err(ConfigError::WindowSegments(self.window_segments));
        }
        Ok(())
    }

    /// `EXT-X-TARGETDURATION` derived from [`segment_target`](Self::segment_target): rounded up
    /// to whole seconds, at least 1.
    pub fn initial_target_duration(&self) -> u64 {
        let secs = self.segment_target.as_secs();
        let up = if self.segment_target.subsec_nanos() > 0 {
            secs + 1
        } else {
            secs
        };
        up.max(1)
    }
}

/// Where a window's numbering starts.
///
/// An origin starts at the default (msn 0, discontinuity sequence 0). An edge that joins a
/// stream mid-way starts from the replicated numbers, so its playlists name the same segments
/// and parts as the origin's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WindowStart {
    /// Media Sequence Number of the first segment this window will hold.
    pub msn: u64,
    /// `EXT-X-DISCONTINUITY-SEQUENCE` in force before that segment.
    pub discontinuity_sequence: u64,
    /// `EXT-X-TARGETDURATION` already advertised upstream, if it was raised above the config's
    /// value. `None` derives it from the config.
    pub target_duration: Option<u64>,
    /// The first segment carries `EXT-X-DISCONTINUITY` (an edge mirroring an upstream playlist
    /// whose first segment has one).
    pub discontinuity: bool,
}

/// A [`WindowConfig`] field outside its limits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `part_target` outside [`MIN_PART_TARGET`]..=[`MAX_PART_TARGET`].
    #[error("part_target {0:?} is outside 100ms..=1s")]
    PartTarget(Duration),
    /// `segment_target` shorter than `part_target` or longer than [`MAX_SEGMENT_TARGET`].
    #[error("segment_target {0:?} is outside part_target..=30s")]
    SegmentTarget(Duration),
    /// `window_segments` outside [`MIN_WINDOW_SEGMENTS`]..=[`MAX_WINDOW_SEGMENTS`].
    #[error("window_segments {0} is outside 3..=1000")]
    WindowSegments(usize),
}

impl ConfigError {
    /// A closed snake_case label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::PartTarget(_) => "part_target",
            Self::SegmentTarget(_) => "segment_target",
            Self::WindowSegments(_) => "window_segments",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_targets_one_second() {
        let config = WindowConfig::default();
        assert_eq!(config.validate(), Ok(()));
        assert_eq!(config.initial_target_duration(), 1);
    }

    #[test]
    fn target_duration_rounds_up() {
        let config = WindowConfig {
            segment_target: Duration::from_millis(2001),
            ..Default::default()
        };
        assert_eq!(config.initial_target_duration(), 3);
        let config = WindowConfig {
            segment_target: Duration::from_millis(300),
            ..Default::default()
        };
        assert_eq!(config.initial_target_duration(), 1);
    }

    #[test]
    fn limits_are_enforced() {
        let bad = WindowConfig {
            part_target: Duration::from_millis(50),
            ..Default::default()
        };
        assert_eq!(bad.validate().map_err(|e| e.reason()), Err("part_target"));
        let bad = WindowConfig {
            segment_target: Duration::from_millis(150),
            ..Default::default()
        };
        assert_eq!(
            bad.validate().map_err(|e| e.reason()),
            Err("segment_target")
        );
        let bad = WindowConfig {
            window_segments: 2,
            ..Default::default()
        };
        assert_eq!(
            bad.validate().map_err(|e| e.reason()),
            Err("window_segments")
        );
    }
}
