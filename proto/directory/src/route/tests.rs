use std::collections::HashMap;
use std::time::Instant;

use proptest::prelude::*;

use super::rank::load_ratio;
use super::*;
use crate::testing::{beat, edge, epoch, ms, node, table, with_connections, with_streams};
use crate::{DetectorConfig, NodeReport};

mod properties;

/// A registry with one origin in eu publishing `live`.
fn registry(t0: Instant) -> Registry {
    let mut r = Registry::new(DetectorConfig::default());
    beat(
        &mut r,
        with_streams(node("origin-eu", Role::Origin, "eu"), &["live"]),
        t0,
    );
    r
}

fn chosen(r: &mut Registry, region: &str, now: Instant) -> String {
    r.route_viewer("live", region, &table(), now)
        .expect("route")
        .chosen
        .id
}

#[test]
fn same_region_first_then_nearest() {
    let t0 = epoch();
    let mut r = registry(t0);
    for (id, region) in [("e-eu", "eu"), ("e-us", "us"), ("e-ap", "ap")] {
        beat(&mut r, edge(id, region, 1), t0);
    }
    assert_eq!(chosen(&mut r, "us", t0), "e-us");
    assert_eq!(chosen(&mut r, "sa", t0), "e-us"); // sa–us 120 < sa–eu 180 < sa–ap 300
    let route = r.route_viewer("live", "sa", &table(), t0).expect("route");
    let order: Vec<_> = route
        .alternatives
        .iter()
        .map(|t| (t.id.as_str(), t.distance))
        .collect();
    assert_eq!(order, [("e-eu", 180), ("e-ap", 300)]);
    assert_eq!(chosen(&mut r, "mars", t0), "e-ap"); // all unknown: least loaded, then id
}

#[test]
fn least_loaded_then_holding_the_stream_then_id() {
    let t0 = epoch();
    let mut r = registry(t0);
    beat(&mut r, with_connections(edge("a", "eu", 1), 500), t0);
    beat(&mut r, with_connections(edge("b", "eu", 1), 100), t0);
    beat(
        &mut r,
        with_streams(with_connections(edge("c", "eu", 1), 100), &["live"]),
        t0,
    );
    let mut busy_cpu = edge("d", "eu", 1);
    busy_cpu.load.cpu = 0.6;
    beat(&mut r, busy_cpu, t0);
    let route = r.route_viewer("live", "eu", &table(), t0).expect("route");
    let ids: Vec<_> = route.alternatives.iter().map(|t| t.id.as_str()).collect();
    assert_eq!((route.chosen.id.as_str(), ids), ("c", vec!["b", "a", "d"]));
}

#[test]
fn saturated_edges_lose_to_farther_ones() {
    let t0 = epoch();
    let mut r = registry(t0);
    beat(&mut r, with_connections(edge("near", "eu", 1), 950), t0);
    beat(&mut r, with_connections(edge("far", "us", 1), 800), t0);
    assert_eq!(chosen(&mut r, "eu", t0), "far");
    beat(&mut r, with_connections(edge("far", "us", 1), 990), t0);
    assert_eq!(chosen(&mut r, "eu", t0), "near"); // all saturated: distance decides again
}

#[test]
fn draining_dead_and_urlless_edges_are_never_chosen() {
    let t0 = epoch();
    let mut r = registry(t0);
    let mut draining = edge("draining", "eu", 1);
    draining.draining = true;
    beat(&mut r, draining, t0);
    beat(
        &mut r,
        NodeReport {
            http_url: None,
            ..edge("no-url", "eu", 1)
        },
        t0,
    );
    beat(&mut r, edge("dies", "eu", 1), t0);
    beat(
        &mut r,
        with_connections(edge("far", "ap", 1), 800),
        t0 + ms(1000),
    );
    assert_eq!(chosen(&mut r, "eu", t0 + ms(1000)), "dies");
    // No handle_timeout yet: routing still knows `dies` is Dead at 2.5 s.
    let now = t0 + ms(2500);
    beat(
        &mut r,
        with_streams(node("origin-eu", Role::Origin, "eu"), &["live"]),
        now,
    );
    let route = r.route_viewer("live", "eu", &table(), now).expect("route");
    assert_eq!(
        (route.chosen.id.as_str(), route.alternatives.len()),
        ("far", 0)
    );
    assert!(r.handle_deregister("far", now));
    let err = r
        .route_viewer("live", "eu", &table(), now)
        .expect_err("no edge");
    assert_eq!(
        err,
        RouteError::NoEdge {
            region: "eu".into()
        }
    );
}

