//! The relay's HTTP routes: `GET /ws` (WebSocket chat, [`crate::ws`]), wallets with demo
//! money, the gift catalogue and the rooms held. Every refusal is
//! `{"error":{"code":"…","message":"…"}}`.
//!
//! | Route | Auth | Answer |
//! |---|---|---|
//! | `GET /v1/wallet` | chat token | `{"user_id":"u1","balance":900}` |
//! | `POST /v1/wallet/topup` `{"amount":N}` | chat token; `gifts.demo_topup` | `{"balance":N}` |
//! | `GET /v1/gifts/catalog` | — | `{"gifts":[{"id","name","price","animation"}]}` |
//! | `GET /v1/rooms` | — | `{"rooms":[{"name","role","connections","last_seq","likes","likes_total",…}]}` (`role`: `home` or `mirror`; `likes`: likes sent through this relay since the room opened here; `likes_total`: the room's total as last broadcast, which survives restarts) |
//! | `POST /v1/rooms/{room}/moderation` `{"type":"ban","user_id":"u","duration_s":600}` | chat token of a host or moderator (for that room, or any room) | `{"ok":true}`, or the refusal as HTTP status + error body |
//! | `GET /federation` | node token (`Authorization: Bearer`) | WebSocket federation link ([`crate::federation`]) |
//!
//! The chat token goes in `Authorization: Bearer TOKEN` or a `token` query parameter; any
//! room's token names its user.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chat_proto::token::{self, ChatClaims};
use chat_proto::{ErrorCode, ServerFrame};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Relay;

/// Largest demo top-up, in wallet units.
pub const MAX_TOPUP: i64 = 1_000_000;

/// The relay's router (admin endpoints are added by `node`).
pub(crate) fn routes(relay: Arc<Relay>) -> Router {
    Router::new()
        .route("/ws", get(crate::ws::upgrade))
        .route("/federation", get(crate::federation::serve::upgrade))
        .route("/v1/wallet", get(wallet))
        .route("/v1/wallet/topup", post(topup))
        .route("/v1/gifts/catalog", get(catalog))
        .route("/v1/rooms", get(rooms))
        .route("/v1/rooms/{room}/moderation", post(moderate))
        .layer(axum::middleware::from_fn(crate::cors::cors))
        .with_state(relay)
}

/// A refused request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    fn store(error: &store::StoreError) -> Self {
        tracing::warn!(%error, "database request failed");
        if error.is_retryable() {
            Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "database busy, retry",
            )
        } else {
            Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "database error",
            )
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        (self.status, Json(body)).into_response()
    }
}

/// `?token=` (other parameters are ignored).
#[derive(Debug, Default, Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// `POST /v1/wallet/topup` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TopUp {
    amount: i64,
}

async fn wallet(
    State(relay): State<Arc<Relay>>,
    headers: HeaderMap,
    query: Result<Query<TokenQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let claims = caller(&relay, &headers, query)?;
    let balance = relay
        .store
        .balance(&claims.user_id)
        .await
        .map_err(|e| ApiError::store(&e))?;
    Ok(Json(json!({"user_id": claims.user_id, "balance": balance})))
}

async fn topup(
    State(relay): State<Arc<Relay>>,
    headers: HeaderMap,
    query: Result<Query<TokenQuery>, QueryRejection>,
    body: Result<Json<TopUp>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    if !relay.demo_topup {
        let message = "demo top-ups are off (gifts.demo_topup)";
        return Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", message));
    }
    let claims = caller(&relay, &headers, query)?;
    let Json(TopUp { amount }) =
        body.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.body_text()))?;
    if !(1..=MAX_TOPUP).contains(&amount) {
        let message = format!("amount is 1 to {MAX_TOPUP}");
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            message,
        ));
    }
    let now_ms = i64::try_from(node::clock::unix_time_ms()).unwrap_or(i64::MAX);
    let balance = relay
        .store
        .top_up(&claims.user_id, amount, now_ms)
        .await
        .map_err(|e| ApiError::store(&e))?;
    Ok(Json(json!({"balance": balance})))
}

