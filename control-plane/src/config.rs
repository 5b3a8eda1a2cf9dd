//! `livecdn control-plane --config FILE`: the control-plane's configuration. Every key is documented here
//! (meaning, unit, default) and in `docs/config.md`; `deploy/config/control-plane.toml` is the
//! commented example. Environment overrides: `LIVECDN_CONTROL_PLANE__SECTION__KEY`.

use std::time::Duration;

use node::config::sections::{LogSection, NodeSection, ShutdownSection};
use node::redact::Redacted;
use serde::{Deserialize, Serialize};

/// The control-plane's whole configuration.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ControlPlaneConfig {
    /// `[node]`: identity and region.
    pub node: NodeSection,
    /// `[http]`: the HTTP listener (the `/v1` API, the admin endpoints).
    pub http: HttpSection,
    /// `[database]`: where streams, keys, stats, chat logs and gifts are stored.
    pub database: DatabaseSection,
    /// `[auth]`: who may call the admin and node endpoints.
    pub auth: AuthSection,
    /// `[chat]`: chat tokens handed out by `GET /v1/chat/{room}`.
    pub chat: ChatSection,
    /// `[detector]`: when a node that stopped heartbeating is suspect, then dead.
    pub detector: DetectorSection,
    /// `[routing]`: how viewers, hosts and chatters are sent to nodes.
    pub routing: RoutingSection,
    /// `[stats]`: the per-stream, per-region time series.
    pub stats: StatsSection,
    /// `[web]`: the web pages' access to the API from other origins.
    pub web: WebSection,
    /// `[log]`: logging.
    pub log: LogSection,
    /// `[shutdown]`: graceful shutdown.
    pub shutdown: ShutdownSection,
}

/// `[http]`: the HTTP listener (default port 8000).
pub type HttpSection = node::config::sections::HttpSection<8000>;

/// `[database]`: the data layer (SQLite or PostgreSQL, one code path, migrations at start).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSection {
    /// `sqlite://PATH` (the file is created if missing) or `postgres://USER:PASS@HOST/DB`.
    /// Default: `"sqlite://livecdn-data/control-plane.db"`.
    pub url: Redacted<String>,
    /// Largest number of pooled database connections. Default: `8`.
    pub max_connections: u32,
}

impl Default for DatabaseSection {
    fn default() -> Self {
        Self {
            url: Redacted::new("sqlite://livecdn-data/control-plane.db".to_owned()),
            max_connections: 8,
        }
    }
}

/// `[auth]`: bearer tokens. Admin endpoints (streams, keys, stats, the node list) need one of
/// `admin_tokens`; node endpoints (heartbeat, deregister, key validation, directory) need one of
/// `node_tokens`. Lists, so a token can be rotated by adding the new one, rolling the nodes, then
/// removing the old one.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSection {
    /// Tokens accepted as `Authorization: Bearer …` on admin endpoints. Empty: admin endpoints
    /// answer 403. Default: empty.
    pub admin_tokens: Vec<Redacted<String>>,
    /// Tokens accepted on node endpoints. Empty: no node can register. Default: empty.
    pub node_tokens: Vec<Redacted<String>>,
}

/// `[chat]`: signed chat tokens for `GET /v1/chat/{room}`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ChatSection {
    /// HMAC-SHA256 secret shared with every chat relay (their `chat.token_secret`). Empty:
    /// `/v1/chat` answers 503. Default: empty.
    pub token_secret: Redacted<String>,
    /// Lifetime of an issued chat token. Duration. Default: `"1h"`.
    #[serde(with = "humantime_serde")]
    pub token_ttl: Duration,
    /// Allow `GET /v1/chat/{room}` without an admin token, issuing viewer tokens for a guest
    /// name (what `livecdn dev` and public demo sites want). Default: `false`.
    pub guest_tokens: bool,
}

impl Default for ChatSection {
    fn default() -> Self {
        Self {
            token_secret: Redacted::default(),
            token_ttl: Duration::from_secs(3600),
            guest_tokens: false,
        }
    }
}

/// `[detector]`: the failure detector. A node is alive while it heartbeats, suspect after
/// `suspect_after` of silence (still routable, but only when no alive node is), dead after
/// `dead_after` (never routed to). Nodes beat every second, so the defaults take a node out of
/// routing within 3 s of its last beat.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct DetectorSection {
    /// Silence after which a node is suspect. Duration. Default: `"1500ms"`.
    #[serde(with = "humantime_serde")]
    pub suspect_after: Duration,
    /// Silence after which a node is dead. Duration. Default: `"2500ms"`.
    #[serde(with = "humantime_serde")]
    pub dead_after: Duration,
    /// Silence after which a dead node is forgotten (leaves the node list). Duration.
    /// Default: `"5m"`.
    #[serde(with = "humantime_serde")]
    pub forget_after: Duration,
}

