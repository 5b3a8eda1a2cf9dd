//! One WebSocket connection: a single task selecting over the socket, its [`Outlet`]'s signals
//! and the answers to its own commands (a `FuturesOrdered` of oneshots: its direct-reply
//! channel). Room events do not pass through this task: the room's fan-out writer queues them
//! to the outlet and writes them itself (`fanout`); the session only drains a socket that did
//! not take everything at once.
//!
//! Slow consumers: a client that falls more than `chat.fanout_buffer` events behind its room
//! is resynchronized once: events stop, the room queues a new `welcome` resuming after the
//! last seq queued to the client (exact if the history ring still holds it, else
//! `resumed: false`). A client lagging again within [`LAG_GRACE`], or whose socket accepts
//! nothing for [`SEND_TIMEOUT`], is closed (1008, or dropped): one slow phone must cost the
//! room nothing but its own queue.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_proto::{ChatClaims, ClientFrame, ErrorCode, ServerFrame, decode_client, encode_server};
use futures_util::SinkExt as _;
use futures_util::stream::{FuturesOrdered, StreamExt as _};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::{self, Message};
use tracing::Instrument as _;

use crate::Relay;
use crate::fanout::{Outlet, Signals};
use crate::metrics::{KindLabels, ReasonLabels};
use crate::rate::{ConnectionLimits, Verdict};
use crate::room::{Command, Joined, Member, RoomHandle, error_frame};
use crate::ws::{self, Admitted, Socket};

/// Frames awaiting the room's answer before the session stops reading the socket.
const MAX_IN_FLIGHT: usize = 16;
/// A socket that accepts nothing for this long is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// A second lag within this closes the connection instead of resynchronizing it.
const LAG_GRACE: Duration = Duration::from_secs(30);

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
    socket: Socket,
    outlet: Arc<Outlet>,
    relay: Arc<Relay>,
    room: RoomHandle,
    _member: Member,
    claims: ChatClaims,
    read_only: bool,
    limits: ConnectionLimits,
    waiting: FuturesOrdered<Waiting>,
    last_lag: Option<Instant>,
    last_heard: Instant,
}

/// Serves one admitted connection until it closes or the relay drains.
pub(crate) async fn run(
    mut socket: Socket,
    outlet: Arc<Outlet>,
    relay: Arc<Relay>,
    admitted: Admitted,
) {
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
            outlet: outlet.clone(),
            reply,
        };
        let joined = match room.send(command).await {
            true => answer.await.ok(),
            false => None,
        };
        if let Some(joined) = &joined {
            tracing::trace!(last_seq = joined.last_seq, "welcome queued");
        } else {
            let code = if relay.shutdown.is_triggered() {
                ws::GOING_AWAY
            } else {
                ws::INTERNAL
            };
            ws::close(&mut socket, &relay, code, "room unavailable").await;
            outlet.close();
            return;
        }
        let chat = &relay.chat;
        let limits = ConnectionLimits::new(
            chat.connection_rate,
            chat.connection_burst,
            chat.flood_strikes,
        );
        let mut session = Session {
            socket,
            outlet: outlet.clone(),
            relay: relay.clone(),
            room,
            _member: member,
            claims,
            read_only,
            limits,
            waiting: FuturesOrdered::new(),
            last_lag: None,
            last_heard: node::clock::now(),
        };
        let step = session.serve().await;
        if let Stop::Close(code, reason) = step {
            // Room events stop; what is queued goes out before the close frame.
            outlet.pause();
            ws::close(&mut session.socket, &relay, code, reason).await;
        }
        outlet.close();
    }
    .instrument(span)
    .await;
}

impl Drop for Session {
    /// Also when the task is cancelled: the room's writer forgets the outlet, the socket goes.
    fn drop(&mut self) {
        self.outlet.close();
    }
}

