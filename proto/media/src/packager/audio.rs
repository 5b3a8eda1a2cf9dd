//! The AAC decode-time clock: counts frames from a resync point so audio times are
//! exact at the sample rate, using FLV milliseconds only to detect drift.

use super::{AUDIO_RESYNC_THRESHOLD_MS, Stats};

#[derive(Debug, Clone)]
pub(super) struct AudioClock {
    pub(super) sample_rate: u32,
    pub(super) samples_per_frame: u32,
    /// Decode time the next frame gets if it is on time.
    next: Option<u64>,
    /// No frame is placed before this (the start of the init it belongs to).
    floor: u64,
}

impl AudioClock {
    pub(super) fn new(sample_rate: u32, samples_per_frame: u32, floor_ms: u64) -> Self {
        let floor = ms_to_ticks(floor_ms, sample_rate);
        Self {
            sample_rate,
            samples_per_frame,
            next: None,
            floor,
        }
    }

    /// The decode time for a frame stamped `out_ms`, or `None` to drop it (late).
    pub(super) fn place(&mut self, out_ms: u64, stats: &mut Stats) -> Option<u64> {
        let actual = ms_to_ticks(out_ms, self.sample_rate).max(self.floor);
        let threshold = ms_to_ticks(AUDIO_RESYNC_THRESHOLD_MS, self.sample_rate);
        let dts = match self.next {
            None => actual,
            Some(expected) if actual > expected.saturating_add(threshold) => {
                stats.audio_resyncs += 1;
                actual
            }
            Some(expected) if actual.saturating_add(threshold) < expected => {
                stats.dropped_audio += 1;
                return None;
            }
            Some(expected) => expected,
        };
        self.next = Some(dts + u64::from(self.samples_per_frame));
        Some(dts)
    }

    /// Where the next on-time frame would start, once any frame was placed.
    pub(super) fn next(&self) -> Option<u64> {
        self.next
    }
}

/// `ms · rate / 1000`, floored, without overflow.
pub(super) fn ms_to_ticks(ms: u64, rate: u32) -> u64 {
    (u128::from(ms) * u128::from(rate) / 1000) as u64
}

/// `ticks · 10⁹ / rate`, floored.
pub(super) fn ticks_to_ns(ticks: u64, rate: u32) -> u64 {
    (u128::from(ticks) * 1_000_000_000 / u128::from(rate.max(1))) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_frames_and_resyncs() {
        let mut s = Stats::default();
        let mut c = AudioClock::new(44100, 1024, 0);
        // 44.1 kHz frames are 23.22 ms; FLV rounds to whole ms.
        assert_eq!(c.place(0, &mut s), Some(0));
        assert_eq!(c.place(23, &mut s), Some(1024));
        assert_eq!(c.place(46, &mut s), Some(2048));
        // 500 ms gap: resync.
        assert_eq!(c.place(570, &mut s), Some(ms_to_ticks(570, 44100)));
        assert_eq!(s.audio_resyncs, 1);
        // A late duplicate is dropped.
        assert_eq!(c.place(300, &mut s), None);
        assert_eq!(s.dropped_audio, 1);
    }
}
