//! Metrics of LL-HLS serving, registered under `livecdn_hls_` in the node's registry.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

/// `{reason}` labels.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// A closed-set reason from an error's `reason()`.
    pub reason: &'static str,
}

/// `{kind}` labels: `playlist`, `multivariant`, `part`, `segment`, `init`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    /// The kind of object.
    pub kind: &'static str,
}

/// Serving metrics.
#[derive(Debug, Clone)]
pub struct ServeMetrics {
    /// `livecdn_hls_held_requests`: blocking playlist and held part requests waiting now.
    pub held_requests: Gauge,
    /// `livecdn_hls_bad_requests_total{reason}`: requests refused with 400.
    pub bad_requests: Family<ReasonLabels, Counter>,
    /// `livecdn_hls_egress_bytes_total{kind}`: response body bytes sent, by object kind.
    pub egress: Family<KindLabels, Counter>,
    /// `livecdn_hls_timeouts_total`: held requests answered 503 because nothing came in time.
    pub timeouts: Counter,
    /// The `egress` counter of each kind, resolved once: a response adds to its kind's counter
    /// without the family's lock and label hash.
    by_kind: [Counter; KINDS.len()],
}

/// What a response carried, for `livecdn_hls_egress_bytes_total{kind}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Multivariant,
    Playlist,
    Init,
    Part,
    Segment,
}

/// The `kind` label of each [`Kind`], in its order.
const KINDS: [&str; 5] = ["multivariant", "playlist", "init", "part", "segment"];

impl Default for ServeMetrics {
    fn default() -> Self {
        let egress: Family<KindLabels, Counter> = Family::default();
        let by_kind = KINDS.map(|kind| egress.get_or_create(&KindLabels { kind }).clone());
        Self {
            held_requests: Gauge::default(),
            bad_requests: Family::default(),
            egress,
            timeouts: Counter::default(),
            by_kind,
        }
    }
}

impl ServeMetrics {
    /// Creates and registers the metrics in `registry` (the node's root registry).
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        let r = registry.sub_registry_with_prefix("livecdn_hls");
        r.register(
            "held_requests",
            "Blocking playlist and held part requests waiting",
            metrics.held_requests.clone(),
        );
        r.register(
            "bad_requests",
            "Requests refused with 400, by reason",
            metrics.bad_requests.clone(),
        );
        r.register_with_unit(
            "egress",
            "Response body bytes sent, by object kind",
            Unit::Bytes,
            metrics.egress.clone(),
        );
        r.register(
            "timeouts",
            "Held requests answered 503 because nothing came in time",
            metrics.timeouts.clone(),
        );
        metrics
    }

    pub(crate) fn bad_request(&self, reason: &'static str) {
        self.bad_requests
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    /// Body bytes sent so far, over every kind (nodes report its rate as egress load).
    pub fn egress_bytes_total(&self) -> u64 {
        self.by_kind.iter().map(Counter::get).sum()
    }

    pub(crate) fn sent(&self, kind: Kind, bytes: usize) {
        self.by_kind[kind as usize].inc_by(bytes as u64);
    }
}