impl Session {
    async fn serve(&mut self) -> Stop {
        let shutdown = self.relay.shutdown.clone();
        let outlet = self.outlet.clone();
        loop {
            let idle_at = self.last_heard + self.relay.chat.idle_timeout;
            let step = tokio::select! {
                biased;
                () = shutdown.triggered() => Err(Stop::Close(ws::GOING_AWAY, "relay shutting down")),
                Some(answer) = self.waiting.next(), if !self.waiting.is_empty() => self.answer(answer).await,
                () = outlet.notified() => self.signaled(outlet.take_signals()).await,
                message = self.socket.next(), if self.waiting.len() < MAX_IN_FLIGHT => self.receive(message).await,
                () = tokio::time::sleep_until(idle_at.into()) => Err(Stop::Close(ws::GOING_AWAY, "idle")),
            };
            if let Err(stop) = step {
                return stop;
            }
        }
    }

    async fn answer(&mut self, answer: Answer) -> Step {
        match answer {
            Answer::Frame(Some(frame)) => self.send_direct(&frame).await,
            Answer::Frame(None) => Ok(()),
            Answer::Welcome(joined) => {
                tracing::trace!(last_seq = joined.last_seq, "welcome queued");
                Ok(())
            }
            Answer::Gone => Err(Stop::Close(ws::INTERNAL, "room unavailable")),
        }
    }

    /// What the outlet woke the session for: a socket to drain, a lag, a reset room.
    async fn signaled(&mut self, signals: Signals) -> Step {
        if signals.room_closed {
            return Err(Stop::Close(ws::INTERNAL, "room closed"));
        }
        if signals.blocked {
            self.flush().await?;
        }
        if signals.lagged {
            return self.lagged().await;
        }
        if signals.resync {
            return self.request_welcome(Some(self.outlet.last_seq())).await;
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
        self.request_welcome(Some(self.outlet.last_seq())).await
    }

    async fn receive(&mut self, message: Option<Result<Message, tungstenite::Error>>) -> Step {
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
            // tungstenite queued the pong; the flush sends it.
            Some(Ok(Message::Ping(_))) => self.flush().await,
            Some(Ok(Message::Pong(_) | Message::Frame(_))) => Ok(()),
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
            outlet: self.outlet.clone(),
            reply,
        };
        // No event until the welcome: it holds them.
        self.outlet.pause();
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
        let message = Message::Text(encode_server(frame).into());
        let fed = tokio::time::timeout(SEND_TIMEOUT, self.socket.feed(message)).await;
        self.sent_in_time(fed)?;
        self.flush().await
    }

    async fn flush(&mut self) -> Step {
        let flushed = tokio::time::timeout(SEND_TIMEOUT, self.socket.flush()).await;
        self.sent_in_time(flushed)
    }

    fn sent_in_time(
        &self,
        outcome: Result<Result<(), tungstenite::Error>, tokio::time::error::Elapsed>,
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
fn read_error(error: tungstenite::Error) -> Stop {
    match error {
        tungstenite::Error::Capacity(_) => Stop::Close(ws::TOO_BIG, "message too big"),
        // The peer vanished without a close frame (tab closed, network gone): nobody is left
        // to read a close, so drop the connection rather than count a protocol error.
        tungstenite::Error::Protocol(
            tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
        ) => Stop::Drop,
        tungstenite::Error::Protocol(_) | tungstenite::Error::Utf8(_) => {
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
        assert!(matches!(read_error(capacity), Stop::Close(1009, _)));
        let io = tungstenite::Error::Io(std::io::Error::other("reset"));
        assert!(matches!(read_error(io), Stop::Drop));
        let vanished = tungstenite::Error::Protocol(
            tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
        );
        assert!(matches!(read_error(vanished), Stop::Drop));
        let junk =
            tungstenite::Error::Protocol(tungstenite::error::ProtocolError::NonZeroReservedBits);
        assert!(matches!(read_error(junk), Stop::Close(1002, _)));
    }
}
