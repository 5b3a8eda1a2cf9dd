//! The home side of federation: `GET /federation`, one task per accepted link.
//!
//! The reader handles frames in order: `subscribe` asks the room (opening it if needed) for
//! its catch-up and a receiver of its federation broadcast, and starts one forwarder task per
//! subscribed room that writes the catch-up, then every broadcast frame (encoded once by the
//! room for all links). `forward` goes to the room as a local client's frame would, after the
//! per-user rate limit; the room's answer comes back as `reply`. The writer is its own task
//! fed by a queue, so reading never waits for the socket. A link that ends unsubscribes its
//! rooms (their viewer counts from it are dropped).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chat_proto::FederationFrame;
use chat_proto::wire::{
    FEDERATION_VERSION, MAX_FEDERATION_FRAME_BYTES, decode_federation, encode_federation,
};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::Instrument as _;

use crate::Relay;
use crate::room::{Command, RoomHandle, Subscription};

mod forward;

/// The peer must say `hello` within this.
const HELLO_TIMEOUT: Duration = Duration::from_secs(5);
/// Frames queued for the socket writer before senders wait.
const OUT_QUEUE: usize = 4096;
/// A room that went away while being asked is asked again this many times.
const ROOM_ATTEMPTS: usize = 3;

/// The `/federation` handler: checks the bearer node token, then upgrades.
pub(crate) async fn upgrade(
    State(relay): State<Arc<Relay>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if relay.shutdown.is_triggered() {
        return (StatusCode::SERVICE_UNAVAILABLE, "draining").into_response();
    }
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !relay.federation.token_matches(presented) {
        relay.metrics.reject("federation_unauthorized");
        return (StatusCode::UNAUTHORIZED, "a node token is required").into_response();
    }
    let tracker = relay.sessions.clone();
    ws.max_message_size(MAX_FEDERATION_FRAME_BYTES)
        .max_frame_size(MAX_FEDERATION_FRAME_BYTES)
        .on_upgrade(move |socket| tracker.track_future(serve(socket, relay)))
}

async fn serve(socket: WebSocket, relay: Arc<Relay>) {
    let (mut sink, mut stream) = socket.split();
    let peer = match tokio::time::timeout(HELLO_TIMEOUT, stream.next()).await {
        Ok(Some(Ok(Message::Text(text)))) => match decode_federation(text.as_bytes()) {
            Ok(FederationFrame::Hello { relay_id, version }) if version == FEDERATION_VERSION => {
                relay_id
            }
            _ => return,
        },
        _ => return,
    };
    let fed = relay.federation.clone();
    let hello = FederationFrame::Hello {
        relay_id: fed.relay_id.clone(),
        version: FEDERATION_VERSION,
    };
    if sink.send(Message::Text(encode(&hello))).await.is_err() {
        return;
    }
    let (out, mut queue) = mpsc::channel::<Message>(OUT_QUEUE);
    let writer = tokio::spawn(async move {
        while let Some(message) = queue.recv().await {
            if sink.send(message).await.is_err() {
                break;
            }
        }
    });
    let mut link = ServedLink {
        id: fed.id(),
        relay: relay.clone(),
        out,
        rooms: HashMap::new(),
    };
    fed.metrics.link_up("in", true);
    let span = tracing::info_span!("federation_peer", %peer);
    async {
        tracing::info!("federation link accepted");
        let shutdown = relay.shutdown.clone();
        loop {
            let message = tokio::select! {
                () = shutdown.triggered() => break,
                message = stream.next() => message,
            };
            match message {
                Some(Ok(Message::Text(text))) => match decode_federation(text.as_bytes()) {
                    Ok(frame) => {
                        if !link.handle(frame).await {
                            tracing::warn!("federation link: unexpected or invalid frame; closing");
                            break;
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "federation link: bad frame; closing");
                        break;
                    }
                },
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                _ => break,
            }
        }
        tracing::info!("federation link closed");
        link.close().await;
    }
    .instrument(span)
    .await;
    fed.metrics.link_up("in", false);
    writer.abort();
}

struct ServedLink {
    id: u64,
    relay: Arc<Relay>,
    out: mpsc::Sender<Message>,
    rooms: HashMap<String, (RoomHandle, JoinHandle<()>)>,
}

impl ServedLink {
    /// Handles one frame; `false` closes the link (a frame a mirror never sends).
    async fn handle(&mut self, frame: FederationFrame) -> bool {
        match frame {
            FederationFrame::Subscribe { room, after_seq } => self.subscribe(room, after_seq).await,
            FederationFrame::Unsubscribe { room } => {
                if let Some((handle, forwarder)) = self.rooms.remove(&room) {
                    forwarder.abort();
                    handle.send(Command::Unsubscribe { link: self.id }).await;
                }
                true
            }
            FederationFrame::Forward {
                forward_id,
                room,
                claims,
                frame,
                ..
            } => {
                self.forward(forward_id, room, claims, frame).await;
                true
            }
            FederationFrame::LikesDelta { room, delta } => {
                if let Some((handle, _)) = self.rooms.get(&room) {
                    handle.send(Command::LikesDelta { delta }).await;
                }
                true
            }
            FederationFrame::ViewerCount { room, count } => {
                if let Some((handle, _)) = self.rooms.get(&room) {
                    handle
                        .send(Command::ViewerCount {
                            link: self.id,
                            count,
                        })
                        .await;
                }
                true
            }
            _ => false,
        }
    }

    async fn subscribe(&mut self, room: String, after_seq: Option<u64>) -> bool {
        if !hls::is_valid_stream_name(&room) {
            return false;
        }
        if let Some((_, forwarder)) = self.rooms.remove(&room) {
            forwarder.abort();
        }
        for _ in 0..ROOM_ATTEMPTS {
            let handle = self.relay.rooms.handle(&room);
            let (reply, answer) = oneshot::channel();
            let command = Command::Subscribe {
                link: self.id,
                after_seq,
                reply,
            };
            if !handle.send(command).await {
                continue;
            }
            match answer.await {
                Ok(Subscription::Home { first, events }) => {
                    let forwarder = tokio::spawn(forward_room(self.out.clone(), first, events));
                    self.rooms.insert(room, (handle, forwarder));
                    return true;
                }
                Ok(Subscription::NotHome) => break,
                Err(_) => continue,
            }
        }
        let not_home = FederationFrame::NotHome { room };
        self.out
            .send(Message::Text(encode(&not_home)))
            .await
            .is_ok()
    }

    async fn close(&mut self) {
        for (_, (handle, forwarder)) in self.rooms.drain() {
            forwarder.abort();
            handle.send(Command::Unsubscribe { link: self.id }).await;
        }
    }
}

/// Writes a room's catch-up, then its federation broadcast, to one link. A link that falls
/// behind the broadcast skips what it missed: the mirror sees the gap and catches up.
async fn forward_room(
    out: mpsc::Sender<Message>,
    first: Vec<Utf8Bytes>,
    mut events: tokio::sync::broadcast::Receiver<Utf8Bytes>,
) {
    for text in first {
        if out.send(Message::Text(text)).await.is_err() {
            return;
        }
    }
    loop {
        match events.recv().await {
            Ok(text) => {
                if out.send(Message::Text(text)).await.is_err() {
                    return;
                }
            }
            Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => return,
        }
    }
}

/// One federation frame as a text message.
pub(crate) fn encode(frame: &FederationFrame) -> Utf8Bytes {
    Utf8Bytes::try_from(encode_federation(frame)).unwrap_or_else(|_| Utf8Bytes::from_static("{}"))
}
