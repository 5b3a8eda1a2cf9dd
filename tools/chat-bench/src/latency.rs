//! Delay percentiles from raw samples (microseconds).

/// Nearest-rank percentiles of a set of samples, in milliseconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Summary {
    pub(crate) count: usize,
    pub(crate) p50_ms: f64,
    pub(crate) p90_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
}

impl Summary {
    /// Percentiles of `samples_us`; all zero when empty.
    pub(crate) fn of(mut samples_us: Vec<u32>) -> Self {
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
