//! Welcome, ordering, resume, likes, viewers, HTTP room list and metrics.

use chat_proto::ChatRole;
use serde_json::{Value, json};

use crate::support::{TempDb, TestRelay, config, token};

fn seqs(events: &[Value]) -> Vec<u64> {
    events.iter().map(|e| e["seq"].as_u64().unwrap()).collect()
}

async fn chat(client: &mut crate::support::Client, text: &str, id: &str) -> u64 {
    client
        .send(json!({"type": "chat", "text": text, "client_id": id}))
        .await;
    let ack = client.next_of("ack").await;
    assert_eq!(ack["client_id"], id, "{ack}");
    ack["seq"].as_u64().unwrap()
}

#[tokio::test]
async fn welcome_comes_first_with_history_and_two_clients_see_one_order() {
    let db = TempDb::new();
    let relay = TestRelay::start(config(&db)).await;
    let (mut a, welcome) = relay.join("demo", "u1", ChatRole::Viewer).await;
    assert_eq!(welcome["last_seq"], 0);
    assert_eq!(welcome["resumed"], false);
    assert_eq!(welcome["room"], "demo");
    assert_eq!(welcome["role"], "viewer");
    for i in 1..=3 {
        assert_eq!(
            chat(&mut a, &format!("  hello {i} "), &format!("a{i}")).await,
            i
        );
    }
    let (mut b, welcome) = relay.join("demo", "u2", ChatRole::Viewer).await;
    assert_eq!(welcome["last_seq"], 3);
    let history = welcome["history"].as_array().unwrap();
    assert_eq!(seqs(history), [1, 2, 3]);
    assert_eq!(history[0]["text"], "hello 1", "text is trimmed");
    assert_eq!(history[0]["name"], "u1-name");

    // Interleaved senders: both clients see the same events in the same order.
    for i in 0..5 {
        a.send(json!({"type": "chat", "text": format!("from a {i}")}))
            .await;
        b.send(json!({"type": "chat", "text": format!("from b {i}")}))
            .await;
    }
    let mut seen = [Vec::new(), Vec::new()];
    for (client, seen) in [&mut a, &mut b].into_iter().zip(seen.iter_mut()) {
        loop {
            let frame = client.next_message().await;
            if frame["type"] != "chat" {
                continue;
            }
            let seq = frame["seq"].as_u64().unwrap();
            // `a` may still hold its first three events, which `b` got in its welcome.
            if seq > 3 {
                seen.push((seq, frame["text"].clone()));
            }
            if seq == 13 {
                break;
            }
        }
    }
    assert_eq!(seen[0], seen[1]);
    let order: Vec<u64> = seen[1].iter().map(|(s, _)| *s).collect();
    assert_eq!(order, (4..=13).collect::<Vec<_>>());

    // A retried client_id is acked with the first seq and not sequenced again. The acks of the
    // chats above may still be on their way (an ack comes before or after its event, §5).
    a.send(json!({"type": "chat", "text": "hello 2 again", "client_id": "a2"}))
        .await;
    let ack = loop {
        let ack = a.next_of("ack").await;
        if ack.get("client_id").is_some() {
            break ack;
        }
    };
    assert_eq!(ack, json!({"type": "ack", "client_id": "a2", "seq": 2}));

    a.send(json!({"type": "ping"})).await;
    assert_eq!(a.next_of("pong").await, json!({"type": "pong"}));

    let (status, rooms) = relay.http("GET", "/v1/rooms", &[], "").await;
    assert_eq!(status, 200);
    assert_eq!(rooms["rooms"][0]["name"], "demo");
    assert_eq!(rooms["rooms"][0]["connections"], 2);
    assert_eq!(rooms["rooms"][0]["last_seq"], 13);

    let metrics = relay.metrics().await;
    for line in [
        "livecdn_chat_connections 2",
        "livecdn_chat_rooms 1",
        "livecdn_chat_messages_in_total{kind=\"chat\"} 14",
        "livecdn_chat_messages_out_total{kind=\"welcome\"} 2",
        "livecdn_chat_fanout_delay_seconds_count",
    ] {
        assert!(metrics.contains(line), "{line} missing:\n{metrics}");
    }
    relay.stop().await;
}

#[tokio::test]
async fn resume_with_since_gets_exactly_the_missed_events() {
    let db = TempDb::new();
    let mut cfg = config(&db);
    cfg.chat.history_len = 6;
    cfg.chat.welcome_len = 2;
    let relay = TestRelay::start(cfg).await;
    let (mut a, _) = relay.join("demo", "u1", ChatRole::Viewer).await;
    for i in 1..=5 {
        chat(&mut a, "m", &format!("c{i}")).await;
    }
    let t = token("u2", ChatRole::Viewer, Some("demo"));
    let mut b = relay.connect(&format!("room=demo&token={t}&since=2")).await;
    let welcome = b.next().await;
    assert_eq!(
        (welcome["resumed"].clone(), welcome["last_seq"].clone()),
        (json!(true), json!(5))
    );
    assert_eq!(seqs(welcome["history"].as_array().unwrap()), [3, 4, 5]);
    // Up to date: nothing missed.
    b.send(json!({"type": "resume", "after_seq": 5})).await;
    let welcome = b.next_of("welcome").await;
    assert_eq!(welcome["resumed"], true);
    assert!(welcome["history"].as_array().unwrap().is_empty());
    // After the resume, new events continue without a gap or a duplicate.
    chat(&mut a, "six", "c6").await;
    assert_eq!(b.next_message().await["seq"], 6);

    for i in 7..=9 {
        chat(&mut a, "m", &format!("c{i}")).await;
    }
    // Seq 1 left the ring of 6 (4..=9): too old, the last `welcome_len` instead.
    b.send(json!({"type": "resume", "after_seq": 1})).await;
    let welcome = b.next_of("welcome").await;
    assert_eq!(welcome["resumed"], false);
    assert_eq!(seqs(welcome["history"].as_array().unwrap()), [8, 9]);
    // Ahead of the room (it lost data): not resumable either.
    let mut c = relay
        .connect(&format!("room=demo&token={t}&since=99"))
        .await;
    let welcome = c.next().await;
    assert_eq!(welcome["resumed"], false);
    assert_eq!(welcome["last_seq"], 9);
    relay.stop().await;
}

#[tokio::test]
async fn likes_from_several_clients_add_up_exactly() {
    let db = TempDb::new();
    let relay = TestRelay::start(config(&db)).await;
    let mut clients = Vec::new();
    for user in ["u1", "u2", "u3"] {
        clients.push(relay.join("party", user, ChatRole::Viewer).await.0);
    }
    let mut expected = 0;
    for round in 0..10 {
        for (i, client) in clients.iter_mut().enumerate() {
            let count = (round + i) % 4 + 1;
            expected += count as u64;
            client.send(json!({"type": "like", "count": count})).await;
        }
    }
    // Over the cap of 100 per frame: counted as 100.
    clients[0].send(json!({"type": "like", "count": 500})).await;
    expected += 100;
    let watcher = &mut clients[1];
    let (mut deltas, mut viewers) = (0, None);
    while deltas < expected || viewers != Some(3) {
        let frame = watcher.next().await;
        match frame["type"].as_str() {
            Some("likes") => {
                deltas += frame["delta"].as_u64().unwrap();
                assert_eq!(
                    frame["total"].as_u64().unwrap(),
                    deltas,
                    "total is the sum of deltas"
                );
            }
            Some("viewers") => viewers = frame["count"].as_u64(),
            _ => {}
        }
    }
    assert_eq!(deltas, expected);
    relay.stop().await;
}
