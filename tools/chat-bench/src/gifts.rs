//! `gifts`: gift commits per second through the relay, end to end. Every client gets demo money
//! (`POST /v1/wallet/topup`, `gifts.demo_topup = true`), then sends gifts one at a time, each
//! with a fresh idempotency key, and waits for its `ack` (or `error`) before the next. Clients
//! are spread over rooms so the gift events' fan-out stays small next to the commits.
//!
//! Checks: every ack's `balance` is the top-up minus the gifts acked so far times the price
//! (each gift charged exactly once).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, ensure};
use futures_util::future::FutureExt as _;
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{self, ACK, Client, ERROR, ServerKind, Target, Ws};
use crate::cpu::{self, CpuMeter};
use crate::latency::Summary;
use crate::secs;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// PID of the relay: its CPU is read from /proc.
    #[arg(long)]
    pid: u32,
    /// Clients (each a distinct user with its own wallet), one gift in flight each.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Rooms the clients are spread over.
    #[arg(long, default_value_t = 16)]
    rooms: usize,
    /// The gift sent (`gifts.catalog` id).
    #[arg(long, default_value = "rose")]
    gift: String,
    /// Its price, for the balance check.
    #[arg(long, default_value_t = 1)]
    price: i64,
    /// Demo money each client tops up first (at most the relay's `MAX_TOPUP`).
    #[arg(long, default_value_t = 1_000_000)]
    topup: i64,
    /// Seconds of gifting before the window.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// The measured window, seconds.
    #[arg(long, default_value_t = 10.0)]
    window: f64,
    /// Longest wait for one gift's answer, seconds.
    #[arg(long, default_value_t = 10.0)]
    answer_timeout: f64,
    /// The room (prefix).
    #[arg(long, default_value = "gifts")]
    room: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle,
    Sending,
    Done,
}

