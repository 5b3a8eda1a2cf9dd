//! CPU time of a process from `/proc/PID/stat`, as a percentage of one core over a window.

use std::time::Instant;

use anyhow::Context;

/// Clock ticks per second of `utime`/`stime` (`USER_HZ`, 100 on every Linux architecture).
const TICKS_PER_SEC: f64 = 100.0;

/// `utime + stime` of `pid` (or `"self"`), in clock ticks.
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

/// A window of CPU time of one process.
pub(crate) struct CpuMeter {
    pid: String,
    ticks: u64,
    at: Instant,
}

/// CPU used over a window.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CpuUse {
    /// CPU seconds (user + system).
    pub(crate) cpu_s: f64,
    /// Wall seconds.
    pub(crate) wall_s: f64,
}

impl CpuUse {
    /// Percentage of one core (100 = one core busy for the whole window).
    pub(crate) fn percent(self) -> f64 {
        100.0 * self.cpu_s / self.wall_s
    }
}

impl CpuMeter {
    /// Starts a window for `pid` (`"self"` for this process).
    pub(crate) fn start(pid: &str) -> anyhow::Result<Self> {
        Ok(Self {
            pid: pid.to_owned(),
            ticks: ticks(pid)?,
            at: crate::now(),
        })
    }

    /// CPU used since [`CpuMeter::start`].
    pub(crate) fn read(&self) -> anyhow::Result<CpuUse> {
        let used = ticks(&self.pid)?.saturating_sub(self.ticks);
        Ok(CpuUse {
            cpu_s: used as f64 / TICKS_PER_SEC,
            wall_s: self.at.elapsed().as_secs_f64(),
        })
    }
}
