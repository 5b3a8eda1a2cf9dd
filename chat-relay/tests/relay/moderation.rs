//! Moderation: delete tombstones, bans and timeouts, the host's immunity, slow mode.

use chat_proto::ChatRole;
use serde_json::json;

use crate::support::{TempDb, TestRelay, config};

#[tokio::test]
async fn moderators_delete_ban_and_slow_the_room_and_viewers_cannot() {
    let db = TempDb::new();
    let relay = TestRelay::start(config(&db)).await;
    let (mut host, _) = relay.join("mod", "host1", ChatRole::Host).await;
    let (mut moderator, _) = relay.join("mod", "m1", ChatRole::Moderator).await;
    let (mut viewer, _) = relay.join("mod", "v1", ChatRole::Viewer).await;

    viewer
        .send(json!({"type": "chat", "text": "rude words", "client_id": "r1"}))
        .await;
    let rude = viewer.next_of("ack").await["seq"].as_u64().unwrap();

    // Viewers may not moderate.
    for frame in [
        json!({"type": "delete", "seq": rude}),
        json!({"type": "ban", "user_id": "m1"}),
        json!({"type": "slow_mode", "interval_s": 5}),
    ] {
        viewer.send(frame).await;
        assert_eq!(viewer.next_of("error").await["code"], "forbidden");
    }

    // Delete: a tombstone event, and the history no longer holds the text.
    moderator.send(json!({"type": "delete", "seq": rude})).await;
    let tombstone = host.next_of("system").await;
    assert_eq!(
        tombstone["system"],
        json!({"event": "deleted", "seq": rude, "by": "m1"})
    );
    moderator.send(json!({"type": "delete", "seq": rude})).await;
    assert_eq!(moderator.next_of("error").await["code"], "not_found");
    moderator.send(json!({"type": "delete", "seq": 999})).await;
    assert_eq!(moderator.next_of("error").await["code"], "not_found");
    let (_, welcome) = relay.join("mod", "late", ChatRole::Viewer).await;
    let history = welcome["history"].to_string();
    assert!(!history.contains("rude words"), "{history}");
    assert!(history.contains("\"deleted\""), "{history}");

    // The host cannot be banned.
    moderator
        .send(json!({"type": "ban", "user_id": "host1"}))
        .await;
    assert_eq!(moderator.next_of("error").await["code"], "forbidden");

    // A timeout refuses chat, likes and gifts with retry_after_ms; unban lifts it.
    moderator
        .send(json!({"type": "ban", "user_id": "v1", "duration_s": 600}))
        .await;
    let banned = host.next_of("system").await["system"].clone();
    assert_eq!(
        (banned["event"].clone(), banned["user_id"].clone()),
        (json!("banned"), json!("v1"))
    );
    assert!(banned["until_ms"].as_i64().is_some(), "{banned}");
    viewer
        .send(json!({"type": "chat", "text": "let me talk", "client_id": "r2"}))
        .await;
    let refused = viewer.next_of("error").await;
    assert_eq!(
        (refused["code"].clone(), refused["client_id"].clone()),
        (json!("timed_out"), json!("r2"))
    );
    assert!(
        refused["retry_after_ms"].as_u64().unwrap() > 590_000,
        "{refused}"
    );
    viewer.send(json!({"type": "like"})).await;
    assert_eq!(viewer.next_of("error").await["code"], "timed_out");
    moderator
        .send(json!({"type": "ban", "user_id": "v1"}))
        .await;
    viewer.send(json!({"type": "chat", "text": "please"})).await;
    assert_eq!(viewer.next_of("error").await["code"], "banned");
    host.send(json!({"type": "unban", "user_id": "v1"})).await;
    let unbanned = host.next_of("system").await;
    let unbanned = if unbanned["system"]["event"] == "banned" {
        host.next_of("system").await
    } else {
        unbanned
    };
    assert_eq!(
        unbanned["system"],
        json!({"event": "unbanned", "user_id": "v1", "by": "host1"})
    );
    viewer
        .send(json!({"type": "chat", "text": "sorry", "client_id": "r3"}))
        .await;
    assert_eq!(viewer.next_of("ack").await["client_id"], "r3");

    // Slow mode: one message per interval for viewers; moderators and hosts are exempt.
    moderator
        .send(json!({"type": "slow_mode", "interval_s": 30}))
        .await;
    let slow = host.next_of("system").await;
    let slow = if slow["system"]["event"] == "slow_mode" {
        slow
    } else {
        host.next_of("system").await
    };
    assert_eq!(
        slow["system"],
        json!({"event": "slow_mode", "interval_s": 30, "by": "m1"})
    );
    viewer
        .send(json!({"type": "chat", "text": "one", "client_id": "s1"}))
        .await;
    assert_eq!(viewer.next_of("ack").await["client_id"], "s1");
    viewer
        .send(json!({"type": "chat", "text": "two", "client_id": "s2"}))
        .await;
    let refused = viewer.next_of("error").await;
    assert_eq!(refused["code"], "slow_mode");
    assert!(
        refused["retry_after_ms"].as_u64().unwrap() > 25_000,
        "{refused}"
    );
    // A retry of an accepted message is acked, not refused by slow mode.
    viewer
        .send(json!({"type": "chat", "text": "one", "client_id": "s1"}))
        .await;
    assert_eq!(viewer.next_of("ack").await["client_id"], "s1");
    for _ in 0..2 {
        host.send(json!({"type": "chat", "text": "host talks"}))
            .await;
        assert_eq!(host.next_of("ack").await["type"], "ack");
    }

    let metrics = relay.metrics().await;
    assert!(
        metrics.contains("livecdn_chat_rejected_total{reason=\"slow_mode\"} 1"),
        "{metrics}"
    );
    relay.stop().await;
}

