//! Test fixtures: a virtual clock epoch, node reports and a region table.

use std::time::{Duration, Instant};

use crate::{Capacity, HeldStream, Load, NodeReport, RegionTable, Registry, Role};

/// The virtual clock's epoch; tests only ever add offsets to it.
pub(crate) fn epoch() -> Instant {
    #[expect(clippy::disallowed_methods, reason = "test epoch")]
    let now = Instant::now();
    now
}

pub(crate) fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// A node with 1 000 connections / 10 Gbit/s of capacity, idle, with every URL set.
pub(crate) fn node(id: &str, role: Role, region: &str) -> NodeReport {
    NodeReport {
        id: id.to_owned(),
        role,
        region: region.to_owned(),
        tier: u8::from(role == Role::Edge),
        http_url: Some(format!("http://{id}:8080")),
        rtmp_url: (role == Role::Origin).then(|| format!("rtmp://{id}:1935/live")),
        relay_addr: (role != Role::ChatRelay).then(|| format!("{id}:4433")),
        ws_url: (role == Role::ChatRelay).then(|| format!("ws://{id}:8091/ws")),
        capacity: Capacity {
            max_connections: 1000,
            max_egress_bps: 10_000_000_000,
        },
        load: Load::default(),
        streams: Vec::new(),
        rooms: Vec::new(),
        draining: false,
    }
}

pub(crate) fn edge(id: &str, region: &str, tier: u8) -> NodeReport {
    NodeReport {
        tier,
        ..node(id, Role::Edge, region)
    }
}

pub(crate) fn with_streams(mut report: NodeReport, streams: &[&str]) -> NodeReport {
    report.streams = streams
        .iter()
        .map(|s| HeldStream {
            name: (*s).to_owned(),
            viewers: 0,
        })
        .collect();
    report
}

pub(crate) fn with_connections(mut report: NodeReport, connections: u64) -> NodeReport {
    report.load.connections = connections;
    report
}

/// eu–us 90, eu–ap 200, us–ap 150, eu–sa 180, us–sa 120, ap–sa 300.
pub(crate) fn table() -> RegionTable {
    let pairs = [
        ("eu", "us", 90),
        ("eu", "ap", 200),
        ("us", "ap", 150),
        ("eu", "sa", 180),
        ("us", "sa", 120),
        ("ap", "sa", 300),
    ];
    RegionTable::new(pairs.map(|(a, b, d)| (a.to_owned(), b.to_owned(), d))).expect("table")
}

/// Beats `report` and drains the events.
pub(crate) fn beat(registry: &mut Registry, report: NodeReport, now: Instant) {
    registry
        .handle_heartbeat(report, now)
        .expect("valid heartbeat");
    while registry.poll_output().is_some() {}
}
