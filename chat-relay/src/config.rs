//! `livecdn chat-relay --config FILE`: the chat-relay's configuration. Every key is documented here
//! (meaning, unit, default) and in `docs/config.md`; `deploy/config/chat-relay.toml` is the
//! commented example. Environment overrides: `LIVECDN_CHAT_RELAY__SECTION__KEY`.

use std::net::SocketAddr;

use node::config::sections::{LogSection, NodeSection, ShutdownSection};
use serde::{Deserialize, Serialize};

/// The chat-relay's whole configuration.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ChatRelayConfig {
    /// `[node]`: identity and region.
    pub node: NodeSection,
    /// `[http]`: the HTTP listener.
    pub http: HttpSection,

    /// `[log]`: logging.
    pub log: LogSection,
    /// `[shutdown]`: graceful shutdown.
    pub shutdown: ShutdownSection,
}

/// `[http]`: the HTTP listener.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSection {
    /// Address and port of the HTTP listener (also serves `/metrics`, `/healthz`,
    /// `/readyz`). Default: `"0.0.0.0:8091"`.
    pub listen: SocketAddr,
}

impl Default for HttpSection {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 8091)),
        }
    }
}
