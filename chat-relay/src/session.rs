//! One WebSocket connection: a single task selecting over the socket, the room's broadcast and
//! the answers to its own commands (a `FuturesOrdered` of oneshots: its direct-reply channel).
//!
//! Slow consumers: a client that falls more than `chat.fanout_buffer` events behind its room
//! (the broadcast reports `Lagged`) is resynchronized once: events stop, the room sends a new
//! `welcome` resuming after the last seq the client got (exact if the history ring still
//! holds it, else `resumed: false`). A client lagging again within [`LAG_GRACE`], or whose
//! socket accepts nothing for [`SEND_TIMEOUT`], is closed (1008, or dropped): one slow phone
//! must cost the room nothing but its own buffer slot.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket};
use chat_proto::{ChatClaims, ClientFrame, ErrorCode, ServerFrame, decode_client, encode_server};
use futures_util::SinkExt as _;
use futures_util::stream::{FuturesOrdered, StreamExt as _};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::{broadcast, oneshot};
use tokio_tungstenite::tungstenite;
use tracing::Instrument as _;

use crate::Relay;
use crate::metrics::{KindLabels, ReasonLabels};
use crate::rate::{ConnectionLimits, Verdict};
use crate::room::{Command, Fanout, Joined, Member, RoomHandle, error_frame};
use crate::ws::{self, Admitted};

/// Frames awaiting the room's answer before the session stops reading the socket.
const MAX_IN_FLIGHT: usize = 16;
/// A socket that accepts nothing for this long is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// A second lag within this closes the connection instead of resynchronizing it.
const LAG_GRACE: Duration = Duration::from_secs(30);
/// Every this many broadcast frames per connection, the fan-out delay is observed (an
/// observation per frame per client would contend on one histogram).
const DELAY_SAMPLE: u64 = 16;
/// Most queued room events written to one session in one flush.
const MAX_WRITE_BATCH: usize = 64;

type Waiting = Pin<Box<dyn Future<Output = Answer> + Send>>;

enum Answer {
    Frame(Option<ServerFrame>),
    Welcome(Joined),
    Gone,
}

/// Why the loop ends: close with a code, or just drop (the peer is gone).
enum Stop {
    Close(u16, &'static str),
    Drop,
}

type Step = Result<(), Stop>;

struct Session {
    socket: WebSocket,
    relay: Arc<Relay>,
    room: RoomHandle,
    _member: Member,
    claims: ChatClaims,
    read_only: bool,
    limits: ConnectionLimits,
    events: broadcast::Receiver<Fanout>,
    /// The last seq this client got: the resume point after a lag.
    last_seq: u64,
    /// A welcome is on its way: events are not read meanwhile, so none is sent twice.
    resyncing: bool,
    waiting: FuturesOrdered<Waiting>,
    last_lag: Option<Instant>,
    broadcasts_sent: u64,
    last_heard: Instant,
}

/// Serves one admitted connection until it closes or the relay drains.
pub(crate) async fn run(mut socket: WebSocket, relay: Arc<Relay>, admitted: Admitted) {
    let span = tracing::debug_span!("session", room = %admitted.room);
    async move {
        let Admitted {
            room,
            claims,
            read_only,
            since,
        } = admitted;
        let (room, member) = relay.rooms.join(&room);
        let (reply, answer) = oneshot::channel();
        let command = Command::Welcome {
            claims: claims.clone(),
            since,
            reply,
        };
        let joined = match room.send(command).await {
            true => answer.await.ok(),
            false => None,
        };
        let Some(joined) = joined else {
            let code = if relay.shutdown.is_triggered() {
                ws::GOING_AWAY
            } else {
                ws::INTERNAL
            };
            ws::close(&mut socket, &relay, code, "room unavailable").await;
            return;
        };
        let chat = &relay.chat;
        let limits = ConnectionLimits::new(
            chat.connection_rate,
            chat.connection_burst,
            chat.flood_strikes,
        );
        let mut session = Session {
            socket,
            events: joined.events.resubscribe(),
            relay: relay.clone(),
            room,
            _member: member,
            claims,
            read_only,
            limits,
            last_seq: 0,
            resyncing: false,
            waiting: FuturesOrdered::new(),
            last_lag: None,
            broadcasts_sent: 0,
            last_heard: node::clock::now(),
        };
        let step = match session.start(joined).await {
            Ok(()) => session.serve().await,
            Err(stop) => stop,
        };
        if let Stop::Close(code, reason) = step {
            ws::close(&mut session.socket, &relay, code, reason).await;
        }
    }
    .instrument(span)
    .await;
}

impl Session {
    async fn serve(&mut self) -> Stop {
        let shutdown = self.relay.shutdown.clone();
        loop {
            let idle_at = self.last_heard + self.relay.chat.idle_timeout;
            let step = tokio::select! {
                biased;
                () = shutdown.triggered() => Err(Stop::Close(ws::GOING_AWAY, "relay shutting down")),
                Some(answer) = self.waiting.next(), if !self.waiting.is_empty() => self.answer(answer).await,
                event = self.events.recv(), if !self.resyncing => self.deliver(event).await,
                message = self.socket.recv(), if self.waiting.len() < MAX_IN_FLIGHT => self.receive(message).await,
                () = tokio::time::sleep_until(idle_at.into()) => Err(Stop::Close(ws::GOING_AWAY, "idle")),
            };
            if let Err(stop) = step {
                return stop;
            }
        }
    }

