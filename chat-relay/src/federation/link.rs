//! The mirror side of federation: one outgoing link per peer home relay, multiplexing rooms.
//!
//! The link task dials `ws://home/federation` or `wss://…` (bearer node token), exchanges `hello`, then
//! moves frames: rooms' `subscribe`/`likes_delta`/`viewer_count`/`forward` out, the home's
//! room frames to the room's queue, `reply` to the forward's waiter. Reading and writing run
//! in two tasks, so a link never stops reading because its socket is full. A lost link is
//! redialed with backoff (100 ms doubling to `federation.reconnect_backoff_max`); each room
//! hears `Down` then `Up` and re-subscribes from its mirror's `after_seq`.
//!
//! **Invariant:** every forward gets exactly one answer: the home's reply, or `unavailable`
//! when the link is down, drops, or the reply is later than `federation.forward_timeout`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_proto::{ChatClaims, ClientFrame, ErrorCode, FederationFrame, ServerFrame};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tracing::Instrument as _;

use super::Federation;
use crate::room::error_frame;

mod dial;
mod route;

use dial::{Socket, dial, text};

const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
/// How often forwards are checked for their deadline.
const TICK: Duration = Duration::from_millis(250);
const PING_INTERVAL: Duration = Duration::from_secs(2);
/// A link that heard nothing (not even a pong) for this long is dead.
const SILENT_LIMIT: Duration = Duration::from_secs(6);
/// Frames queued for the socket writer before the link waits.
const OUT_QUEUE: usize = 4096;

type Reply = oneshot::Sender<Option<ServerFrame>>;

/// What a link tells a room attached to it.
#[derive(Debug)]
pub(crate) enum LinkEvent {
    /// Connected (again): subscribe.
    Up,
    /// The link dropped; it is being redialed.
    Down,
    /// A frame of this room from the home.
    Frame(FederationFrame),
}

#[derive(Debug)]
enum LinkCommand {
    Attach {
        room: String,
        events: mpsc::Sender<LinkEvent>,
    },
    Detach {
        room: String,
    },
    Send(FederationFrame),
    Forward {
        room: String,
        claims: ChatClaims,
        frame: ClientFrame,
        reply: Reply,
    },
}

/// A room's way to its link.
#[derive(Debug, Clone)]
pub(crate) struct LinkHandle {
    /// The home relay's id.
    pub(crate) peer: String,
    id: u64,
    commands: mpsc::UnboundedSender<LinkCommand>,
}

impl LinkHandle {
    pub(super) fn attach(&self, room: &str, events: mpsc::Sender<LinkEvent>) {
        let _ = self.commands.send(LinkCommand::Attach {
            room: room.to_owned(),
            events,
        });
    }

    /// Stops routing `room`'s frames (send `unsubscribe` first).
    pub(crate) fn detach(&self, room: &str) {
        let _ = self.commands.send(LinkCommand::Detach {
            room: room.to_owned(),
        });
    }

    /// Sends `frame` if the link is up; dropped otherwise (subscriptions are re-sent on `Up`).
    pub(crate) fn send(&self, frame: FederationFrame) {
        let _ = self.commands.send(LinkCommand::Send(frame));
    }

    /// Forwards a client's frame; `reply` gets the home's answer or `unavailable`.
    pub(crate) fn forward(&self, room: &str, claims: ChatClaims, frame: ClientFrame, reply: Reply) {
        let command = LinkCommand::Forward {
            room: room.to_owned(),
            claims,
            frame,
            reply,
        };
        if let Err(mpsc::error::SendError(LinkCommand::Forward { frame, reply, .. })) =
            self.commands.send(command)
        {
            let _ = reply.send(Some(unavailable(&frame)));
        }
    }

    pub(super) fn is_closed(&self) -> bool {
        self.commands.is_closed()
    }
}

/// The `unavailable` answer to a forward that got no reply.
pub(crate) fn unavailable(frame: &ClientFrame) -> ServerFrame {
    let (client_id, key) = crate::session::ids(frame);
    let message = "the room's home relay is unreachable; retry";
    error_frame(ErrorCode::Unavailable, message, client_id, key, None)
}

/// Starts the link to `peer` at `url`.
pub(super) fn spawn(fed: Arc<Federation>, peer: String, url: String, id: u64) -> LinkHandle {
    let (commands, receiver) = mpsc::unbounded_channel();
    let handle = LinkHandle {
        peer: peer.clone(),
        id,
        commands,
    };
    let span = tracing::info_span!("federation_link", %peer);
    let link = Link {
        fed,
        peer,
        url,
        id,
        commands: receiver,
        rooms: HashMap::new(),
        pending: HashMap::new(),
    };
    tokio::spawn(link.run().instrument(span));
    handle
}

