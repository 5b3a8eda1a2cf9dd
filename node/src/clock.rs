//! The clock boundary: the only code in the workspace allowed to read the clock.
//!
//! Protocol crates take `now: Instant` as an argument and wall-clock values as data; IO code
//! asks here. Monotonic time is read from tokio's clock so `#[tokio::test(start_paused = true)]`
//! controls it (linkerd's rule).

use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Monotonic now, from tokio's (pausable) clock.
#[expect(clippy::disallowed_methods, reason = "clock boundary")]
pub fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Wall-clock milliseconds since the Unix epoch (for PROGRAM-DATE-TIME and records).
#[expect(clippy::disallowed_methods, reason = "clock boundary")]
pub fn unix_time_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Wall-clock microseconds since the Unix epoch (the origin's timestamp on replicated parts).
#[expect(clippy::disallowed_methods, reason = "clock boundary")]
pub fn unix_time_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}
