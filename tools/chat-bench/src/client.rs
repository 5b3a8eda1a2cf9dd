//! Connecting clients: tokens signed with the relay's secret, the WebSocket handshake, the
//! `welcome` check, and a ramp that opens many connections at a controlled rate.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use chat_proto::token::{self, ChatClaims, ChatRole};
use futures_util::StreamExt as _;
use futures_util::future::BoxFuture;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::latency::Summary;

/// One client's WebSocket.
pub(crate) type Ws = WebSocketStream<TcpStream>;

/// Frames start with their `"type"`: the relay encodes it first, and the peer echoes what the
/// generator sends (which also starts with it).
pub(crate) const CHAT: &str = r#"{"type":"chat""#;
pub(crate) const WELCOME: &str = r#"{"type":"welcome""#;
pub(crate) const ACK: &str = r#"{"type":"ack""#;
pub(crate) const ERROR: &str = r#"{"type":"error""#;

/// The read buffer of each client connection (tungstenite's default, 128 KiB, would cost the
/// generator over 1 GiB at 10 000 connections).
const READ_BUFFER: usize = 4096;
/// Expiry of the bench's tokens (2100-01-01): they are signed with a throwaway secret, and a
/// fixed far expiry keeps the generator from reading the wall clock.
pub(crate) const TOKEN_EXP: i64 = 4_102_444_800;

/// What kind of server the generator talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ServerKind {
    /// The livecdn chat relay: `/ws?room=R&token=T`, answers with a `welcome`, sequences chats.
    Relay,
    /// The plain broadcast server (`tools/bench/ws-peer`): sends `{"type":"welcome"}` on
    /// connect and broadcasts every text message to every client as is.
    Peer,
}

impl ServerKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Relay => "relay",
            Self::Peer => "peer",
        }
    }
}

/// The server under test.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) kind: ServerKind,
    /// `host:port`.
    pub(crate) addr: String,
    /// `ws://host:port/path`.
    url: String,
    secret: Vec<u8>,
}

impl Target {
    pub(crate) fn new(url: &str, kind: ServerKind, secret: &str) -> anyhow::Result<Self> {
        let rest = url
            .strip_prefix("ws://")
            .context("the generator speaks plain ws:// only")?;
        let addr = rest.split('/').next().unwrap_or_default();
        if addr.is_empty() {
            bail!("no host:port in {url}");
        }
        Ok(Self {
            kind,
            addr: addr.to_owned(),
            url: url.to_owned(),
            secret: secret.as_bytes().to_vec(),
        })
    }

    /// A viewer token for `user_id` in `room`.
    pub(crate) fn token(&self, user_id: &str, room: &str) -> String {
        let claims = ChatClaims {
            user_id: user_id.to_owned(),
            name: user_id.to_owned(),
            role: ChatRole::Viewer,
            room: Some(room.to_owned()),
            exp: TOKEN_EXP,
        };
        token::sign(&claims, &self.secret)
    }

    fn connect_url(&self, user_id: &str, room: &str) -> String {
        match self.kind {
            ServerKind::Relay => {
                let token = self.token(user_id, room);
                format!("{}?room={room}&token={token}", self.url)
            }
            ServerKind::Peer => format!("{}?room={room}", self.url),
        }
    }

    /// Connects `user_id` to `room` and reads the first frame, which must be a `welcome`.
    pub(crate) async fn join(&self, user_id: &str, room: &str) -> anyhow::Result<Ws> {
        let stream = TcpStream::connect(&self.addr).await?;
        stream.set_nodelay(true)?;
        let config = WebSocketConfig::default()
            .read_buffer_size(READ_BUFFER)
            .write_buffer_size(0)
            .max_message_size(Some(1 << 20))
            .max_frame_size(Some(1 << 20));
        let url = self.connect_url(user_id, room);
        let (mut ws, _) =
            tokio_tungstenite::client_async_with_config(url, stream, Some(config)).await?;
        match ws.next().await {
            Some(Ok(Message::Text(text))) if text.starts_with(WELCOME) => Ok(ws),
            Some(Ok(Message::Close(frame))) => bail!("closed before the welcome: {frame:?}"),
            Some(Ok(Message::Text(text))) => {
                let head: String = text.chars().take(60).collect();
                bail!("the first frame is not a welcome: {head}")
            }
            Some(Ok(_)) => bail!("the first frame is not a text welcome"),
            Some(Err(error)) => Err(error.into()),
            None => bail!("the connection ended before the welcome"),
        }
    }
}

