//! `livecdn edge --config FILE`: the edge's configuration. Every key is documented here
//! (meaning, unit, default) and in `docs/config.md`; `deploy/config/edge.toml` is the
//! commented example. Environment overrides: `LIVECDN_EDGE__SECTION__KEY`.

use node::config::sections::{LogSection, NodeSection, ShutdownSection, TlsSection};
use serde::{Deserialize, Serialize};

/// The edge's whole configuration.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EdgeConfig {
    /// `[node]`: identity and region.
    pub node: NodeSection,
    /// `[http]`: the HTTP listener.
    pub http: HttpSection,
    /// `[relay]`: where the edge gets its streams and where child edges get them from it.
    pub relay: RelaySection,
    /// `[cache]`: the media cache.
    pub cache: CacheSection,
    /// `[control]`: the control plane this edge registers with; without `relay.upstream`, the
    /// stream directory tells the edge where to subscribe each stream. Unset `control.url`:
    /// standalone.
    pub control: control_client::ControlSection,
    /// `[tls]`: this node's certificate for mutual TLS with other nodes. Optional; when set,
    /// the files are loaded and checked at start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsSection>,
    /// `[log]`: logging.
    pub log: LogSection,
    /// `[shutdown]`: graceful shutdown.
    pub shutdown: ShutdownSection,
}

/// `[http]`: the HTTP listener (default port 8081).
pub type HttpSection = node::config::sections::HttpSection<8081>;

/// `[relay]`: replication over QUIC (mutual TLS with `[tls]`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RelaySection {
    /// UDP address of the upstream's replication listener: the origin, or a parent edge for a
    /// tier-2 edge. Needs `[tls]`. Unset: the edge has no source. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<std::net::SocketAddr>,
    /// The name the upstream's certificate must carry (its node name). Default: `"origin"`.
    pub upstream_name: String,
    /// UDP address where child edges subscribe to this edge (tiers). Needs `[tls]`. Unset: no
    /// children. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<std::net::SocketAddr>,
    /// A request for a stream the edge does not hold yet subscribes upstream and waits at most
    /// this long for it. Duration. Default: `"5s"`.
    #[serde(with = "humantime_serde")]
    pub pull_wait: std::time::Duration,
    /// A stream with no player request and no child edge for this long is unsubscribed and
    /// dropped from memory. Duration. Default: `"30s"`.
    #[serde(with = "humantime_serde")]
    pub idle_unsubscribe: std::time::Duration,
}

impl Default for RelaySection {
    fn default() -> Self {
        Self {
            upstream: None,
            upstream_name: "origin".to_owned(),
            listen: None,
            pull_wait: std::time::Duration::from_secs(5),
            idle_unsubscribe: std::time::Duration::from_secs(30),
        }
    }
}

/// `[cache]`: the in-memory cache of parts and segments.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct CacheSection {
    /// Upper bound of the bytes the object cache holds (inits, parts, segments), e.g.
    /// `"512MiB"`; least recently used objects are evicted first. The live windows keep what
    /// they list even when the cache evicted it (`livecdn_edge_cache_evictions_total{state="live"}`
    /// counts that: the budget is too small for the streams held). Default: `"512MiB"`.
    pub max_bytes: bytesize::ByteSize,
}

impl Default for CacheSection {
    fn default() -> Self {
        Self {
            max_bytes: bytesize::ByteSize::mib(512),
        }
    }
}
