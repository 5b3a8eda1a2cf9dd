//! Gifts: one ledger commit per idempotency key, retries answered with the first result, and
//! the refusals; the wallet endpoints.

use chat_proto::ChatRole;
use serde_json::json;

use crate::support::{TempDb, TestRelay, config, token};

#[tokio::test]
async fn a_gift_is_charged_and_broadcast_once_however_often_it_is_retried() {
    let db = TempDb::new();
    let relay = TestRelay::start(config(&db)).await;
    let (mut host, _) = relay.join("show", "host1", ChatRole::Host).await;
    let (mut fan, _) = relay.join("show", "fan", ChatRole::Viewer).await;
    let bearer = format!("Bearer {}", token("fan", ChatRole::Viewer, Some("show")));
    let auth = [("Authorization", bearer.as_str())];

    let (status, body) = relay
        .http("POST", "/v1/wallet/topup", &auth, r#"{"amount":100}"#)
        .await;
    assert_eq!(
        (status, body.clone()),
        (200, json!({"balance": 100})),
        "{body}"
    );

    let gift = json!({"type": "gift", "gift_id": "heart", "count": 3, "idempotency_key": "k1"});
    fan.send(gift.clone()).await;
    let ack = fan.next_of("ack").await;
    assert_eq!(ack["idempotency_key"], "k1");
    assert_eq!(ack["balance"], 85);
    let seq = ack["seq"].as_u64().unwrap();
    let event = host.next_of("gift").await;
    assert_eq!(event["seq"].as_u64(), Some(seq));
    assert_eq!(
        (event["value"].clone(), event["count"].clone()),
        (json!(15), json!(3))
    );
    assert_eq!(event["user_id"], "fan");

    // Retries, one of them racing the next: the same answer, no second charge or broadcast.
    fan.send(gift.clone()).await;
    fan.send(gift.clone()).await;
    for _ in 0..2 {
        let again = fan.next_of("ack").await;
        assert_eq!(again, ack, "a retry returns the first result");
    }
    host.send(json!({"type": "chat", "text": "thanks!"})).await;
    // The ack and the event may come in either order; no second gift comes before them.
    let (first, second) = (host.next_message().await, host.next_message().await);
    let chat = if first["type"] == "ack" {
        second
    } else {
        first
    };
    assert_eq!(
        (chat["type"].clone(), chat["seq"].as_u64()),
        (json!("chat"), Some(seq + 1))
    );

    let (status, wallet) = relay.http("GET", "/v1/wallet", &auth, "").await;
    assert_eq!(
        (status, wallet["balance"].clone()),
        (200, json!(85)),
        "{wallet}"
    );
    let room_account = format!(
        "/v1/wallet?token={}",
        token("room:show", ChatRole::Viewer, None)
    );
    let (_, credited) = relay.http("GET", &room_account, &[], "").await;
    assert_eq!(
        credited["balance"], 15,
        "the room's account is credited: {credited}"
    );

    // Refusals carry the key; nothing is charged.
    fan.send(json!({"type": "gift", "gift_id": "rocket", "idempotency_key": "k2"}))
        .await;
    let refused = fan.next_of("error").await;
    assert_eq!(
        (refused["code"].clone(), refused["idempotency_key"].clone()),
        (json!("insufficient_funds"), json!("k2"))
    );
    fan.send(json!({"type": "gift", "gift_id": "unicorn", "idempotency_key": "k3"}))
        .await;
    assert_eq!(fan.next_of("error").await["code"], "unknown_gift");
    let (_, wallet) = relay.http("GET", "/v1/wallet", &auth, "").await;
    assert_eq!(wallet["balance"], 85);

    let metrics = relay.metrics().await;
    for line in [
        "livecdn_chat_gifts_committed_total 1",
        "livecdn_chat_gift_value_total 15",
        "livecdn_chat_gift_errors_total{reason=\"insufficient_funds\"} 1",
        "livecdn_chat_gift_errors_total{reason=\"unknown_gift\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} missing:\n{metrics}");
    }
    relay.stop().await;
}

#[tokio::test]
async fn wallet_endpoints_check_tokens_and_the_demo_switch() {
    let db = TempDb::new();
    let mut cfg = config(&db);
    cfg.gifts.demo_topup = false;
    let relay = TestRelay::start(cfg).await;
    let (status, body) = relay.http("GET", "/v1/gifts/catalog", &[], "").await;
    assert_eq!(status, 200);
    let ids: Vec<_> = body["gifts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].clone())
        .collect();
    assert_eq!(ids, [json!("rose"), json!("heart"), json!("rocket")]);

    let (status, body) = relay.http("GET", "/v1/wallet", &[], "").await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (401, json!("unauthorized"))
    );
    let (status, _) = relay
        .http("GET", "/v1/wallet?token=forged.token", &[], "")
        .await;
    assert_eq!(status, 401);
    let bearer = format!("Bearer {}", token("u1", ChatRole::Viewer, None));
    let auth = [("Authorization", bearer.as_str())];
    let (status, body) = relay.http("GET", "/v1/wallet", &auth, "").await;
    assert_eq!(
        (status, body),
        (200, json!({"user_id": "u1", "balance": 0}))
    );
    let (status, body) = relay
        .http("POST", "/v1/wallet/topup", &auth, r#"{"amount":5}"#)
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (403, json!("forbidden"))
    );
    relay.stop().await;

    let mut cfg = config(&db);
    cfg.gifts.catalog.clear();
    let relay = TestRelay::start(cfg).await;
    for body in [
        r#"{"amount":0}"#,
        r#"{"amount":-3}"#,
        r#"{"amount":"x"}"#,
        r#"{"amount":1,"x":1}"#,
        "{",
    ] {
        let (status, answer) = relay.http("POST", "/v1/wallet/topup", &auth, body).await;
        assert_eq!(
            (status, answer["error"]["code"].clone()),
            (400, json!("bad_request")),
            "{body}"
        );
    }
    let (status, body) = relay
        .http("POST", "/v1/wallet/topup", &auth, r#"{"amount":7}"#)
        .await;
    assert_eq!((status, body), (200, json!({"balance": 7})));
    relay.stop().await;
}
