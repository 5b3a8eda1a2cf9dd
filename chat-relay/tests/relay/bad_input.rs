//! Hostile and broken clients: bad tokens and queries, binary junk, invalid frames, oversized
//! messages, floods. None of them disturbs the other clients.

use std::num::NonZeroU32;

use chat_proto::ChatRole;
use serde_json::json;

use crate::support::{SECRET, TempDb, TestRelay, config, token, token_with};

#[tokio::test]
async fn refused_connections_close_with_their_codes() {
    let db = TempDb::new();
    let relay = TestRelay::start(config(&db)).await;
    let good = token("u1", ChatRole::Viewer, Some("demo"));
    let expired = token_with("u1", ChatRole::Viewer, Some("demo"), 1_000, SECRET);
    let forged = token_with(
        "u1",
        ChatRole::Host,
        Some("demo"),
        4_000_000_000,
        "not-the-secret",
    );
    let cases = [
        ("room=demo".to_owned(), 4001),
        ("room=demo&token=garbage".to_owned(), 4001),
        (format!("room=demo&token={expired}"), 4001),
        (format!("room=demo&token={forged}"), 4001),
        (format!("room=other&token={good}"), 4003),
        (format!("token={good}"), 4000),
        (format!("room=no%20spaces&token={good}"), 4000),
        (format!("room=demo&token={good}&since=x"), 4000),
    ];
    for (query, code) in cases {
        let mut client = relay.connect(&query).await;
        assert_eq!(client.closed().await, code, "{query}");
    }
    let metrics = relay.metrics().await;
    assert!(
        metrics.contains("livecdn_chat_ws_closes_total{code=\"4001\"} 4"),
        "{metrics}"
    );
    assert!(!metrics.contains(&good), "tokens never reach metrics");
    relay.stop().await;
}

#[tokio::test]
async fn invalid_frames_get_errors_and_the_connection_stays() {
    let db = TempDb::new();
    let relay = TestRelay::start(config(&db)).await;
    let (mut client, _) = relay.join("demo", "u1", ChatRole::Viewer).await;
    let cases = [
        ("not json".to_owned(), "bad_frame"),
        ("[1,2]".to_owned(), "bad_frame"),
        (r#"{"type":"dance"}"#.to_owned(), "unknown_kind"),
        (
            r#"{"type":"chat","text":"hi","colour":"red"}"#.to_owned(),
            "bad_frame",
        ),
        (r#"{"type":"chat","text":"   "}"#.to_owned(), "bad_frame"),
        (
            json!({"type": "chat", "text": "x".repeat(501)}).to_string(),
            "too_large",
        ),
        (
            json!({"type": "chat", "text": "x".repeat(5000)}).to_string(),
            "too_large",
        ),
        (r#"{"type":"like","count":0}"#.to_owned(), "bad_frame"),
    ];
    for (text, code) in cases {
        client.send_text(&text).await;
        let error = client.next_of("error").await;
        assert_eq!(error["code"], code, "{text}: {error}");
    }
    client.send(json!({"type": "ping"})).await;
    assert_eq!(client.next_of("pong").await["type"], "pong");
    let metrics = relay.metrics().await;
    assert!(
        metrics.contains("livecdn_chat_rejected_total{reason=\"unknown_kind\"} 1"),
        "{metrics}"
    );

    // Over 16 × max_frame_bytes: the WebSocket layer refuses it with 1009.
    client.send_text(&"y".repeat(16 * 4096 + 1)).await;
    assert_eq!(client.closed().await, 1009);

    let (mut binary, _) = relay.join("demo", "u2", ChatRole::Viewer).await;
    binary.send_binary(vec![0xde, 0xad, 0xbe, 0xef]).await;
    assert_eq!(binary.closed().await, 1003);
    relay.stop().await;
}

#[tokio::test]
async fn guests_read_only_when_anonymous_reading_is_allowed() {
    let db = TempDb::new();
    let mut cfg = config(&db);
    cfg.chat.allow_anonymous = true;
    let relay = TestRelay::start(cfg).await;
    let mut guest = relay.connect("room=demo").await;
    let welcome = guest.next().await;
    assert!(
        welcome["user_id"].as_str().unwrap().starts_with("anon:"),
        "{welcome}"
    );
    guest
        .send(json!({"type": "chat", "text": "hi", "client_id": "g1"}))
        .await;
    let refused = guest.next_of("error").await;
    assert_eq!(
        (refused["code"].clone(), refused["client_id"].clone()),
        (json!("forbidden"), json!("g1"))
    );
    guest.send(json!({"type": "resume", "after_seq": 0})).await;
    assert_eq!(guest.next_of("welcome").await["resumed"], true);
    let (mut user, _) = relay.join("demo", "u1", ChatRole::Viewer).await;
    user.send(json!({"type": "chat", "text": "hello guest"}))
        .await;
    assert_eq!(guest.next_of("chat").await["text"], "hello guest");
    relay.stop().await;
}

#[tokio::test]
async fn a_flood_is_rate_limited_then_closed_and_others_are_unaffected() {
    let db = TempDb::new();
    let mut cfg = config(&db);
    cfg.chat.connection_rate = NonZeroU32::new(1).unwrap();
    cfg.chat.connection_burst = NonZeroU32::new(3).unwrap();
    cfg.chat.flood_strikes = 5;
    let relay = TestRelay::start(cfg).await;
    let (mut flooder, _) = relay.join("demo", "spammer", ChatRole::Viewer).await;
    let (mut calm, _) = relay.join("demo", "calm", ChatRole::Viewer).await;
    for i in 0..20 {
        flooder
            .send(json!({"type": "chat", "text": format!("spam {i}")}))
            .await;
    }
    let mut rate_limited = 0;
    let code = loop {
        let message = flooder.next_or_close().await;
        match message {
            Ok(frame) if frame["type"] == "error" => {
                assert_eq!(frame["code"], "rate_limited", "{frame}");
                assert!(frame["retry_after_ms"].as_u64().unwrap() > 0);
                rate_limited += 1;
            }
            Ok(_) => {}
            Err(code) => break code,
        }
    };
    assert_eq!((code, rate_limited), (4008, 4));

    calm.send(json!({"type": "chat", "text": "still here", "client_id": "c1"}))
        .await;
    let ack = calm.next_of("ack").await;
    assert_eq!(ack["seq"], 4, "the flooder's first 3 got through: {ack}");
    let metrics = relay.metrics().await;
    assert!(
        metrics.contains("livecdn_chat_rate_limited_total{reason=\"connection\"} 5"),
        "{metrics}"
    );
    assert!(
        metrics.contains("livecdn_chat_ws_closes_total{code=\"4008\"} 1"),
        "{metrics}"
    );
    relay.stop().await;
}
