//! `GET /ws?room=ROOM&token=TOKEN[&since=SEQ]` (`docs/chat-protocol.md` §2): the upgrade and
//! the admission check. Per §2.2 the upgrade always completes; a refused connection is then
//! closed with its code (4000 bad query, 4001 token, 4003 wrong room, 1001 draining), because
//! browsers do not expose the HTTP status of a failed upgrade.
//!
//! The token travels in the query, so neither the query string nor the token is ever logged.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, Request, State};
use axum::response::{IntoResponse as _, Response};
use chat_proto::token::{self, ChatClaims, ChatRole, TokenError};
use futures_util::{SinkExt as _, StreamExt as _};
use serde::Deserialize;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use crate::Relay;
use crate::fanout::SessionIo;

mod upgrade;

/// A session's WebSocket: tungstenite reads the socket and writes through the connection's
/// outlet (`fanout::outlet`), where the room's fan-out writes too.
pub(crate) type Socket = WebSocketStream<SessionIo>;

/// 1001: the relay is shutting down (or the connection was idle).
pub(crate) const GOING_AWAY: u16 = 1001;
/// 1003: a binary message.
pub(crate) const UNSUPPORTED_DATA: u16 = 1003;
/// 1008: a client too slow for the room's fan-out, again.
pub(crate) const POLICY: u16 = 1008;
/// 1009: a message over 16 × `max_frame_bytes`.
pub(crate) const TOO_BIG: u16 = 1009;
/// 1011: the room could not be opened (database), or it went away.
pub(crate) const INTERNAL: u16 = 1011;
/// 4000: bad query.
pub(crate) const BAD_QUERY: u16 = 4000;
/// 4001: no valid token.
pub(crate) const UNAUTHORIZED: u16 = 4001;
/// 4003: the token is for another room.
pub(crate) const FORBIDDEN: u16 = 4003;
/// 4008: kept flooding after `rate_limited` errors.
pub(crate) const FLOOD: u16 = 4008;

/// The read buffer of each connection. Client frames are at most a few KiB, and this buffer
/// is allocated eagerly per connection, so it is kept small (tungstenite defaults to 128 KiB).
const READ_BUFFER: usize = 4096;
/// How long a close waits for the client's close frame, so the client reads ours before the
/// socket goes.
const CLOSE_LINGER: Duration = Duration::from_secs(2);

/// The query of `/ws`. Other parameters are ignored (cache busters, SDK versions).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct WsQuery {
    room: Option<String>,
    token: Option<String>,
    since: Option<String>,
}

/// A connection allowed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Admitted {
    pub(crate) room: String,
    pub(crate) claims: ChatClaims,
    /// A token-less guest: only `ping` and `resume`.
    pub(crate) read_only: bool,
    pub(crate) since: Option<u64>,
}

/// Why a connection is refused, with its close code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refused {
    /// No valid `room`, or a `since` that is not a decimal u64.
    #[error("bad query: {0}")]
    BadQuery(&'static str),
    /// No token, and the relay does not admit guests.
    #[error("token required")]
    NoToken,
    /// The token failed verification.
    #[error("unauthorized: {0}")]
    Token(TokenError),
    /// The token is for another room.
    #[error("the token is for another room")]
    WrongRoom,
    /// The relay is draining.
    #[error("relay shutting down")]
    Draining,
}

impl Refused {
    pub(crate) fn code(&self) -> u16 {
        match self {
            Self::BadQuery(_) => BAD_QUERY,
            Self::NoToken | Self::Token(_) => UNAUTHORIZED,
            Self::WrongRoom => FORBIDDEN,
            Self::Draining => GOING_AWAY,
        }
    }
}

/// The `/ws` handler.
pub(crate) async fn upgrade(
    State(relay): State<Arc<Relay>>,
    query: Result<Query<WsQuery>, QueryRejection>,
    request: Request,
) -> Response {
    let (response, upgrading) = match upgrade::accept(request) {
        Ok(accepted) => accepted,
        Err(refusal) => return refusal.into_response(),
    };
    let admission = if relay.shutdown.is_triggered() {
        Err(Refused::Draining)
    } else {
        let query = query
            .map(|q| q.0)
            .map_err(|_| Refused::BadQuery("malformed query"));
        let now_s = i64::try_from(node::clock::unix_time_ms() / 1000).unwrap_or(i64::MAX);
        let secret = relay.chat.token_secret.expose().as_bytes();
        query.and_then(|q| {
            admit(q, secret, relay.chat.allow_anonymous, now_s, || {
                relay.anon_id()
            })
        })
    };
    let max = relay.chat.max_frame_bytes.saturating_mul(16);
    // Frames tungstenite writes go straight to the outlet's queue (it buffers nothing).
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_message_size(Some(max))
        .max_frame_size(Some(max));
    let tracker = relay.sessions.clone();
    tokio::spawn(tracker.track_future(async move {
        let Ok(io) = upgrading.await else {
            return;
        };
        let (io, outlet) = SessionIo::new(hyper_util::rt::TokioIo::new(io));
        let mut socket = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
        match admission {
            Ok(admitted) => crate::session::run(socket, outlet, relay, admitted).await,
            Err(refused) => {
                relay.metrics.reject(refused_reason(&refused));
                close(&mut socket, &relay, refused.code(), &refused.to_string()).await;
                outlet.close();
            }
        }
    }));
    response
}

