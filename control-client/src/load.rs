//! Rates for the heartbeat's load: CPU (fraction of the machine's cores) and egress bits per
//! second, from cumulative counters sampled at each beat.

use std::time::Instant;

/// Turns cumulative CPU seconds and egress bytes into rates between two beats.
#[derive(Debug)]
pub struct LoadMeter {
    cores: f64,
    last: Option<(Instant, f64, u64)>,
}

impl Default for LoadMeter {
    fn default() -> Self {
        Self::new()
    }
}

impl LoadMeter {
    /// A meter for this machine's core count.
    pub fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get) as f64;
        Self { cores, last: None }
    }

    /// This process's load now: `connections` as given, CPU (read from `/proc`) and egress
    /// (from `egress_bytes`, the node's bytes sent so far) as rates since the previous call.
    pub fn load_now(&mut self, connections: u64, egress_bytes: u64) -> directory::Load {
        let (cpu, egress_bps) = self.sample(
            node::clock::now(),
            node::metrics::cpu_seconds().unwrap_or(0.0),
            egress_bytes,
        );
        directory::Load {
            connections,
            egress_bps,
            cpu,
        }
    }

    /// `(cpu, egress_bps)` since the previous sample (zeros on the first), given the process's
    /// CPU seconds and egress bytes so far.
    pub fn sample(&mut self, now: Instant, cpu_seconds: f64, egress_bytes: u64) -> (f64, u64) {
        let rates = match self.last {
            Some((then, cpu_then, bytes_then)) => {
                let elapsed = now.saturating_duration_since(then).as_secs_f64();
                if elapsed <= 0.0 {
                    (0.0, 0)
                } else {
                    let cpu = ((cpu_seconds - cpu_then) / elapsed / self.cores).clamp(0.0, 1.0);
                    let bits = egress_bytes.saturating_sub(bytes_then).saturating_mul(8) as f64;
                    (cpu, (bits / elapsed) as u64)
                }
            }
            None => (0.0, 0),
        };
        self.last = Some((now, cpu_seconds, egress_bytes));
        rates
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::LoadMeter;

    #[test]
    #[expect(clippy::disallowed_methods, reason = "any base instant will do")]
    fn rates_between_samples() {
        let mut meter = LoadMeter {
            cores: 2.0,
            last: None,
        };
        let t0 = Instant::now();
        assert_eq!(meter.sample(t0, 10.0, 1000), (0.0, 0));
        let (cpu, bps) = meter.sample(t0 + Duration::from_secs(2), 11.0, 1000 + 250_000);
        assert!((cpu - 0.25).abs() < 1e-9);
        assert_eq!(bps, 1_000_000);
    }
}