struct Link {
    fed: Arc<Federation>,
    peer: String,
    url: String,
    id: u64,
    commands: mpsc::UnboundedReceiver<LinkCommand>,
    rooms: HashMap<String, mpsc::Sender<LinkEvent>>,
    pending: HashMap<u64, Pending>,
}

struct Pending {
    frame: ClientFrame,
    reply: Reply,
    deadline: Instant,
}

/// Why a connected link stopped.
enum Ended {
    Lost,
    Stop,
}

impl Link {
    async fn run(mut self) {
        let shutdown = self.fed.shutdown.clone();
        let mut backoff = INITIAL_BACKOFF;
        let mut attempt = Box::pin(dial(
            self.url.clone(),
            self.fed.clone(),
            self.peer.clone(),
            Duration::ZERO,
        ));
        loop {
            let socket = tokio::select! {
                () = shutdown.triggered() => return,
                dialed = &mut attempt => dialed,
                command = self.commands.recv() => {
                    match command {
                        Some(command) => self.handle_down(command),
                        None => return,
                    }
                    if self.rooms.is_empty() && self.retire() {
                        return;
                    }
                    continue;
                }
            };
            let socket = match socket {
                Ok(socket) => socket,
                Err(error) => {
                    tracing::debug!(%error, "federation link dial failed");
                    self.fed.metrics.dial_failed(error.reason());
                    backoff = (backoff * 2).min(self.fed.config.reconnect_backoff_max);
                    let again = dial(
                        self.url.clone(),
                        self.fed.clone(),
                        self.peer.clone(),
                        backoff,
                    );
                    attempt = Box::pin(again);
                    continue;
                }
            };
            tracing::info!("federation link up");
            backoff = INITIAL_BACKOFF;
            self.fed.metrics.link_up("out", true);
            let ended = self.serve(socket).await;
            self.fed.metrics.link_up("out", false);
            for (_, pending) in self.pending.drain() {
                self.fed.metrics.failed("link_down");
                let _ = pending.reply.send(Some(unavailable(&pending.frame)));
            }
            for events in self.rooms.values() {
                let _ = events.send(LinkEvent::Down).await;
            }
            if matches!(ended, Ended::Stop) || (self.rooms.is_empty() && self.retire()) {
                return;
            }
            tracing::warn!("federation link lost; redialing");
            self.fed.metrics.reconnects.inc();
            attempt = Box::pin(dial(
                self.url.clone(),
                self.fed.clone(),
                self.peer.clone(),
                backoff,
            ));
        }
    }

    async fn serve(&mut self, socket: Socket) -> Ended {
        let (mut sink, mut stream) = socket.split();
        let (out, mut queue) = mpsc::channel::<Message>(OUT_QUEUE);
        let writer = tokio::spawn(async move {
            while let Some(message) = queue.recv().await {
                if sink.send(message).await.is_err() {
                    break;
                }
            }
        });
        for events in self.rooms.values() {
            let _ = events.send(LinkEvent::Up).await;
        }
        let shutdown = self.fed.shutdown.clone();
        let mut tick = tokio::time::interval(TICK);
        let (mut heard, mut pinged) = (node::clock::now(), node::clock::now());
        let ended = loop {
            tokio::select! {
                () = shutdown.triggered() => break Ended::Stop,
                command = self.commands.recv() => {
                    let Some(command) = command else { break Ended::Stop };
                    if !self.handle_up(command, &out).await {
                        break Ended::Lost;
                    }
                    if self.rooms.is_empty() && self.retire() {
                        break Ended::Stop;
                    }
                }
                message = stream.next() => {
                    heard = node::clock::now();
                    match message {
                        Some(Ok(Message::Text(text))) => {
                            if let Err(error) = self.dispatch(text.as_bytes()).await {
                                tracing::warn!(%error, "federation link: bad frame from the home");
                                break Ended::Lost;
                            }
                        }
                        Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                        Some(Ok(Message::Binary(_) | Message::Close(_)) | Err(_)) | None => {
                            break Ended::Lost;
                        }
                    }
                }
                _ = tick.tick() => {
                    let now = node::clock::now();
                    if now.saturating_duration_since(heard) > SILENT_LIMIT {
                        break Ended::Lost;
                    }
                    if now.saturating_duration_since(pinged) >= PING_INTERVAL {
                        pinged = now;
                        let _ = out.try_send(Message::Ping(Default::default()));
                    }
                    self.expire(now);
                }
            }
        };
        drop(out);
        writer.abort();
        ended
    }
}
