use super::*;
use crate::testing::{beat, edge, epoch, ms, node, with_streams};

fn drain(r: &mut Registry) -> Vec<RegistryEvent> {
    std::iter::from_fn(|| r.poll_output()).collect()
}

fn changed(id: &str, from: Liveness, to: Liveness) -> RegistryEvent {
    RegistryEvent::NodeStateChanged {
        id: id.into(),
        role: Role::Edge,
        from,
        to,
    }
}

#[test]
fn heartbeat_outcomes_and_events() {
    let (t0, mut r) = (epoch(), Registry::new(DetectorConfig::default()));
    let e = edge("e1", "eu", 1);
    assert_eq!(
        r.handle_heartbeat(e.clone(), t0),
        Ok(HeartbeatOutcome::Registered)
    );
    let registered = RegistryEvent::NodeRegistered {
        id: "e1".into(),
        role: Role::Edge,
        region: "eu".into(),
    };
    assert_eq!(drain(&mut r), [registered]);
    assert_eq!(
        r.handle_heartbeat(e.clone(), t0 + ms(1000)),
        Ok(HeartbeatOutcome::Updated)
    );
    assert!(drain(&mut r).is_empty());
    // Late: Suspect is reported first, then the beat makes it Alive again.
    assert_eq!(
        r.handle_heartbeat(e.clone(), t0 + ms(2600)),
        Ok(HeartbeatOutcome::Revived)
    );
    assert_eq!(
        drain(&mut r),
        [
            changed("e1", Liveness::Alive, Liveness::Suspect),
            changed("e1", Liveness::Suspect, Liveness::Alive)
        ]
    );
    let view = r.node("e1").expect("registered");
    assert_eq!(
        (view.liveness, view.last_beat),
        (Liveness::Alive, t0 + ms(2600))
    );
}

#[test]
fn role_change_and_bad_reports_are_refused() {
    let (t0, mut r) = (epoch(), Registry::new(DetectorConfig::default()));
    beat(&mut r, edge("n1", "eu", 1), t0);
    let err = r
        .handle_heartbeat(node("n1", Role::ChatRelay, "eu"), t0)
        .expect_err("role change");
    assert_eq!(err.reason(), "role_changed");
    let err = r
        .handle_heartbeat(edge("", "eu", 1), t0)
        .expect_err("bad id");
    assert_eq!(err.reason(), "invalid_id");
    assert_eq!(r.node("n1").map(|v| v.report.role), Some(Role::Edge));
}

#[test]
fn timeouts_drive_dead_and_forget() {
    let (t0, mut r) = (epoch(), Registry::new(DetectorConfig::default()));
    beat(&mut r, edge("e1", "eu", 1), t0);
    assert_eq!(r.poll_timeout(), Some(t0 + ms(1500)));
    r.handle_timeout(t0 + ms(1500));
    assert_eq!(
        drain(&mut r),
        [changed("e1", Liveness::Alive, Liveness::Suspect)]
    );
    r.handle_timeout(t0 + ms(2500));
    assert_eq!(
        drain(&mut r),
        [changed("e1", Liveness::Suspect, Liveness::Dead)]
    );
    assert_eq!(
        r.counts().get(&(Role::Edge, "eu", Liveness::Dead)),
        Some(&1)
    );
    r.handle_timeout(t0 + DetectorConfig::default().forget_after);
    let removed = RegistryEvent::NodeRemoved {
        id: "e1".into(),
        role: Role::Edge,
        reason: RemovalReason::Forgotten,
    };
    assert_eq!(drain(&mut r), [removed]);
    assert!(r.is_empty() && r.node("e1").is_none() && r.poll_timeout().is_none());
}

#[test]
fn deregister_removes_at_once_and_frees_indexes() {
    let (t0, mut r) = (epoch(), Registry::new(DetectorConfig::default()));
    beat(
        &mut r,
        with_streams(node("o1", Role::Origin, "eu"), &["s"]),
        t0,
    );
    assert_eq!(r.stream_holders("s").count(), 1);
    assert!(r.handle_deregister("o1", t0 + ms(10)));
    assert!(!r.handle_deregister("o1", t0 + ms(10)));
    let removed = RegistryEvent::NodeRemoved {
        id: "o1".into(),
        role: Role::Origin,
        reason: RemovalReason::Deregistered,
    };
    assert_eq!(drain(&mut r), [removed]);
    assert_eq!(r.stream_holders("s").count(), 0);
    assert!(r.streams.is_empty() && r.by_region.iter().all(HashMap::is_empty));
    // The slot is reused by the next node, which must not inherit anything.
    beat(&mut r, edge("e2", "us", 1), t0 + ms(20));
    assert_eq!(
        r.nodes().map(|v| v.report.id.as_str()).collect::<Vec<_>>(),
        ["e2"]
    );
}

#[test]
fn reports_replace_indexes_when_region_or_streams_change() {
    let (t0, mut r) = (epoch(), Registry::new(DetectorConfig::default()));
    beat(&mut r, with_streams(edge("e1", "eu", 1), &["a", "b"]), t0);
    beat(
        &mut r,
        with_streams(edge("e1", "us", 1), &["b", "c"]),
        t0 + ms(1000),
    );
    let holders = |r: &Registry, s: &str| r.stream_holders(s).count();
    assert_eq!(
        (holders(&r, "a"), holders(&r, "b"), holders(&r, "c")),
        (0, 1, 1)
    );
    assert!(!r.by_region[Role::Edge.index()].contains_key("eu"));
    assert_eq!(
        r.by_region[Role::Edge.index()].get("us").map(Vec::len),
        Some(1)
    );
    assert_eq!(
        r.counts().into_iter().collect::<Vec<_>>(),
        [((Role::Edge, "us", Liveness::Alive), 1)]
    );
}