#[tokio::test]
async fn the_http_moderation_api_takes_the_same_path_as_a_socket() {
    let db = TempDb::new();
    let relay = TestRelay::start(config(&db)).await;
    let (mut watcher, _) = relay.join("modapi", "w1", ChatRole::Viewer).await;
    let (mut viewer, _) = relay.join("modapi", "v1", ChatRole::Viewer).await;
    viewer
        .send(json!({"type": "chat", "text": "spam spam", "client_id": "s1"}))
        .await;
    let spam = viewer.next_of("ack").await["seq"].as_u64().unwrap();

    let moderator = crate::support::token("m1", ChatRole::Moderator, Some("modapi"));
    let bearer = format!("Bearer {moderator}");
    let auth = [("Authorization", bearer.as_str())];
    // Delete over HTTP: the room sees the same tombstone a socket's delete makes.
    let (status, body) = relay
        .http(
            "POST",
            "/v1/rooms/modapi/moderation",
            &auth,
            &json!({"type": "delete", "seq": spam}).to_string(),
        )
        .await;
    assert_eq!((status, body.clone()), (200, json!({"ok": true})), "{body}");
    assert_eq!(
        watcher.next_of("system").await["system"],
        json!({"event": "deleted", "seq": spam, "by": "m1"})
    );
    // Refusals keep their protocol code, with an HTTP status.
    let (status, body) = relay
        .http(
            "POST",
            "/v1/rooms/modapi/moderation",
            &auth,
            &json!({"type": "delete", "seq": spam}).to_string(),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (404, json!("not_found"))
    );

    // A timeout over HTTP refuses the viewer's next message.
    let (status, _) = relay
        .http(
            "POST",
            "/v1/rooms/modapi/moderation",
            &auth,
            &json!({"type": "ban", "user_id": "v1", "duration_s": 60}).to_string(),
        )
        .await;
    assert_eq!(status, 200);
    viewer
        .send(json!({"type": "chat", "text": "more", "client_id": "s2"}))
        .await;
    assert_eq!(viewer.next_of("error").await["code"], "timed_out");

    // Who may not: no token, a viewer, a moderator of another room, a chat frame, junk.
    let viewer_token = format!(
        "Bearer {}",
        crate::support::token("v2", ChatRole::Viewer, Some("modapi"))
    );
    let other_room = format!(
        "Bearer {}",
        crate::support::token("m2", ChatRole::Moderator, Some("elsewhere"))
    );
    let slow = json!({"type": "slow_mode", "interval_s": 5}).to_string();
    for (headers, body, status, code) in [
        (vec![], slow.clone(), 401, "unauthorized"),
        (
            vec![("Authorization", viewer_token.as_str())],
            slow.clone(),
            403,
            "forbidden",
        ),
        (
            vec![("Authorization", other_room.as_str())],
            slow.clone(),
            403,
            "forbidden",
        ),
        (
            auth.to_vec(),
            json!({"type": "chat", "text": "hi"}).to_string(),
            400,
            "bad_request",
        ),
        (auth.to_vec(), "{not json".to_owned(), 400, "bad_request"),
    ] {
        let (got, answer) = relay
            .http("POST", "/v1/rooms/modapi/moderation", &headers, &body)
            .await;
        assert_eq!(
            (got, answer["error"]["code"].clone()),
            (status, json!(code)),
            "{body}: {answer}"
        );
    }
    let (status, _) = relay
        .http("POST", "/v1/rooms/bad%20room/moderation", &auth, &slow)
        .await;
    assert_eq!(status, 400);
    // Nothing of that reached the room: the next event the watcher sees is the real one.
    let (status, _) = relay
        .http("POST", "/v1/rooms/modapi/moderation", &auth, &slow)
        .await;
    assert_eq!(status, 200);
    let mut system = watcher.next_of("system").await;
    if system["system"]["event"] == "banned" {
        system = watcher.next_of("system").await;
    }
    assert_eq!(
        system["system"],
        json!({"event": "slow_mode", "interval_s": 5, "by": "m1"})
    );
}
