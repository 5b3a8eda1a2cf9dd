//! A relay on 127.0.0.1:0 over a temporary SQLite file, WebSocket clients (tokio-tungstenite)
//! and a tiny HTTP/1.1 client, so the tests need no network beyond loopback.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use chat_proto::token::{self, ChatClaims, ChatRole};
use futures_util::{SinkExt as _, StreamExt as _};
use livecdn_chat_relay::config::GiftEntry;
use livecdn_chat_relay::{self as chat_relay, ChatRelayConfig};
use node::shutdown::Shutdown;
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub(crate) const SECRET: &str = "test-secret";
/// How long a test waits for any one frame.
const WAIT: Duration = Duration::from_secs(10);

/// A temporary database file, removed (with its WAL files) on drop.
pub(crate) struct TempDb(PathBuf);

impl TempDb {
    pub(crate) fn new() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "livecdn-chat-relay-test-{}-{}.db",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        let db = Self(path);
        db.remove();
        db
    }

    pub(crate) fn url(&self) -> String {
        format!("sqlite://{}", self.0.display())
    }

    fn remove(&self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        self.remove();
    }
}

/// A test config: generous rate limits, a small catalogue, demo top-ups on.
pub(crate) fn config(db: &TempDb) -> ChatRelayConfig {
    let mut config = ChatRelayConfig::default();
    config.http.listen = "127.0.0.1:0".parse().unwrap();
    config.chat.token_secret = node::redact::Redacted::new(SECRET.to_owned());
    let many = std::num::NonZeroU32::new(1000).unwrap();
    config.chat.user_rate = many;
    config.chat.user_burst = many;
    config.chat.connection_rate = many;
    config.chat.connection_burst = many;
    config.chat.like_interval = Duration::from_millis(50);
    config.database.url = node::redact::Redacted::new(db.url());
    config.gifts.demo_topup = true;
    config.gifts.catalog = [("rose", 1), ("heart", 5), ("rocket", 100)]
        .map(|(id, price)| GiftEntry {
            id: id.to_owned(),
            name: id.to_owned(),
            price,
            animation: String::new(),
        })
        .to_vec();
    config.shutdown.drain_deadline = Duration::from_secs(5);
    config
}

pub(crate) struct TestRelay {
    pub(crate) addr: SocketAddr,
    shutdown: Shutdown,
    task: tokio::task::JoinHandle<Result<(), node::role::RoleError>>,
}

impl TestRelay {
    pub(crate) async fn start(config: ChatRelayConfig) -> Self {
        Self::start_with(config, None).await
    }

    /// Starts a relay that finds rooms' homes through `lookup` (federation tests).
    pub(crate) async fn start_with(
        config: ChatRelayConfig,
        lookup: Option<std::sync::Arc<dyn livecdn_chat_relay::federation::HomeLookup>>,
    ) -> Self {
        let mut bound = chat_relay::bind(config).await.expect("relay binds");
        if let Some(lookup) = lookup {
            bound = bound.with_home_lookup(lookup);
        }
        let addr = bound.http_addr().unwrap();
        let shutdown = Shutdown::new();
        let task = tokio::spawn(bound.serve(shutdown.clone()));
        Self {
            addr,
            shutdown,
            task,
        }
    }

    /// Drains: WebSockets close with 1001, logs are flushed; returns once `serve` returned.
    pub(crate) async fn stop(self) {
        self.shutdown.trigger();
        tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("relay stops within the drain")
            .unwrap()
            .unwrap();
    }

    pub(crate) async fn connect(&self, query: &str) -> Client {
        let url = format!("ws://{}/ws?{query}", self.addr);
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("upgrade");
        Client { ws }
    }

    /// Connects `user` with `role` to `room` and reads the welcome.
    pub(crate) async fn join(&self, room: &str, user: &str, role: ChatRole) -> (Client, Value) {
        let mut client = self
            .connect(&format!(
                "room={room}&token={}",
                token(user, role, Some(room))
            ))
            .await;
        let welcome = client.next().await;
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        (client, welcome)
    }

    pub(crate) async fn http(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, Value) {
        let (status, text) = http(self.addr, method, path, headers, body).await;
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub(crate) async fn metrics(&self) -> String {
        http(self.addr, "GET", "/metrics", &[], "").await.1
    }
}

pub(crate) fn token(user: &str, role: ChatRole, room: Option<&str>) -> String {
    token_with(user, role, room, 4_000_000_000, SECRET)
}

pub(crate) fn token_with(
    user: &str,
    role: ChatRole,
    room: Option<&str>,
    exp: i64,
    secret: &str,
) -> String {
    let claims = ChatClaims {
        user_id: user.to_owned(),
        name: format!("{user}-name"),
        role,
        room: room.map(str::to_owned),
        exp,
    };
    token::sign(&claims, secret.as_bytes())
}

pub(crate) struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    /// The WebSocket, for tests that read and write concurrently.
    pub(crate) fn into_inner(self) -> WebSocketStream<MaybeTlsStream<TcpStream>> {
        self.ws
    }

    pub(crate) async fn send(&mut self, json: Value) {
        self.send_text(&json.to_string()).await;
    }

    pub(crate) async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.expect("send");
    }

    pub(crate) async fn send_binary(&mut self, bytes: Vec<u8>) {
        self.ws.send(Message::binary(bytes)).await.expect("send");
    }

    /// The next text frame as JSON; panics on close or after 10 s.
    pub(crate) async fn next(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a frame within 10 s")
                .expect("connection open")
                .expect("frame");
            match message {
                Message::Text(text) => return serde_json::from_str(text.as_str()).unwrap(),
                Message::Close(frame) => panic!("closed: {frame:?}"),
                _ => {}
            }
        }
    }

    /// The next frame of `kind`, skipping others (viewers, likes, …).
    pub(crate) async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.next().await;
            if frame["type"] == kind {
                return frame;
            }
        }
    }

    /// The next frame that is not a `viewers` or `likes` count.
    pub(crate) async fn next_message(&mut self) -> Value {
        loop {
            let frame = self.next().await;
            if frame["type"] != "viewers" && frame["type"] != "likes" {
                return frame;
            }
        }
    }

    /// Reads until the relay closes; returns the close code.
    pub(crate) async fn closed(&mut self) -> u16 {
        loop {
            let message = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("closed within 10 s");
            match message {
                Some(Ok(Message::Close(Some(frame)))) => return u16::from(frame.code),
                Some(Ok(Message::Close(None))) | None => return 1005,
                Some(Ok(_)) => {}
                Some(Err(error)) => panic!("connection failed instead of closing: {error}"),
            }
        }
    }
}

/// One HTTP/1.1 request with `Connection: close`; returns the status and the body.
pub(crate) async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

impl Client {
    /// The next text frame, or the close code if the relay closes first.
    pub(crate) async fn next_or_close(&mut self) -> Result<serde_json::Value, u16> {
        loop {
            let message = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a frame within 10 s");
            match message {
                Some(Ok(Message::Text(text))) => {
                    return Ok(serde_json::from_str(text.as_str()).unwrap());
                }
                Some(Ok(Message::Close(Some(frame)))) => return Err(u16::from(frame.code)),
                Some(Ok(Message::Close(None))) | None => return Err(1005),
                Some(Ok(_)) => {}
                Some(Err(error)) => panic!("connection failed instead of closing: {error}"),
            }
        }
    }
}