#[test]
fn suspect_edges_only_as_fallback() {
    let t0 = epoch();
    let mut r = registry(t0);
    beat(&mut r, edge("late", "eu", 1), t0);
    let now = t0 + ms(1600);
    beat(
        &mut r,
        with_streams(node("origin-eu", Role::Origin, "eu"), &["live"]),
        now,
    );
    beat(
        &mut r,
        with_connections(edge("busy-far", "ap", 1), 950),
        now,
    );
    let route = r.route_viewer("live", "eu", &table(), now).expect("route");
    assert_eq!(route.chosen.id, "busy-far"); // Alive (even saturated and far) beats Suspect
    assert_eq!(route.alternatives[0].liveness, Liveness::Suspect);
    assert!(r.handle_deregister("busy-far", now));
    assert_eq!(chosen(&mut r, "eu", now), "late");
}

#[test]
fn decisions_between_heartbeats_spread_over_equal_edges() {
    let t0 = epoch();
    let mut r = registry(t0);
    for i in 0..5 {
        let mut e = edge(&format!("e{i}"), "eu", 1);
        e.load.cpu = 0.5; // CPU dominates the ratio: the provisional load must still count
        beat(&mut r, e, t0);
    }
    let mut counts: HashMap<String, u32> = HashMap::new();
    for _ in 0..1000 {
        *counts.entry(chosen(&mut r, "eu", t0)).or_default() += 1;
    }
    assert_eq!(counts.len(), 5);
    assert!(counts.values().all(|&n| n == 200), "{counts:?}");
    // A heartbeat replaces the provisional load with the reported one.
    beat(&mut r, edge("e0", "eu", 1), t0 + ms(1000));
    assert_eq!(r.node("e0").map(|v| v.provisional_connections), Some(0));
    assert_eq!(chosen(&mut r, "eu", t0 + ms(1000)), "e0");
}

#[test]
fn stream_must_be_published_by_a_live_origin() {
    let t0 = epoch();
    let mut r = registry(t0);
    beat(&mut r, with_streams(edge("e1", "eu", 1), &["cached"]), t0);
    let not_live = |s: &str| RouteError::StreamNotLive { stream: s.into() };
    assert_eq!(
        r.route_viewer("cached", "eu", &table(), t0),
        Err(not_live("cached"))
    );
    assert_eq!(
        r.route_viewer("nope", "eu", &table(), t0),
        Err(not_live("nope"))
    );
    assert!(
        r.route_viewer("live", "eu", &table(), t0 + ms(2400))
            .is_ok()
    ); // Suspect origin
    let dead = t0 + ms(2500);
    assert_eq!(
        r.route_viewer("live", "eu", &table(), dead),
        Err(not_live("live"))
    );
    assert!(r.origin_for_stream("live", dead).is_none());
    assert!(!not_live("x").is_retryable());
}

#[test]
fn upstream_follows_tiers() {
    let t0 = epoch();
    let mut r = registry(t0);
    beat(&mut r, edge("t1-eu", "eu", 1), t0);
    beat(&mut r, edge("t1-us", "us", 1), t0);
    beat(&mut r, edge("t2-us", "us", 2), t0);
    beat(&mut r, edge("t3-ap", "ap", 3), t0);
    let up = |r: &Registry, id: &str| {
        r.upstream_for_edge(id, "live", &table(), t0)
            .map(|u| (u.id, u.tier, u.relay_addr))
    };
    assert_eq!(
        up(&r, "t1-us"),
        Ok(("origin-eu".into(), 0, "origin-eu:4433".into()))
    );
    assert_eq!(
        up(&r, "t2-us"),
        Ok(("t1-us".into(), 1, "t1-us:4433".into()))
    );
    // Tier 3 may use any lower tier; nearest to ap is us (150), least loaded first.
    beat(&mut r, with_connections(edge("t1-us", "us", 1), 300), t0);
    assert_eq!(up(&r, "t3-ap").map(|u| u.0), Ok("t2-us".into()));
    let mut draining = edge("t1-us", "us", 1);
    draining.draining = true;
    beat(&mut r, draining, t0);
    assert_eq!(up(&r, "t2-us").map(|u| u.0), Ok("t1-eu".into()));
    assert!(r.handle_deregister("t1-eu", t0));
    assert_eq!(up(&r, "t2-us").map(|u| u.0), Ok("origin-eu".into()));
    assert_eq!(
        up(&r, "nobody"),
        Err(RouteError::UnknownNode {
            id: "nobody".into()
        })
    );
    let err = up(&r, "origin-eu").expect_err("not an edge");
    assert_eq!(err.reason(), "not_an_edge");
    let err = r
        .upstream_for_edge("t2-us", "gone", &table(), t0)
        .expect_err("not live");
    assert_eq!(err.reason(), "stream_not_live");
    beat(
        &mut r,
        NodeReport {
            relay_addr: None,
            ..with_streams(node("o2", Role::Origin, "us"), &["x"])
        },
        t0,
    );
    let err = r
        .upstream_for_edge("t1-us", "x", &table(), t0)
        .expect_err("no relay addr");
    assert_eq!(err.reason(), "no_upstream");
}

