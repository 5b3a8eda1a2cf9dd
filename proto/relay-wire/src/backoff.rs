//! [`Backoff`]: reconnect delays for a subscriber's driver.

use std::time::Duration;

/// Default first delay.
pub const DEFAULT_BACKOFF_BASE: Duration = Duration::from_millis(100);
/// Default cap.
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(10);

/// Exponential backoff with jitter: attempt `n` waits between half and all of
/// `min(base * 2^n, max)`, the point in that range chosen from the seed. The seed is injected
/// (from the node id, say) so that edges reconnecting after the same upstream failure spread
/// out, and tests replay exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay scale of attempt 0.
    pub base: Duration,
    /// Largest delay.
    pub max: Duration,
    /// Jitter seed.
    pub seed: u64,
}

impl Backoff {
    /// Default base and cap with this seed.
    pub fn new(seed: u64) -> Self {
        Self {
            base: DEFAULT_BACKOFF_BASE,
            max: DEFAULT_BACKOFF_MAX,
            seed,
        }
    }

    /// Delay before reconnect attempt `attempt` (0 for the first retry).
    pub fn next_delay(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        let ceiling = self.base.saturating_mul(factor).min(self.max);
        let half = ceiling / 2;
        let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        let jitter = if nanos == 0 {
            0
        } else {
            splitmix64(self.seed ^ u64::from(attempt).wrapping_mul(0x9e37_79b9)) % (nanos + 1)
        };
        half + Duration::from_nanos(jitter)
    }
}

/// SplitMix64: a tiny, good-enough mixer for jitter (not for anything secret).
fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_within_bounds_and_caps() {
        let backoff = Backoff::new(42);
        for attempt in 0..40 {
            let ceiling = DEFAULT_BACKOFF_BASE
                .saturating_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX))
                .min(DEFAULT_BACKOFF_MAX);
            let delay = backoff.next_delay(attempt);
            assert!(
                delay >= ceiling / 2 && delay <= ceiling,
                "{attempt}: {delay:?}"
            );
        }
        assert!(backoff.next_delay(100) <= DEFAULT_BACKOFF_MAX);
    }

    #[test]
    fn is_deterministic_per_seed_and_seeds_differ() {
        let a = Backoff::new(1);
        assert_eq!(a.next_delay(5), Backoff::new(1).next_delay(5));
        let differ = (0..10).any(|n| a.next_delay(n) != Backoff::new(2).next_delay(n));
        assert!(differ);
    }
}
