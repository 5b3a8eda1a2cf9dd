//! Node endpoints: heartbeat (register and report load), deregister (drain), and the node list.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use directory::{HeartbeatOutcome, Liveness, NodeReport, RegistryError};
use serde::Serialize;

use crate::api::auth::{Admin, NodeCaller};
use crate::api::error::ApiError;
use crate::metrics::OutcomeLabels;
use crate::state::ControlPlane;

/// The answer to a heartbeat.
#[derive(Debug, Serialize)]
pub struct HeartbeatAnswer {
    /// `registered` (first beat, or first after being forgotten), `updated` or `revived`.
    pub outcome: &'static str,
    /// How often the control plane expects a beat, in milliseconds.
    pub heartbeat_interval_ms: u64,
}

/// The expected heartbeat period (the failure detector's thresholds assume it).
pub const HEARTBEAT_INTERVAL_MS: u64 = 1000;

/// `POST /v1/nodes/heartbeat`.
pub async fn heartbeat(
    _: NodeCaller,
    State(state): State<Arc<ControlPlane>>,
    body: Result<Json<NodeReport>, JsonRejection>,
) -> Result<Json<HeartbeatAnswer>, ApiError> {
    let count = |outcome| {
        state
            .metrics
            .heartbeats
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    };
    let Json(report) = body.inspect_err(|_| count("bad_body"))?;
    if let Err(error) = report.validate() {
        count("invalid");
        return Err(ApiError::bad_request(error.to_string()));
    }
    let node_id = report.id.clone();
    let outcome = {
        let mut registry = state.registry();
        let outcome = registry.handle_heartbeat(report, node::clock::now());
        crate::tasks::drain_registry_events(&mut registry, &state.metrics);
        outcome
    };
    // No wake-up of the detector task here: a beat only moves deadlines later, and routing
    // re-checks liveness at its own `now`. (Waking it per beat cost O(nodes) per beat.)
    let outcome = match outcome {
        Ok(HeartbeatOutcome::Registered) => {
            tracing::info!(node = %node_id, "node registered");
            "registered"
        }
        Ok(HeartbeatOutcome::Updated) => "updated",
        Ok(HeartbeatOutcome::Revived) => {
            tracing::info!(node = %node_id, "node revived");
            "revived"
        }
        Err(RegistryError::InvalidReport(error)) => {
            count("invalid");
            return Err(ApiError::bad_request(error.to_string()));
        }
        Err(error @ RegistryError::TooManyNodes) => {
            count("refused");
            return Err(ApiError::unavailable(error.to_string()));
        }
        Err(error) => {
            count("conflict");
            return Err(ApiError::conflict(error.to_string()));
        }
    };
    count(outcome);
    Ok(Json(HeartbeatAnswer {
        outcome,
        heartbeat_interval_ms: HEARTBEAT_INTERVAL_MS,
    }))
}

/// `DELETE /v1/nodes/{id}`: the node is draining or stopping; it leaves routing at once.
pub async fn deregister(
    _: NodeCaller,
    State(state): State<Arc<ControlPlane>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(id) = id?;
    let removed = {
        let mut registry = state.registry();
        let removed = registry.handle_deregister(&id, node::clock::now());
        crate::tasks::drain_registry_events(&mut registry, &state.metrics);
        removed
    };
    state.registry_changed.notify_one();
    if removed {
        tracing::info!(node = %id, "node deregistered");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no node {id:?} is registered")))
    }
}

/// One node in `GET /v1/nodes`.
#[derive(Debug, Serialize)]
pub struct NodeEntry {
    /// What the node last reported.
    #[serde(flatten)]
    pub report: NodeReport,
    /// `alive`, `suspect` or `dead`.
    pub state: Liveness,
    /// Milliseconds since its last heartbeat.
    pub last_beat_ms_ago: u64,
}

/// `GET /v1/nodes`: every known node, its state and last report.
pub async fn list(_: Admin, State(state): State<Arc<ControlPlane>>) -> Json<Vec<NodeEntry>> {
    let now = node::clock::now();
    let registry = state.registry();
    let mut nodes: Vec<NodeEntry> = registry
        .nodes()
        .map(|view| NodeEntry {
            report: view.report.clone(),
            state: view.liveness,
            last_beat_ms_ago: u64::try_from(
                now.saturating_duration_since(view.last_beat).as_millis(),
            )
            .unwrap_or(u64::MAX),
        })
        .collect();
    nodes.sort_by(|a, b| a.report.id.cmp(&b.report.id));
    Json(nodes)
}
