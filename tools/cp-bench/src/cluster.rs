//! The simulated cluster: N edges in 5 regions (varied loads, capacity set) and one origin
//! holding the bench stream, as `NodeReport` JSON bodies (see `proto/directory/src/report.rs`),
//! and the heartbeats that keep them alive.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::latency::Summary;

/// Regions of the edges; `tools/bench/control_plane.sh` gives the control plane their distances.
pub(crate) const REGIONS: [&str; 5] = ["eu", "us", "ap", "sa", "af"];

/// Each node beats once per round; a round is spread over this many ticks.
const TICKS_PER_ROUND: usize = 100;
const ROUND: Duration = Duration::from_secs(1);

/// Edge `i`: region `i mod 5`, load varied by `i` (about 1 in 10 at ≥ 90 % of its connection
/// capacity, i.e. saturated), 1 in 97 draining, every third one caching the bench stream.
fn edge(i: usize, stream: &str) -> Value {
    let region = REGIONS[i % REGIONS.len()];
    let id = format!("edge-{region}-{i}");
    let mut streams = vec![json!({"name": format!("other-{}", i % 20), "viewers": i % 50})];
    if i.is_multiple_of(3) {
        streams.push(json!({"name": stream, "viewers": i % 200}));
    }
    json!({
        "id": id, "role": "edge", "region": region, "tier": 1,
        "http_url": format!("http://{id}.bench.example:8081"),
        "relay_addr": format!("10.0.{}.{}:4433", i / 256, i % 256),
        "capacity": {"max_connections": 10_000, "max_egress_bps": 10_000_000_000u64},
        "load": {
            "connections": (i as u64 * 37) % 10_000,
            "egress_bps": (i as u64 * 7919) % 8_000_000_000,
            "cpu": (i % 50) as f64 / 100.0,
        },
        "streams": streams, "rooms": [], "draining": i.is_multiple_of(97)
    })
}

fn origin(stream: &str) -> Value {
    json!({
        "id": "origin-eu-0", "role": "origin", "region": "eu",
        "http_url": "http://origin-eu-0.bench.example:8080",
        "rtmp_url": "rtmp://origin-eu-0.bench.example:1935/live",
        "relay_addr": "10.1.0.1:4433",
        "capacity": {"max_connections": 1000, "max_egress_bps": 10_000_000_000u64},
        "load": {"connections": 1, "egress_bps": 3_000_000, "cpu": 0.2},
        "streams": [{"name": stream}]
    })
}

/// Heartbeats sent over a run.
#[derive(Debug)]
pub(crate) struct BeatStats {
    pub(crate) ok: usize,
    pub(crate) failed: usize,
    pub(crate) first_error: Option<String>,
    pub(crate) latency: Summary,
}

/// The nodes and a keep-alive client to beat them with.
pub(crate) struct Cluster {
    client: reqwest::Client,
    url: String,
    auth: String,
    bodies: Vec<String>,
}

impl Cluster {
    pub(crate) fn new(
        base: &str,
        token: &str,
        edges: usize,
        stream: &str,
    ) -> anyhow::Result<Arc<Self>> {
        let bodies = std::iter::once(origin(stream))
            .chain((0..edges).map(|i| edge(i, stream)))
            .map(|v| v.to_string())
            .collect();
        Ok(Arc::new(Self {
            client: reqwest::Client::builder().build()?,
            url: format!("{}/v1/nodes/heartbeat", base.trim_end_matches('/')),
            auth: format!("Bearer {token}"),
            bodies,
        }))
    }

    /// Nodes, origin included.
    pub(crate) fn nodes(&self) -> usize {
        self.bodies.len()
    }

    /// One heartbeat of node `i`; its latency in µs.
    async fn beat(&self, i: usize) -> anyhow::Result<u32> {
        let started = crate::now();
        let response = self
            .client
            .post(&self.url)
            .header(AUTHORIZATION, &self.auth)
            .header(CONTENT_TYPE, "application/json")
            .body(self.bodies[i].clone())
            .send()
            .await?;
        let status = response.status();
        let body = response.bytes().await?;
        if !status.is_success() {
            bail!(
                "heartbeat {i}: {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        Ok(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX))
    }

    /// Beats every node once, 50 at a time; fails on the first refusal.
    pub(crate) async fn register(self: &Arc<Self>) -> anyhow::Result<()> {
        let mut set = JoinSet::new();
        for i in 0..self.nodes() {
            if set.len() >= 50 {
                set.join_next().await.context("join")???;
            }
            let cluster = Arc::clone(self);
            set.spawn(async move { cluster.beat(i).await });
        }
        while let Some(result) = set.join_next().await {
            result??;
        }
        Ok(())
    }

    /// Beats every node once per second for `duration`, each round spread evenly over the
    /// second (in ticks of 10 ms), like independent nodes with random phases.
    pub(crate) async fn keep_beating(self: Arc<Self>, duration: Duration) -> BeatStats {
        let deadline = crate::now() + duration;
        let mut interval = tokio::time::interval(ROUND / TICKS_PER_ROUND as u32);
        let (mut set, mut samples) = (JoinSet::new(), Vec::new());
        let (mut failed, mut first_error) = (0, None);
        let mut collect = |result: Result<anyhow::Result<u32>, tokio::task::JoinError>| match result
            .map_err(anyhow::Error::from)
            .and_then(|r| r)
        {
            Ok(us) => samples.push(us),
            Err(error) => {
                failed += 1;
                first_error.get_or_insert_with(|| format!("{error:#}"));
            }
        };
        let n = self.nodes();
        let mut tick = 0;
        while crate::now() < deadline {
            interval.tick().await;
            let slot = tick % TICKS_PER_ROUND;
            tick += 1;
            for i in slot * n / TICKS_PER_ROUND..(slot + 1) * n / TICKS_PER_ROUND {
                let cluster = Arc::clone(&self);
                set.spawn(async move { cluster.beat(i).await });
            }
            while let Some(result) = set.try_join_next() {
                collect(result);
            }
        }
        while let Some(result) = set.join_next().await {
            collect(result);
        }
        BeatStats {
            ok: samples.len(),
            failed,
            first_error,
            latency: Summary::of(samples),
        }
    }
}
