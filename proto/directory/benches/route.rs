//! Routing and heartbeat costs at control-plane scale: 1 000 edges in 5 regions, 10 origins.
//!
//! `route_viewer` is what `GET /v1/play/{stream}` costs; `handle_heartbeat` times 1 000 is what
//! one second of heartbeats from 1 000 nodes costs.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use livecdn_directory::{
    Capacity, DetectorConfig, HeldStream, Load, NodeReport, RegionTable, Registry, Role,
};

const REGIONS: [&str; 5] = ["eu", "us", "ap", "sa", "af"];
const EDGES: usize = 1000;
const ORIGINS: usize = 10;
const STREAMS_PER_ORIGIN: usize = 20;

fn table() -> RegionTable {
    let mut pairs = Vec::new();
    for (i, a) in REGIONS.iter().enumerate() {
        for (j, b) in REGIONS.iter().enumerate().skip(i + 1) {
            pairs.push((
                (*a).to_owned(),
                (*b).to_owned(),
                50 * (j - i) as u32 + 10 * i as u32,
            ));
        }
    }
    RegionTable::new(pairs).expect("valid table")
}

fn report(i: usize, role: Role) -> NodeReport {
    let id = format!("{}-{i}", role.as_str());
    let streams: Vec<usize> = match role {
        Role::Origin => (0..STREAMS_PER_ORIGIN)
            .map(|s| i * STREAMS_PER_ORIGIN + s)
            .collect(),
        // Each edge caches a handful of streams.
        _ => (0..5)
            .map(|s| (i * 7 + s * 13) % (ORIGINS * STREAMS_PER_ORIGIN))
            .collect(),
    };
    NodeReport {
        region: REGIONS[i % REGIONS.len()].to_owned(),
        tier: u8::from(role == Role::Edge) + u8::from(role == Role::Edge && i.is_multiple_of(4)),
        http_url: Some(format!("http://{id}.example:8080")),
        rtmp_url: (role == Role::Origin).then(|| format!("rtmp://{id}.example/live")),
        relay_addr: Some(format!("{id}.example:4433")),
        ws_url: None,
        capacity: Capacity {
            max_connections: 10_000,
            max_egress_bps: 40_000_000_000,
        },
        load: Load {
            connections: (i as u64 * 37) % 5000,
            egress_bps: (i as u64 * 7919) % 20_000_000_000,
            cpu: (i % 50) as f64 / 100.0,
        },
        streams: streams
            .into_iter()
            .map(|s| HeldStream {
                name: format!("s{s}"),
                viewers: 10,
            })
            .collect(),
        rooms: Vec::new(),
        draining: i.is_multiple_of(97),
        id,
        role,
    }
}

fn cluster(t0: Instant) -> (Registry, Vec<NodeReport>) {
    let mut registry = Registry::new(DetectorConfig::default());
    let reports: Vec<_> = (0..ORIGINS)
        .map(|i| report(i, Role::Origin))
        .chain((0..EDGES).map(|i| report(i, Role::Edge)))
        .collect();
    for r in &reports {
        registry
            .handle_heartbeat(r.clone(), t0)
            .expect("valid report");
    }
    while registry.poll_output().is_some() {}
    (registry, reports)
}

fn benches(c: &mut Criterion) {
    #[expect(clippy::disallowed_methods, reason = "bench epoch")]
    let t0 = Instant::now();
    let table = table();
    let (mut registry, reports) = cluster(t0);
    let now = t0 + Duration::from_millis(500);

    let streams: Vec<String> = (0..ORIGINS * STREAMS_PER_ORIGIN)
        .map(|s| format!("s{s}"))
        .collect();
    let mut n = 0usize;
    c.bench_function("route_viewer/1000_edges_5_regions", |b| {
        b.iter(|| {
            n += 1;
            let stream = &streams[n % streams.len()];
            let region = REGIONS[n % REGIONS.len()];
            black_box(
                registry
                    .route_viewer(stream, region, &table, now)
                    .expect("route"),
            )
        })
    });
    c.bench_function("route_viewer/unknown_region_scans_all", |b| {
        b.iter(|| {
            black_box(
                registry
                    .route_viewer("s1", "mars", &table, now)
                    .expect("route"),
            )
        })
    });
    c.bench_function("upstream_for_edge/tier2", |b| {
        b.iter(|| {
            black_box(
                registry
                    .upstream_for_edge("edge-4", "s3", &table, now)
                    .expect("up"),
            )
        })
    });

    // One beat per iteration, cycling through all 1 000 edges with advancing time, so the
    // detector's queues see the steady-state pattern. The clone of the report (what
    // deserializing the body would allocate anyway) is inside the measurement.
    let mut i = 0usize;
    let step = Duration::from_micros(1000);
    let mut beat_at = now;
    c.bench_function("handle_heartbeat/1000_nodes", |b| {
        b.iter(|| {
            i = (i + 1) % reports.len();
            beat_at += step;
            let outcome = registry.handle_heartbeat(reports[i].clone(), beat_at);
            while registry.poll_output().is_some() {}
            black_box(outcome)
        })
    });
}

criterion_group!(route, benches);
criterion_main!(route);
