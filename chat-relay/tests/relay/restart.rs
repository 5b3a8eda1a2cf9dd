//! Restart safety: draining closes clients with 1001 and flushes the log; a new relay on the
//! same database continues the room's sequence, history, dedupe and gift replays.

use chat_proto::ChatRole;
use serde_json::json;

use crate::support::{TempDb, TestRelay, config, token};

#[tokio::test]
async fn a_restarted_relay_continues_the_sequence_from_the_database() {
    let db = TempDb::new();
    let relay = TestRelay::start(config(&db)).await;
    let (mut a, _) = relay.join("demo", "u1", ChatRole::Viewer).await;
    let bearer = format!("Bearer {}", token("u1", ChatRole::Viewer, None));
    let auth = [("Authorization", bearer.as_str())];
    relay
        .http("POST", "/v1/wallet/topup", &auth, r#"{"amount":10}"#)
        .await;
    for i in 1..=3 {
        a.send(
            json!({"type": "chat", "text": format!("before {i}"), "client_id": format!("c{i}")}),
        )
        .await;
        assert_eq!(a.next_of("ack").await["seq"], i);
    }
    a.send(json!({"type": "gift", "gift_id": "rose", "count": 2, "idempotency_key": "g1"}))
        .await;
    let gift_ack = a.next_of("ack").await;
    assert_eq!(
        (gift_ack["seq"].clone(), gift_ack["balance"].clone()),
        (json!(4), json!(8))
    );
    a.send(json!({"type": "delete", "seq": 1})).await;
    assert_eq!(a.next_of("error").await["code"], "forbidden");
    let (mut moderator, _) = relay.join("demo", "m1", ChatRole::Moderator).await;
    moderator.send(json!({"type": "delete", "seq": 2})).await;
    assert_eq!(moderator.next_of("system").await["seq"], 5);

    let stopping = tokio::spawn(relay.stop());
    assert_eq!(a.closed().await, 1001, "draining closes with 1001");
    stopping.await.unwrap();

    let relay = TestRelay::start(config(&db)).await;
    let t = token("u1", ChatRole::Viewer, Some("demo"));
    let mut b = relay.connect(&format!("room=demo&token={t}&since=0")).await;
    let welcome = b.next().await;
    assert_eq!(
        (welcome["last_seq"].clone(), welcome["resumed"].clone()),
        (json!(5), json!(true))
    );
    let history = welcome["history"].as_array().unwrap();
    assert_eq!(history.len(), 5);
    assert_eq!(history[0]["text"], "before 1");
    assert_eq!(
        history[1]["system"]["event"], "deleted",
        "deleted stays deleted: {}",
        history[1]
    );
    assert_eq!(history[3]["type"], "gift");

    // Dedupe and gift replays survive the restart; new events continue at 6.
    b.send(json!({"type": "chat", "text": "before 3", "client_id": "c3"}))
        .await;
    assert_eq!(b.next_of("ack").await["seq"], 3);
    b.send(json!({"type": "gift", "gift_id": "rose", "count": 2, "idempotency_key": "g1"}))
        .await;
    assert_eq!(b.next_of("ack").await, gift_ack);
    b.send(json!({"type": "chat", "text": "after", "client_id": "c9"}))
        .await;
    assert_eq!(b.next_of("ack").await["seq"], 6);
    let (_, wallet) = relay.http("GET", "/v1/wallet", &auth, "").await;
    assert_eq!(wallet["balance"], 8, "charged once");
    relay.stop().await;
}

#[tokio::test]
async fn the_like_total_continues_after_a_restart() {
    let db = TempDb::new();
    let relay = TestRelay::start(config(&db)).await;
    let (mut a, _) = relay.join("demo", "u1", ChatRole::Viewer).await;
    for count in [5, 7, 30] {
        a.send(json!({"type": "like", "count": count})).await;
    }
    let mut total = 0;
    while total < 42 {
        total = a.next_of("likes").await["total"].as_u64().unwrap();
    }
    assert_eq!(total, 42);
    assert_eq!(likes_total(&relay).await, 42);
    relay.stop().await;

    let relay = TestRelay::start(config(&db)).await;
    let (mut b, _) = relay.join("demo", "u2", ChatRole::Viewer).await;
    assert_eq!(likes_total(&relay).await, 42, "restored from the database");
    b.send(json!({"type": "like", "count": 3})).await;
    let likes = b.next_of("likes").await;
    assert_eq!(
        (likes["total"].clone(), likes["delta"].clone()),
        (json!(45), json!(3))
    );
    assert_eq!(likes_total(&relay).await, 45);
    relay.stop().await;
}

/// The `likes_total` of room `demo` in `GET /v1/rooms`.
async fn likes_total(relay: &TestRelay) -> u64 {
    let (status, body) = relay.http("GET", "/v1/rooms", &[], "").await;
    assert_eq!(status, 200);
    let room = body["rooms"]
        .as_array()
        .and_then(|rooms| rooms.iter().find(|r| r["name"] == "demo"))
        .unwrap_or_else(|| panic!("demo is not open: {body}"))
        .clone();
    room["likes_total"].as_u64().unwrap()
}