#[derive(Default)]
struct Counters {
    measuring: AtomicBool,
    acks: AtomicU64,
    acks_window: AtomicU64,
    /// Answers that were neither our ack nor our error (or none in time).
    lost: AtomicU64,
    balance_mismatches: AtomicU64,
    errors: Mutex<BTreeMap<String, u64>>,
    latency_us: Mutex<Vec<u32>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `POST /v1/wallet/topup` over a fresh HTTP/1.1 connection; the new balance.
async fn topup(addr: &str, token: &str, amount: i64) -> anyhow::Result<i64> {
    let body = format!(r#"{{"amount":{amount}}}"#);
    let request = format!(
        "POST /v1/wallet/topup HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .context("no end of HTTP header")?;
    let status = head.lines().next().unwrap_or_default();
    ensure!(status.contains(" 200 "), "top-up refused: {status} {body}");
    let value: serde_json::Value = serde_json::from_str(body.trim())?;
    value["balance"]
        .as_i64()
        .context("no balance in the answer")
}

/// One gifter: waits for `Sending`, then gifts one at a time until `Done`.
#[expect(clippy::too_many_arguments, reason = "one client's whole setup")]
async fn gifter(
    mut ws: Ws,
    index: usize,
    gift: String,
    price: i64,
    mut balance: i64,
    answer_timeout: Duration,
    mut phase: watch::Receiver<Phase>,
    counters: Arc<Counters>,
) {
    // Idle: read (and drop) whatever the room sends until the start.
    loop {
        tokio::select! {
            changed = phase.changed() => {
                if changed.is_err() || *phase.borrow_and_update() != Phase::Idle {
                    break;
                }
            }
            message = ws.next() => if !matches!(message, Some(Ok(_))) {
                return;
            },
        }
    }
    let mut n: u64 = 0;
    while *phase.borrow() == Phase::Sending {
        n += 1;
        let key = format!("g{index}-{n}");
        let frame =
            format!(r#"{{"type":"gift","gift_id":"{gift}","count":1,"idempotency_key":"{key}"}}"#);
        let sent_at = crate::now();
        if ws.send(Message::text(frame)).await.is_err() {
            return;
        }
        let answer = tokio::time::timeout(answer_timeout, async {
            while let Some(Ok(message)) = ws.next().await {
                let Message::Text(text) = message else {
                    continue;
                };
                if (text.starts_with(ACK) || text.starts_with(ERROR)) && text.contains(&key) {
                    return Some(text);
                }
            }
            None
        })
        .await;
        let Ok(Some(text)) = answer else {
            counters.lost.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let value: serde_json::Value = serde_json::from_str(text.as_str()).unwrap_or_default();
        if text.starts_with(ACK) {
            let us = u32::try_from(sent_at.elapsed().as_micros()).unwrap_or(u32::MAX);
            counters.acks.fetch_add(1, Ordering::Relaxed);
            if counters.measuring.load(Ordering::Relaxed) {
                counters.acks_window.fetch_add(1, Ordering::Relaxed);
                lock(&counters.latency_us).push(us);
            }
            balance -= price;
            if value["balance"].as_i64() != Some(balance) {
                counters.balance_mismatches.fetch_add(1, Ordering::Relaxed);
                if let Some(actual) = value["balance"].as_i64() {
                    balance = actual;
                }
            }
        } else {
            let code = value["error"]["code"]
                .as_str()
                .or(value["code"].as_str())
                .unwrap_or("?")
                .to_owned();
            *lock(&counters.errors).entry(code).or_insert(0) += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

pub(crate) async fn run(target: Arc<Target>, args: &Args, label: &str) -> anyhow::Result<()> {
    ensure!(
        target.kind == ServerKind::Relay,
        "gifts needs the relay (wallets and the ledger)"
    );
    let pid = args.pid.to_string();
    let load_before = cpu::load_average();
    let rooms = args.rooms.max(1);
    let room_of = |i: usize| format!("{}-{}", args.room, i % rooms);
    let mut balances = Vec::with_capacity(args.clients);
    for i in 0..args.clients {
        let token = target.token(&format!("w{i}"), &room_of(i));
        balances.push(topup(&target.addr, &token, args.topup).await?);
    }
    let counters = Arc::new(Counters::default());
    let (phase_tx, phase_rx) = watch::channel(Phase::Idle);
    let ramp = client::ramp(&target, args.clients, 1000.0, secs(10.0), |i| {
        let (counters, phase, gift) = (counters.clone(), phase_rx.clone(), args.gift.clone());
        let (price, balance, timeout) = (args.price, balances[i], secs(args.answer_timeout));
        Client {
            user: format!("w{i}"),
            room: room_of(i),
            body: Box::new(move |ws| {
                gifter(ws, i, gift, price, balance, timeout, phase, counters).boxed()
            }),
        }
    })
    .await;
    eprintln!("{}: {}", target.kind.name(), ramp.describe());
    ensure!(ramp.failed == 0, "every gifter must connect");

    phase_tx.send_replace(Phase::Sending);
    tokio::time::sleep(secs(args.warmup)).await;
    counters.measuring.store(true, Ordering::Relaxed);
    let (server_cpu, own_cpu) = (CpuMeter::start(&pid)?, CpuMeter::start("self")?);
    tokio::time::sleep(secs(args.window)).await;
    let (server_cpu, own_cpu) = (server_cpu.read()?, own_cpu.read()?);
    counters.measuring.store(false, Ordering::Relaxed);
    phase_tx.send_replace(Phase::Done);
    // Let the gifts in flight be answered (their balances checked) before dropping everyone.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let connected = ramp.ok;
    ramp.close().await;

    let acks = counters.acks_window.load(Ordering::Relaxed);
    let latency = Summary::of(std::mem::take(&mut *lock(&counters.latency_us)));
    let errors: Vec<String> = lock(&counters.errors)
        .iter()
        .map(|(code, n)| format!("{code}:{n}"))
        .collect();
    println!(
        "RESULT gifts server=relay label={label} clients={connected} rooms={rooms} \
         window_s={:.1} acks={acks} acks_per_s={:.0} p50_ms={:.2} p90_ms={:.2} p99_ms={:.2} \
         max_ms={:.2} server_cpu_pct={:.1} acks_per_cpu_s={:.0} gen_cpu_pct={:.1} \
         acks_total={} errors={} lost={} balance_mismatches={} load_before={load_before} \
         load_after={}",
        server_cpu.wall_s,
        acks as f64 / server_cpu.wall_s,
        latency.p50_ms,
        latency.p90_ms,
        latency.p99_ms,
        latency.max_ms,
        server_cpu.percent(),
        acks as f64 / server_cpu.cpu_s.max(0.01),
        own_cpu.percent(),
        counters.acks.load(Ordering::Relaxed),
        if errors.is_empty() {
            "-".to_owned()
        } else {
            errors.join(",")
        },
        counters.lost.load(Ordering::Relaxed),
        counters.balance_mismatches.load(Ordering::Relaxed),
        cpu::load_average(),
    );
    Ok(())
}