/// What a client does once it has its welcome.
pub(crate) type Body = Box<dyn FnOnce(Ws) -> BoxFuture<'static, ()> + Send>;

/// One client of a ramp.
pub(crate) struct Client {
    pub(crate) user: String,
    pub(crate) room: String,
    pub(crate) body: Body,
}

/// How a ramp went.
pub(crate) struct Ramp {
    /// Every client's task (aborting it drops its connection).
    pub(crate) handles: Vec<JoinHandle<()>>,
    pub(crate) ok: usize,
    pub(crate) failed: usize,
    /// Failures by message (the first few kinds).
    pub(crate) errors: BTreeMap<String, usize>,
    /// From the first connect to the last welcome.
    pub(crate) elapsed_s: f64,
    /// Connect-to-welcome time of each client (includes the generator's own queueing).
    pub(crate) join: Summary,
}

impl Ramp {
    /// Aborts every client (their connections close) and waits briefly for the tasks to go.
    pub(crate) async fn close(self) {
        for handle in &self.handles {
            handle.abort();
        }
        let all = async {
            for handle in self.handles {
                let _ = handle.await;
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(10), all).await;
    }

    /// One line for stderr.
    pub(crate) fn describe(&self) -> String {
        let mut line = format!(
            "connected {}/{} in {:.1} s (connect-to-welcome p50 {:.1} ms, p99 {:.1} ms)",
            self.ok,
            self.ok + self.failed,
            self.elapsed_s,
            self.join.p50_ms,
            self.join.p99_ms
        );
        for (error, count) in &self.errors {
            line.push_str(&format!("; {count} failed: {error}"));
        }
        line
    }
}

/// Opens `count` clients at `rate` per second (each connect, handshake and welcome check in its
/// own task, at most `join_timeout` each) and waits until every one has its welcome or failed.
pub(crate) async fn ramp(
    target: &Arc<Target>,
    count: usize,
    rate: f64,
    join_timeout: Duration,
    mut client: impl FnMut(usize) -> Client,
) -> Ramp {
    let (tx, mut rx) = mpsc::unbounded_channel::<Result<u32, String>>();
    let started = crate::now();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(1.0)));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut handles = Vec::with_capacity(count);
    for i in 0..count {
        ticker.tick().await;
        let Client { user, room, body } = client(i);
        let (target, tx) = (target.clone(), tx.clone());
        handles.push(tokio::spawn(async move {
            let begun = crate::now();
            let joined = tokio::time::timeout(join_timeout, target.join(&user, &room)).await;
            let ws = match joined {
                Ok(Ok(ws)) => ws,
                Ok(Err(error)) => {
                    let _ = tx.send(Err(error.to_string()));
                    return;
                }
                Err(_) => {
                    let _ = tx.send(Err("no welcome within the join timeout".to_owned()));
                    return;
                }
            };
            let us = u32::try_from(begun.elapsed().as_micros()).unwrap_or(u32::MAX);
            let _ = tx.send(Ok(us));
            body(ws).await;
        }));
    }
    drop(tx);
    let (mut ok, mut failed, mut errors, mut join_us) = (0, 0, BTreeMap::new(), Vec::new());
    // Every client reports within `join_timeout` of its start; the margin covers a generator
    // falling behind its own schedule.
    let deadline = tokio::time::sleep(join_timeout + Duration::from_secs(5));
    tokio::pin!(deadline);
    while ok + failed < count {
        tokio::select! {
            report = rx.recv() => match report {
                Some(Ok(us)) => {
                    ok += 1;
                    join_us.push(us);
                }
                Some(Err(error)) => {
                    failed += 1;
                    if errors.len() < 5 || errors.contains_key(&error) {
                        *errors.entry(error).or_insert(0) += 1;
                    }
                }
                None => break,
            },
            () = &mut deadline => {
                let missing = count - ok - failed;
                failed += missing;
                errors.insert("no report before the ramp deadline".to_owned(), missing);
                break;
            }
        }
    }
    Ramp {
        handles,
        ok,
        failed,
        errors,
        elapsed_s: started.elapsed().as_secs_f64(),
        join: Summary::of(join_us),
    }
}

/// Reads and discards frames until the connection ends; counts the end in `ended`.
pub(crate) async fn drain(mut ws: Ws, ended: Arc<std::sync::atomic::AtomicU64>) {
    while let Some(message) = ws.next().await {
        if message.is_err() {
            break;
        }
    }
    ended.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}
