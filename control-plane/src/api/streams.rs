//! Streams and their keys (admin), key validation (origins), and the stats time series.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::api::auth::{Admin, NodeCaller};
use crate::api::error::ApiError;
use crate::api::routing::stream_name;
use crate::keys::{self, MAX_KEY_LEN};
use crate::state::ControlPlane;

/// `POST /v1/streams` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateStream {
    /// The stream name: 1 to 64 of `A-Z a-z 0-9 - _`.
    pub name: String,
}

/// A key as shown once, at creation or rotation.
#[derive(Debug, Serialize)]
pub struct IssuedKey {
    /// The key's id.
    pub id: String,
    /// The secret: publish to `rtmp://ORIGIN/live/{key}`. Not retrievable later.
    pub key: String,
}

/// A stream as the API shows it.
#[derive(Debug, Serialize)]
pub struct StreamView {
    /// The name.
    pub name: String,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: i64,
    /// Whether an origin reports it live now.
    pub live: bool,
    /// A key, only in the answer that created it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<IssuedKey>,
}

fn now_ms() -> i64 {
    i64::try_from(node::clock::unix_time_ms()).unwrap_or(i64::MAX)
}

fn is_live(state: &ControlPlane, name: &str) -> bool {
    state
        .registry()
        .origin_for_stream(name, node::clock::now())
        .is_some()
}

/// `POST /v1/streams`: creates a stream and its first key.
pub async fn create(
    _: Admin,
    State(state): State<Arc<ControlPlane>>,
    body: Result<Json<CreateStream>, JsonRejection>,
) -> Result<(StatusCode, Json<StreamView>), ApiError> {
    let Json(CreateStream { name }) = body?;
    if !hls::is_valid_stream_name(&name) {
        return Err(ApiError::bad_request(
            "a stream name is 1 to 64 of A-Z a-z 0-9 - _",
        ));
    }
    let record = match state.store.create_stream(&name, now_ms()).await {
        Err(store::StoreError::AlreadyExists { .. }) => {
            return Err(ApiError::conflict(format!(
                "stream {name:?} already exists"
            )));
        }
        other => other?,
    };
    let key = keys::generate();
    state
        .store
        .add_key(&name, &key.id, &key.hash, now_ms())
        .await?;
    tracing::info!(stream = %name, key_id = %key.id, "stream created");
    Ok((
        StatusCode::CREATED,
        Json(StreamView {
            live: is_live(&state, &name),
            name: record.name,
            created_at_ms: record.created_at_ms,
            key: Some(IssuedKey {
                id: key.id,
                key: key.secret.expose().clone(),
            }),
        }),
    ))
}

/// `GET /v1/streams`.
pub async fn list(
    _: Admin,
    State(state): State<Arc<ControlPlane>>,
) -> Result<Json<Vec<StreamView>>, ApiError> {
    let records = state.store.list_streams().await?;
    Ok(Json(
        records
            .into_iter()
            .map(|r| StreamView {
                live: is_live(&state, &r.name),
                name: r.name,
                created_at_ms: r.created_at_ms,
                key: None,
            })
            .collect(),
    ))
}

/// `GET /v1/streams/{name}`.
pub async fn get(
    _: Admin,
    State(state): State<Arc<ControlPlane>>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<StreamView>, ApiError> {
    let name = stream_name(path)?;
    let record = state
        .store
        .stream(&name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no stream {name:?}")))?;
    Ok(Json(StreamView {
        live: is_live(&state, &name),
        name: record.name,
        created_at_ms: record.created_at_ms,
        key: None,
    }))
}

/// `DELETE /v1/streams/{name}`: the stream and its keys (a live publisher is not cut off; its
/// key stops working for the next publish).
pub async fn delete(
    _: Admin,
    State(state): State<Arc<ControlPlane>>,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let name = stream_name(path)?;
    if state.store.delete_stream(&name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no stream {name:?}")))
    }
}

/// A key in a listing (never its secret or hash).
#[derive(Debug, Serialize)]
pub struct KeyView {
    /// The key's id.
    pub id: String,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: i64,
    /// Revocation time, if revoked.
    pub revoked_at_ms: Option<i64>,
}

async fn require_stream(state: &ControlPlane, name: &str) -> Result<(), ApiError> {
    match state.store.stream(name).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::not_found(format!("no stream {name:?}"))),
    }
}

