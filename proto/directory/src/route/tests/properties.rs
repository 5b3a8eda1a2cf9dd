//! Properties over random clusters: routing never picks a draining or dead edge, matches a
//! brute-force ranking, and upstream chains reach an origin without cycles.

use super::*;

const REGIONS: [&str; 5] = ["eu", "us", "ap", "sa", "af"];

#[derive(Debug, Clone)]
struct Spec {
    region: usize,
    tier: u8,
    draining: bool,
    connections: u64,
    holds: bool,
    /// Milliseconds before `now` of the last beat: 0..4000 covers Alive, Suspect and Dead.
    silent_ms: u64,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        0..REGIONS.len(),
        1u8..=3,
        prop::bool::weighted(0.2),
        0u64..1000,
        any::<bool>(),
        0u64..4000,
    )
        .prop_map(
            |(region, tier, draining, connections, holds, silent_ms)| Spec {
                region,
                tier,
                draining,
                connections,
                holds,
                silent_ms,
            },
        )
}

/// Builds the cluster; `now` is 10 s after the epoch so every beat time is representable.
fn cluster(edges: &[Spec]) -> (Registry, Instant) {
    let now = epoch() + ms(10_000);
    let mut r = Registry::new(DetectorConfig::default());
    for (i, s) in edges.iter().enumerate() {
        let mut e = with_connections(
            edge(&format!("e{i}"), REGIONS[s.region], s.tier),
            s.connections,
        );
        e.draining = s.draining;
        if s.holds {
            e = with_streams(e, &["live"]);
        }
        beat(&mut r, e, now - ms(s.silent_ms));
    }
    beat(
        &mut r,
        with_streams(node("origin", Role::Origin, "eu"), &["live"]),
        now,
    );
    (r, now)
}

/// Brute-force ranking of every candidate edge, best first.
fn reference(r: &Registry, viewer: &str, now: Instant) -> Vec<String> {
    let table = table();
    let config = DetectorConfig::default();
    let mut all: Vec<_> = r
        .nodes()
        .filter(|v| v.report.role == Role::Edge && !v.report.draining)
        .map(|v| {
            let liveness = config.liveness_at(v.last_beat, now);
            let ratio = load_ratio(v.report, v.provisional_connections);
            let distance = table.distance(viewer, &v.report.region);
            let key = (
                liveness,
                ratio >= 0.9,
                distance,
                !v.report.holds_stream("live"),
            );
            (key, ratio, v.report.id.clone())
        })
        .filter(|((liveness, ..), ..)| *liveness != Liveness::Dead)
        .collect();
    all.sort_by(|a, b| {
        (a.0.0, a.0.1, a.0.2)
            .cmp(&(b.0.0, b.0.1, b.0.2))
            .then(a.1.total_cmp(&b.1))
            .then(a.0.3.cmp(&b.0.3))
            .then(a.2.cmp(&b.2))
    });
    all.into_iter().map(|(.., id)| id).take(5).collect()
}

proptest! {
    #[test]
    fn route_matches_reference_and_avoids_draining_and_dead(
        edges in prop::collection::vec(spec(), 0..60),
        viewer in 0..REGIONS.len() + 1,
        decisions in 1usize..20,
    ) {
        let (mut r, now) = cluster(&edges);
        let viewer = REGIONS.get(viewer).copied().unwrap_or("unknown");
        for _ in 0..decisions {
            let expected = reference(&r, viewer, now);
            match r.route_viewer("live", viewer, &table(), now) {
                Ok(route) => {
                    let got: Vec<_> = std::iter::once(&route.chosen)
                        .chain(&route.alternatives)
                        .map(|t| t.id.clone())
                        .collect();
                    prop_assert_eq!(&got, &expected);
                    for t in std::iter::once(&route.chosen).chain(&route.alternatives) {
                        let view = r.node(&t.id).expect("registered");
                        prop_assert!(!view.report.draining);
                        let config = DetectorConfig::default();
                        prop_assert_ne!(config.liveness_at(view.last_beat, now), Liveness::Dead);
                    }
                }
                Err(e) => {
                    prop_assert_eq!(e, RouteError::NoEdge { region: viewer.to_owned() });
                    prop_assert!(expected.is_empty());
                }
            }
        }
    }

    #[test]
    fn upstream_chains_reach_the_origin_without_cycles(
        edges in prop::collection::vec(spec(), 1..60),
    ) {
        let (r, now) = cluster(&edges);
        for (i, spec) in edges.iter().enumerate() {
            let mut id = format!("e{i}");
            let mut tier = spec.tier;
            for _hop in 0..=spec.tier {
                let up = r.upstream_for_edge(&id, "live", &table(), now).expect("upstream");
                if up.role == Role::Origin {
                    prop_assert_eq!(up.id.as_str(), "origin");
                    break;
                }
                prop_assert!(up.tier < tier, "tier must strictly decrease");
                let parent = r.node(&up.id).expect("parent registered");
                prop_assert!(!parent.report.draining);
                let liveness = DetectorConfig::default().liveness_at(parent.last_beat, now);
                prop_assert_eq!(liveness, Liveness::Alive);
                tier = up.tier;
                id = up.id;
            }
            prop_assert_eq!(r.upstream_for_edge(&id, "live", &table(), now).map(|u| u.role), Ok(Role::Origin));
        }
    }
}
