//! Candidate ranking shared by every routing answer: a bounded top-K selection over the
//! per-role region index, visiting regions nearest first and stopping early.

use std::cmp::Ordering;
use std::time::Instant;

use crate::liveness::Liveness;
use crate::region::RegionTable;
use crate::registry::{Entry, Registry};
use crate::report::{NodeReport, Role};

/// Added to the load ratio per provisional connection when `max_connections` is unknown.
const UNKNOWN_CAPACITY_STEP: f64 = 1e-3;

/// A candidate's sort key; smaller is better. Compared lexicographically in field order, then
/// by id for determinism.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rank {
    pub(crate) liveness: Liveness,
    pub(crate) saturated: bool,
    pub(crate) distance: u32,
    pub(crate) ratio: f64,
    /// `false` sorts first: inverted "holds the stream".
    pub(crate) lacks_stream: bool,
}

impl Rank {
    /// Everything but the stream tie-break, which costs a lookup: used to skip hopeless
    /// candidates cheaply.
    fn cmp_prefix(&self, other: &Self) -> Ordering {
        (self.liveness, self.saturated, self.distance)
            .cmp(&(other.liveness, other.saturated, other.distance))
            .then(self.ratio.total_cmp(&other.ratio))
    }
}

/// The best `k` candidates seen so far, best first.
pub(crate) struct TopK<'a> {
    k: usize,
    pub(crate) items: Vec<(Rank, &'a Entry, usize)>,
}

impl<'a> TopK<'a> {
    fn new(k: usize) -> Self {
        Self {
            k,
            items: Vec::with_capacity(k + 1),
        }
    }

    fn is_full(&self) -> bool {
        self.items.len() >= self.k
    }

    fn worst(&self) -> Option<&Rank> {
        self.items.last().map(|(rank, _, _)| rank)
    }

    fn offer(&mut self, rank: Rank, entry: &'a Entry, slot: usize) {
        let cmp = |a: &(Rank, &Entry, usize)| {
            a.0.cmp_prefix(&rank)
                .then(a.0.lacks_stream.cmp(&rank.lacks_stream))
                .then(a.1.report.id.as_str().cmp(&entry.report.id))
        };
        let at = self
            .items
            .partition_point(|item| cmp(item) == Ordering::Less);
        if at < self.k {
            self.items.insert(at, (rank, entry, slot));
            self.items.truncate(self.k);
        }
    }
}

/// The load ratio routing compares: the fullest of connections, egress and CPU, plus one
/// connection's share per provisional viewer. Added on top (not into the connection term) so
/// every decision raises the chosen node's ratio even when CPU or egress dominates.
#[cfg(test)]
pub(crate) fn load_ratio(report: &NodeReport, provisional: u64) -> f64 {
    let (base, step) = load_ratio_parts(report);
    base + provisional as f64 * step
}

/// `(ratio before provisional connections, ratio per provisional connection)` of a report.
pub(crate) fn load_ratio_parts(report: &NodeReport) -> (f64, f64) {
    let ratio = |used: u64, max: u64| {
        if max == 0 {
            0.0
        } else {
            used as f64 / max as f64
        }
    };
    let (cap, load) = (&report.capacity, &report.load);
    let base = ratio(load.connections, cap.max_connections)
        .max(ratio(load.egress_bps, cap.max_egress_bps))
        .max(load.cpu);
    let step = if cap.max_connections == 0 {
        UNKNOWN_CAPACITY_STEP
    } else {
        1.0 / cap.max_connections as f64
    };
    (base, step)
}

/// One ranking request.
pub(crate) struct Query<'q> {
    pub(crate) role: Role,
    pub(crate) from_region: &'q str,
    pub(crate) table: &'q RegionTable,
    pub(crate) now: Instant,
    pub(crate) k: usize,
    /// Sorted slots of the nodes holding the stream, for the tie-break.
    pub(crate) holders: &'q [usize],
}

impl Registry {
    /// Effective liveness at `now`: the stored state, or worse if the timer has not fired yet.
    pub(crate) fn liveness_at(&self, entry: &Entry, now: Instant) -> Liveness {
        let config = self.detector.config();
        entry.liveness.max(config.liveness_at(entry.last_beat, now))
    }

    /// Top `q.k` nodes of `q.role` that are not Dead and pass `accept`, best first.
    pub(crate) fn rank<'a>(
        &'a self,
        q: &Query<'_>,
        accept: impl Fn(&Entry, Liveness) -> bool,
    ) -> TopK<'a> {
        let mut groups: Vec<(u32, &[usize])> = self.by_region[q.role.index()]
            .iter()
            .map(|(region, slots)| (q.table.distance(q.from_region, region), slots.as_slice()))
            .collect();
        groups.sort_unstable_by_key(|(distance, _)| *distance);
        // Liveness by comparing instants: two subtractions per query instead of one per node.
        let config = self.detector.config();
        let suspect_by = q.now.checked_sub(config.suspect_after);
        let dead_by = q.now.checked_sub(config.dead_after);
        let liveness_of = |entry: &Entry| {
            let silent_since = |by: Option<Instant>| by.is_some_and(|by| entry.last_beat <= by);
            let by_time = if silent_since(dead_by) {
                Liveness::Dead
            } else if silent_since(suspect_by) {
                Liveness::Suspect
            } else {
                Liveness::Alive
            };
            entry.liveness.max(by_time)
        };
        let mut top = TopK::new(q.k);
        for (distance, slots) in groups {
            // Every later candidate has a larger distance, so it ranks after an Alive,
            // unsaturated candidate at this distance or nearer.
            if top.is_full()
                && top.worst().is_some_and(|w| {
                    (w.liveness, w.saturated, w.distance) < (Liveness::Alive, false, distance)
                })
            {
                break;
            }
            for &slot in slots {
                let Some(entry) = self.slots.get(slot).and_then(Option::as_ref) else {
                    continue;
                };
                let liveness = liveness_of(entry);
                if liveness == Liveness::Dead || !accept(entry, liveness) {
                    continue;
                }
                let ratio = entry.load_ratio();
                let mut rank = Rank {
                    liveness,
                    saturated: ratio >= self.routing.saturation,
                    distance,
                    ratio,
                    lacks_stream: false,
                };
                if top.is_full() && top.worst().is_some_and(|w| w.cmp_prefix(&rank).is_lt()) {
                    continue;
                }
                rank.lacks_stream = q.holders.binary_search(&slot).is_err();
                top.offer(rank, entry, slot);
            }
        }
        top
    }
}
