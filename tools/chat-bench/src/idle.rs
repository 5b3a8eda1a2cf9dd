//! `idle`: the server's memory per idle connection. RSS with no client, then N clients spread
//! over R rooms (each must get its `welcome`), then RSS again after a settle; the difference
//! divided by N. Also the server's CPU while they sit idle.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::future::FutureExt as _;

use crate::client::{self, Client, Target};
use crate::cpu::{self, CpuMeter};
use crate::secs;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// PID of the server: its RSS and CPU are read from /proc.
    #[arg(long)]
    pid: u32,
    /// Idle clients.
    #[arg(long, default_value_t = 10_000)]
    clients: usize,
    /// Rooms they are spread over (client i joins `ROOM-(i mod rooms)`; one room: `ROOM`).
    #[arg(long, default_value_t = 1)]
    rooms: usize,
    /// New connections per second during the ramp.
    #[arg(long, default_value_t = 2000.0)]
    connect_rate: f64,
    /// Longest connect + handshake + welcome of one client, seconds.
    #[arg(long, default_value_t = 10.0)]
    join_timeout: f64,
    /// Seconds between the last welcome and the RSS reading.
    #[arg(long, default_value_t = 5.0)]
    settle: f64,
    /// The room (prefix).
    #[arg(long, default_value = "bench")]
    room: String,
}

pub(crate) async fn run(target: Arc<Target>, args: &Args, label: &str) -> anyhow::Result<()> {
    let pid = args.pid.to_string();
    let load_before = cpu::load_average();
    let rss_base = cpu::rss_kib(&pid)?;
    let ended = Arc::new(AtomicU64::new(0));
    let rooms = args.rooms.max(1);
    let ramp = client::ramp(
        &target,
        args.clients,
        args.connect_rate,
        secs(args.join_timeout),
        |i| {
            let ended = ended.clone();
            Client {
                user: format!("i{i}"),
                room: if rooms == 1 {
                    args.room.clone()
                } else {
                    format!("{}-{}", args.room, i % rooms)
                },
                body: Box::new(move |ws| client::drain(ws, ended).boxed()),
            }
        },
    )
    .await;
    eprintln!("{}: {}", target.kind.name(), ramp.describe());
    anyhow::ensure!(ramp.ok > 0, "no client connected");
    let idle_cpu = CpuMeter::start(&pid)?;
    tokio::time::sleep(secs(args.settle)).await;
    let idle_cpu = idle_cpu.read()?;
    let rss_idle = cpu::rss_kib(&pid)?;
    let (connected, failed, connect_s) = (ramp.ok, ramp.failed, ramp.elapsed_s);
    let join_p99 = ramp.join.p99_ms;
    let ended = ended.load(Ordering::Relaxed);
    ramp.close().await;
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "RESULT idle server={} label={label} clients={} rooms={rooms} connected={connected} \
         failed={failed} connect_s={connect_s:.1} join_p99_ms={join_p99:.1} rss_base_mib={:.1} \
         rss_idle_mib={:.1} idle_kib_per_conn={:.2} idle_cpu_pct={:.1} ended={ended} \
         load_before={load_before} load_after={}",
        target.kind.name(),
        args.clients,
        mib(rss_base),
        mib(rss_idle),
        rss_idle.saturating_sub(rss_base) as f64 / connected as f64,
        idle_cpu.percent(),
        cpu::load_average(),
    );
    Ok(())
}
