//! `heartbeat`: the control plane's CPU while every node beats once per second, against its
//! idle CPU just before.

use std::sync::Arc;

use anyhow::Context;

use crate::cluster::Cluster;
use crate::cpu::CpuMeter;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// PID of the control plane.
    #[arg(long)]
    pid: String,
    /// Seconds of idle baseline (no beats) measured first.
    #[arg(long, default_value_t = 5.0)]
    idle: f64,
    /// Seconds of beating before the measured window.
    #[arg(long, default_value_t = 3.0)]
    warmup: f64,
    /// Seconds of the measured window.
    #[arg(long, default_value_t = 20.0)]
    window: f64,
}

pub(crate) async fn run(cluster: Arc<Cluster>, args: &Args) -> anyhow::Result<()> {
    let idle = CpuMeter::start(&args.pid)?;
    tokio::time::sleep(crate::secs(args.idle)).await;
    let idle = idle.read()?;

    cluster.register().await.context("registering the nodes")?;
    let nodes = cluster.nodes();
    let beating = crate::secs(args.warmup + args.window + 0.5);
    let beater = tokio::spawn(Arc::clone(&cluster).keep_beating(beating));
    tokio::time::sleep(crate::secs(args.warmup)).await;
    let cp = CpuMeter::start(&args.pid)?;
    let me = CpuMeter::start("self")?;
    tokio::time::sleep(crate::secs(args.window)).await;
    let (busy, me) = (cp.read()?, me.read()?);
    let beats = beater.await?;

    let rate = nodes as f64; // one beat per node per second
    let us_per_beat =
        (busy.cpu_s - idle.percent() / 100.0 * busy.wall_s) / (rate * busy.wall_s) * 1e6;
    println!(
        "heartbeat: idle control plane {:.2} % of one core ({:.2} s CPU in {:.1} s)",
        idle.percent(),
        idle.cpu_s,
        idle.wall_s
    );
    println!(
        "heartbeat: {nodes} nodes at 1 beat/s: control plane {:.2} % of one core ({:.2} s CPU in \
         {:.1} s), ~{us_per_beat:.0} µs CPU per beat above idle; generator {:.1} %",
        busy.percent(),
        busy.cpu_s,
        busy.wall_s,
        me.percent()
    );
    println!(
        "heartbeat: {} beats ok, {} failed{}; latency {}",
        beats.ok,
        beats.failed,
        beats
            .first_error
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default(),
        beats.latency
    );
    println!(
        "RESULT heartbeat nodes={nodes} cp_cpu_pct={:.2} idle_cpu_pct={:.2} us_per_beat={us_per_beat:.0} \
         beats_ok={} beats_failed={} p50_ms={:.2} p99_ms={:.2} window_s={:.1}",
        busy.percent(),
        idle.percent(),
        beats.ok,
        beats.failed,
        beats.latency.p50_ms,
        beats.latency.p99_ms,
        busy.wall_s
    );
    Ok(())
}
