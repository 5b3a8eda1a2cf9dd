//! Latency percentiles from raw samples (microseconds).

use std::fmt;

/// Percentiles of a set of samples, in milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub count: usize,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Summary {
    /// Nearest-rank percentiles of `samples_us`; all zero when empty.
    pub fn of(mut samples_us: Vec<u32>) -> Self {
        samples_us.sort_unstable();
        let at = |q: f64| -> f64 {
            if samples_us.is_empty() {
                return 0.0;
            }
            let rank = ((q * samples_us.len() as f64).ceil() as usize).clamp(1, samples_us.len());
            f64::from(samples_us[rank - 1]) / 1000.0
        };
        Self {
            count: samples_us.len(),
            p50_ms: at(0.50),
            p90_ms: at(0.90),
            p99_ms: at(0.99),
            max_ms: at(1.0),
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} samples)",
            self.p50_ms, self.p90_ms, self.p99_ms, self.max_ms, self.count
        )
    }
}
