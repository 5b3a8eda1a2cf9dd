//! Chat federation with real processes: a control plane and two chat relays (regions eu and
//! us) over one SQLite file. The room's home is the first asking relay's region (no origin);
//! clients get relay URLs and guest tokens from `GET /v1/chat/{room}?region=R`. 10 000
//! messages sent concurrently from both regions reach every client in one identical order; a
//! client connection dropped mid-stream resumes with `since`; the non-home relay killed with
//! SIGKILL and restarted: its clients reconnect and resume exactly.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use support::{Process, free_port, get_when_up};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const ADMIN: &str = "admin-secret";
const NODE: &str = "node-secret";
const ROOM: &str = "show";
/// Longest wait for any one frame or state.
const WAIT: Duration = Duration::from_secs(20);
/// Chats a sender keeps unacknowledged (a relay session reads at most 16 ahead).
const WINDOW: usize = 16;

struct Relay {
    process: Process,
    port: u16,
    config: std::path::PathBuf,
}

impl Relay {
    async fn start(
        dir: &std::path::Path,
        id: &str,
        region: &str,
        cp: u16,
        port: Option<u16>,
    ) -> Self {
        let port = port.unwrap_or_else(free_port);
        let config = dir.join(format!("{id}.toml"));
        std::fs::write(
            &config,
            format!(
                "[node]\nid = \"{id}\"\nregion = \"{region}\"\n\
                 [http]\nlisten = \"127.0.0.1:{port}\"\n\
                 [chat]\ntoken_secret = \"chat-secret\"\n\
                 history_len = 20000\nfanout_buffer = 20000\n\
                 user_rate = 100000\nuser_burst = 100000\n\
                 connection_rate = 100000\nconnection_burst = 100000\n\
                 [database]\nurl = \"sqlite://{}/chat.db\"\n\
                 [control]\nurl = \"http://127.0.0.1:{cp}\"\ntoken = \"{NODE}\"\n\
                 [shutdown]\ndrain_deadline = \"1s\"\n",
                dir.display()
            ),
        )
        .unwrap();
        let relay = Self {
            process: Process::start(&["chat-relay", "--config", config.to_str().unwrap()], &[]),
            port,
            config,
        };
        get_when_up(
            &reqwest::Client::new(),
            &format!("http://127.0.0.1:{port}/readyz"),
        )
        .await;
        relay
    }

    fn restart(&mut self) {
        self.process.signal(nix::sys::signal::Signal::SIGKILL);
        assert!(self.process.wait_timeout(WAIT).is_some(), "the relay died");
        self.process = Process::start(
            &["chat-relay", "--config", self.config.to_str().unwrap()],
            &[],
        );
    }
}

async fn get(url: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    match request.send().await {
        Ok(response) => (
            response.status().as_u16(),
            response.json().await.unwrap_or(Value::Null),
        ),
        Err(_) => (0, Value::Null),
    }
}

/// Polls `check` every 100 ms until it holds; panics after [`WAIT`].
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..(WAIT.as_millis() / 100) {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} within {WAIT:?}");
}

/// One chatter: its URL and token from the control plane, and every event it saw, in order.
struct View {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    url: String,
    events: Vec<(u64, String)>,
    last: u64,
    acks: usize,
}

