//! `livecdn chat-relay --config FILE`: the chat-relay's configuration. Every key is documented here
//! (meaning, unit, default) and in `docs/config.md`; `deploy/config/chat-relay.toml` is the
//! commented example. Environment overrides: `LIVECDN_CHAT_RELAY__SECTION__KEY`.

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

/// `[http]`: the HTTP listener (default port 8091).
pub type HttpSection = node::config::sections::HttpSection<8091>;
