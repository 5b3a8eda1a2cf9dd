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
    /// `[cache]`: the media cache.
    pub cache: CacheSection,
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

/// `[cache]`: the in-memory cache of parts and segments.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct CacheSection {
    /// Upper bound of the bytes the cache holds (parts, segments, playlists), e.g. `"512MiB"`.
    /// Read and validated now; used once replication lands (the edge does not cache yet).
    /// Default: `"512MiB"`.
    pub max_bytes: bytesize::ByteSize,
}

impl Default for CacheSection {
    fn default() -> Self {
        Self {
            max_bytes: bytesize::ByteSize::mib(512),
        }
    }
}
