//! What the load generators in `tools/` (`livecdn-cp-bench`, `livecdn-chat-bench`) share:
//! readings of a process's CPU time and memory and of the machine's cores from `/proc`
//! ([`cpu`]), and nearest-rank percentiles of latency samples ([`latency`]).

pub mod cpu;
pub mod latency;

use std::time::Instant;

/// The wall clock of the measurements.
#[expect(
    clippy::disallowed_methods,
    reason = "the load generators measure real time"
)]
pub(crate) fn now() -> Instant {
    Instant::now()
}
