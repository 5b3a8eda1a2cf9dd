//! Federation metrics, under `livecdn_chat_federation_`; every label value from a closed set.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// `{direction}` labels: `out` (links this relay dialed, forwards it sent) or `in`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DirectionLabels {
    /// `out` or `in`.
    pub direction: &'static str,
}

/// `{reason}` labels of failed forwards: `timeout` or `link_down`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabels {
    /// `timeout` or `link_down`.
    pub reason: &'static str,
}

/// `{reason}` labels of failed dials: `connect`, `tls`, `websocket`, `refused`, `timeout`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DialFailureLabels {
    /// `connect`, `tls`, `websocket`, `refused` or `timeout`.
    pub reason: &'static str,
}

/// Federation metrics, under `livecdn_chat_federation_`.
#[derive(Debug, Clone)]
pub struct FederationMetrics {
    /// `livecdn_chat_federation_links{direction}`: links up now.
    pub links: Family<DirectionLabels, Gauge>,
    /// `livecdn_chat_federation_link_reconnects_total`: outgoing links lost and redialed.
    pub reconnects: Counter,
    /// `livecdn_chat_federation_dial_failures_total{reason}`: attempts to open a link that
    /// failed: `connect`, `tls` (handshake refused, e.g. a home certificate not from
    /// `federation.tls_ca`, or no CA configured for a `wss://` home), `websocket`, `refused`
    /// (bad `hello`, wrong peer), `timeout`.
    pub dial_failures: Family<DialFailureLabels, Counter>,
    /// `livecdn_chat_federation_forwarded_total{direction}`: client frames forwarded to a home
    /// (`out`) or received from a mirror (`in`).
    pub forwarded: Family<DirectionLabels, Counter>,
    /// `livecdn_chat_federation_forward_failures_total{reason}`: forwards answered
    /// `unavailable` here because the reply was late or the link dropped.
    pub forward_failures: Family<FailureLabels, Counter>,
    /// `livecdn_chat_federation_lag_seconds`: from the home sequencing an event (`at_ms`) to a
    /// mirror applying it (wall clocks of two hosts: as good as their sync).
    pub lag: Histogram,
    /// `livecdn_chat_federation_mirror_gaps_total`: gaps a mirror saw (each is a catch-up).
    pub gaps: Counter,
}

impl FederationMetrics {
    /// Creates the metrics and registers them in `registry` (the `livecdn_chat` sub-registry).
    pub fn register(registry: &mut Registry) -> Self {
        let buckets = [
            0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ];
        let m = Self {
            links: Family::default(),
            reconnects: Counter::default(),
            dial_failures: Family::default(),
            forwarded: Family::default(),
            forward_failures: Family::default(),
            lag: Histogram::new(buckets),
            gaps: Counter::default(),
        };
        let r = registry.sub_registry_with_prefix("federation");
        r.register("links", "Federation links up", m.links.clone());
        r.register(
            "link_reconnects",
            "Outgoing links lost",
            m.reconnects.clone(),
        );
        r.register(
            "dial_failures",
            "Failed attempts to open an outgoing link, by reason",
            m.dial_failures.clone(),
        );
        r.register("forwarded", "Client frames forwarded", m.forwarded.clone());
        let failures = m.forward_failures.clone();
        r.register(
            "forward_failures",
            "Forwards answered unavailable",
            failures,
        );
        let lag = m.lag.clone();
        r.register_with_unit("lag", "Home sequencing to mirror apply", Unit::Seconds, lag);
        r.register("mirror_gaps", "Gaps seen by mirrors", m.gaps.clone());
        m
    }

    pub(crate) fn link_up(&self, direction: &'static str, up: bool) {
        let gauge = self.links.get_or_create(&DirectionLabels { direction });
        if up {
            gauge.inc()
        } else {
            gauge.dec()
        };
    }

    pub(crate) fn dial_failed(&self, reason: &'static str) {
        self.dial_failures
            .get_or_create(&DialFailureLabels { reason })
            .inc();
    }

    pub(crate) fn forwarded(&self, direction: &'static str) {
        self.forwarded
            .get_or_create(&DirectionLabels { direction })
            .inc();
    }

    pub(crate) fn failed(&self, reason: &'static str) {
        self.forward_failures
            .get_or_create(&FailureLabels { reason })
            .inc();
    }
}
