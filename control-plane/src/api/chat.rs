//! `GET /v1/chat/{room}?region=R`: the chat relay a chatter should join, with a signed token.
//! Admins (the operator's backend) name the user and role; with `chat.guest_tokens` anyone gets
//! a viewer token for a guest identity.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use chat_proto::token::{ChatClaims, ChatRole};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::api::error::ApiError;
use crate::api::routing::stream_name;
use crate::metrics::RoutingLabels;
use crate::state::ControlPlane;

/// `?region=&user_id=&name=&role=`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatQuery {
    /// The chatter's region.
    pub region: Option<String>,
    /// The user id (admins only; guests get a random one).
    pub user_id: Option<String>,
    /// Display name (guests may choose one).
    pub name: Option<String>,
    /// `viewer`, `host` or `moderator` (admins only).
    pub role: Option<ChatRole>,
}

/// The answer.
#[derive(Debug, Serialize)]
pub struct ChatAnswer {
    /// The room.
    pub room: String,
    /// The region routed for.
    pub region: String,
    /// The relay's WebSocket URL; connect to `{ws_url}?room={room}&token={token}`.
    pub ws_url: String,
    /// The chosen relay's node id.
    pub relay: String,
    /// The signed token.
    pub token: String,
    /// Who the token names.
    pub user_id: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: ChatRole,
    /// Expiry, Unix seconds.
    pub expires_at: i64,
}

const MAX_NAME_CHARS: usize = 32;

/// The handler.
pub async fn chat(
    State(state): State<Arc<ControlPlane>>,
    parts: Parts,
    peer: Result<ConnectInfo<SocketAddr>, axum::extract::rejection::ExtensionRejection>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<ChatQuery>, QueryRejection>,
) -> Result<Json<ChatAnswer>, ApiError> {
    let room = stream_name(path)?;
    let Query(query) = query?;
    if let Some(region) = &query.region
        && !hls::is_valid_stream_name(region)
    {
        return Err(ApiError::bad_request(
            "a region is 1 to 64 of A-Z a-z 0-9 - _",
        ));
    }
    let admin = crate::api::auth::is_admin(&parts, &state);
    if !admin && !state.config.chat.guest_tokens {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "chat tokens need an admin token (guest tokens are off)",
        ));
    }
    if !admin && (query.user_id.is_some() || query.role.is_some()) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only admins choose user_id and role",
        ));
    }
    let secret = state.config.chat.token_secret.expose();
    if secret.is_empty() {
        return Err(ApiError::unavailable("chat.token_secret is not configured"));
    }
    let user_id = match query.user_id {
        Some(id) if (1..=64).contains(&id.len()) => id,
        Some(_) => return Err(ApiError::bad_request("user_id is 1 to 64 bytes")),
        None => guest_id(),
    };
    let name = match query.name {
        Some(name) if (1..=MAX_NAME_CHARS).contains(&name.trim().chars().count()) => {
            name.trim().to_owned()
        }
        Some(_) => return Err(ApiError::bad_request("name is 1 to 32 characters")),
        None => user_id.clone(),
    };
    let role = query.role.unwrap_or(ChatRole::Viewer);
    let region = state.client_region(
        query.region.as_deref(),
        &parts.headers,
        peer.ok().map(|c| c.0.ip()),
    );
    let relay = state
        .registry()
        .chat_relay_for(&region, &state.regions, node::clock::now())
        .map_err(|e| {
            state
                .metrics
                .routing
                .get_or_create(&RoutingLabels {
                    kind: "chat",
                    outcome: e.reason(),
                })
                .inc();
            ApiError::unavailable(e.to_string())
        })?;
    let ws_url = relay.url.clone();
    state
        .metrics
        .routing
        .get_or_create(&RoutingLabels {
            kind: "chat",
            outcome: "routed",
        })
        .inc();
    let now_s = i64::try_from(node::clock::unix_time_ms() / 1000).unwrap_or(i64::MAX);
    let expires_at = now_s
        .saturating_add(i64::try_from(state.config.chat.token_ttl.as_secs()).unwrap_or(i64::MAX));
    let claims = ChatClaims {
        user_id: user_id.clone(),
        name: name.clone(),
        role,
        room: Some(room.clone()),
        exp: expires_at,
    };
    let token = chat_proto::token::sign(&claims, secret.as_bytes());
    Ok(Json(ChatAnswer {
        room,
        region,
        ws_url,
        relay: relay.id,
        token,
        user_id,
        name,
        role,
        expires_at,
    }))
}

fn guest_id() -> String {
    let mut bytes = [0u8; 6];
    rand::rng().fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("guest-{hex}")
}
