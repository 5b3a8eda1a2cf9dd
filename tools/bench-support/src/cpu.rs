//! What the generator reads about processes and the machine: CPU time of a process from
//! `/proc/PID/stat`, its resident memory from `/proc/PID/status`, and per-core busy time from
//! `/proc/stat` (a noise indicator on a shared machine).

use std::time::Instant;

use anyhow::Context;

/// Clock ticks per second of `/proc` CPU times (`USER_HZ`, 100 on every Linux architecture).
const TICKS_PER_SEC: f64 = 100.0;

/// `utime + stime` of `pid` (or `"self"`), in clock ticks: every thread of the process.
fn ticks(pid: &str) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis,
    // where field 3 (state) is index 0, utime (14) index 11 and stime (15) index 12.
    let rest = stat.rsplit_once(')').context("no ')' in stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| -> anyhow::Result<u64> {
        Ok(fields.get(i).context("short stat line")?.parse()?)
    };
    Ok(field(11)? + field(12)?)
}

/// `VmRSS` of `pid`, in KiB.
pub fn rss_kib(pid: &str) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .context("no VmRSS line")?;
    let kib = line.trim().trim_end_matches("kB").trim();
    Ok(kib.parse()?)
}

/// Busy and total ticks of each core (`cpuN` lines of `/proc/stat`).
fn cores() -> anyhow::Result<Vec<(u64, u64)>> {
    let stat = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
    let mut cores = Vec::new();
    for line in stat.lines() {
        let Some(rest) = line.strip_prefix("cpu") else {
            continue;
        };
        if !rest.starts_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        let values: Vec<u64> = rest
            .split_whitespace()
            .skip(1)
            .map(str::parse)
            .collect::<Result<_, _>>()?;
        let total: u64 = values.iter().sum();
        // idle (index 3) and iowait (index 4) are not busy.
        let idle = values.get(3).copied().unwrap_or(0) + values.get(4).copied().unwrap_or(0);
        cores.push((total - idle, total));
    }
    Ok(cores)
}

/// A window of CPU time of one process.
pub struct CpuMeter {
    pid: String,
    ticks: u64,
    at: Instant,
}

/// CPU used over a window.
#[derive(Debug, Clone, Copy)]
pub struct CpuUse {
    /// CPU seconds (user + system).
    pub cpu_s: f64,
    /// Wall seconds.
    pub wall_s: f64,
}

impl CpuUse {
    /// Percentage of one core (100 = one core busy for the whole window).
    pub fn percent(self) -> f64 {
        100.0 * self.cpu_s / self.wall_s
    }
}

impl CpuMeter {
    /// Starts a window for `pid` (`"self"` for this process).
    pub fn start(pid: &str) -> anyhow::Result<Self> {
        Ok(Self {
            pid: pid.to_owned(),
            ticks: ticks(pid)?,
            at: crate::now(),
        })
    }

    /// CPU used since [`CpuMeter::start`].
    pub fn read(&self) -> anyhow::Result<CpuUse> {
        let used = ticks(&self.pid)?.saturating_sub(self.ticks);
        Ok(CpuUse {
            cpu_s: used as f64 / TICKS_PER_SEC,
            wall_s: self.at.elapsed().as_secs_f64(),
        })
    }
}

/// Busy time of every core over a window.
pub struct CoreMeter(Vec<(u64, u64)>);

impl CoreMeter {
    pub fn start() -> anyhow::Result<Self> {
        Ok(Self(cores()?))
    }

    /// Busy percentage of each core since [`CoreMeter::start`].
    pub fn read(&self) -> anyhow::Result<Vec<f64>> {
        let now = cores()?;
        Ok(self
            .0
            .iter()
            .zip(now)
            .map(|(&(busy0, total0), (busy1, total1))| {
                let total = total1.saturating_sub(total0).max(1) as f64;
                100.0 * busy1.saturating_sub(busy0) as f64 / total
            })
            .collect())
    }
}

/// The 1-minute load average.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}