/// Checks the query and the token (§2.2, §3). Pure: time and the guest id come in.
pub(crate) fn admit(
    query: WsQuery,
    secret: &[u8],
    allow_anonymous: bool,
    now_unix_s: i64,
    anon_id: impl FnOnce() -> String,
) -> Result<Admitted, Refused> {
    let room = query.room.ok_or(Refused::BadQuery("room is missing"))?;
    if !hls::is_valid_stream_name(&room) {
        return Err(Refused::BadQuery("room is 1 to 64 of A-Z a-z 0-9 - _"));
    }
    let since = match query.since.as_deref() {
        None => None,
        Some(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => Some(
            s.parse()
                .map_err(|_| Refused::BadQuery("since is not a u64"))?,
        ),
        Some(_) => return Err(Refused::BadQuery("since is not a decimal u64")),
    };
    let (claims, read_only) = match query.token.filter(|t| !t.is_empty()) {
        Some(t) => (
            token::verify(&t, secret, now_unix_s).map_err(Refused::Token)?,
            false,
        ),
        None if allow_anonymous => {
            let id = anon_id();
            let claims = ChatClaims {
                name: id.clone(),
                user_id: id,
                role: ChatRole::Viewer,
                room: Some(room.clone()),
                exp: i64::MAX,
            };
            (claims, true)
        }
        None => return Err(Refused::NoToken),
    };
    if !claims.allows_room(&room) {
        return Err(Refused::WrongRoom);
    }
    Ok(Admitted {
        room,
        claims,
        read_only,
        since,
    })
}

/// Sends a close frame with `code`, then waits briefly for the client's close so it reads
/// ours before the connection ends.
pub(crate) async fn close(socket: &mut Socket, relay: &Relay, code: u16, reason: &str) {
    relay.metrics.closed(code);
    // Close reasons are at most 123 bytes.
    let reason: String = reason.chars().take(60).collect();
    let frame = CloseFrame {
        code: code.into(),
        reason: reason.into(),
    };
    // A client too slow for the room may not take even this: it is dropped after the linger.
    let sent = tokio::time::timeout(CLOSE_LINGER, socket.send(Message::Close(Some(frame)))).await;
    if !matches!(sent, Ok(Ok(()))) {
        return;
    }
    let linger = async {
        while let Some(Ok(message)) = socket.next().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(CLOSE_LINGER, linger).await;
}

fn refused_reason(refused: &Refused) -> &'static str {
    match refused {
        Refused::BadQuery(_) => "bad_query",
        Refused::NoToken => "no_token",
        Refused::Token(TokenError::Expired) => "token_expired",
        Refused::Token(TokenError::BadSignature) => "token_signature",
        Refused::Token(_) => "token_invalid",
        Refused::WrongRoom => "wrong_room",
        Refused::Draining => "draining",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"s3cret";

    fn query(room: &str, token: Option<&str>, since: Option<&str>) -> WsQuery {
        WsQuery {
            room: Some(room.into()),
            token: token.map(Into::into),
            since: since.map(Into::into),
        }
    }

    fn token(room: Option<&str>, exp: i64) -> String {
        let claims = ChatClaims {
            user_id: "u1".into(),
            name: "Ada".into(),
            role: ChatRole::Viewer,
            room: room.map(Into::into),
            exp,
        };
        token::sign(&claims, SECRET)
    }

    fn admit_at(q: WsQuery, anonymous: bool) -> Result<Admitted, Refused> {
        admit(q, SECRET, anonymous, 1_000, || "anon:1".into())
    }

    #[test]
    fn close_codes_follow_the_spec_table() {
        let good = token(Some("demo"), 2_000);
        let admitted = admit_at(query("demo", Some(&good), Some("41")), false).unwrap();
        assert_eq!((admitted.since, admitted.read_only), (Some(41), false));

        let code = |q, anon| admit_at(q, anon).unwrap_err().code();
        assert_eq!(code(WsQuery::default(), false), 4000);
        assert_eq!(code(query("bad room!", Some(&good), None), false), 4000);
        assert_eq!(code(query("demo", Some(&good), Some("-1")), false), 4000);
        assert_eq!(
            code(
                query("demo", Some(&good), Some("99999999999999999999")),
                false
            ),
            4000
        );
        assert_eq!(code(query("demo", None, None), false), 4001);
        assert_eq!(code(query("demo", Some("junk"), None), false), 4001);
        assert_eq!(
            code(query("demo", Some(&token(None, 999)), None), false),
            4001
        );
        assert_eq!(code(query("other", Some(&good), None), false), 4003);
        assert_eq!(Refused::Draining.code(), 1001);
    }

    #[test]
    fn guests_are_read_only_viewers_when_allowed() {
        let guest = admit_at(query("demo", Some(""), None), true).unwrap();
        assert!(guest.read_only);
        assert_eq!(guest.claims.user_id, "anon:1");
        assert_eq!(guest.claims.role, ChatRole::Viewer);
        let any_room = admit_at(query("demo", Some(&token(None, 2_000)), None), true).unwrap();
        assert!(!any_room.read_only);
    }
}
