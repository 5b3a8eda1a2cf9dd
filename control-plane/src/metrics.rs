//! Metrics of the control plane, registered under `livecdn_cp_` in the node's registry.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// `{role, region, state}` labels of the node gauge.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NodeLabels {
    /// `origin`, `edge` or `chat_relay`.
    pub role: String,
    /// The node's region.
    pub region: String,
    /// `alive`, `suspect`, `dead` or `draining`.
    pub state: String,
}

/// `{outcome}` labels.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// A closed set per metric.
    pub outcome: &'static str,
}

/// `{kind, outcome}` labels of routing decisions.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RoutingLabels {
    /// `play`, `ingest`, `chat`, `directory` or `room_home`.
    pub kind: &'static str,
    /// `routed`, `not_live`, `no_node`, `unknown_node`.
    pub outcome: &'static str,
}

/// `{scope, reason}` labels of auth failures.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AuthLabels {
    /// `admin` or `node`.
    pub scope: &'static str,
    /// `missing` or `invalid`.
    pub reason: &'static str,
}

/// `{route}` labels: the matched route template, e.g. `/v1/play/:stream`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// The route template (never the raw path, so the label set stays small).
    pub route: String,
}

/// `{state}` labels of the database pool gauge.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabels {
    /// `idle` or `in_use`.
    pub state: &'static str,
}

/// Builds latency histograms with buckets from 50 µs to ~1.6 s.
#[derive(Debug, Clone, Copy)]
pub struct LatencyBuckets;

impl MetricConstructor<Histogram> for LatencyBuckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
            0.000_05, 2.0, 16,
        ))
    }
}

/// The control plane's metrics.
#[derive(Debug, Clone)]
pub struct ControlPlaneMetrics {
    /// `livecdn_cp_nodes{role,region,state}`: registered nodes.
    pub nodes: Family<NodeLabels, Gauge>,
    /// `livecdn_cp_heartbeats_total{outcome}`: heartbeats by outcome.
    pub heartbeats: Family<OutcomeLabels, Counter>,
    /// `livecdn_cp_node_transitions_total{outcome}`: failure-detector transitions (to a state).
    pub transitions: Family<OutcomeLabels, Counter>,
    /// `livecdn_cp_routing_decisions_total{kind,outcome}`.
    pub routing: Family<RoutingLabels, Counter>,
    /// `livecdn_cp_auth_failures_total{scope,reason}`.
    pub auth_failures: Family<AuthLabels, Counter>,
    /// `livecdn_cp_api_rejected_total{outcome}`: requests refused with 4xx for bad input.
    pub rejected: Family<OutcomeLabels, Counter>,
    /// `livecdn_cp_api_request_duration_seconds{route}`.
    pub api_latency: Family<RouteLabels, Histogram, LatencyBuckets>,
    /// `livecdn_cp_db_pool_connections{state}`.
    pub db_pool: Family<PoolLabels, Gauge>,
    /// `livecdn_cp_db_errors_total`: database operations that failed.
    pub db_errors: Counter,
    /// `livecdn_cp_stats_rows_total`: stats rows recorded.
    pub stats_rows: Counter,
}

impl ControlPlaneMetrics {
    /// Creates and registers the metrics in `registry` (the node's root registry).
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            nodes: Family::default(),
            heartbeats: Family::default(),
            transitions: Family::default(),
            routing: Family::default(),
            auth_failures: Family::default(),
            rejected: Family::default(),
            api_latency: Family::new_with_constructor(LatencyBuckets),
            db_pool: Family::default(),
            db_errors: Counter::default(),
            stats_rows: Counter::default(),
        };
        let r = registry.sub_registry_with_prefix("livecdn_cp");
        r.register(
            "nodes",
            "Registered nodes by role, region and state",
            metrics.nodes.clone(),
        );
        r.register(
            "heartbeats",
            "Node heartbeats by outcome",
            metrics.heartbeats.clone(),
        );
        r.register(
            "node_transitions",
            "Failure-detector transitions, by the state entered",
            metrics.transitions.clone(),
        );
        r.register(
            "routing_decisions",
            "Routing decisions by kind and outcome",
            metrics.routing.clone(),
        );
        r.register(
            "auth_failures",
            "Requests refused for a missing or invalid token",
            metrics.auth_failures.clone(),
        );
        r.register(
            "api_rejected",
            "API requests refused with 4xx for bad input, by reason",
            metrics.rejected.clone(),
        );
        r.register_with_unit(
            "api_request_duration",
            "API request handling time by route",
            Unit::Seconds,
            metrics.api_latency.clone(),
        );
        r.register(
            "db_pool_connections",
            "Database pool connections by state",
            metrics.db_pool.clone(),
        );
        r.register(
            "db_errors",
            "Database operations that failed",
            metrics.db_errors.clone(),
        );
        r.register(
            "stats_rows",
            "Per-stream, per-region stats rows recorded",
            metrics.stats_rows.clone(),
        );
        metrics
    }
}
