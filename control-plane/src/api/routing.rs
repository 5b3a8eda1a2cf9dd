//! Routing: viewers to an edge (`/v1/play`), hosts to an origin (`/v1/ingest`), chatters to a
//! relay with a signed token (`/v1/chat`), edges to their upstream (`/v1/directory`), and the
//! list of live streams (`/v1/live`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::header::{ACCEPT, CACHE_CONTROL, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use directory::{Liveness, Role, RouteError, Target};
use serde::{Deserialize, Serialize};

use crate::api::auth::NodeCaller;
use crate::api::error::ApiError;
use crate::metrics::RoutingLabels;
use crate::state::ControlPlane;

/// `?region=R`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionQuery {
    /// The client's region; wins over the region header and the CIDR map.
    pub region: Option<String>,
}

/// Checks a name from the path (stream or room).
pub fn stream_name(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(name) = path?;
    if hls::is_valid_stream_name(&name) {
        Ok(name)
    } else {
        Err(ApiError::bad_request(
            "a stream name is 1 to 64 of A-Z a-z 0-9 - _",
        ))
    }
}

/// Checks a region name given by a client.
pub fn region_param(
    query: Result<Query<RegionQuery>, QueryRejection>,
) -> Result<Option<String>, ApiError> {
    let Query(query) = query?;
    checked_region(query.region)
}

fn checked_region(region: Option<String>) -> Result<Option<String>, ApiError> {
    match region {
        Some(region) if !hls::is_valid_stream_name(&region) => Err(ApiError::bad_request(
            "a region is 1 to 64 of A-Z a-z 0-9 - _",
        )),
        region => Ok(region),
    }
}

/// `?region=R&avoid=ID[,ID…]` of `/v1/play`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlayQuery {
    /// The client's region; wins over the region header and the CIDR map.
    pub region: Option<String>,
    /// Edges the player just failed on (comma-separated node ids, at most [`MAX_AVOID`]).
    pub avoid: Option<String>,
}

/// Most node ids one `avoid` names.
pub const MAX_AVOID: usize = 8;

/// The ids of `avoid`, checked.
fn avoid_param(avoid: Option<&str>) -> Result<Vec<String>, ApiError> {
    let Some(avoid) = avoid.filter(|a| !a.is_empty()) else {
        return Ok(Vec::new());
    };
    let ids: Vec<String> = avoid.split(',').map(str::to_owned).collect();
    if ids.len() > MAX_AVOID || ids.iter().any(|id| !hls::is_valid_stream_name(id)) {
        return Err(ApiError::bad_request(format!(
            "avoid is at most {MAX_AVOID} node ids (1 to 64 of A-Z a-z 0-9 - _), comma-separated"
        )));
    }
    Ok(ids)
}

/// A routing answer in JSON (`Accept: application/json`).
#[derive(Debug, Serialize)]
pub struct PlayAnswer {
    /// The stream.
    pub stream: String,
    /// The region the viewer was routed for.
    pub region: String,
    /// The multivariant playlist URL on the chosen edge.
    pub url: String,
    /// The chosen edge.
    pub chosen: Target,
    /// The next best edges, best first.
    pub alternatives: Vec<Target>,
}

fn count(state: &ControlPlane, kind: &'static str, outcome: &'static str) {
    state
        .metrics
        .routing
        .get_or_create(&RoutingLabels { kind, outcome })
        .inc();
}

fn route_error(state: &ControlPlane, kind: &'static str, error: &RouteError) -> ApiError {
    let outcome = error.reason();
    count(state, kind, outcome);
    match error {
        RouteError::StreamNotLive { .. }
        | RouteError::UnknownNode { .. }
        | RouteError::NotAnEdge { .. } => ApiError::not_found(error.to_string()),
        _ => ApiError::unavailable(error.to_string()),
    }
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"))
}