#[test]
fn suspect_parents_are_skipped() {
    let t0 = epoch();
    let mut r = registry(t0);
    beat(&mut r, edge("t1", "us", 1), t0);
    let now = t0 + ms(1600);
    beat(
        &mut r,
        with_streams(node("origin-eu", Role::Origin, "eu"), &["live"]),
        now,
    );
    beat(&mut r, edge("t2", "us", 2), now);
    let up = r
        .upstream_for_edge("t2", "live", &table(), now)
        .expect("upstream");
    assert_eq!((up.id.as_str(), up.role), ("origin-eu", Role::Origin));
}

#[test]
fn ingest_and_chat_pick_nearest_least_loaded() {
    let t0 = epoch();
    let mut r = registry(t0);
    beat(
        &mut r,
        with_connections(node("origin-us", Role::Origin, "us"), 10),
        t0,
    );
    beat(&mut r, node("origin-us2", Role::Origin, "us"), t0);
    let target = r.ingest_origin("sa", &table(), t0).expect("origin");
    assert_eq!(
        (target.id.as_str(), target.url.as_str()),
        ("origin-us2", "rtmp://origin-us2:1935/live")
    );
    assert_eq!(
        r.chat_relay_for("eu", &table(), t0).map_err(|e| e.reason()),
        Err("no_chat_relay")
    );
    beat(&mut r, node("chat-eu", Role::ChatRelay, "eu"), t0);
    beat(&mut r, node("chat-ap", Role::ChatRelay, "ap"), t0);
    let target = r.chat_relay_for("us", &table(), t0).expect("relay");
    assert_eq!(
        (target.id.as_str(), target.url.as_str()),
        ("chat-eu", "ws://chat-eu:8091/ws")
    );
}

#[test]
fn a_failed_edge_and_the_children_it_feeds_are_avoided() {
    let t0 = epoch();
    let mut r = registry(t0);
    beat(&mut r, edge("t1-us", "us", 1), t0);
    beat(&mut r, edge("t2-ap", "ap", 2), t0);
    beat(&mut r, edge("t1-eu", "eu", 1), t0);
    // A viewer in ap plays from its tier-2 edge, fed by t1-us.
    assert_eq!(chosen(&mut r, "ap", t0), "t2-ap");
    // The player just failed on t1-us, which the control plane still thinks alive: neither
    // t1-us nor its child t2-ap (which would have nothing new) is offered.
    let route = r
        .route_viewer_avoiding("live", "ap", &table(), t0, &["t1-us".to_owned()])
        .expect("route");
    let ids: Vec<_> = std::iter::once(route.chosen.id.as_str())
        .chain(route.alternatives.iter().map(|t| t.id.as_str()))
        .collect();
    assert_eq!(ids, ["t1-eu"]);
    // Avoiding a node that feeds nobody leaves the others.
    let route = r
        .route_viewer_avoiding("live", "ap", &table(), t0, &["t1-eu".to_owned()])
        .expect("route");
    assert_eq!(route.chosen.id, "t2-ap");
    // Avoiding every edge: no edge.
    let all = ["t1-us", "t1-eu"].map(str::to_owned);
    let err = r
        .route_viewer_avoiding("live", "ap", &table(), t0, &all)
        .expect_err("nothing left");
    assert_eq!(err.reason(), "no_edge");
}
