//! Unwrapping 32-bit RTMP timestamps into a 64-bit timeline.

/// Turns wire timestamps (u32 milliseconds, wrapping every ~49.7 days) into
/// `u64` milliseconds that never wrap.
///
/// Each new raw value is read as a *signed* 32-bit step from the previous one,
/// so `0xFFFF_FFF0 → 0x10` advances by 32 ms instead of jumping back 49 days.
/// The first value is taken as-is (a stream may start at any timestamp). Small
/// backward steps (audio/video interleaving, encoder jitter) are kept, as
/// they carry A/V sync; the result is clamped at 0 so it never underflows.
#[derive(Debug, Default, Clone)]
pub struct TimestampUnwrapper {
    last_raw: Option<u32>,
    current: i64,
}

impl TimestampUnwrapper {
    /// A fresh unwrapper.
    pub fn new() -> Self {
        Self::default()
    }

    /// Unwrap the next raw wire timestamp.
    pub fn unwrap_next(&mut self, raw: u32) -> u64 {
        self.current = match self.last_raw {
            None => i64::from(raw),
            Some(prev) => self.current + i64::from(raw.wrapping_sub(prev) as i32),
        };
        self.last_raw = Some(raw);
        u64::try_from(self.current).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_forward_and_keeps_small_back_steps() {
        let mut u = TimestampUnwrapper::new();
        assert_eq!(u.unwrap_next(0xFFFF_FF00), 0xFFFF_FF00);
        assert_eq!(u.unwrap_next(0x0000_0010), 0x1_0000_0010);
        assert_eq!(u.unwrap_next(0x0000_0008), 0x1_0000_0008);
        assert_eq!(u.unwrap_next(0xFFFF_FFF0), 0xFFFF_FFF0);
        let mut u = TimestampUnwrapper::new();
        assert_eq!(u.unwrap_next(5), 5);
        assert_eq!(u.unwrap_next(1), 1);
        assert_eq!(u.unwrap_next(u32::MAX), 0, "clamped, never underflows");
    }
}