/// `GET /v1/streams/{name}/keys`.
pub async fn list_keys(
    _: Admin,
    State(state): State<Arc<ControlPlane>>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Vec<KeyView>>, ApiError> {
    let name = stream_name(path)?;
    require_stream(&state, &name).await?;
    let keys = state.store.list_keys(&name).await?;
    Ok(Json(
        keys.into_iter()
            .map(|k| KeyView {
                id: k.id,
                created_at_ms: k.created_at_ms,
                revoked_at_ms: k.revoked_at_ms,
            })
            .collect(),
    ))
}

/// `POST /v1/streams/{name}/keys`: adds a key (the others stay valid).
pub async fn add_key(
    _: Admin,
    State(state): State<Arc<ControlPlane>>,
    path: Result<Path<String>, PathRejection>,
) -> Result<(StatusCode, Json<IssuedKey>), ApiError> {
    let name = stream_name(path)?;
    require_stream(&state, &name).await?;
    let key = keys::generate();
    state
        .store
        .add_key(&name, &key.id, &key.hash, now_ms())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(IssuedKey {
            id: key.id,
            key: key.secret.expose().clone(),
        }),
    ))
}

/// `POST /v1/streams/{name}/keys/rotate`: a new key; every other key of the stream is revoked
/// in the same transaction. A live publish continues; the old key fails its next publish once
/// origins' key caches expire.
pub async fn rotate_key(
    _: Admin,
    State(state): State<Arc<ControlPlane>>,
    path: Result<Path<String>, PathRejection>,
) -> Result<(StatusCode, Json<IssuedKey>), ApiError> {
    let name = stream_name(path)?;
    require_stream(&state, &name).await?;
    let key = keys::generate();
    state
        .store
        .rotate_key(&name, &key.id, &key.hash, now_ms())
        .await?;
    tracing::info!(stream = %name, key_id = %key.id, "stream key rotated");
    Ok((
        StatusCode::CREATED,
        Json(IssuedKey {
            id: key.id,
            key: key.secret.expose().clone(),
        }),
    ))
}

/// `DELETE /v1/streams/{name}/keys/{id}`: revokes one key.
pub async fn revoke_key(
    _: Admin,
    State(state): State<Arc<ControlPlane>>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path((name, id)) = path?;
    if !hls::is_valid_stream_name(&name) || id.len() > 64 {
        return Err(ApiError::bad_request("bad stream name or key id"));
    }
    if state.store.revoke_key(&name, &id, now_ms()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!(
            "stream {name:?} has no active key {id:?}"
        )))
    }
}

/// `POST /v1/keys/validate` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidateKey {
    /// The key a publisher presented.
    pub key: String,
}

/// The stream a valid key publishes.
#[derive(Debug, Serialize)]
pub struct ValidatedKey {
    /// The stream name.
    pub stream: String,
    /// The key's id.
    pub key_id: String,
}

/// `POST /v1/keys/validate` (node auth): which stream a key opens; 404 for an unknown or
/// revoked key.
pub async fn validate(
    _: NodeCaller,
    State(state): State<Arc<ControlPlane>>,
    body: Result<Json<ValidateKey>, JsonRejection>,
) -> Result<Json<ValidatedKey>, ApiError> {
    let Json(ValidateKey { key }) = body?;
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(ApiError::bad_request("a stream key is 1 to 128 bytes"));
    }
    match state.store.stream_for_key_hash(&keys::hash(&key)).await? {
        Some((stream, key_id)) => Ok(Json(ValidatedKey { stream, key_id })),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_key",
            "unknown or revoked stream key",
        )),
    }
}

/// `?from=&to=` of the stats query, Unix milliseconds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    /// Start (inclusive). Default: one hour before `to`.
    pub from: Option<i64>,
    /// End (inclusive). Default: now.
    pub to: Option<i64>,
}

/// One point of the series.
#[derive(Debug, Serialize)]
pub struct StatsPoint {
    /// Region.
    pub region: String,
    /// Sample time, Unix milliseconds.
    pub at_ms: i64,
    /// Viewers on the region's edges.
    pub viewers: i64,
    /// Chat messages in the interval.
    pub chat_messages: i64,
    /// Likes in the interval.
    pub likes: i64,
    /// Gift value in the interval.
    pub gift_value: i64,
}

/// Longest span one stats query may cover (31 days).
pub const MAX_STATS_SPAN_MS: i64 = 31 * 24 * 3600 * 1000;

/// `GET /v1/streams/{name}/stats?from=&to=`.
pub async fn stats(
    _: Admin,
    State(state): State<Arc<ControlPlane>>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<StatsQuery>, QueryRejection>,
) -> Result<Json<Vec<StatsPoint>>, ApiError> {
    let name = stream_name(path)?;
    let Query(StatsQuery { from, to }) = query?;
    let to = to.unwrap_or_else(now_ms);
    let from = from.unwrap_or(to.saturating_sub(3_600_000));
    if from > to || to.saturating_sub(from) > MAX_STATS_SPAN_MS {
        return Err(ApiError::bad_request(
            "need from <= to, at most 31 days apart (Unix milliseconds)",
        ));
    }
    let rows = state.store.stats(&name, from, to).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| StatsPoint {
                region: r.region,
                at_ms: r.at_ms,
                viewers: r.viewers,
                chat_messages: r.chat_messages,
                likes: r.likes,
                gift_value: r.gift_value,
            })
            .collect(),
    ))
}