impl Default for DetectorSection {
    fn default() -> Self {
        Self {
            suspect_after: Duration::from_millis(1500),
            dead_after: Duration::from_millis(2500),
            forget_after: Duration::from_secs(300),
        }
    }
}

/// `[routing]`: viewer, host and chatter routing.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RoutingSection {
    /// A node whose load (the largest of connections, egress and CPU relative to its capacity)
    /// reaches this fraction is saturated: chosen only when every candidate is. Default: `0.9`.
    pub saturation: f64,
    /// Request header that names the client's region (set by a load balancer or GeoDNS).
    /// The `region` query parameter wins over it; the CIDR map comes after it.
    /// Default: `"x-livecdn-region"`.
    pub region_header: String,
    /// Region of clients that name none and match no CIDR. Default: this node's region.
    pub default_region: Option<String>,
    /// `[[routing.distances]]`: distance between two regions (symmetric; any unit, e.g. RTT
    /// in ms). A region is at distance 0 from itself; pairs not listed are far (1 000 000).
    pub distances: Vec<RegionDistance>,
    /// `[[routing.cidrs]]`: client address ranges and their regions; the longest prefix wins.
    pub cidrs: Vec<CidrRegion>,
}

impl Default for RoutingSection {
    fn default() -> Self {
        Self {
            saturation: 0.9,
            region_header: "x-livecdn-region".to_owned(),
            default_region: None,
            distances: Vec::new(),
            cidrs: Vec::new(),
        }
    }
}

/// One `[[routing.distances]]` entry.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RegionDistance {
    /// One region.
    pub a: String,
    /// The other region.
    pub b: String,
    /// Their distance (smaller is nearer).
    pub distance: u32,
}

/// One `[[routing.cidrs]]` entry.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CidrRegion {
    /// Address range, e.g. `"10.1.0.0/16"` or `"2001:db8::/32"`.
    pub cidr: ipnet::IpNet,
    /// Region of clients in the range.
    pub region: String,
}

/// `[stats]`: the per-stream, per-region time series (`GET /v1/streams/{name}/stats`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct StatsSection {
    /// How often a row is recorded per live stream and region. Duration. Default: `"10s"`.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
}

impl Default for StatsSection {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(10),
        }
    }
}

/// `[web]`: the web pages (`web/`). The control plane serves them itself at `/`; a deployment
/// may instead host `web/dist` on any static server (another origin), whose pages then call the
/// `/v1` API across origins (CORS).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct WebSection {
    /// Origins whose pages may call the `/v1` API from a browser: `"*"` (any origin) or exact
    /// origins such as `"https://watch.example.com"` (scheme, host and port if not the default;
    /// no path). The API answers their preflights and lets them read its answers, with the
    /// `Authorization` and `Content-Type` headers and `GET`, `POST` and `DELETE`. Empty: only
    /// pages served by the control plane itself (same origin). `"*"` is safe here because the
    /// API takes no cookies, only bearer tokens a page must already hold (the chat relays and
    /// edges answer any origin for the same reason); list origins to keep other websites from
    /// reading even the public endpoints. Default: `["*"]`.
    pub cors_origins: Vec<CorsOrigin>,
}

impl Default for WebSection {
    fn default() -> Self {
        Self {
            cors_origins: vec![CorsOrigin::Any],
        }
    }
}

/// One entry of `web.cors_origins`: any origin, or one exact origin.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(try_from = "String", into = "String")]
pub enum CorsOrigin {
    /// `"*"`.
    Any,
    /// `scheme://host[:port]`, lower-cased (browsers send origins in that form).
    Exact(String),
}

impl CorsOrigin {
    /// Whether a request's `Origin` header value is this one.
    pub fn matches(&self, origin: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Exact(exact) => exact.eq_ignore_ascii_case(origin),
        }
    }
}

impl TryFrom<String> for CorsOrigin {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        if value == "*" {
            return Ok(Self::Any);
        }
        let lower = value.to_ascii_lowercase();
        let rest = lower
            .strip_prefix("http://")
            .or_else(|| lower.strip_prefix("https://"))
            .ok_or_else(|| {
                format!("`{value}` is not \"*\" or an origin: http:// or https:// then a host")
            })?;
        if rest.is_empty()
            || rest
                .chars()
                .any(|c| matches!(c, '/' | '?' | '#' | '@') || c.is_whitespace())
        {
            return Err(format!(
                "`{value}` is not an origin: scheme://host[:port], without a path or a trailing slash"
            ));
        }
        Ok(Self::Exact(lower))
    }
}

impl From<CorsOrigin> for String {
    fn from(origin: CorsOrigin) -> Self {
        match origin {
            CorsOrigin::Any => "*".to_owned(),
            CorsOrigin::Exact(exact) => exact,
        }
    }
}