async fn catalog(State(relay): State<Arc<Relay>>) -> Result<Json<Value>, ApiError> {
    let gifts = relay
        .store
        .gift_catalog()
        .await
        .map_err(|e| ApiError::store(&e))?;
    Ok(Json(json!({"gifts": gifts})))
}

async fn rooms(State(relay): State<Arc<Relay>>) -> Json<Value> {
    let rooms: Vec<Value> = relay
        .rooms
        .snapshot()
        .into_iter()
        .map(|(name, stats)| {
            json!({
                "name": name,
                "role": if stats.mirror.load(Ordering::Relaxed) { "mirror" } else { "home" },
                "connections": stats.connections.load(Ordering::Relaxed),
                "last_seq": stats.last_seq.load(Ordering::Relaxed),
                "messages": stats.messages.load(Ordering::Relaxed),
                "likes": stats.likes.load(Ordering::Relaxed),
                "likes_total": stats.likes_total.load(Ordering::Relaxed),
                "gift_value": stats.gift_value.load(Ordering::Relaxed),
            })
        })
        .collect();
    Json(json!({"rooms": rooms}))
}

/// `POST /v1/rooms/{room}/moderation`: one moderation frame of the WebSocket protocol
/// (`delete`, `ban`, `unban`, `slow_mode`; `docs/chat-protocol.md` §8) for tools and back
/// offices that hold a moderator's token but no WebSocket. It takes the same path as the frame
/// would from a socket on this relay (forwarded to the room's home when this relay mirrors it),
/// so the same rules, events and records apply.
async fn moderate(
    State(relay): State<Arc<Relay>>,
    Path(room): Path<String>,
    headers: HeaderMap,
    query: Result<Query<TokenQuery>, QueryRejection>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let claims = caller(&relay, &headers, query)?;
    if !hls::is_valid_stream_name(&room) {
        relay.metrics.reject(ErrorCode::BadFrame.as_str());
        let message = "room is 1 to 64 of A-Z a-z 0-9 - _";
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            message,
        ));
    }
    if !claims.allows_room(&room) {
        relay.metrics.reject(ErrorCode::Forbidden.as_str());
        let message = "the token is for another room";
        return Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", message));
    }
    let frame = chat_proto::decode_client(&body, &relay.limits).map_err(|error| {
        relay.metrics.reject(error.code().as_str());
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", error.to_string())
    })?;
    if !frame.is_moderation() {
        relay.metrics.reject(ErrorCode::BadFrame.as_str());
        let message = "only delete, ban, unban and slow_mode frames";
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            message,
        ));
    }
    let (reply, answer) = tokio::sync::oneshot::channel();
    let handle = relay.rooms.handle(&room);
    let command = crate::room::Command::Frame {
        claims,
        frame,
        reply,
    };
    let unavailable = || {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the room is not available, retry",
        )
    };
    if !handle.send(command).await {
        return Err(unavailable());
    }
    match answer.await.map_err(|_| unavailable())? {
        None | Some(ServerFrame::Ack { .. }) => Ok(Json(json!({"ok": true}))),
        Some(ServerFrame::Error { code, message, .. }) => {
            Err(ApiError::new(status_of(code), code.as_str(), message))
        }
        Some(_) => Ok(Json(json!({"ok": true}))),
    }
}

/// The HTTP status of a refusal.
fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::Forbidden | ErrorCode::Banned | ErrorCode::TimedOut => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::TooOld => StatusCode::GONE,
        ErrorCode::RateLimited | ErrorCode::SlowMode => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// The verified claims of the request's chat token.
fn caller(
    relay: &Relay,
    headers: &HeaderMap,
    query: Result<Query<TokenQuery>, QueryRejection>,
) -> Result<ChatClaims, ApiError> {
    let unauthorized =
        |message: String| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message);
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let token = bearer
        .or_else(|| query.ok().and_then(|q| q.0.token))
        .ok_or_else(|| unauthorized("a chat token is required".to_owned()))?;
    let now_s = i64::try_from(node::clock::unix_time_ms() / 1000).unwrap_or(i64::MAX);
    token::verify(&token, relay.chat.token_secret.expose().as_bytes(), now_s)
        .map_err(|e| unauthorized(e.to_string()))
}
