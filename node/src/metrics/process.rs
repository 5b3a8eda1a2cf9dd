//! Process metrics read from `/proc/self` at scrape time. Hand-written because the
//! `prometheus-client` crate has no process collector and the one in the unmaintained
//! `prometheus` crate cannot be used with it; this is four numbers from two files.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Linux reports CPU times in `/proc/<pid>/stat` in USER_HZ, which the kernel ABI fixes at 100
/// on every architecture we run on.
const USER_HZ: f64 = 100.0;

/// Collects `process_*` metrics from `/proc/self` (nothing on other systems).
#[derive(Debug, Clone, Copy)]
pub struct ProcessCollector;

#[derive(Debug, Default, PartialEq)]
struct ProcessStats {
    cpu_seconds: f64,
    resident_bytes: i64,
    threads: i64,
    open_fds: i64,
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let Some(stats) = read_stats() else {
            return Ok(());
        };
        let cpu = ConstCounter::new(stats.cpu_seconds);
        cpu.encode(encoder.encode_descriptor(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds",
            None,
            cpu.metric_type(),
        )?)?;
        for (name, help, value) in [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                stats.resident_bytes,
            ),
            (
                "process_open_fds",
                "Number of open file descriptors",
                stats.open_fds,
            ),
            ("process_threads", "Number of OS threads", stats.threads),
        ] {
            let gauge = ConstGauge::new(value);
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        Ok(())
    }
}

/// CPU time (user + system) this process has used, in seconds; `None` off Linux. Nodes report
/// its rate as their CPU load in heartbeats.
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    parse(&stat, "").map(|s| s.cpu_seconds)
}

fn read_stats() -> Option<ProcessStats> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let open_fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as i64);
    let mut stats = parse(&stat, &status)?;
    stats.open_fds = open_fds;
    Some(stats)
}

/// Parses `/proc/self/stat` (fields after the parenthesised command name) and
/// `/proc/self/status` (`VmRSS`, `Threads`).
fn parse(stat: &str, status: &str) -> Option<ProcessStats> {
    // The command name may contain spaces and parentheses: split after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields after the name start at field 3 (state); utime is field 14, stime field 15.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    let value_of = |key: &str| -> Option<i64> {
        let line = status.lines().find(|l| l.starts_with(key))?;
        line[key.len()..].split_whitespace().next()?.parse().ok()
    };
    Some(ProcessStats {
        cpu_seconds: (utime + stime) / USER_HZ,
        resident_bytes: value_of("VmRSS:").unwrap_or(0) * 1024,
        threads: value_of("Threads:").unwrap_or(0),
        open_fds: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::{ProcessStats, parse};

    #[test]
    fn parses_stat_with_spaces_in_command_name() {
        let stat =
            "42 (my (odd) cmd) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 7 0 1000 12345 678";
        let status = "Name:\tx\nVmRSS:\t  2048 kB\nThreads:\t7\n";
        let stats = parse(stat, status).unwrap();
        assert_eq!(
            stats,
            ProcessStats {
                cpu_seconds: 3.0,
                resident_bytes: 2048 * 1024,
                threads: 7,
                open_fds: 0
            }
        );
    }

    #[test]
    fn reads_this_process() {
        let stats = super::read_stats().unwrap();
        assert!(stats.resident_bytes > 0 && stats.threads >= 1 && stats.open_fds > 0);
    }
}