    /// Takes over a welcome's subscription and sends the welcome.
    async fn start(&mut self, joined: Joined) -> Step {
        if let ServerFrame::Welcome { last_seq, .. } = &joined.welcome {
            self.last_seq = *last_seq;
        }
        self.events = joined.events;
        self.resyncing = false;
        self.send_direct(&joined.welcome).await
    }

    async fn answer(&mut self, answer: Answer) -> Step {
        match answer {
            Answer::Frame(Some(frame)) => self.send_direct(&frame).await,
            Answer::Frame(None) => Ok(()),
            Answer::Welcome(joined) => self.start(joined).await,
            Answer::Gone => Err(Stop::Close(ws::INTERNAL, "room unavailable")),
        }
    }

    /// Writes `event` and whatever else the room has queued for this session (up to
    /// [`MAX_WRITE_BATCH`]) as WebSocket frames in one flush: under load, one syscall carries
    /// many messages instead of one each, so a busy room catches up instead of falling behind.
    async fn deliver(&mut self, event: Result<Fanout, RecvError>) -> Step {
        let mut next = Some(event);
        let mut written = 0usize;
        let mut sampled: Option<Instant> = None;
        while let Some(event) = next.take() {
            let fanout = match event {
                Ok(fanout) => fanout,
                Err(RecvError::Lagged(_)) => {
                    self.flush().await?;
                    return self.lagged().await;
                }
                Err(RecvError::Closed) => return Err(Stop::Close(ws::INTERNAL, "room closed")),
            };
            if fanout.resync {
                self.flush().await?;
                return self.request_welcome(Some(self.last_seq)).await;
            }
            let fresh = match fanout.seq {
                Some(seq) if seq <= self.last_seq => false,
                Some(seq) => {
                    self.last_seq = seq;
                    true
                }
                None => true,
            };
            if fresh {
                self.feed(Message::Text(fanout.text)).await?;
                written += 1;
                self.broadcasts_sent += 1;
                if self.broadcasts_sent % DELAY_SAMPLE == 1 {
                    sampled.get_or_insert(fanout.at);
                }
            }
            if written < MAX_WRITE_BATCH {
                next = match self.events.try_recv() {
                    Ok(fanout) => Some(Ok(fanout)),
                    Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Lagged(n)) => Some(Err(RecvError::Lagged(n))),
                    Err(TryRecvError::Closed) => Some(Err(RecvError::Closed)),
                };
            }
        }
        if written > 0 {
            self.flush().await?;
        }
        if let Some(at) = sampled {
            let delay = node::clock::now().saturating_duration_since(at);
            self.relay.metrics.fanout_delay.observe(delay.as_secs_f64());
        }
        Ok(())
    }

