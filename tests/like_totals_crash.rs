//! Issue 7: a room's like total survives its home relay being killed (SIGKILL) and restarted,
//! on SQLite and on PostgreSQL (`docs/chat-protocol.md` §7.1).
//!
//! One standalone relay (the home of every room), one room. Four senders send likes as fast as
//! they can while a watcher records every `likes` total it is shown; once it has been shown a
//! few thousand the relay is killed mid-stream and restarted on the same database. Then:
//!
//! - the restored total (`GET /v1/rooms`, `likes_total`) is at least every total shown before
//!   the kill (a total clients saw never goes backwards) and at most the likes sent;
//! - likes sent after the restart continue from it exactly: the watcher ends on
//!   `restored + sent since`, and no total it is shown is below `restored`;
//! - after a clean stop (SIGTERM) and another start, the total is that final one.
//!
//! Counts are printed; timing is neither printed nor asserted.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use chat_proto::token::{ChatClaims, ChatRole};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use support::{Process, free_port, get_when_up};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const SECRET: &str = "like-total-secret";
const ROOM: &str = "cheers";
const SENDERS: usize = 4;
/// The watcher must have been shown at least this total before the kill.
const SHOWN_BEFORE_KILL: u64 = 3_000;
/// Like frames each sender sends after the restart (counts 1..=100).
const FRAMES_AFTER: u64 = 200;
/// Longest wait for one thing (a frame, the relay coming up, a total arriving).
const WAIT: Duration = Duration::from_secs(30);
/// Token expiry far ahead (2100-01-01), so the test reads no wall clock.
const TOKEN_EXP: i64 = 4_102_444_800;

