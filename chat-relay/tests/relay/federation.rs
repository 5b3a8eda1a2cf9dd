//! Federation: two relays in one process over one database, room `show` homed on relay A by a
//! static `HomeLookup`, WebSocket clients on both. One order for everyone, gifts charged once
//! through the mirror, one exact like total, and resume across restarts of either relay.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chat_proto::ChatRole;
use futures_util::{SinkExt as _, StreamExt as _};
use livecdn_chat_relay::federation::StaticHomes;
use node::redact::Redacted;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::support::{TempDb, TestRelay, config, token};

const ROOM: &str = "show";
/// How long a test waits for any one frame.
const WAIT: Duration = Duration::from_secs(20);
/// Chats a sender has in flight (a session reads at most 16 unanswered frames).
const WINDOW: usize = 16;

async fn start(
    db: &TempDb,
    id: &str,
    listen: Option<SocketAddr>,
    home: Option<SocketAddr>,
) -> TestRelay {
    let mut config = config(db);
    config.node.id = Some(id.to_owned());
    config.control.token = Redacted::new("node-secret".to_owned());
    config.federation.reconnect_backoff_max = Duration::from_millis(200);
    if let Some(listen) = listen {
        config.http.listen = listen;
    }
    let mut lookup = StaticHomes::standalone(id);
    if let Some(home) = home {
        lookup = lookup.with(ROOM, "relay-a", &format!("ws://{home}/ws"));
    }
    TestRelay::start_with(config, Some(Arc::new(lookup))).await
}

/// One client's view of the room: every sequenced event, in order, without gaps.
struct View {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    events: Vec<Value>,
    last: u64,
    likes: u64,
    acks: Vec<Value>,
}

impl View {
    /// Joins `show` on `relay` as `user`, resuming after `since` if given.
    async fn join(relay: &TestRelay, user: &str, since: Option<u64>) -> Self {
        let t = token(user, ChatRole::Viewer, Some(ROOM));
        let resume = since.map_or(String::new(), |s| format!("&since={s}"));
        let client = relay
            .connect(&format!("room={ROOM}&token={t}{resume}"))
            .await;
        let mut view = Self {
            ws: client.into_inner(),
            events: Vec::new(),
            last: 0,
            likes: 0,
            acks: Vec::new(),
        };
        let welcome = view.frame().await;
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        match since {
            Some(since) => {
                assert_eq!(welcome["resumed"], true, "{welcome}");
                view.last = since;
                view.apply(welcome);
            }
            None => view.last = welcome["last_seq"].as_u64().unwrap(),
        }
        view
    }

    async fn frame(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a frame within the deadline")
                .expect("connection open")
                .expect("frame");
            match message {
                Message::Text(text) => return serde_json::from_str(text.as_str()).unwrap(),
                Message::Close(frame) => panic!("closed: {frame:?}"),
                _ => {}
            }
        }
    }

    fn apply(&mut self, frame: Value) {
        match frame["type"].as_str().unwrap_or_default() {
            "chat" | "gift" | "system" => self.push(frame),
            "welcome" => {
                assert_eq!(frame["resumed"], true, "a resync must be exact: {frame}");
                for event in frame["history"].as_array().unwrap() {
                    self.push(event.clone());
                }
            }
            "likes" => self.likes = frame["total"].as_u64().unwrap(),
            "ack" => self.acks.push(frame),
            "error" => panic!("refused: {frame}"),
            _ => {}
        }
    }

    fn push(&mut self, event: Value) {
        let seq = event["seq"].as_u64().unwrap();
        if seq > self.last {
            assert_eq!(seq, self.last + 1, "gap before {event}");
            self.last = seq;
            self.events.push(event);
        }
    }

    /// Reads frames until `done`.
    async fn until(&mut self, done: impl Fn(&Self) -> bool) {
        while !done(self) {
            let frame = self.frame().await;
            self.apply(frame);
        }
    }

    async fn send(&mut self, frame: Value) {
        self.ws
            .send(Message::text(frame.to_string()))
            .await
            .unwrap();
    }

    /// Sends `n` chats `prefix-i`, at most [`WINDOW`] unacknowledged.
    async fn chats(mut self, prefix: &str, n: usize) -> Self {
        for start in (0..n).step_by(WINDOW) {
            let end = (start + WINDOW).min(n);
            for i in start..end {
                let id = format!("{prefix}-{i}");
                self.send(json!({"type": "chat", "text": id, "client_id": id}))
                    .await;
            }
            let want = self.acks.len() + (end - start);
            self.until(|v| v.acks.len() >= want).await;
        }
        self
    }

    fn chat_count(&self) -> usize {
        self.events.iter().filter(|e| e["type"] == "chat").count()
    }

    /// Reads until the view holds `seq`.
    async fn reach(mut self, seq: u64) -> Self {
        self.until(|v| v.last >= seq).await;
        self
    }
}

