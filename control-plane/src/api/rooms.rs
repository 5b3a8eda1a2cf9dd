//! `GET /v1/rooms/{room}/home` (node auth): which chat relay is a room's home, the one that
//! sequences it (`docs/chat-protocol.md` §9). The home is the relay nearest the host: in the
//! region of the origin where the stream is live, else in the asking relay's region. Once chosen
//! it is sticky while that relay is alive, so every relay that asks gets the same answer; a dead
//! or draining home is replaced by the next choice.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use directory::{Liveness, Role};
use serde::{Deserialize, Serialize};

use crate::api::auth::NodeCaller;
use crate::api::error::ApiError;
use crate::api::routing::stream_name;
use crate::metrics::RoutingLabels;
use crate::state::ControlPlane;

/// Rooms remembered before homes on unusable relays are pruned.
pub const MAX_ROOM_HOMES: usize = 100_000;

/// `?relay=ID`: the asking relay.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HomeQuery {
    /// The asking relay's node id.
    pub relay: String,
}

/// The answer.
#[derive(Debug, Serialize)]
pub struct HomeAnswer {
    /// The room.
    pub room: String,
    /// The home relay's node id.
    pub relay_id: String,
    /// Its region.
    pub region: String,
    /// Its client WebSocket URL (`…/ws`); federation links use `…/federation` beside it.
    pub ws_url: String,
}

/// The handler.
pub async fn home(
    _: NodeCaller,
    State(state): State<Arc<ControlPlane>>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<HomeQuery>, QueryRejection>,
) -> Result<Json<HomeAnswer>, ApiError> {
    let room = stream_name(path)?;
    let Query(HomeQuery { relay }) = query?;
    let now = node::clock::now();
    let registry = state.registry();
    let usable = |id: &str| {
        registry.node(id).filter(|v| {
            v.report.role == Role::ChatRelay
                && v.liveness == Liveness::Alive
                && !v.report.draining
                && v.report.ws_url.is_some()
        })
    };
    let Some(asking) = registry
        .node(&relay)
        .filter(|v| v.report.role == Role::ChatRelay)
    else {
        return Err(ApiError::not_found(format!(
            "{relay:?} is not a registered chat relay"
        )));
    };
    let mut homes = state
        .room_homes
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if homes.len() >= MAX_ROOM_HOMES {
        homes.retain(|_, id| usable(id).is_some());
    }
    if let Some(home) = homes.get(&room).and_then(|id| usable(id)) {
        return Ok(Json(answer(&room, home.report)));
    }
    let region = registry
        .origin_for_stream(&room, now)
        .map_or_else(|| asking.report.region.clone(), |o| o.report.region.clone());
    let chosen = registry
        .chat_relay_for(&region, &state.regions, now)
        .map_err(|e| {
            state
                .metrics
                .routing
                .get_or_create(&RoutingLabels {
                    kind: "room_home",
                    outcome: e.reason(),
                })
                .inc();
            ApiError::unavailable(e.to_string())
        })?;
    let home = usable(&chosen.id)
        .ok_or_else(|| ApiError::unavailable("the chosen home relay is not usable"))?;
    tracing::info!(%room, relay = %chosen.id, "room home assigned");
    homes.insert(room.clone(), chosen.id.clone());
    state
        .metrics
        .routing
        .get_or_create(&RoutingLabels {
            kind: "room_home",
            outcome: "routed",
        })
        .inc();
    Ok(Json(answer(&room, home.report)))
}

fn answer(room: &str, report: &directory::NodeReport) -> HomeAnswer {
    HomeAnswer {
        room: room.to_owned(),
        relay_id: report.id.clone(),
        region: report.region.clone(),
        ws_url: report.ws_url.clone().unwrap_or_default(),
    }
}
