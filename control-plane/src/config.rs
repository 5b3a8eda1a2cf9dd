//! `livecdn control-plane --config FILE`: the control-plane's configuration. Every key is documented here
//! (meaning, unit, default) and in `docs/config.md`; `deploy/config/control-plane.toml` is the
//! commented example. Environment overrides: `LIVECDN_CONTROL_PLANE__SECTION__KEY`.

use std::net::SocketAddr;

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

/// `[http]`: the HTTP listener.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSection {
    /// Address and port of the HTTP listener (also serves `/metrics`, `/healthz`,
    /// `/readyz`). Default: `"0.0.0.0:8000"`.
    pub listen: SocketAddr,
}

impl Default for HttpSection {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 8000)),
        }
    }
}
