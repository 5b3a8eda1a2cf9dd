//! [`PartWindow`]: the sliding window of segments and parts of one rendition.

mod event;
mod segment;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;

pub use self::event::{WindowError, WindowEvent};
pub(crate) use self::segment::Segment;
use self::segment::StoredPart;
use crate::config::{ConfigError, WindowConfig, WindowStart};
use crate::format::Seconds;

/// Most parts one segment may hold. A publisher that never sends a keyframe cannot grow a
/// segment without bound: at the 100 ms minimum part target this is one minute of media.
pub const MAX_PARTS_PER_SEGMENT: usize = 600;

/// One part handed to the window by the packager (or, at an edge, by replication).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartInput {
    /// One `moof`+`mdat` fragment.
    pub data: Bytes,
    /// Media duration of the fragment; at most the configured part target.
    pub duration: Duration,
    /// The part starts with a keyframe (`INDEPENDENT=YES`). A segment's first part must be.
    pub independent: bool,
    /// This is the last part of its segment: the segment closes after it.
    pub ends_segment: bool,
    /// Wall clock of the part's first frame, milliseconds since the Unix epoch.
    pub program_date_time_ms: u64,
}

/// A part's place in the stream: Media Sequence Number of its parent segment and Part Index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartPosition {
    /// Media Sequence Number of the parent segment.
    pub msn: u64,
    /// Part Index within the segment, from 0.
    pub index: u64,
}

/// The sliding window of one rendition: init segments, segments and their parts.
///
/// A sans-IO state machine. Inputs are the `handle_*` methods; each either refuses the input
/// with a [`WindowError`] (and changes nothing) or applies it and queues [`WindowEvent`]s.
///
/// **Drain rule:** after every `handle_*` call, call [`poll_output`](Self::poll_output) until it
/// returns `None`. The driver uses the events to wake blocked playlist and part requests and to
/// purge caches; the queue is not bounded, so an undrained window grows.
///
/// **Invariants:** Media Sequence Numbers only grow; a closed segment's bytes are its parts
/// concatenated; the playlist lists exactly `window_segments` closed segments once that many
/// exist (more only while fewer would be shorter than three target durations); the target
/// duration never decreases.
#[derive(Debug, Clone)]
pub struct PartWindow {
    config: WindowConfig,
    target_duration: u64,
    /// Listed segments, oldest first; only the last may be open.
    segments: VecDeque<Segment>,
    /// Evicted segments still served, oldest first, with the media-clock time they go.
    retired: VecDeque<(Segment, Duration)>,
    /// Init segments by ascending generation.
    inits: VecDeque<(u32, Bytes)>,
    next_msn: u64,
    /// Discontinuity sequence number of the first listed segment.
    discontinuity_sequence: u64,
    pending_discontinuity: bool,
    has_media: bool,
    ended: bool,
    /// Media time ingested so far: the window's only notion of time.
    media_clock: Duration,
    events: VecDeque<WindowEvent>,
}

impl PartWindow {
    /// An empty window whose first segment will be msn 0.
    pub fn new(config: WindowConfig) -> Result<Self, ConfigError> {
        Self::starting_at(config, WindowStart::default())
    }

    /// An empty window whose first segment will be `start.msn`, for an edge that joins a stream
    /// mid-way or an origin that resumes numbering.
    pub fn starting_at(config: WindowConfig, start: WindowStart) -> Result<Self, ConfigError> {
        config.validate()?;
        let target_duration = start
            .target_duration
            .unwrap_or(0)
            .max(config.initial_target_duration());
        Ok(Self {
            config,
            target_duration,
            segments: VecDeque::new(),
            retired: VecDeque::new(),
            inits: VecDeque::new(),
            next_msn: start.msn,
            discontinuity_sequence: start.discontinuity_sequence,
            pending_discontinuity: start.discontinuity,
            has_media: false,
            ended: false,
            media_clock: Duration::ZERO,
            events: VecDeque::new(),
        })
    }

