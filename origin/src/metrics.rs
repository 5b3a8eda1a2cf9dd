//! The origin's metrics, registered into the node's registry under `livecdn_origin_`.
//!
//! Per-stream series carry a `stream` label (stream names are operator-chosen, bounded by the
//! configured stream list) and are removed when the stream ends.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// `{reason}` labels.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// A closed-set reason from an error's `reason()`.
    pub reason: &'static str,
}

/// `{stream}` labels.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StreamLabels {
    /// The stream name.
    pub stream: String,
}

/// Every origin metric.
#[derive(Debug, Clone)]
pub struct OriginMetrics {
    /// `livecdn_origin_rtmp_connections_total`: TCP connections accepted on the RTMP port.
    pub rtmp_connections: Counter,
    /// `livecdn_origin_rtmp_active_connections`: RTMP connections open now.
    pub rtmp_active: Gauge,
    /// `livecdn_origin_rtmp_errors_total{reason}`: connections closed for a protocol error.
    pub rtmp_errors: Family<ReasonLabels, Counter>,
    /// `livecdn_origin_publish_rejected_total{reason}`: refused publishes.
    pub publish_rejected: Family<ReasonLabels, Counter>,
    /// `livecdn_origin_media_rejected_total{reason}`: media tags or packager output refused
    /// (unsupported codec, which also drops the publisher; malformed FLV; window refusals).
    pub media_rejected: Family<ReasonLabels, Counter>,
    /// `livecdn_origin_live_streams`: streams with a publisher or within the reconnect grace.
    pub live_streams: Gauge,
    /// `livecdn_origin_ingest_bytes_total{stream}`: media bytes received.
    pub ingest_bytes: Family<StreamLabels, Counter>,
    /// `livecdn_origin_ingest_bitrate_bits_per_second{stream}`: bitrate of the last segment.
    pub ingest_bitrate: Family<StreamLabels, Gauge>,
    /// `livecdn_origin_parts_total{stream}`: LL-HLS parts produced.
    pub parts: Family<StreamLabels, Counter>,
    /// `livecdn_origin_part_delay_seconds`: from reading the frame that completed a part to the
    /// part being servable.
    pub part_delay: Histogram,
}

impl OriginMetrics {
    /// Creates and registers every metric in `registry` (the node's root registry).
    pub fn register(registry: &mut Registry) -> Self {
        let delay_buckets = [
            0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0,
        ];
        let metrics = Self {
            rtmp_connections: Counter::default(),
            rtmp_active: Gauge::default(),
            rtmp_errors: Family::default(),
            publish_rejected: Family::default(),
            media_rejected: Family::default(),
            live_streams: Gauge::default(),
            ingest_bytes: Family::default(),
            ingest_bitrate: Family::default(),
            parts: Family::default(),
            part_delay: Histogram::new(delay_buckets),
        };
        let r = registry.sub_registry_with_prefix("livecdn_origin");
        r.register(
            "rtmp_connections",
            "RTMP connections accepted",
            metrics.rtmp_connections.clone(),
        );
        r.register(
            "rtmp_active_connections",
            "RTMP connections open now",
            metrics.rtmp_active.clone(),
        );
        r.register(
            "rtmp_errors",
            "RTMP connections closed for a protocol error",
            metrics.rtmp_errors.clone(),
        );
        r.register(
            "publish_rejected",
            "Refused publish requests",
            metrics.publish_rejected.clone(),
        );
        r.register("media_rejected", "Media refused: unsupported codecs (publisher dropped), malformed tags, window refusals", metrics.media_rejected.clone());
        r.register(
            "live_streams",
            "Streams with a publisher or within the reconnect grace",
            metrics.live_streams.clone(),
        );
        r.register_with_unit(
            "ingest",
            "Media bytes received",
            Unit::Bytes,
            metrics.ingest_bytes.clone(),
        );
        r.register(
            "ingest_bitrate_bits_per_second",
            "Bitrate of the last closed segment",
            metrics.ingest_bitrate.clone(),
        );
        r.register("parts", "LL-HLS parts produced", metrics.parts.clone());
        r.register_with_unit(
            "part_delay",
            "From reading the frame that completed a part to the part being servable",
            Unit::Seconds,
            metrics.part_delay.clone(),
        );
        metrics
    }

    /// Removes the per-stream series of `stream` (when it ends).
    pub fn forget_stream(&self, stream: &str) {
        let labels = StreamLabels {
            stream: stream.to_owned(),
        };
        self.ingest_bytes.remove(&labels);
        self.ingest_bitrate.remove(&labels);
        self.parts.remove(&labels);
    }
}