impl View {
    async fn join(cp: u16, region: &str, name: &str) -> Self {
        let (status, chat) = get(
            &format!("http://127.0.0.1:{cp}/v1/chat/{ROOM}?region={region}&name={name}"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{chat}");
        assert_eq!(chat["region"], region, "{chat}");
        let url = format!(
            "{}?room={ROOM}&token={}",
            chat["ws_url"].as_str().unwrap(),
            chat["token"].as_str().unwrap()
        );
        Self::connect(url, None).await.expect("joined")
    }

    /// Connects to `url`, resuming after `since`; `None` if the relay refused or closed.
    async fn connect(url: String, since: Option<u64>) -> Option<Self> {
        let full = since.map_or(url.clone(), |s| format!("{url}&since={s}"));
        let (ws, _) = tokio_tungstenite::connect_async(full).await.ok()?;
        let mut view = Self {
            ws,
            url,
            events: Vec::new(),
            last: since.unwrap_or(0),
            acks: 0,
        };
        let welcome = view.frame().await?;
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        match since {
            Some(_) => view.apply(&welcome),
            None => view.last = welcome["last_seq"].as_u64().unwrap(),
        }
        Some(view)
    }

    async fn frame(&mut self) -> Option<Value> {
        loop {
            match tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a frame in time")?
            {
                Ok(Message::Text(text)) => {
                    return Some(serde_json::from_str(text.as_str()).unwrap());
                }
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    fn apply(&mut self, frame: &Value) {
        match frame["type"].as_str().unwrap_or_default() {
            "chat" | "gift" | "system" => self.push(frame),
            "welcome" => {
                assert_eq!(
                    frame["resumed"], true,
                    "resume must be exact: {}",
                    frame["last_seq"]
                );
                frame["history"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .for_each(|e| self.push(e));
            }
            "ack" => self.acks += 1,
            "error" => panic!("refused: {frame}"),
            _ => {}
        }
    }

    fn push(&mut self, event: &Value) {
        let seq = event["seq"].as_u64().unwrap();
        if seq > self.last {
            assert_eq!(seq, self.last + 1, "a gap before {event}");
            self.last = seq;
            self.events.push((
                seq,
                event["client_id"].as_str().unwrap_or_default().to_owned(),
            ));
        }
    }

    /// Reads until the view holds `seq`.
    async fn reach(mut self, seq: u64) -> Self {
        while self.last < seq {
            let frame = self.frame().await.expect("connection open");
            self.apply(&frame);
        }
        self
    }

    /// Sends `n` chats `prefix-i`, at most [`WINDOW`] unacknowledged, reading meanwhile.
    async fn chats(mut self, prefix: String, n: usize) -> Self {
        for start in (0..n).step_by(WINDOW) {
            let end = (start + WINDOW).min(n);
            for i in start..end {
                let id = format!("{prefix}-{i}");
                let chat = json!({"type": "chat", "text": id, "client_id": id}).to_string();
                self.ws.send(Message::text(chat)).await.unwrap();
            }
            let want = self.acks + (end - start);
            while self.acks < want {
                let frame = self.frame().await.expect("connection open");
                self.apply(&frame);
            }
        }
        self
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_room_one_order_across_two_regions() {
    let dir = tempfile::tempdir().unwrap();
    let cp_port = free_port();
    let cp_config = dir.path().join("cp.toml");
    std::fs::write(
        &cp_config,
        format!(
            "[http]\nlisten = \"127.0.0.1:{cp_port}\"\n[database]\nurl = \"sqlite://{}/cp.db\"\n\
             [auth]\nadmin_tokens = [\"{ADMIN}\"]\nnode_tokens = [\"{NODE}\"]\n\
             [chat]\ntoken_secret = \"chat-secret\"\nguest_tokens = true\n\
             [[routing.distances]]\na = \"eu\"\nb = \"us\"\ndistance = 100\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let _cp = Process::start(
        &["control-plane", "--config", cp_config.to_str().unwrap()],
        &[],
    );
    get_when_up(
        &reqwest::Client::new(),
        &format!("http://127.0.0.1:{cp_port}/readyz"),
    )
    .await;
    let _eu = Relay::start(dir.path(), "relay-eu", "eu", cp_port, None).await;
    let mut us = Relay::start(dir.path(), "relay-us", "us", cp_port, None).await;
    for region in ["eu", "us"] {
        let url = format!("http://127.0.0.1:{cp_port}/v1/chat/{ROOM}?region={region}");
        eventually("both relays registered", || async {
            get(&url, None).await.1["relay"] == format!("relay-{region}")
        })
        .await;
    }

    // The first eu client makes eu the room's home; both relays then agree on it.
    let mut views = vec![View::join(cp_port, "eu", "e0").await];
    let home = format!("http://127.0.0.1:{cp_port}/v1/rooms/{ROOM}/home?relay=relay-us");
    assert_eq!(get(&home, Some(NODE)).await.1["relay_id"], "relay-eu");
    for (region, name) in [("eu", "e1"), ("us", "u0"), ("us", "u1")] {
        views.push(View::join(cp_port, region, name).await);
    }
    let mut watcher = View::join(cp_port, "us", "w").await;

    // 4 × 2500 chats at once; a watcher loses its connection mid-stream and resumes.
    let senders: Vec<_> = views
        .into_iter()
        .enumerate()
        .map(|(i, view)| tokio::spawn(view.chats(format!("c{i}"), 2500)))
        .collect();
    while watcher.last < 3000 {
        let frame = watcher.frame().await.expect("open");
        watcher.apply(&frame);
    }
    let (url, last, mut seen) = (
        watcher.url.clone(),
        watcher.last,
        std::mem::take(&mut watcher.events),
    );
    drop(watcher); // like a killed client: no close frame
    let mut watcher = View::connect(url, Some(last))
        .await
        .expect("resumed")
        .reach(10_000)
        .await;
    seen.append(&mut watcher.events);
    let mut views = Vec::new();
    for sender in senders {
        views.push(sender.await.unwrap().reach(10_000).await);
    }
    assert_eq!(
        seen.len(),
        10_000,
        "nothing lost or duplicated across the resume"
    );
    for view in &views {
        assert_eq!(view.events, seen, "one order for every client");
    }

    // The non-home relay dies (SIGKILL) and restarts on its port; eu keeps chatting
    // meanwhile; us clients come back with `since` and get exactly what they missed.
    us.restart();
    let eu0 = views
        .remove(0)
        .chats("while-us-down".into(), 100)
        .await
        .reach(10_100)
        .await;
    get_when_up(
        &reqwest::Client::new(),
        &format!("http://127.0.0.1:{}/readyz", us.port),
    )
    .await;
    let mut back = Vec::new();
    for view in views.drain(1..) {
        let (url, since) = (view.url.clone(), view.last);
        drop(view);
        let mut resumed = None;
        for _ in 0..(WAIT.as_millis() / 200) {
            resumed = View::connect(url.clone(), Some(since)).await;
            if resumed.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let view = resumed
            .expect("a us client resumed in time")
            .reach(10_100)
            .await;
        assert_eq!(
            view.events[..],
            eu0.events[eu0.events.len() - 100..],
            "exactly the missed events"
        );
        back.push(view);
    }
    let metrics = reqwest::get(format!("http://127.0.0.1:{}/metrics", us.port))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("livecdn_chat_federation_links{direction=\"out\"} 1"),
        "{metrics}"
    );
}
