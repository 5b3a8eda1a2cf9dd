use super::*;
use crate::testing::node;

#[test]
fn heartbeat_json_round_trips_with_defaults_and_snake_case() {
    let body = r#"{"id":"edge-1","role":"chat_relay","region":"eu",
        "capacity":{"max_connections":10,"max_egress_bps":0},
        "load":{"connections":1,"egress_bps":2,"cpu":0.5}}"#;
    let report: NodeReport = serde_json::from_str(body).expect("valid body");
    assert_eq!(report.role, Role::ChatRelay);
    assert_eq!(
        (report.tier, report.draining, report.streams.len()),
        (0, false, 0)
    );
    assert_eq!(report.http_url, None);
    let back: NodeReport =
        serde_json::from_str(&serde_json::to_string(&report).expect("encode")).expect("decode");
    assert_eq!(back, report);
}

#[test]
fn unknown_fields_are_rejected() {
    let body = r#"{"id":"e","role":"edge","region":"eu","tier":1,"colour":"red"}"#;
    assert!(serde_json::from_str::<NodeReport>(body).is_err());
    let body = r#"{"id":"e","role":"cdn","region":"eu"}"#;
    assert!(serde_json::from_str::<NodeReport>(body).is_err());
}

#[test]
fn validate_names_each_bad_field() {
    let good = node("edge-1.eu_a", Role::Edge, "eu-west");
    assert_eq!(good.validate(), Ok(()));
    let check = |f: &dyn Fn(&mut NodeReport)| {
        let mut r = good.clone();
        f(&mut r);
        r.validate().map_err(|e| e.reason())
    };
    assert_eq!(check(&|r| r.id.clear()), Err("invalid_id"));
    assert_eq!(
        check(&|r| r.id = "x".repeat(MAX_ID_LEN + 1)),
        Err("invalid_id")
    );
    assert_eq!(check(&|r| r.id = "edge/1".into()), Err("invalid_id"));
    assert_eq!(
        check(&|r| r.region = "eu west".into()),
        Err("invalid_region")
    );
    assert_eq!(check(&|r| r.tier = 0), Err("invalid_tier"));
    assert_eq!(check(&|r| r.tier = MAX_TIER + 1), Err("invalid_tier"));
    assert_eq!(check(&|r| r.role = Role::Origin), Err("invalid_tier"));
    assert_eq!(
        check(&|r| r.ws_url = Some(String::new())),
        Err("invalid_url")
    );
    assert_eq!(check(&|r| r.load.cpu = f64::NAN), Err("invalid_cpu"));
    assert_eq!(check(&|r| r.load.cpu = -0.1), Err("invalid_cpu"));
    let many = |n: usize| {
        (0..n).map(|i| HeldStream {
            name: format!("s{i}"),
            viewers: 0,
        })
    };
    assert_eq!(check(&|r| r.streams = many(MAX_HELD).collect()), Ok(()));
    assert_eq!(
        check(&|r| r.streams = many(MAX_HELD + 1).collect()),
        Err("too_many_held")
    );
    let held = |name: &str| HeldStream {
        name: name.into(),
        viewers: 0,
    };
    assert_eq!(
        check(&|r| r.streams = vec![held("a b")]),
        Err("invalid_name")
    );
    assert_eq!(
        check(&|r| r.streams = vec![held("a"), held("a")]),
        Err("duplicate_name")
    );
    let room = HeldRoom {
        name: String::new(),
        connections: 0,
        messages: 0,
        likes: 0,
        gift_value: 0,
    };
    assert_eq!(
        check(&|r| r.rooms = vec![room.clone()]),
        Err("invalid_name")
    );
}
