//! `[control]`: how a node finds and authenticates to the control plane.

use std::time::Duration;

use node::redact::Redacted;
use serde::{Deserialize, Serialize};

/// `[control]`: the control plane this node registers with. Without `url` the node runs
/// standalone (keys and upstreams from its own config).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ControlSection {
    /// Base URL of the control plane, e.g. `"http://10.0.0.5:8000"`. Default: unset
    /// (standalone).
    pub url: Option<String>,
    /// Node token (one of the control plane's `auth.node_tokens`), sent as a bearer token.
    /// Default: empty.
    pub token: Redacted<String>,
    /// How often the node heartbeats. Duration. Default: `"1s"` (the control plane's failure
    /// detector assumes it).
    #[serde(with = "humantime_serde")]
    pub heartbeat_interval: Duration,
    /// Timeout of each request to the control plane. Duration. Default: `"2s"`.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// The base URL viewers (or chatters) reach this node's HTTP listener at, as advertised
    /// to the control plane. Default: `http://` + the listen address (with `0.0.0.0` or `::`
    /// replaced by `127.0.0.1`).
    pub public_url: Option<String>,
    /// The address other nodes reach this node's QUIC listener at (`host:port`), as
    /// advertised. Default: the relay listen address, with an unspecified IP replaced by
    /// `127.0.0.1`.
    pub public_relay_addr: Option<String>,
    /// Origins: the RTMP URL hosts publish to, without the key, e.g.
    /// `"rtmp://ingest.example.com/live"`. Default: `rtmp://` + the RTMP listen address (an
    /// unspecified IP replaced by `127.0.0.1`) + `/` + `rtmp.app`.
    pub public_rtmp_url: Option<String>,
    /// Edges: tier in the replication tree (1 = fed by the origin, 2 = fed by a tier-1 edge…).
    /// Default: `1`.
    pub tier: u8,
    /// Connections this node is sized for (routing keeps it below `routing.saturation` of it).
    /// Default: `10000`.
    pub max_connections: u64,
    /// Egress this node is sized for, bits per second. Default: `10000000000` (10 Gbit/s).
    pub max_egress_bps: u64,
}

impl Default for ControlSection {
    fn default() -> Self {
        Self {
            url: None,
            token: Redacted::default(),
            heartbeat_interval: Duration::from_secs(1),
            request_timeout: Duration::from_secs(2),
            public_url: None,
            public_relay_addr: None,
            public_rtmp_url: None,
            tier: 1,
            max_connections: 10_000,
            max_egress_bps: 10_000_000_000,
        }
    }
}

impl ControlSection {
    /// The advertised HTTP base URL for a listener bound at `listen`.
    pub fn public_url_for(&self, listen: std::net::SocketAddr, scheme: &str) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("{scheme}://{}", reachable(listen)))
    }

    /// The advertised QUIC address for a listener bound at `listen`.
    pub fn public_relay_addr_for(&self, listen: std::net::SocketAddr) -> String {
        self.public_relay_addr
            .clone()
            .unwrap_or_else(|| reachable(listen).to_string())
    }
}

/// `listen` with an unspecified IP replaced by loopback (the dev default; production sets
/// the `public_*` keys).
pub fn reachable(listen: std::net::SocketAddr) -> std::net::SocketAddr {
    let mut addr = listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    addr
}