    /// Adds the init segment of `generation`. A generation above the current one (codec change
    /// or publisher restart) closes the open segment, and the next segment carries
    /// `EXT-X-DISCONTINUITY` and a new `EXT-X-MAP`. Offering the current generation again with
    /// the same bytes is a no-op (replication may repeat it).
    pub fn handle_init(&mut self, generation: u32, data: Bytes) -> Result<(), WindowError> {
        if self.ended {
            return Err(WindowError::Ended);
        }
        if data.is_empty() {
            return Err(WindowError::EmptyInit);
        }
        if let Some(&(current, ref bytes)) = self.inits.back() {
            if generation < current {
                return Err(WindowError::StaleGeneration {
                    generation,
                    current,
                });
            }
            if generation == current {
                return if *bytes == data {
                    Ok(())
                } else {
                    Err(WindowError::GenerationReused { generation })
                };
            }
            // RFC 8216bis §4.4.4.3: a change of encoding parameters or a restart of the
            // encoding sequence needs EXT-X-DISCONTINUITY.
            self.close_open_segment();
            self.pending_discontinuity |= self.has_media;
        }
        self.inits.push_back((generation, data));
        self.events.push_back(WindowEvent::InitReady { generation });
        Ok(())
    }

    /// Appends one part, opening a segment if none is open and closing it if the part ends it.
    pub fn handle_part(&mut self, part: PartInput) -> Result<(), WindowError> {
        if self.ended {
            return Err(WindowError::Ended);
        }
        let Some(&(generation, _)) = self.inits.back() else {
            return Err(WindowError::MissingInit);
        };
        if part.data.is_empty() || part.duration.is_zero() {
            return Err(WindowError::EmptyPart);
        }
        // RFC 8216bis §4.4.4.9: "The duration of a Partial Segment MUST be less than or equal
        // to the Part Target Duration." Refused rather than listed: PART-TARGET cannot change.
        if part.duration > self.config.part_target {
            return Err(WindowError::PartTooLong {
                duration: part.duration,
                part_target: self.config.part_target,
            });
        }
        match self.segments.back() {
            Some(open) if !open.is_closed() => {
                if open.parts.len() >= MAX_PARTS_PER_SEGMENT {
                    return Err(WindowError::TooManyParts { msn: open.msn });
                }
            }
            _ => {
                // Every segment starts with a keyframe: the multivariant playlist promises
                // EXT-X-INDEPENDENT-SEGMENTS (RFC 8216bis §4.4.2.1).
                if !part.independent {
                    return Err(WindowError::SegmentStartsWithoutKeyframe { msn: self.next_msn });
                }
                let msn = self.next_msn;
                self.next_msn = msn.checked_add(1).ok_or(WindowError::MsnOverflow)?;
                let discontinuity = std::mem::take(&mut self.pending_discontinuity);
                let segment =
                    Segment::open(msn, generation, discontinuity, part.program_date_time_ms);
                self.segments.push_back(segment);
                self.has_media = true;
            }
        }
        let Some(open) = self.segments.back_mut() else {
            return Ok(()); // unreachable: a segment was found or pushed above
        };
        open.push(StoredPart {
            data: part.data,
            duration: part.duration,
            independent: part.independent,
        });
        let (msn, index) = (open.msn, open.last_part_index());
        self.media_clock = self.media_clock.saturating_add(part.duration);
        self.events
            .push_back(WindowEvent::PartReady { msn, part: index });
        if part.ends_segment {
            self.close_open_segment();
        }
        self.release_retired();
        self.share_built_segments();
        Ok(())
    }

    /// Appends a part whose position is known, as replication delivers it: refused unless it is
    /// exactly [`next_part`](Self::next_part), so a gap or a reordering never goes unnoticed.
    pub fn handle_part_at(
        &mut self,
        position: PartPosition,
        part: PartInput,
    ) -> Result<(), WindowError> {
        match self.next_part() {
            None => Err(WindowError::Ended),
            Some(expected) if expected != position => Err(WindowError::UnexpectedPosition {
                expected,
                got: position,
            }),
            Some(_) => self.handle_part(part),
        }
    }

    /// The publisher reconnected within its grace period: closes the open segment, and the next
    /// segment carries `EXT-X-DISCONTINUITY` (RFC 8216bis §4.4.4.3). A part hinted in the closed
    /// segment will never exist; requests held for it should be answered 404 (§6.2.6).
    pub fn handle_discontinuity(&mut self) -> Result<(), WindowError> {
        if self.ended {
            return Err(WindowError::Ended);
        }
        self.close_open_segment();
        self.pending_discontinuity |= self.has_media;
        Ok(())
    }

