//! Replication metrics, under `livecdn_relay_` in the node's registry.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// `{reason}` labels.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// A closed-set reason.
    pub reason: &'static str,
}

/// Replication metrics of one node (both directions).
#[derive(Debug, Clone)]
pub struct RelayMetrics {
    /// `livecdn_relay_downstream_connections`: subscriber connections open now.
    pub downstream_connections: Gauge,
    /// `livecdn_relay_parts_sent_total`: part streams opened to subscribers.
    pub parts_sent: Counter,
    /// `livecdn_relay_parts_cancelled_total`: part streams reset under congestion.
    pub parts_cancelled: Counter,
    /// `livecdn_relay_tail_probes_total`: tail-loss probes (QUIC DATAGRAMs) sent after parts
    /// not yet acknowledged (`tail_probe`).
    pub tail_probes: Counter,
    /// `livecdn_relay_upstream_connected`: 1 while the upstream connection is up.
    pub upstream_connected: Gauge,
    /// `livecdn_relay_upstream_connects_total`: upstream connection attempts that succeeded.
    pub upstream_connects: Counter,
    /// `livecdn_relay_subscriptions`: upstream subscriptions held now.
    pub subscriptions: Gauge,
    /// `livecdn_relay_part_arrival_delay_seconds`: part arrival here minus the origin's clock
    /// when it made the part (wall clocks of two machines: meaningful within NTP accuracy).
    /// Live parts only: parts made before the subscription (re)started are backfill.
    pub arrival_delay: Histogram,
    /// `livecdn_relay_backfill_parts_total`: parts received that the origin made before the
    /// subscription (re)started (the window sent on subscribe, catch-up after a reconnect).
    pub backfill_parts: Counter,
    /// `livecdn_relay_gaps_total{reason}`: parts skipped with a discontinuity.
    pub gaps: Family<ReasonLabels, Counter>,
    /// `livecdn_relay_errors_total{reason}`: connections closed for a protocol or IO error.
    pub errors: Family<ReasonLabels, Counter>,
}

impl RelayMetrics {
    /// Creates and registers the metrics in `registry` (the node's root registry).
    pub fn register(registry: &mut Registry) -> Self {
        // 10 ms steps up to 100 ms: the targets (p99 20 ms on loopback, 80 ms across a lossy
        // 40 ms path) and one RTT-scale retransmission must be told apart.
        let buckets = [
            0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.1, 0.12,
            0.15, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0,
        ];
        let metrics = Self {
            downstream_connections: Gauge::default(),
            parts_sent: Counter::default(),
            parts_cancelled: Counter::default(),
            tail_probes: Counter::default(),
            upstream_connected: Gauge::default(),
            upstream_connects: Counter::default(),
            subscriptions: Gauge::default(),
            arrival_delay: Histogram::new(buckets),
            backfill_parts: Counter::default(),
            gaps: Family::default(),
            errors: Family::default(),
        };
        let r = registry.sub_registry_with_prefix("livecdn_relay");
        r.register(
            "backfill_parts",
            "Parts received that were made before the subscription (re)started",
            metrics.backfill_parts.clone(),
        );
        r.register(
            "downstream_connections",
            "Subscriber connections open now",
            metrics.downstream_connections.clone(),
        );
        r.register(
            "parts_sent",
            "Part streams opened to subscribers",
            metrics.parts_sent.clone(),
        );
        r.register(
            "parts_cancelled",
            "Part streams reset under congestion",
            metrics.parts_cancelled.clone(),
        );
        r.register(
            "tail_probes",
            "Tail-loss probes sent after unacknowledged parts",
            metrics.tail_probes.clone(),
        );
        r.register(
            "upstream_connected",
            "1 while the upstream connection is up",
            metrics.upstream_connected.clone(),
        );
        r.register(
            "upstream_connects",
            "Upstream connections established",
            metrics.upstream_connects.clone(),
        );
        r.register(
            "subscriptions",
            "Upstream subscriptions held now",
            metrics.subscriptions.clone(),
        );
        r.register_with_unit(
            "part_arrival_delay",
            "Part arrival here minus the origin's clock when it made the part",
            Unit::Seconds,
            metrics.arrival_delay.clone(),
        );
        r.register(
            "gaps",
            "Parts skipped with a discontinuity, by reason",
            metrics.gaps.clone(),
        );
        r.register(
            "errors",
            "Relay connections closed for an error, by reason",
            metrics.errors.clone(),
        );
        metrics
    }

    pub(crate) fn error(&self, reason: &'static str) {
        self.errors.get_or_create(&ReasonLabels { reason }).inc();
    }
}