/// `GET /v1/play/{stream}?region=R[&avoid=ID,…]`: 302 to the best edge's multivariant
/// playlist, or the choice and its alternatives as JSON. `avoid` names edges the player just
/// failed on: they, and edges fed by them, are left out.
pub async fn play(
    State(state): State<Arc<ControlPlane>>,
    peer: Result<ConnectInfo<SocketAddr>, axum::extract::rejection::ExtensionRejection>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<PlayQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let stream = stream_name(path)?;
    let Query(query) = query?;
    let region = checked_region(query.region)?;
    let avoid = avoid_param(query.avoid.as_deref())?;
    let region = state.client_region(region.as_deref(), &headers, peer.ok().map(|c| c.0.ip()));
    let route = state
        .registry()
        .route_viewer_avoiding(&stream, &region, &state.regions, node::clock::now(), &avoid)
        .map_err(|e| route_error(&state, "play", &e))?;
    count(&state, "play", "routed");
    let url = format!(
        "{}/live/{stream}/index.m3u8",
        route.chosen.url.trim_end_matches('/')
    );
    if wants_json(&headers) {
        let answer = PlayAnswer {
            stream,
            region,
            url,
            chosen: route.chosen,
            alternatives: route.alternatives,
        };
        return Ok(([(CACHE_CONTROL, "no-store")], Json(answer)).into_response());
    }
    let location = HeaderValue::try_from(url)
        .map_err(|_| ApiError::internal("the chosen edge has an unusable URL"))?;
    Ok((
        StatusCode::FOUND,
        [
            (LOCATION, location),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
        .into_response())
}

/// `GET /v1/ingest/{stream}` answer.
#[derive(Debug, Serialize)]
pub struct IngestAnswer {
    /// The stream.
    pub stream: String,
    /// The RTMP URL to publish to, without the key: `rtmp://HOST:PORT/live`. The host appends
    /// `/{stream_key}` (OBS: "Server" is this URL, "Stream Key" the key).
    pub rtmp_url: String,
    /// The chosen origin.
    pub origin: Target,
}

/// `GET /v1/ingest/{stream}?region=R`: the origin a host should publish to.
pub async fn ingest(
    State(state): State<Arc<ControlPlane>>,
    peer: Result<ConnectInfo<SocketAddr>, axum::extract::rejection::ExtensionRejection>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<RegionQuery>, QueryRejection>,
) -> Result<Json<IngestAnswer>, ApiError> {
    let stream = stream_name(path)?;
    let region = region_param(query)?;
    let region = state.client_region(region.as_deref(), &headers, peer.ok().map(|c| c.0.ip()));
    // A stream already live stays on its origin (a reconnect must land where the window is).
    let now = node::clock::now();
    let origin = {
        let registry = state.registry();
        let holder = registry.origin_for_stream(&stream, now).and_then(|view| {
            Some(Target {
                id: view.report.id.clone(),
                region: view.report.region.clone(),
                url: view.report.rtmp_url.clone()?,
                liveness: view.liveness,
                distance: state.regions.distance(&region, &view.report.region),
                load_ratio: 0.0,
            })
        });
        match holder {
            Some(origin) => Ok(origin),
            None => registry.ingest_origin(&region, &state.regions, now),
        }
    }
    .map_err(|e| route_error(&state, "ingest", &e))?;
    count(&state, "ingest", "routed");
    Ok(Json(IngestAnswer {
        stream,
        rtmp_url: origin.url.clone(),
        origin,
    }))
}

/// `?edge=ID` of the directory lookup.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryQuery {
    /// The asking edge's node id.
    pub edge: String,
}

/// Where an edge subscribes.
#[derive(Debug, Serialize)]
pub struct DirectoryAnswer {
    /// The stream.
    pub stream: String,
    /// The upstream's node id (the name its certificate carries).
    pub node_id: String,
    /// The upstream's QUIC replication address, `host:port`.
    pub relay_addr: String,
}

/// `GET /v1/directory/{stream}?edge=ID` (node auth): the upstream an edge should subscribe to.
pub async fn directory(
    _: NodeCaller,
    State(state): State<Arc<ControlPlane>>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<DirectoryQuery>, QueryRejection>,
) -> Result<Json<DirectoryAnswer>, ApiError> {
    let stream = stream_name(path)?;
    let Query(DirectoryQuery { edge }) = query?;
    let upstream = state
        .registry()
        .upstream_for_edge(&edge, &stream, &state.regions, node::clock::now())
        .map_err(|e| route_error(&state, "directory", &e))?;
    count(&state, "directory", "routed");
    Ok(Json(DirectoryAnswer {
        stream,
        node_id: upstream.id,
        relay_addr: upstream.relay_addr,
    }))
}

/// One live stream in `GET /v1/live`.
#[derive(Debug, Serialize)]
pub struct LiveStream {
    /// The stream name.
    pub stream: String,
    /// The origin holding it.
    pub origin: String,
    /// Viewers across all edges, as last reported.
    pub viewers: u64,
}

/// `GET /v1/live`: streams live now, most viewed first (public: the home page lists them).
pub async fn live(State(state): State<Arc<ControlPlane>>) -> Json<Vec<LiveStream>> {
    let registry = state.registry();
    let mut viewers: std::collections::HashMap<&str, u64> = std::collections::HashMap::new();
    let mut origins: Vec<(&str, &str)> = Vec::new();
    for view in registry.nodes().filter(|v| v.liveness != Liveness::Dead) {
        match view.report.role {
            Role::Origin => origins.extend(
                view.report
                    .streams
                    .iter()
                    .map(|s| (s.name.as_str(), view.report.id.as_str())),
            ),
            Role::Edge => {
                for held in &view.report.streams {
                    *viewers.entry(held.name.as_str()).or_default() += held.viewers;
                }
            }
            Role::ChatRelay => {}
        }
    }
    let mut streams: Vec<LiveStream> = origins
        .into_iter()
        .map(|(stream, origin)| LiveStream {
            stream: stream.to_owned(),
            origin: origin.to_owned(),
            viewers: viewers.get(stream).copied().unwrap_or(0),
        })
        .collect();
    streams.dedup_by(|a, b| a.stream == b.stream);
    streams.sort_by(|a, b| b.viewers.cmp(&a.viewers).then(a.stream.cmp(&b.stream)));
    Json(streams)
}