    /// End of stream: closes the open segment; the playlist gets `EXT-X-ENDLIST` and no longer
    /// hints a part. Repeating it is a no-op.
    pub fn handle_end(&mut self) {
        if self.ended {
            return;
        }
        self.close_open_segment();
        self.ended = true;
        self.events.push_back(WindowEvent::Ended);
    }

    /// Next queued event, oldest first. See the drain rule on [`PartWindow`].
    pub fn poll_output(&mut self) -> Option<WindowEvent> {
        self.events.pop_front()
    }

    /// The configuration this window runs with.
    pub fn config(&self) -> &WindowConfig {
        &self.config
    }

    /// `EXT-X-TARGETDURATION`, whole seconds.
    pub fn target_duration(&self) -> u64 {
        self.target_duration
    }

    /// `EXT-X-MEDIA-SEQUENCE`: msn of the first listed segment (the next msn when empty).
    pub fn media_sequence(&self) -> u64 {
        self.segments.front().map_or(self.next_msn, |s| s.msn)
    }

    /// `EXT-X-DISCONTINUITY-SEQUENCE` of the first listed segment.
    pub fn discontinuity_sequence(&self) -> u64 {
        self.discontinuity_sequence
    }

    /// Whether [`handle_end`](Self::handle_end) was called.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// The newest part, if any part is listed.
    pub fn last_part(&self) -> Option<PartPosition> {
        self.segments.back().map(|s| PartPosition {
            msn: s.msn,
            index: s.last_part_index(),
        })
    }

    /// msn of the newest closed segment.
    pub fn last_closed_msn(&self) -> Option<u64> {
        self.segments
            .iter()
            .rev()
            .find(|s| s.is_closed())
            .map(|s| s.msn)
    }

    /// The part the playlist hints with `EXT-X-PRELOAD-HINT`: the next part of the open segment,
    /// or the first part of the next segment. `None` once ended.
    pub fn next_part(&self) -> Option<PartPosition> {
        if self.ended {
            return None;
        }
        Some(match self.segments.back() {
            Some(open) if !open.is_closed() => PartPosition {
                msn: open.msn,
                index: open.parts.len() as u64,
            },
            _ => PartPosition {
                msn: self.next_msn,
                index: 0,
            },
        })
    }

    /// Init segment of `generation`, while a served segment uses it or it is current.
    pub fn init(&self, generation: u32) -> Option<Bytes> {
        self.inits
            .iter()
            .find(|(g, _)| *g == generation)
            .map(|(_, b)| b.clone())
    }

    /// Generation of the newest init segment.
    pub fn current_generation(&self) -> Option<u32> {
        self.inits.back().map(|(g, _)| *g)
    }

    /// Bytes of part `index` of segment `msn`, listed or evicted but not yet released.
    pub fn part(&self, msn: u64, index: u64) -> Option<Bytes> {
        let segment = self.served_segment(msn)?;
        let index = usize::try_from(index).ok()?;
        segment.parts.get(index).map(|p| p.data.clone())
    }

    /// Whether part `index` of segment `msn` exists and is served.
    pub fn has_part(&self, msn: u64, index: u64) -> bool {
        self.served_segment(msn)
            .is_some_and(|s| index < s.parts.len() as u64)
    }

    /// Bytes of closed segment `msn`, listed or evicted but not yet released.
    pub fn segment(&self, msn: u64) -> Option<Bytes> {
        self.served_segment(msn)?.bytes()
    }

    /// Size in bytes of closed segment `msn` (the sum of its parts), without building its
    /// bytes: for bitrates, which need no segment buffer.
    pub fn segment_len(&self, msn: u64) -> Option<usize> {
        let segment = self.served_segment(msn)?;
        segment
            .is_closed()
            .then(|| segment.parts.iter().map(|p| p.data.len()).sum())
    }

    /// msn of the oldest segment still served (listed or retired).
    pub fn oldest_served_msn(&self) -> Option<u64> {
        self.retired
            .front()
            .map(|(s, _)| s.msn)
            .or_else(|| self.media_sequence_if_any())
    }

    pub(crate) fn listed(&self) -> &VecDeque<Segment> {
        &self.segments
    }

