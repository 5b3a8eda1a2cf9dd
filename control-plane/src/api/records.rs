//! The records: the chat log and the gift ledger, searchable by admins and moderators' tools
//! with filters (room, user, time range, kind) and keyset pagination.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::Deserialize;

use crate::api::auth::Admin;
use crate::api::error::ApiError;
use crate::state::ControlPlane;

/// Default page size.
pub const DEFAULT_LIMIT: u32 = 100;

/// `GET /v1/records/chat` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatRecordsQuery {
    /// Only this room.
    pub room: Option<String>,
    /// Only this author.
    pub user: Option<String>,
    /// Only this kind: `chat`, `gift` or `system`.
    pub kind: Option<String>,
    /// From (inclusive), Unix milliseconds.
    pub from: Option<i64>,
    /// To (exclusive), Unix milliseconds.
    pub to: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 1000. Default 100.
    pub limit: Option<u32>,
}

/// `GET /v1/records/gifts` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GiftRecordsQuery {
    /// Only this room.
    pub room: Option<String>,
    /// Only gifts this user sent or received.
    pub user: Option<String>,
    /// From (inclusive), Unix milliseconds.
    pub from: Option<i64>,
    /// To (exclusive), Unix milliseconds.
    pub to: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 1000. Default 100.
    pub limit: Option<u32>,
}

fn check_common(
    room: Option<&String>,
    user: Option<&String>,
    from: Option<i64>,
    to: Option<i64>,
    limit: Option<u32>,
) -> Result<u32, ApiError> {
    if room.is_some_and(|r| !hls::is_valid_stream_name(r)) {
        return Err(ApiError::bad_request("room is 1 to 64 of A-Z a-z 0-9 - _"));
    }
    if user.is_some_and(|u| u.is_empty() || u.len() > 64) {
        return Err(ApiError::bad_request("user is 1 to 64 bytes"));
    }
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        return Err(ApiError::bad_request("from must not be after to"));
    }
    match limit.unwrap_or(DEFAULT_LIMIT) {
        limit @ 1..=1000 => Ok(limit),
        _ => Err(ApiError::bad_request("limit is 1 to 1000")),
    }
}

fn store_error(error: store::StoreError) -> ApiError {
    match error {
        store::StoreError::BadCursor => ApiError::bad_request("cursor is not one this API issued"),
        store::StoreError::InvalidArgument { what, reason } => {
            ApiError::bad_request(format!("{what}: {reason}"))
        }
        other => ApiError::from(other),
    }
}

/// `GET /v1/records/chat`: the chat log, oldest first.
pub async fn chat(
    _: Admin,
    State(state): State<Arc<ControlPlane>>,
    query: Result<Query<ChatRecordsQuery>, QueryRejection>,
) -> Result<Json<store::Page<store::ChatRecord>>, ApiError> {
    let Query(q) = query?;
    let limit = check_common(q.room.as_ref(), q.user.as_ref(), q.from, q.to, q.limit)?;
    if q.kind
        .as_deref()
        .is_some_and(|k| !matches!(k, "chat" | "gift" | "system" | "like"))
    {
        return Err(ApiError::bad_request("kind is chat, gift, like or system"));
    }
    let page = state
        .store
        .query_chat(&store::ChatQuery {
            room: q.room,
            user_id: q.user,
            kind: q.kind,
            from_ms: q.from,
            to_ms: q.to,
            cursor: q.cursor,
            limit,
        })
        .await
        .map_err(store_error)?;
    Ok(Json(page))
}

/// `GET /v1/records/gifts`: the gift ledger, oldest first.
pub async fn gifts(
    _: Admin,
    State(state): State<Arc<ControlPlane>>,
    query: Result<Query<GiftRecordsQuery>, QueryRejection>,
) -> Result<Json<store::Page<store::GiftRecord>>, ApiError> {
    let Query(q) = query?;
    let limit = check_common(q.room.as_ref(), q.user.as_ref(), q.from, q.to, q.limit)?;
    let page = state
        .store
        .query_gifts(&store::GiftQuery {
            room: q.room,
            user_id: q.user,
            from_ms: q.from,
            to_ms: q.to,
            cursor: q.cursor,
            limit,
        })
        .await
        .map_err(store_error)?;
    Ok(Json(page))
}
