//! The shared output timeline: maps FLV milliseconds to output milliseconds with one
//! offset for both tracks, rebasing on jumps of the leading track.

use super::{MAX_TIMESTAMP_BACKSTEP_MS, MAX_TIMESTAMP_GAP_MS, Stats};

/// Input stamps above this are clamped, keeping all arithmetic in i64 range.
const MAX_INPUT_MS: u64 = 1 << 52;

/// Which track a timestamp belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lane {
    Video = 0,
    Audio = 1,
}

#[derive(Debug, Default)]
pub(super) struct Timeline {
    /// output = input + offset; set by the first sample (output starts at 0).
    offset: Option<i64>,
    last: [Option<u64>; 2],
    /// The last positive step per lane: the duration given to the frame before a rebase.
    last_step: [u64; 2],
}

impl Timeline {
    /// Maps `input_ms`. Only the `leader` lane rebases; a video leader also keeps
    /// decode times strictly increasing (clamping small backward steps).
    pub(super) fn map(
        &mut self,
        lane: Lane,
        input_ms: u64,
        leader: bool,
        stats: &mut Stats,
    ) -> u64 {
        let input = input_ms.min(MAX_INPUT_MS) as i64;
        let offset = *self.offset.get_or_insert(-input);
        let mut out = input + offset;
        let i = lane as usize;
        if let Some(last) = self.last[i] {
            let last = last as i64;
            let step = out - last;
            if leader
                && (out < 0
                    || step > MAX_TIMESTAMP_GAP_MS as i64
                    || step < -(MAX_TIMESTAMP_BACKSTEP_MS as i64))
            {
                // Continue one frame after the last sample, as if nothing happened.
                let default_step = if lane == Lane::Video { 33 } else { 21 };
                let step = if self.last_step[i] > 0 {
                    self.last_step[i]
                } else {
                    default_step
                };
                out = last + step as i64;
                self.offset = Some(out - input);
                stats.timestamp_rebases += 1;
            } else if leader && lane == Lane::Video && step <= 0 {
                out = last + 1;
                stats.clamped_timestamps += 1;
            }
            if out > last {
                self.last_step[i] = (out - last) as u64;
            }
        }
        let out = out.max(0) as u64;
        // Non-leaders never move the lane's high-water mark backwards.
        let high = self.last[i].map_or(out, |l| if leader { out } else { l.max(out) });
        self.last[i] = Some(high);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_at_zero_and_rebases_on_jumps() {
        let mut t = Timeline::default();
        let mut s = Stats::default();
        assert_eq!(t.map(Lane::Video, 5000, true, &mut s), 0);
        assert_eq!(t.map(Lane::Video, 5040, true, &mut s), 40);
        // Publisher restarts at 0: continue 40 ms later.
        assert_eq!(t.map(Lane::Video, 0, true, &mut s), 80);
        assert_eq!(t.map(Lane::Audio, 10, false, &mut s), 90);
        // Forward gap of an hour.
        assert_eq!(t.map(Lane::Video, 3_600_000, true, &mut s), 120);
        assert_eq!(s.timestamp_rebases, 2);
        // Small backward step is clamped.
        assert_eq!(t.map(Lane::Video, 3_599_990, true, &mut s), 121);
        assert_eq!(s.clamped_timestamps, 1);
    }
}
