//! Background work: the failure detector's clock, the node gauges, the stats recorder and the
//! database pool gauge.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use directory::{Liveness, Registry, RegistryEvent};
use node::shutdown::Shutdown;

use crate::metrics::{ControlPlaneMetrics, NodeLabels, OutcomeLabels, PoolLabels};
use crate::state::ControlPlane;

/// Longest sleep of the detector task (it also refreshes the node gauges this often).
const MAX_TICK: Duration = Duration::from_millis(500);

/// Drains the registry's events into logs and metrics. Call after every input.
pub fn drain_registry_events(registry: &mut Registry, metrics: &ControlPlaneMetrics) {
    while let Some(event) = registry.poll_output() {
        match event {
            RegistryEvent::NodeStateChanged { id, from, to, .. } => {
                tracing::info!(node = %id, from = from.as_str(), to = to.as_str(), "node state changed");
                metrics
                    .transitions
                    .get_or_create(&OutcomeLabels {
                        outcome: to.as_str(),
                    })
                    .inc();
            }
            other => tracing::debug!(event = ?other, "registry"),
        }
    }
}

/// Runs the failure detector until `shutdown`: wakes at the registry's next deadline (at least
/// every [`MAX_TICK`], or on a deregistration), advances it, and refreshes the
/// `livecdn_cp_nodes` gauges at most once per [`MAX_TICK`] (the walk is O(nodes), so it must not
/// run per heartbeat).
pub async fn run_detector(state: Arc<ControlPlane>, shutdown: Shutdown) {
    let mut previous: HashMap<NodeLabels, i64> = HashMap::new();
    let mut refreshed: Option<std::time::Instant> = None;
    loop {
        let now = node::clock::now();
        let wake = {
            let mut registry = state.registry();
            registry.handle_timeout(now);
            drain_registry_events(&mut registry, &state.metrics);
            if refreshed.is_none_or(|at| now.saturating_duration_since(at) >= MAX_TICK) {
                previous = refresh_node_gauges(&registry, &state.metrics, previous);
                refreshed = Some(now);
            }
            registry.poll_timeout()
        };
        let sleep = wake
            .map_or(MAX_TICK, |at| at.saturating_duration_since(now))
            .min(MAX_TICK);
        tokio::select! {
            () = tokio::time::sleep(sleep) => {}
            () = state.registry_changed.notified() => {}
            () = shutdown.triggered() => return,
        }
    }
}

fn refresh_node_gauges(
    registry: &Registry,
    metrics: &ControlPlaneMetrics,
    previous: HashMap<NodeLabels, i64>,
) -> HashMap<NodeLabels, i64> {
    let mut counts: HashMap<NodeLabels, i64> = HashMap::new();
    for view in registry.nodes() {
        let state = if view.report.draining && view.liveness != Liveness::Dead {
            "draining"
        } else {
            view.liveness.as_str()
        };
        *counts
            .entry(NodeLabels {
                role: view.report.role.as_str().to_owned(),
                region: view.report.region.clone(),
                state: state.to_owned(),
            })
            .or_default() += 1;
    }
    // Label sets that vanished go to zero rather than keep their last value.
    for labels in previous.keys() {
        if !counts.contains_key(labels) {
            metrics.nodes.get_or_create(labels).set(0);
        }
    }
    for (labels, count) in &counts {
        metrics.nodes.get_or_create(labels).set(*count);
    }
    counts
}

/// Every `[stats] interval`, records one row per live stream and region (viewers from the
/// edges' reports; chat messages, likes and gift value from the relays' counters), and
/// refreshes the database pool gauge.
pub async fn run_stats(state: Arc<ControlPlane>, shutdown: Shutdown) {
    let mut series = crate::stats::StatsSeries::default();
    let mut ticker = tokio::time::interval(state.config.stats.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = shutdown.triggered() => return,
        }
        let pool = state.store.pool_stats();
        let idle = i64::from(pool.idle);
        state
            .metrics
            .db_pool
            .get_or_create(&PoolLabels { state: "idle" })
            .set(idle);
        state
            .metrics
            .db_pool
            .get_or_create(&PoolLabels { state: "in_use" })
            .set(i64::from(pool.size).saturating_sub(idle));
        let at_ms = i64::try_from(node::clock::unix_time_ms()).unwrap_or(i64::MAX);
        let rows = series.sample(&state.registry());
        if rows.is_empty() {
            continue;
        }
        let rows: Vec<store::StatsRow> = rows
            .into_iter()
            .map(|r| store::StatsRow {
                stream: r.stream,
                region: r.region,
                at_ms,
                viewers: r.viewers,
                chat_messages: r.chat_messages,
                likes: r.likes,
                gift_value: r.gift_value,
            })
            .collect();
        let count = rows.len() as u64;
        match state.store.record_stats(&rows).await {
            Ok(()) => {
                state.metrics.stats_rows.inc_by(count);
            }
            Err(error) => {
                state.metrics.db_errors.inc();
                tracing::warn!(%error, "recording stats failed");
            }
        }
    }
}
