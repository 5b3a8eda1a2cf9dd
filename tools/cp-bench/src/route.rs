//! `route`: `GET /v1/play/{stream}?region=R` with `Accept: application/json` from a fixed
//! number of keep-alive connections, regions in turn, while every node keeps beating.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use reqwest::StatusCode;
use reqwest::header::ACCEPT;
use serde_json::Value;

use crate::cluster::{Cluster, REGIONS};
use crate::cpu::CpuMeter;
use crate::latency::Summary;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Concurrent keep-alive connections, one request in flight on each.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Seconds of measured load.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Stop the measured phase after this many requests even if time is left.
    #[arg(long, default_value_t = 2_000_000)]
    max_requests: u64,
    /// PID of the control plane, to report its CPU over the measured phase.
    #[arg(long)]
    pid: Option<String>,
}

/// What one load phase did.
struct Phase {
    samples_us: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
    elapsed: Duration,
}

pub(crate) async fn run(
    cluster: Arc<Cluster>,
    base: &str,
    stream: &str,
    args: &Args,
) -> anyhow::Result<()> {
    let base = base.trim_end_matches('/');
    let urls: Arc<Vec<String>> = Arc::new(
        REGIONS
            .iter()
            .map(|r| format!("{base}/v1/play/{stream}?region={r}"))
            .collect(),
    );
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(args.connections)
        .build()?;

    cluster.register().await.context("registering the nodes")?;
    let nodes = cluster.nodes();
    println!("route: registered {nodes} nodes; they beat once per second from now on");
    let beating = crate::secs(args.warmup + args.duration + 2.0);
    let beater = tokio::spawn(Arc::clone(&cluster).keep_beating(beating));
    check(&client, &urls).await?;

    load(
        &client,
        &urls,
        args.connections,
        crate::secs(args.warmup),
        u64::MAX,
    )
    .await;
    let cp = args.pid.as_deref().map(CpuMeter::start).transpose()?;
    let me = CpuMeter::start("self")?;
    let phase = load(
        &client,
        &urls,
        args.connections,
        crate::secs(args.duration),
        args.max_requests,
    )
    .await;
    let cp_cpu = cp.map(|m| m.read()).transpose()?;
    let me_cpu = me.read()?;
    check(&client, &urls).await?;
    let beats = beater.await?;

    let done = phase.samples_us.len();
    let rate = done as f64 / phase.elapsed.as_secs_f64();
    let latency = Summary::of(phase.samples_us);
    println!(
        "route: {done} decisions in {:.2} s over {} connections = {rate:.0}/s; {} errors{}",
        phase.elapsed.as_secs_f64(),
        args.connections,
        phase.errors,
        phase
            .first_error
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default()
    );
    println!("route: latency {latency}");
    let cp_percent = cp_cpu.map_or(f64::NAN, |c| c.percent());
    // CPU per decision is what sharing the core with other work does not change much.
    let cp_us = cp_cpu.map_or(f64::NAN, |c| c.cpu_s * 1e6 / done as f64);
    println!(
        "route: CPU % of one core: control plane {cp_percent:.1} (routing + {nodes} beats/s, \
         {cp_us:.1} µs CPU per decision, beats included), generator {:.1}",
        me_cpu.percent()
    );
    println!(
        "route: background heartbeats: {} ok, {} failed{}; latency {}",
        beats.ok,
        beats.failed,
        beats
            .first_error
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default(),
        beats.latency
    );
    println!(
        "RESULT route decisions_per_s={rate:.0} p50_ms={:.2} p90_ms={:.2} p99_ms={:.2} \
         max_ms={:.2} requests={done} errors={} connections={} cp_cpu_pct={cp_percent:.1} cp_us_per_decision={cp_us:.1} \
         generator_cpu_pct={:.1} beats_failed={}",
        latency.p50_ms,
        latency.p90_ms,
        latency.p99_ms,
        latency.max_ms,
        phase.errors,
        args.connections,
        me_cpu.percent(),
        beats.failed
    );
    Ok(())
}

/// One decision per region, printed: the chosen edge must be alive and in the asked region.
async fn check(client: &reqwest::Client, urls: &[String]) -> anyhow::Result<()> {
    for (url, region) in urls.iter().zip(REGIONS) {
        let response = client
            .get(url)
            .header(ACCEPT, "application/json")
            .send()
            .await?;
        let status = response.status();
        let text = response.text().await?;
        ensure!(status == StatusCode::OK, "{url}: {status}: {text}");
        let answer: Value = serde_json::from_str(&text)?;
        let chosen = &answer["chosen"];
        println!(
            "route: region {region}: chosen {} ({}, {}, load {:.2}), {} alternatives",
            chosen["id"],
            chosen["region"],
            chosen["liveness"],
            chosen["load_ratio"].as_f64().unwrap_or(f64::NAN),
            answer["alternatives"].as_array().map_or(0, Vec::len)
        );
        ensure!(
            chosen["region"] == region && chosen["liveness"] == "alive",
            "unexpected choice: {answer}"
        );
    }
    Ok(())
}

/// `connections` workers sending requests back to back until `duration` is up or `max`
/// requests were started.
async fn load(
    client: &reqwest::Client,
    urls: &Arc<Vec<String>>,
    connections: usize,
    duration: Duration,
    max: u64,
) -> Phase {
    let started = crate::now();
    let deadline = started + duration;
    let counter = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            tokio::spawn(worker(
                client.clone(),
                Arc::clone(urls),
                Arc::clone(&counter),
                deadline,
                max,
            ))
        })
        .collect();
    let mut phase = Phase {
        samples_us: Vec::new(),
        errors: 0,
        first_error: None,
        elapsed: Duration::ZERO,
    };
    for worker in workers {
        match worker.await {
            Ok(done) => {
                phase.samples_us.extend(done.samples_us);
                phase.errors += done.errors;
                phase.first_error = phase.first_error.or(done.first_error);
            }
            Err(error) => {
                phase.errors += 1;
                phase.first_error.get_or_insert_with(|| error.to_string());
            }
        }
    }
    phase.elapsed = started.elapsed();
    phase
}

async fn worker(
    client: reqwest::Client,
    urls: Arc<Vec<String>>,
    counter: Arc<AtomicU64>,
    deadline: Instant,
    max: u64,
) -> Phase {
    let mut phase = Phase {
        samples_us: Vec::with_capacity(1 << 14),
        errors: 0,
        first_error: None,
        elapsed: Duration::ZERO,
    };
    loop {
        let n = counter.fetch_add(1, Ordering::Relaxed);
        let sent = crate::now();
        if n >= max || sent >= deadline {
            return phase;
        }
        let url = &urls[n as usize % urls.len()];
        let result = async {
            let response = client
                .get(url)
                .header(ACCEPT, "application/json")
                .send()
                .await?;
            let status = response.status();
            let body = response.bytes().await?;
            ensure!(
                status == StatusCode::OK,
                "{status}: {}",
                String::from_utf8_lossy(&body)
            );
            Ok(())
        }
        .await;
        match result {
            Ok(()) => phase
                .samples_us
                .push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX)),
            Err(error) => {
                phase.errors += 1;
                phase
                    .first_error
                    .get_or_insert_with(|| format!("{error:#}"));
            }
        }
    }
}
