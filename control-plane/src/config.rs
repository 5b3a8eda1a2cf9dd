//! `livecdn control-plane --config FILE`: the control-plane's configuration. Every key is documented here
//! (meaning, unit, default) and in `docs/config.md`; `deploy/config/control-plane.toml` is the
//! commented example. Environment overrides: `LIVECDN_CONTROL_PLANE__SECTION__KEY`.

use node::config::sections::{LogSection, NodeSection, ShutdownSection};
use serde::{Deserialize, Serialize};

/// The control-plane's whole configuration.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ControlPlaneConfig {
    /// `[node]`: identity and region.
    pub node: NodeSection,
    /// `[http]`: the HTTP listener.
    pub http: HttpSection,

    /// `[log]`: logging.
    pub log: LogSection,
    /// `[shutdown]`: graceful shutdown.
    pub shutdown: ShutdownSection,
}

/// `[http]`: the HTTP listener (default port 8000).
pub type HttpSection = node::config::sections::HttpSection<8000>;
