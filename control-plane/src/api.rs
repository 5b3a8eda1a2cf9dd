//! The `/v1` HTTP JSON API (documented in `control-plane/openapi.json`).

pub mod auth;
pub mod chat;
mod cors;
pub mod error;
pub mod nodes;
pub mod records;
pub mod rooms;
pub mod routing;
pub mod streams;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{delete, get, post};

use crate::api::error::ApiError;
use crate::metrics::{OutcomeLabels, RouteLabels};
use crate::state::ControlPlane;

/// Largest request body (heartbeats of nodes with thousands of streams fit).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The OpenAPI document, served at `/v1/openapi.json`.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// The API routes over `state`.
pub fn routes(state: Arc<ControlPlane>) -> Router {
    Router::new()
        .route("/v1/play/{stream}", get(routing::play))
        .route("/v1/ingest/{stream}", get(routing::ingest))
        .route("/v1/chat/{room}", get(chat::chat))
        .route("/v1/live", get(routing::live))
        .route("/v1/directory/{stream}", get(routing::directory))
        .route("/v1/nodes", get(nodes::list))
        .route("/v1/nodes/heartbeat", post(nodes::heartbeat))
        .route("/v1/nodes/{id}", delete(nodes::deregister))
        .route("/v1/keys/validate", post(streams::validate))
        .route("/v1/streams", post(streams::create).get(streams::list))
        .route(
            "/v1/streams/{name}",
            get(streams::get).delete(streams::delete),
        )
        .route(
            "/v1/streams/{name}/keys",
            get(streams::list_keys).post(streams::add_key),
        )
        .route("/v1/streams/{name}/keys/rotate", post(streams::rotate_key))
        .route("/v1/streams/{name}/keys/{id}", delete(streams::revoke_key))
        .route("/v1/streams/{name}/stats", get(streams::stats))
        .route("/v1/rooms/{room}/home", get(rooms::home))
        .route("/v1/records/chat", get(records::chat))
        .route("/v1/records/gifts", get(records::gifts))
        .route(
            "/v1/openapi.json",
            get(|| async { ([("content-type", "application/json")], OPENAPI) }),
        )
        .merge(crate::web::routes())
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this endpoint does not take that method",
            )
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        // Outermost: preflights are answered before routing (the routes take no OPTIONS).
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            cors::cors,
        ))
        .with_state(state)
}

/// Times every request by route template and counts 4xx answers by code.
async fn observe(State(state): State<Arc<ControlPlane>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        // `/v1/play/:stream`: the `{param}` form would put braces inside a label value, which
        // some Prometheus text parsers mishandle.
        .map_or_else(
            || "unmatched".to_owned(),
            |p| p.as_str().replace('{', ":").replace('}', ""),
        );
    let started = node::clock::now();
    let response = next.run(request).await;
    state
        .metrics
        .api_latency
        .get_or_create(&RouteLabels { route })
        .observe(
            node::clock::now()
                .saturating_duration_since(started)
                .as_secs_f64(),
        );
    let status = response.status();
    if status.is_client_error() {
        let outcome = match status.as_u16() {
            400 => "bad_request",
            401 => "unauthorized",
            403 => "forbidden",
            404 => "not_found",
            405 => "method_not_allowed",
            409 => "conflict",
            413 => "too_large",
            415 => "unsupported_media_type",
            422 => "invalid_body",
            _ => "other",
        };
        state
            .metrics
            .rejected
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }
    response
}