    async fn lagged(&mut self) -> Step {
        let now = node::clock::now();
        let again = self
            .last_lag
            .is_some_and(|t| now.saturating_duration_since(t) < LAG_GRACE);
        let reason = if again { "closed" } else { "resync" };
        self.relay
            .metrics
            .slow_consumers
            .get_or_create(&ReasonLabels { reason })
            .inc();
        if again {
            return Err(Stop::Close(ws::POLICY, "too slow for this room"));
        }
        self.last_lag = Some(now);
        self.request_welcome(Some(self.last_seq)).await
    }

    async fn receive(&mut self, message: Option<Result<Message, axum::Error>>) -> Step {
        self.last_heard = node::clock::now();
        match message {
            None | Some(Ok(Message::Close(_))) => {
                // Sends tungstenite's queued close reply, if any.
                let _ = self.socket.flush().await;
                Err(Stop::Drop)
            }
            Some(Ok(Message::Text(text))) => self.frame(text.as_str()).await,
            Some(Ok(Message::Binary(_))) => {
                self.relay.metrics.reject("binary");
                Err(Stop::Close(ws::UNSUPPORTED_DATA, "text frames only"))
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => Ok(()),
            Some(Err(error)) => Err(read_error(error)),
        }
    }

    async fn frame(&mut self, text: &str) -> Step {
        let metrics = self.relay.metrics.clone();
        let verdict =
            self.limits
                .check(&self.relay.users, &self.claims.user_id, node::clock::now());
        if let Verdict::Limited {
            scope,
            retry_after,
            flood,
        } = verdict
        {
            metrics
                .rate_limited
                .get_or_create(&ReasonLabels { reason: scope })
                .inc();
            metrics.reject(ErrorCode::RateLimited.as_str());
            if flood {
                return Err(Stop::Close(ws::FLOOD, "flood"));
            }
            let frame = error_frame(
                ErrorCode::RateLimited,
                "rate limited",
                None,
                None,
                Some(retry_after),
            );
            return self.send_direct(&frame).await;
        }
        let frame = match decode_client(text.as_bytes(), &self.relay.limits) {
            Ok(frame) => frame,
            Err(error) => {
                metrics.reject(error.reason());
                return self
                    .send_direct(&error_frame(
                        error.code(),
                        error.to_string(),
                        None,
                        None,
                        None,
                    ))
                    .await;
            }
        };
        metrics
            .messages_in
            .get_or_create(&KindLabels { kind: frame.kind() })
            .inc();
        match frame {
            ClientFrame::Ping {} => self.send_direct(&ServerFrame::Pong {}).await,
            ClientFrame::Resume { after_seq } => self.request_welcome(Some(after_seq)).await,
            frame if self.read_only => {
                metrics.reject(ErrorCode::Forbidden.as_str());
                let (client_id, key) = ids(&frame);
                let refusal = error_frame(
                    ErrorCode::Forbidden,
                    "read-only guest",
                    client_id,
                    key,
                    None,
                );
                self.send_direct(&refusal).await
            }
            frame => {
                let (reply, answer) = oneshot::channel();
                let command = Command::Frame {
                    claims: self.claims.clone(),
                    frame,
                    reply,
                };
                self.ask(command, async move {
                    answer.await.map_or(Answer::Gone, Answer::Frame)
                })
                .await
            }
        }
    }

    async fn request_welcome(&mut self, since: Option<u64>) -> Step {
        let (reply, answer) = oneshot::channel();
        let command = Command::Welcome {
            claims: self.claims.clone(),
            since,
            reply,
        };
        self.resyncing = true;
        self.ask(command, async move {
            answer.await.map_or(Answer::Gone, Answer::Welcome)
        })
        .await
    }

    async fn ask(
        &mut self,
        command: Command,
        answer: impl Future<Output = Answer> + Send + 'static,
    ) -> Step {
        if !self.room.send(command).await {
            return Err(Stop::Close(ws::INTERNAL, "room unavailable"));
        }
        self.waiting.push_back(Box::pin(answer));
        Ok(())
    }

    async fn send_direct(&mut self, frame: &ServerFrame) -> Step {
        self.relay.metrics.sent(kind(frame), 1);
        self.send(Message::Text(encode_server(frame).into())).await
    }

    async fn send(&mut self, message: Message) -> Step {
        self.feed(message).await?;
        self.flush().await
    }

    /// Queues `message` in the socket's write buffer (written by the next flush, or sooner
    /// when the buffer fills).
    async fn feed(&mut self, message: Message) -> Step {
        let fed = tokio::time::timeout(SEND_TIMEOUT, self.socket.feed(message)).await;
        self.sent_in_time(fed)
    }

    async fn flush(&mut self) -> Step {
        let flushed = tokio::time::timeout(SEND_TIMEOUT, self.socket.flush()).await;
        self.sent_in_time(flushed)
    }

    fn sent_in_time(
        &self,
        outcome: Result<Result<(), axum::Error>, tokio::time::error::Elapsed>,
    ) -> Step {
        match outcome {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(Stop::Drop),
            Err(_) => {
                let reason = "send_timeout";
                self.relay
                    .metrics
                    .slow_consumers
                    .get_or_create(&ReasonLabels { reason })
                    .inc();
                Err(Stop::Drop)
            }
        }
    }
}

/// A read error: a message over the size bound closes with 1009, a protocol violation with
/// 1002; anything else means the connection is gone.
fn read_error(error: axum::Error) -> Stop {
    match error
        .into_inner()
        .downcast::<tungstenite::Error>()
        .map(|e| *e)
    {
        Ok(tungstenite::Error::Capacity(_)) => Stop::Close(ws::TOO_BIG, "message too big"),
        // The peer vanished without a close frame (tab closed, network gone): nobody is left
        // to read a close, so drop the connection rather than count a protocol error.
        Ok(tungstenite::Error::Protocol(
            tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
        )) => Stop::Drop,
        Ok(tungstenite::Error::Protocol(_) | tungstenite::Error::Utf8(_)) => {
            Stop::Close(1002, "protocol error")
        }
        _ => Stop::Drop,
    }
}

/// The `client_id` / `idempotency_key` of a refused frame, echoed in its error.
pub(crate) fn ids(frame: &ClientFrame) -> (Option<String>, Option<String>) {
    match frame {
        ClientFrame::Chat { client_id, .. } => (client_id.clone(), None),
        ClientFrame::Gift {
            idempotency_key, ..
        } => (None, Some(idempotency_key.clone())),
        _ => (None, None),
    }
}

/// The `"type"` of a direct frame, for metrics.
fn kind(frame: &ServerFrame) -> &'static str {
    match frame {
        ServerFrame::Welcome { .. } => "welcome",
        ServerFrame::Likes { .. } => "likes",
        ServerFrame::Viewers { .. } => "viewers",
        ServerFrame::Ack { .. } => "ack",
        ServerFrame::Error { .. } => "error",
        ServerFrame::Pong {} => "pong",
        ServerFrame::Event(_) => "event",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_echo_the_frame_ids() {
        let chat = ClientFrame::Chat {
            text: "hi".into(),
            client_id: Some("c1".into()),
        };
        assert_eq!(ids(&chat), (Some("c1".into()), None));
        let gift = ClientFrame::Gift {
            gift_id: "rose".into(),
            count: None,
            idempotency_key: "k".into(),
        };
        assert_eq!(ids(&gift), (None, Some("k".into())));
        assert_eq!(ids(&ClientFrame::Like { count: None }), (None, None));
    }

    #[test]
    fn read_errors_map_to_close_codes() {
        let capacity =
            tungstenite::Error::Capacity(tungstenite::error::CapacityError::MessageTooLong {
                size: 10,
                max_size: 5,
            });
        assert!(matches!(
            read_error(axum::Error::new(capacity)),
            Stop::Close(1009, _)
        ));
        let io = tungstenite::Error::Io(std::io::Error::other("reset"));
        assert!(matches!(read_error(axum::Error::new(io)), Stop::Drop));
        let vanished = tungstenite::Error::Protocol(
            tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
        );
        assert!(matches!(read_error(axum::Error::new(vanished)), Stop::Drop));
        let junk =
            tungstenite::Error::Protocol(tungstenite::error::ProtocolError::NonZeroReservedBits);
        assert!(matches!(
            read_error(axum::Error::new(junk)),
            Stop::Close(1002, _)
        ));
    }
}