    pub(crate) fn next_msn(&self) -> u64 {
        self.next_msn
    }

    fn media_sequence_if_any(&self) -> Option<u64> {
        self.segments.front().map(|s| s.msn)
    }

    /// Served segments are contiguous in msn: retired ones, then listed ones.
    fn served_segment(&self, msn: u64) -> Option<&Segment> {
        let first = self.oldest_served_msn()?;
        let offset = usize::try_from(msn.checked_sub(first)?).ok()?;
        match offset.checked_sub(self.retired.len()) {
            None => self.retired.get(offset).map(|(s, _)| s),
            Some(listed) => self.segments.get(listed),
        }
    }

    /// Segments built by a request since the last change give their buffer to their parts
    /// (see `Segment::share_bytes`): a few flag checks per part.
    fn share_built_segments(&mut self) {
        for segment in self.retired.iter_mut().map(|(s, _)| s) {
            segment.share_bytes();
        }
        for segment in &mut self.segments {
            segment.share_bytes();
        }
    }

    fn close_open_segment(&mut self) {
        let Some(open) = self.segments.back_mut().filter(|s| !s.is_closed()) else {
            return;
        };
        open.close();
        let (msn, rounded) = (open.msn, Seconds(open.duration).rounded_whole());
        // RFC 8216bis §4.4.3.1: every EXTINF, rounded, MUST be <= the target duration, and §6.2.1
        // says the target duration must not change. A segment can only be as short as the GOP
        // allows, so when both cannot hold we keep the playlist parseable (raise) and report it.
        if rounded > self.target_duration {
            let from = std::mem::replace(&mut self.target_duration, rounded);
            self.events
                .push_back(WindowEvent::TargetDurationRaised { from, to: rounded });
        }
        self.events.push_back(WindowEvent::SegmentClosed { msn });
        self.evict();
    }

    /// Evicts the oldest closed segments beyond `window_segments`.
    fn evict(&mut self) {
        let closed = |w: &Self| w.segments.iter().filter(|s| s.is_closed()).count();
        let min_listed = Duration::from_secs(self.target_duration.saturating_mul(3));
        while closed(self) > self.config.window_segments {
            let listed: Duration = self.closed_duration();
            let Some(front) = self.segments.front() else {
                break;
            };
            // RFC 8216 §6.2.2 (kept in 8216bis §6.2.2): the server MUST NOT remove a segment if
            // that leaves a playlist shorter than three target durations.
            if listed.saturating_sub(front.duration) < min_listed {
                break;
            }
            let Some(front) = self.segments.pop_front() else {
                break;
            };
            // RFC 8216bis §6.2.2: removing an EXT-X-DISCONTINUITY tag increments
            // EXT-X-DISCONTINUITY-SEQUENCE.
            if front.discontinuity {
                self.discontinuity_sequence = self.discontinuity_sequence.saturating_add(1);
            }
            // RFC 8216bis §6.2.2: a removed segment stays available for its duration plus that
            // of the longest playlist that contained it. Media time stands in for wall time.
            let release_at = self
                .media_clock
                .saturating_add(front.duration)
                .saturating_add(listed);
            self.events
                .push_back(WindowEvent::Evicted { msn: front.msn });
            self.retired.push_back((front, release_at));
        }
    }

    fn release_retired(&mut self) {
        while let Some((segment, release_at)) = self.retired.front() {
            if *release_at > self.media_clock {
                break;
            }
            self.events
                .push_back(WindowEvent::Released { msn: segment.msn });
            self.retired.pop_front();
        }
        // Keep only inits that a served segment or the next segment can use.
        let oldest_needed = self
            .retired
            .iter()
            .map(|(s, _)| s.generation)
            .chain(self.segments.iter().map(|s| s.generation))
            .min();
        let current = self.current_generation();
        while let Some(&(generation, _)) = self.inits.front() {
            let needed =
                oldest_needed.is_some_and(|g| generation >= g) || Some(generation) == current;
            if needed {
                break;
            }
            self.inits.pop_front();
        }
    }

    fn closed_duration(&self) -> Duration {
        self.segments
            .iter()
            .filter(|s| s.is_closed())
            .map(|s| s.duration)
            .sum()
    }
}
