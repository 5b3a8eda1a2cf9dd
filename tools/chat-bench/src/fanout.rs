//! `fanout`: one room of N clients, a few of them sending chats at a fixed total rate; every
//! client counts the chats it receives, a sample of them also the delay of each (the sender
//! stamps its send time, in µs since the generator's start, into the text).
//!
//! Order: server RSS with no client → ramp N clients (each must get its `welcome`) → settle →
//! RSS with N idle clients (and the server's idle CPU) → senders start → warm-up → the measured
//! window (server CPU from `/proc/PID/stat`, deliveries counted on receipt) → senders stop →
//! drain (the sample waits for the window's last messages) → every client dropped.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures_util::future::FutureExt as _;
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::sync::watch;
use tokio::time::{Interval, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message;

use crate::client::{self, ACK, CHAT, Client, ERROR, Target, WELCOME, Ws};
use crate::cpu::{self, CoreMeter, CpuMeter};
use crate::latency::Summary;
use crate::secs;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// PID of the server: its CPU and RSS are read from /proc.
    #[arg(long)]
    pid: u32,
    /// Clients in the room (senders included).
    #[arg(long, default_value_t = 10_000)]
    clients: usize,
    /// Clients that send (the first ones connected); they receive too.
    #[arg(long, default_value_t = 4)]
    senders: usize,
    /// Chat messages per second sent in, over all senders.
    #[arg(long, default_value_t = 200.0)]
    rate: f64,
    /// New connections per second during the ramp.
    #[arg(long, default_value_t = 2000.0)]
    connect_rate: f64,
    /// Longest connect + handshake + welcome of one client, seconds.
    #[arg(long, default_value_t = 10.0)]
    join_timeout: f64,
    /// Seconds between the last welcome and the idle RSS reading.
    #[arg(long, default_value_t = 3.0)]
    settle: f64,
    /// Seconds of sending before the window.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// The measured window, seconds.
    #[arg(long, default_value_t = 20.0)]
    window: f64,
    /// Longest wait after the window for the sample's last messages, seconds.
    #[arg(long, default_value_t = 5.0)]
    drain: f64,
    /// Receivers that record the delay of every message (spread over the connection order).
    #[arg(long, default_value_t = 500)]
    sample: usize,
    /// The room.
    #[arg(long, default_value = "bench")]
    room: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle,
    Sending,
    Done,
}

/// What every client task updates. The generator runs on one thread, so these atomics are
/// never contended; they only make the counters shareable between tasks.
struct Counters {
    epoch: Instant,
    measuring: AtomicBool,
    /// Stamps of the window: `[t0, t1)`, µs since `epoch`.
    t0_us: AtomicU64,
    t1_us: AtomicU64,
    sent: AtomicU64,
    sent_window: AtomicU64,
    delivered: AtomicU64,
    delivered_window: AtomicU64,
    /// Window messages received by sampled clients.
    sample_hits: AtomicU64,
    resyncs: AtomicU64,
    errors: AtomicU64,
    acks: AtomicU64,
    other: AtomicU64,
    ended: AtomicU64,
    closes: Mutex<BTreeMap<u16, u64>>,
    /// `(stamp µs, delay µs)` of every message stamped at or after `t0`, sampled clients only.
    samples: Mutex<Vec<(u64, u32)>>,
}

impl Counters {
    fn new() -> Self {
        Self {
            epoch: crate::now(),
            measuring: AtomicBool::new(false),
            t0_us: AtomicU64::new(u64::MAX),
            t1_us: AtomicU64::new(u64::MAX),
            sent: AtomicU64::new(0),
            sent_window: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            delivered_window: AtomicU64::new(0),
            sample_hits: AtomicU64::new(0),
            resyncs: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            acks: AtomicU64::new(0),
            other: AtomicU64::new(0),
            ended: AtomicU64::new(0),
            closes: Mutex::new(BTreeMap::new()),
            samples: Mutex::new(Vec::new()),
        }
    }