/// `(seq, type, client_id or key)` of every event: what "the same order" compares.
fn order(view: &View) -> Vec<(u64, String, String)> {
    view.events
        .iter()
        .map(|e| {
            let id = e["client_id"]
                .as_str()
                .or(e["idempotency_key"].as_str())
                .unwrap_or_default();
            (
                e["seq"].as_u64().unwrap(),
                e["type"].as_str().unwrap().to_owned(),
                id.to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_relays_see_one_order_one_gift_and_one_like_total() {
    let db = TempDb::new();
    let a = start(&db, "relay-a", None, None).await;
    let b = start(&db, "relay-b", None, Some(a.addr)).await;
    let a_sender = View::join(&a, "ua", None).await;
    let b_sender = View::join(&b, "ub", None).await;
    let a_reader = View::join(&a, "ra", None).await;
    let b_reader = View::join(&b, "rb", None).await;

    let sending = [
        tokio::spawn(a_sender.chats("a", 500)),
        tokio::spawn(b_sender.chats("b", 500)),
    ];
    let readers = [a_reader, b_reader].map(|mut v| {
        tokio::spawn(async move {
            v.until(|v| v.chat_count() >= 1000).await;
            v
        })
    });
    let mut views = Vec::new();
    for task in sending.into_iter().chain(readers) {
        views.push(task.await.unwrap());
    }
    let last = views.iter().map(|v| v.last).max().unwrap();
    assert_eq!(last, 1000, "every chat sequenced once");
    let mut synced = Vec::new();
    for view in views {
        synced.push(view.reach(last).await);
    }
    let expected = order(&synced[0]);
    assert_eq!(expected.len(), 1000);
    for view in &synced[1..] {
        assert_eq!(order(view), expected, "one order on both relays");
    }

    // A gift through the mirror: charged once, retried with the same key, seen on both.
    let bearer = format!("Bearer {}", token("ub", ChatRole::Viewer, None));
    let auth = [("Authorization", bearer.as_str())];
    let (status, _) = b
        .http("POST", "/v1/wallet/topup", &auth, r#"{"amount":100}"#)
        .await;
    assert_eq!(status, 200);
    let gift = json!({"type": "gift", "gift_id": "heart", "count": 2, "idempotency_key": "g1"});
    let b_sender = &mut synced[1];
    let mut acks = Vec::new();
    for _ in 0..2 {
        b_sender.acks.clear();
        b_sender.send(gift.clone()).await;
        b_sender.until(|v| !v.acks.is_empty()).await;
        acks.push(b_sender.acks[0].clone());
    }
    assert_eq!(acks[0], acks[1], "a retry gets the first result");
    assert_eq!(
        (acks[0]["seq"].clone(), acks[0]["balance"].clone()),
        (json!(1001), json!(90))
    );
    let (_, wallet) = b.http("GET", "/v1/wallet", &auth, "").await;
    assert_eq!(wallet["balance"], 90, "charged once");

    // Likes from both sides: one exact total everywhere.
    for _ in 0..10 {
        synced[0].send(json!({"type": "like", "count": 3})).await;
        synced[1].send(json!({"type": "like", "count": 2})).await;
    }
    synced[0]
        .send(json!({"type": "chat", "text": "end", "client_id": "end"}))
        .await;
    for view in &mut synced {
        view.until(|v| v.likes == 50 && v.last >= 1002).await;
        let gifts = view.events.iter().filter(|e| e["type"] == "gift").count();
        assert_eq!(gifts, 1, "the gift is broadcast once");
    }
    let expected = order(&synced[0]);
    assert!(synced.iter().all(|v| order(v) == expected));
    let metrics = b.metrics().await;
    assert!(
        metrics.contains("livecdn_chat_federation_links{direction=\"out\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("livecdn_chat_federation_forwarded_total{direction=\"out\"}"));
    for view in synced {
        drop(view);
    }
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_resume_across_restarts_of_either_relay() {
    let db = TempDb::new();
    let a = start(&db, "relay-a", None, None).await;
    let b = start(&db, "relay-b", None, Some(a.addr)).await;
    let a1 = View::join(&a, "a1", None).await;
    let b1 = View::join(&b, "b1", None).await;
    let a1 = a1.chats("a", 50).await;
    let b1 = b1.reach(50).await;

    // The mirror relay restarts; its clients come back with `since` and get exactly the
    // events sent meanwhile.
    let since = b1.last;
    drop(b1);
    b.stop().await;
    let a1 = a1.chats("a-while-b-down", 30).await.reach(80).await;
    let b = start(&db, "relay-b", None, Some(a.addr)).await;
    let b1 = View::join(&b, "b1", Some(since)).await;
    assert_eq!(b1.events.len(), 30, "exactly the missed events");
    assert_eq!(order(&b1)[..], order(&a1)[50..]);

    // The home restarts on the same address: the link redials and re-subscribes from the
    // mirror's last seq; the mirror's client stays connected and misses nothing.
    let (a_addr, since) = (a.addr, a1.last);
    drop(a1);
    a.stop().await;
    let a = start(&db, "relay-a", Some(a_addr), None).await;
    let a1 = View::join(&a, "a1", Some(since)).await;
    let a1 = a1.chats("a-after-restart", 20).await.reach(100).await;
    let b1 = b1.reach(100).await;
    assert_eq!(a1.last, 100, "seqs continue after the home's restart");
    assert_eq!(
        order(&b1)[30..],
        order(&a1)[..],
        "the mirror's client saw it all"
    );
    drop((a1, b1));
    b.stop().await;
    a.stop().await;
}
