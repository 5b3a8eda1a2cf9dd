//! Metrics: a `prometheus-client` registry created by the caller and passed down, never a
//! global, so every test and every role in `livecdn dev` has its own.
//!
//! Names follow `livecdn_<subsystem>_<noun>_<unit>[_total]`; label values come from closed sets
//! (never user ids, IPs, keys or tokens). Roles register into
//! `registry.sub_registry_with_prefix("livecdn")`; process metrics keep their conventional
//! `process_` names.

mod process;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

pub use process::{ProcessCollector, cpu_seconds};

/// The content type of the Prometheus text format 0.0.4.
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
/// The content type of OpenMetrics text 1.0.0.
pub const OPENMETRICS_TEXT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A new, empty root registry.
pub fn new_registry() -> Registry {
    Registry::default()
}

/// Registers `process_cpu_seconds_total`, `process_resident_memory_bytes`,
/// `process_open_fds` and `process_threads` (read from `/proc/self` at scrape time).
pub fn register_process_metrics(registry: &mut Registry) {
    registry.register_collector(Box::new(ProcessCollector));
}

/// Registers `livecdn_build_info{version,role} 1`.
pub fn register_build_info(registry: &mut Registry, role: &str) {
    let info = Info::new(vec![
        ("version".to_owned(), env!("CARGO_PKG_VERSION").to_owned()),
        ("role".to_owned(), role.to_owned()),
    ]);
    registry.sub_registry_with_prefix("livecdn").register(
        "build",
        "Build and role of this node",
        info,
    );
}

/// Encodes the registry in the format the scraper asked for: OpenMetrics when its `Accept`
/// header names it, else the Prometheus text format. Returns `(content type, body)`.
pub fn encode(
    registry: &Registry,
    accept: Option<&str>,
) -> Result<(&'static str, String), std::fmt::Error> {
    let mut body = String::with_capacity(4096);
    if accept.is_some_and(|a| a.contains("application/openmetrics-text")) {
        prometheus_client::encoding::text::encode(&mut body, registry)?;
        Ok((OPENMETRICS_TEXT, body))
    } else {
        prometheus_client::encoding::prometheus_text::encode(&mut body, registry)?;
        Ok((PROMETHEUS_TEXT, body))
    }
}

/// Labels of `livecdn_http_responses_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResponseLabels {
    /// The HTTP status code.
    pub status: u16,
}

/// HTTP server metrics shared by every role's listener.
#[derive(Debug, Clone, Default)]
pub struct HttpMetrics {
    /// `livecdn_http_responses_total{status}`.
    pub responses: Family<ResponseLabels, Counter>,
}

impl HttpMetrics {
    /// Creates and registers the metrics under `livecdn_http_`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.sub_registry_with_prefix("livecdn_http").register(
            "responses",
            "HTTP responses sent, by status code",
            metrics.responses.clone(),
        );
        metrics
    }
}