    fn now_us(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    fn on_text(&self, text: &str, sampled: bool) {
        if text.starts_with(CHAT) {
            self.delivered.fetch_add(1, Ordering::Relaxed);
            if self.measuring.load(Ordering::Relaxed) {
                self.delivered_window.fetch_add(1, Ordering::Relaxed);
            }
            if sampled && let Some(stamp) = stamp_of(text) {
                let delay = self.now_us().saturating_sub(stamp);
                if stamp >= self.t0_us.load(Ordering::Relaxed) {
                    let delay = u32::try_from(delay).unwrap_or(u32::MAX);
                    lock(&self.samples).push((stamp, delay));
                    if stamp < self.t1_us.load(Ordering::Relaxed) {
                        self.sample_hits.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        } else if text.starts_with(WELCOME) {
            // A second welcome: the relay resynchronized a client that fell behind.
            self.resyncs.fetch_add(1, Ordering::Relaxed);
        } else if text.starts_with(ACK) {
            self.acks.fetch_add(1, Ordering::Relaxed);
        } else if text.starts_with(ERROR) {
            if self.errors.fetch_add(1, Ordering::Relaxed) == 0 {
                eprintln!("first error frame: {text}");
            }
        } else {
            self.other.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Handles one frame; `false` when the connection is over.
    fn on_message(
        &self,
        message: Option<Result<Message, impl std::fmt::Debug>>,
        sampled: bool,
    ) -> bool {
        match message {
            Some(Ok(Message::Text(text))) => self.on_text(text.as_str(), sampled),
            Some(Ok(Message::Close(frame))) => {
                let code = frame.map_or(1005, |f| u16::from(f.code));
                *lock(&self.closes).entry(code).or_insert(0) += 1;
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => {
                self.ended.fetch_add(1, Ordering::Relaxed);
                return false;
            }
        }
        true
    }
}

/// The send stamp in a chat's text `b SENDER N STAMP`.
fn stamp_of(text: &str) -> Option<u64> {
    const MARK: &str = r#""text":"b "#;
    let start = text.find(MARK)? + MARK.len();
    let rest = &text[start..];
    let body = &rest[..rest.find('"')?];
    body.rsplit(' ').next()?.parse().ok()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn receiver(mut ws: Ws, sampled: bool, counters: Arc<Counters>) {
    while counters.on_message(ws.next().await, sampled) {}
}

async fn tick(ticker: &mut Option<Interval>) {
    match ticker {
        Some(ticker) => {
            ticker.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// A sender: receives like everyone, and sends one chat every `period` while the phase is
/// `Sending`, starting `offset` into it.
async fn sender(
    mut ws: Ws,
    index: usize,
    period: Duration,
    offset: Duration,
    mut phase: watch::Receiver<Phase>,
    counters: Arc<Counters>,
) {
    let mut ticker: Option<Interval> = None;
    let mut n: u64 = 0;
    loop {
        tokio::select! {
            changed = phase.changed() => {
                if changed.is_err() {
                    return;
                }
                ticker = match *phase.borrow_and_update() {
                    Phase::Sending => {
                        let start = tokio::time::Instant::from_std(crate::now() + offset);
                        let mut ticker = tokio::time::interval_at(start, period);
                        ticker.set_missed_tick_behavior(MissedTickBehavior::Burst);
                        Some(ticker)
                    }
                    Phase::Idle | Phase::Done => None,
                };
            }
            () = tick(&mut ticker) => {
                n += 1;
                let stamp = counters.now_us();
                let text = format!(
                    r#"{{"type":"chat","text":"b {index} {n} {stamp}","client_id":"s{index}-{n}"}}"#
                );
                counters.sent.fetch_add(1, Ordering::Relaxed);
                if counters.measuring.load(Ordering::Relaxed) {
                    counters.sent_window.fetch_add(1, Ordering::Relaxed);
                }
                if ws.send(Message::text(text)).await.is_err() {
                    counters.ended.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
            message = ws.next() => {
                if !counters.on_message(message, false) {
                    return;
                }
            }
        }
    }
}

pub(crate) async fn run(target: Arc<Target>, args: &Args, label: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.senders >= 1 && args.senders < args.clients,
        "need 1 ≤ senders < clients"
    );
    let pid = args.pid.to_string();
    let load_before = cpu::load_average();
    let rss_base = cpu::rss_kib(&pid)?;
    let counters = Arc::new(Counters::new());
    let (phase_tx, phase_rx) = watch::channel(Phase::Idle);
    let receivers = args.clients - args.senders;
    let stride = (receivers / args.sample.max(1)).max(1);
    let mut sampled = 0usize;
    let period = Duration::from_secs_f64(args.senders as f64 / args.rate);
    let ramp = client::ramp(
        &target,
        args.clients,
        args.connect_rate,
        secs(args.join_timeout),
        |i| {
            let counters = counters.clone();
            let body: client::Body = if i < args.senders {
                let offset = period.mul_f64(i as f64 / args.senders as f64);
                let phase = phase_rx.clone();
                Box::new(move |ws| sender(ws, i, period, offset, phase, counters).boxed())
            } else {
                let sample = (i - args.senders).is_multiple_of(stride) && sampled < args.sample;
                sampled += usize::from(sample);
                Box::new(move |ws| receiver(ws, sample, counters).boxed())
            };
            Client {
                user: format!("b{i}"),
                room: args.room.clone(),
                body,
            }
        },
    )
    .await;
    eprintln!("{}: {}", target.kind.name(), ramp.describe());
    anyhow::ensure!(ramp.ok > args.senders, "too few clients connected");

    let idle_cpu = CpuMeter::start(&pid)?;
    tokio::time::sleep(secs(args.settle)).await;
    let idle_cpu = idle_cpu.read()?;
    let rss_idle = cpu::rss_kib(&pid)?;
    let (connected, failed, connect_s) = (ramp.ok, ramp.failed, ramp.elapsed_s);

    phase_tx.send_replace(Phase::Sending);
    tokio::time::sleep(secs(args.warmup)).await;
    counters.t0_us.store(counters.now_us(), Ordering::Relaxed);
    counters.measuring.store(true, Ordering::Relaxed);
    let (server_cpu, own_cpu, cores) = (
        CpuMeter::start(&pid)?,
        CpuMeter::start("self")?,
        CoreMeter::start()?,
    );
    tokio::time::sleep(secs(args.window)).await;
    let (server_cpu, own_cpu, cores) = (server_cpu.read()?, own_cpu.read()?, cores.read()?);
    counters.measuring.store(false, Ordering::Relaxed);
    counters.t1_us.store(counters.now_us(), Ordering::Relaxed);
    phase_tx.send_replace(Phase::Done);
    let rss_end = cpu::rss_kib(&pid)?;

    let sent_window = counters.sent_window.load(Ordering::Relaxed);
    let expected_sample = sent_window * sampled as u64;
    let drain_start = crate::now();
    while counters.sample_hits.load(Ordering::Relaxed) < expected_sample
        && drain_start.elapsed() < secs(args.drain)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let drain_s = drain_start.elapsed().as_secs_f64();
    let ended = counters.ended.load(Ordering::Relaxed);
    ramp.close().await;

    let (t0, t1) = (
        counters.t0_us.load(Ordering::Relaxed),
        counters.t1_us.load(Ordering::Relaxed),
    );
    let delays: Vec<u32> = lock(&counters.samples)
        .iter()
        .filter(|(stamp, _)| (t0..t1).contains(stamp))
        .map(|&(_, delay)| delay)
        .collect();
    let delay = Summary::of(delays);
    let deliveries = counters.delivered_window.load(Ordering::Relaxed);
    let expected = sent_window * connected as u64;
    let closes: Vec<String> = lock(&counters.closes)
        .iter()
        .map(|(code, n)| format!("{code}:{n}"))
        .collect();
    let core = |i: usize| cores.get(i).copied().unwrap_or(0.0);
    let mib = |kib: u64| kib as f64 / 1024.0;
    // No sample at all (the server never got the window's messages out in time): "-", not 0.
    let ms = |v: f64| {
        if delay.count == 0 {
            "-".to_owned()
        } else {
            format!("{v:.2}")
        }
    };
    println!(
        "RESULT fanout server={} label={label} clients={} connected={connected} failed={failed} \
         connect_s={connect_s:.1} senders={} rate={} window_s={:.1} sent_window={sent_window} \
         deliveries={deliveries} expected={expected} delivered_pct={:.1} deliveries_per_s={:.0} \
         server_cpu_s={:.2} server_cpu_pct={:.1} deliveries_per_cpu_s={:.0} \
         p50_ms={} p90_ms={} p99_ms={} max_ms={} samples={} sampled_clients={sampled} \
         sample_missing={} drain_s={drain_s:.1} resyncs={} errors={} acks={} other={} \
         ended={ended} closes={} rss_base_mib={:.1} rss_idle_mib={:.1} \
         idle_kib_per_conn={:.2} idle_cpu_pct={:.1} rss_end_mib={:.1} gen_cpu_pct={:.1} \
         core0_busy_pct={:.1} core1_busy_pct={:.1} load_before={load_before} load_after={}",
        target.kind.name(),
        args.clients,
        args.senders,
        args.rate,
        server_cpu.wall_s,
        100.0 * deliveries as f64 / expected.max(1) as f64,
        deliveries as f64 / server_cpu.wall_s,
        server_cpu.cpu_s,
        server_cpu.percent(),
        deliveries as f64 / server_cpu.cpu_s.max(0.01),
        ms(delay.p50_ms),
        ms(delay.p90_ms),
        ms(delay.p99_ms),
        ms(delay.max_ms),
        delay.count,
        expected_sample.saturating_sub(delay.count as u64),
        counters.resyncs.load(Ordering::Relaxed),
        counters.errors.load(Ordering::Relaxed),
        counters.acks.load(Ordering::Relaxed),
        counters.other.load(Ordering::Relaxed),
        if closes.is_empty() {
            "-".to_owned()
        } else {
            closes.join(",")
        },
        mib(rss_base),
        mib(rss_idle),
        rss_idle.saturating_sub(rss_base) as f64 / connected as f64,
        idle_cpu.percent(),
        mib(rss_end),
        own_cpu.percent(),
        core(0),
        core(1),
        cpu::load_average(),
    );
    Ok(())
}