/// The two databases run one after the other.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn like_totals_survive_a_killed_relay_on_sqlite() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/chat.db", dir.path().display());
    likes_through_a_crash("sqlite", &url, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn like_totals_survive_a_killed_relay_on_postgresql() {
    let _serial = SERIAL.lock().await;
    let Some(pg) = support::postgres().await else {
        return;
    };
    let url = pg.create_database("like_totals_crash").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    likes_through_a_crash("postgresql", &url, dir.path()).await;
}

async fn likes_through_a_crash(db: &str, url: &str, dir: &Path) {
    let mut relay = Relay::start(dir, url).await;

    // Before: senders flood, the watcher records what it is shown; kill mid-stream.
    let shown = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    let watcher = tokio::spawn(watch(relay.join("watcher").await, shown.clone()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    for i in 0..SENDERS {
        let socket = relay.join(&format!("sender{i}")).await;
        senders.push(tokio::spawn(flood(
            socket,
            sent.clone(),
            stop.clone(),
            i as u64,
        )));
    }
    tokio::time::timeout(WAIT, async {
        while shown.load(Ordering::Relaxed) < SHOWN_BEFORE_KILL {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{db}: fewer than {SHOWN_BEFORE_KILL} likes shown"));
    relay.kill_and_restart().await;
    stop.store(true, Ordering::Relaxed);
    for sender in senders {
        sender.await.unwrap();
    }
    watcher.await.expect("totals only grow on one connection");
    let (shown_before, sent_before) = (shown.load(Ordering::Relaxed), sent.load(Ordering::Relaxed));

    // After: the room reopens from the database at or above everything shown.
    let after = relay.join("watcher2").await;
    let restored = relay.likes_total().await;
    println!(
        "{db}: shown before the kill {shown_before}, sent before it {sent_before}, \
         restored {restored}"
    );
    assert!(
        restored >= shown_before,
        "{db}: a shown total went backwards: {shown_before} shown, {restored} restored"
    );
    assert!(
        restored <= sent_before,
        "{db}: {restored} restored but only {sent_before} likes sent"
    );

    let shown_after = Arc::new(AtomicU64::new(restored));
    let watcher = tokio::spawn(watch(after, shown_after.clone()));
    let mut expected = restored;
    let mut senders = Vec::new();
    for i in 0..SENDERS {
        let socket = relay.join(&format!("sender{i}")).await;
        let counts: Vec<u64> = (0..FRAMES_AFTER)
            .map(|n| 1 + (n * 37 + i as u64) % 100)
            .collect();
        expected += counts.iter().sum::<u64>();
        senders.push(tokio::spawn(send_likes(socket, counts)));
    }
    for sender in senders {
        sender.await.unwrap();
    }
    tokio::time::timeout(WAIT, async {
        while shown_after.load(Ordering::Relaxed) < expected {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "{db}: shown {} of the expected {expected}",
            shown_after.load(Ordering::Relaxed)
        )
    });
    assert_eq!(
        shown_after.load(Ordering::Relaxed),
        expected,
        "{db}: the total continues exactly from the restored one"
    );
    assert_eq!(relay.likes_total().await, expected);

    // A clean stop writes the last flush (and closes the watcher); the next start restores it.
    relay.stop();
    watcher.await.expect("totals only grow on one connection");
    relay.start_again().await;
    let _socket = relay.join("watcher3").await;
    assert_eq!(
        relay.likes_total().await,
        expected,
        "{db}: after a clean stop"
    );
    relay.stop();
}

/// Reads `likes` totals into `shown` (the highest so far) until the connection ends; panics if
/// one connection is ever shown a smaller total than before.
async fn watch(mut socket: Socket, shown: Arc<AtomicU64>) {
    let mut last = 0;
    while let Some(Ok(message)) = socket.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        let frame: Value = serde_json::from_str(text.as_str()).unwrap();
        if frame["type"] == "likes" {
            let total = frame["total"].as_u64().unwrap();
            assert!(total > last, "shown {total} after {last}");
            last = total;
            shown.fetch_max(total, Ordering::Relaxed);
        }
    }
}

/// Sends likes until `stop` or the connection fails, counting what it wrote into `sent`.
async fn flood(socket: Socket, sent: Arc<AtomicU64>, stop: Arc<AtomicBool>, seed: u64) {
    let (mut sink, mut stream) = socket.split();
    // Read (and drop) what the relay sends, so this client never lags.
    let reader = tokio::spawn(async move { while let Some(Ok(_)) = stream.next().await {} });
    let mut n = seed;
    while !stop.load(Ordering::Relaxed) {
        n = n
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let count = 1 + (n >> 33) % 100;
        let frame = json!({"type": "like", "count": count}).to_string();
        // Counted before the write: a frame the socket may have sent counts as sent.
        sent.fetch_add(count, Ordering::Relaxed);
        if sink.send(Message::text(frame)).await.is_err() {
            break;
        }
    }
    reader.abort();
}

/// Sends one like frame per count, then closes.
async fn send_likes(socket: Socket, counts: Vec<u64>) {
    let (mut sink, mut stream) = socket.split();
    let reader = tokio::spawn(async move { while let Some(Ok(_)) = stream.next().await {} });
    for count in counts {
        let frame = json!({"type": "like", "count": count}).to_string();
        sink.send(Message::text(frame)).await.expect("send a like");
    }
    // A close frame after the likes: the relay reads them all before it.
    let _ = sink.close().await;
    let _ = tokio::time::timeout(WAIT, reader).await;
}

struct Relay {
    process: Process,
    port: u16,
    config: PathBuf,
}

impl Relay {
    async fn start(dir: &Path, database: &str) -> Self {
        let port = free_port();
        let config = dir.join("relay.toml");
        std::fs::write(
            &config,
            format!(
                "[node]\nid = \"relay-likes\"\n\
                 [http]\nlisten = \"127.0.0.1:{port}\"\n\
                 [chat]\ntoken_secret = \"{SECRET}\"\nlike_interval = \"50ms\"\n\
                 fanout_buffer = 20000\n\
                 user_rate = 100000\nuser_burst = 100000\n\
                 connection_rate = 100000\nconnection_burst = 100000\n\
                 [database]\nurl = \"{database}\"\n\
                 [shutdown]\ndrain_deadline = \"5s\"\n"
            ),
        )
        .unwrap();
        let relay = Self {
            process: Self::spawn(&config),
            port,
            config,
        };
        relay.wait_ready().await;
        relay
    }

    fn spawn(config: &Path) -> Process {
        Process::start(&["chat-relay", "--config", config.to_str().unwrap()], &[])
    }

    async fn wait_ready(&self) {
        let url = format!("http://127.0.0.1:{}/readyz", self.port);
        let (status, body) = get_when_up(&reqwest::Client::new(), &url).await;
        assert_eq!(status, 200, "{body}\n{}", self.process.stderr());
    }

    /// Connects `user` to the room and reads its welcome.
    async fn join(&self, user: &str) -> Socket {
        let claims = ChatClaims {
            user_id: user.to_owned(),
            name: user.to_owned(),
            role: ChatRole::Viewer,
            room: Some(ROOM.to_owned()),
            exp: TOKEN_EXP,
        };
        let token = chat_proto::token::sign(&claims, SECRET.as_bytes());
        let url = format!("ws://127.0.0.1:{}/ws?room={ROOM}&token={token}", self.port);
        let (mut socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("upgrade");
        let welcome = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a welcome in time")
            .expect("open")
            .expect("frame");
        let welcome: Value = serde_json::from_str(welcome.to_text().unwrap()).unwrap();
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        socket
    }

    /// The room's `likes_total` in `GET /v1/rooms` (the room must be open: someone joined).
    async fn likes_total(&self) -> u64 {
        let url = format!("http://127.0.0.1:{}/v1/rooms", self.port);
        let body: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
        let room = body["rooms"]
            .as_array()
            .and_then(|rooms| rooms.iter().find(|r| r["name"] == ROOM))
            .unwrap_or_else(|| panic!("{ROOM} is not open: {body}"));
        assert_eq!(room["role"], "home", "{room}");
        room["likes_total"].as_u64().unwrap()
    }

    /// SIGKILL by PID, then the same config again; returns once the new process is ready.
    async fn kill_and_restart(&mut self) {
        self.process.signal(nix::sys::signal::Signal::SIGKILL);
        assert!(
            self.process.wait_timeout(WAIT).is_some(),
            "the relay outlived SIGKILL"
        );
        self.start_again().await;
    }

    async fn start_again(&mut self) {
        self.process = Self::spawn(&self.config);
        self.wait_ready().await;
    }

    /// SIGTERM: the relay drains (every room writes its last like total) and exits 0.
    fn stop(&mut self) {
        self.process.signal(nix::sys::signal::Signal::SIGTERM);
        let status = self.process.wait_timeout(WAIT).expect("the relay drained");
        assert!(status.success(), "{status}\n{}", self.process.stderr());
        support::assert_no_panic(&self.process.stderr());
    }
}
