//! Answering a `Subscribe` from a [`RelayWindow`]: which parts to backfill and the numbering a
//! subscriber starts its window with (`docs/relay-wire.md` §6).

use bytes::Bytes;
use hls::{PartPosition, WindowStart};

use super::{RelayWindow, ReplicatedPart};
use crate::frame::{ResumePoint, WindowSnapshot};
use crate::limits::MAX_QUEUED_PARTS;

/// What a publisher sends a new subscriber: the snapshot for `SubscribeOk`, the init segments
/// the backfilled and future parts need (ascending generation), and the backfill itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotAndBackfill {
    /// For `SubscribeOk`.
    pub snapshot: WindowSnapshot,
    /// `(generation, bytes)`, ascending.
    pub inits: Vec<(u32, Bytes)>,
    /// Parts to send before live ones, in order, starting at `snapshot.first_part`.
    pub parts: Vec<ReplicatedPart>,
}

impl RelayWindow {
    /// The answer to a `Subscribe`:
    ///
    /// - without `resume`: every listed segment (the subscriber's playlist then matches ours),
    ///   or the newest segments that fit in [`MAX_QUEUED_PARTS`] parts;
    /// - with a `resume` point this window still serves (same position and generation): the
    ///   parts after it (`continues`);
    /// - with any other `resume` point: the open segment from its part 0, or nothing if no
    ///   segment is open, so the subscriber restarts at a segment boundary with the shortest
    ///   backfill.
    pub fn snapshot(&self, resume: Option<ResumePoint>) -> SnapshotAndBackfill {
        let (first_part, continues) = match resume {
            Some(point) => match self.successor(point) {
                Some(next) => (next, true),
                None => (self.live_start(), false),
            },
            None => (self.fresh_start(), false),
        };
        let parts = self.parts_from(first_part);
        let mut generations: Vec<u32> = parts.iter().map(|p| p.meta.generation).collect();
        generations.extend(self.window.current_generation());
        generations.sort_unstable();
        generations.dedup();
        if continues {
            // The subscriber holds the resume point's init already.
            generations.retain(|&g| resume.is_none_or(|r| g != r.generation));
        }
        let inits = generations
            .into_iter()
            .filter_map(|g| self.window.init(g).map(|bytes| (g, bytes)))
            .collect();
        SnapshotAndBackfill {
            snapshot: WindowSnapshot {
                config: self.window.config().clone(),
                start: self.start_for(first_part.msn),
                generation: self.window.current_generation(),
                ended: self.window.is_ended(),
                first_part,
                continues,
            },
            inits,
            parts,
        }
    }

    /// The part after `point`, if this window still serves `point` with that generation.
    fn successor(&self, point: ResumePoint) -> Option<PartPosition> {
        let segment = self.segment(point.position.msn)?;
        let index = usize::try_from(point.position.index).ok()?;
        let meta = segment.parts.get(index)?;
        if meta.generation != point.generation {
            return None;
        }
        Some(if meta.ends_segment {
            PartPosition {
                msn: point.position.msn.checked_add(1)?,
                index: 0,
            }
        } else {
            PartPosition {
                msn: point.position.msn,
                index: point.position.index.checked_add(1)?,
            }
        })
    }

    /// Part 0 of the open segment, else of the next segment.
    fn live_start(&self) -> PartPosition {
        match self.segments.back() {
            Some(open) if !open.closed => PartPosition {
                msn: open.msn,
                index: 0,
            },
            _ => self.next_segment(),
        }
    }

    /// Part 0 of the oldest listed segment such that the backfill fits the publisher's queue.
    fn fresh_start(&self) -> PartPosition {
        let listed_from = self.window.media_sequence();
        let mut start = None;
        let mut parts = 0;
        for segment in self.segments.iter().rev() {
            if segment.msn < listed_from {
                break;
            }
            parts += segment.parts.len();
            if parts > MAX_QUEUED_PARTS && start.is_some() {
                break;
            }
            start = Some(segment.msn);
        }
        match start {
            Some(msn) => PartPosition { msn, index: 0 },
            None => self.next_segment(),
        }
    }

    fn next_segment(&self) -> PartPosition {
        let msn = match self.window.next_part() {
            Some(next) if next.index == 0 => next.msn,
            Some(next) => next.msn.saturating_add(1),
            None => self
                .window
                .last_part()
                .map_or(self.window.media_sequence(), |p| p.msn.saturating_add(1)),
        };
        PartPosition { msn, index: 0 }
    }

    /// Every served part from `first` on.
    fn parts_from(&self, first: PartPosition) -> Vec<ReplicatedPart> {
        let mut out = Vec::new();
        for segment in self.segments.iter().filter(|s| s.msn >= first.msn) {
            for index in 0..segment.parts.len() as u64 {
                let position = PartPosition {
                    msn: segment.msn,
                    index,
                };
                if position < first {
                    continue;
                }
                match self.replicated_part(position) {
                    Some(part) => out.push(part),
                    None => return out,
                }
            }
        }
        out
    }

    /// The numbering a window starting at segment `msn` needs to render like this one.
    pub(super) fn start_for(&self, msn: u64) -> WindowStart {
        let listed_from = self.window.media_sequence();
        let earlier_discontinuities = self
            .segments
            .iter()
            .filter(|s| s.msn >= listed_from && s.msn < msn && s.discontinuity)
            .count() as u64;
        let discontinuity = match self.segment(msn) {
            Some(segment) => segment.discontinuity,
            None => self.pending_discontinuity,
        };
        WindowStart {
            msn,
            discontinuity_sequence: self
                .window
                .discontinuity_sequence()
                .saturating_add(earlier_discontinuities),
            target_duration: Some(self.window.target_duration()),
            discontinuity,
        }
    }
}
