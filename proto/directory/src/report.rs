//! The node model: what every node says about itself in its heartbeat, and the checks that turn
//! a hostile body into a typed error (HTTP 400) instead of a routing surprise.

use serde::{Deserialize, Serialize};

/// Longest node id or region name, in bytes.
pub const MAX_ID_LEN: usize = 64;
/// Longest stream or room name, in bytes (the replication wire allows the same).
pub const MAX_NAME_LEN: usize = 255;
/// Longest URL or `host:port`, in bytes.
pub const MAX_URL_LEN: usize = 2048;
/// Most streams (or rooms) one report may list.
pub const MAX_HELD: usize = 10_000;
/// Deepest edge tier: tier 1 is fed by an origin, tier `t` by a tier below `t`.
pub const MAX_TIER: u8 = 8;

/// What a node does. Serialized as `"origin"`, `"edge"` or `"chat_relay"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Takes RTMP ingest, packages LL-HLS and publishes it to edges.
    Origin,
    /// Serves viewers; fed by an origin (tier 1) or by a lower-tier edge.
    Edge,
    /// Holds chat WebSocket sessions and federates rooms.
    ChatRelay,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 3] = [Role::Origin, Role::Edge, Role::ChatRelay];

    /// Stable label for metrics and logs: `origin`, `edge`, `chat_relay`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Origin => "origin",
            Role::Edge => "edge",
            Role::ChatRelay => "chat_relay",
        }
    }

    /// Dense index, for per-role tables.
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One heartbeat: the JSON body of `POST /v1/nodes/heartbeat`. Each beat replaces the previous
/// report of the same `id` whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeReport {
    /// Unique node name, also its certificate name. 1 to [`MAX_ID_LEN`] bytes of `[A-Za-z0-9._-]`.
    pub id: String,
    /// What the node does. A node may not change role under the same id.
    pub role: Role,
    /// Region name, same character rule as `id`; matched against the region table.
    pub region: String,
    /// Edges: 1 = fed by an origin, 2 = fed by a tier-1 edge, up to [`MAX_TIER`]. 0 for others.
    #[serde(default)]
    pub tier: u8,
    /// Public HTTP base URL, e.g. `http://127.0.0.1:8081`. Edges without one are never routed to.
    #[serde(default)]
    pub http_url: Option<String>,
    /// Origins: the RTMP ingest URL given to hosts, e.g. `rtmp://127.0.0.1:1935/live`.
    #[serde(default)]
    pub rtmp_url: Option<String>,
    /// `host:port` of the QUIC replication listener (origins, and edges that feed children).
    #[serde(default)]
    pub relay_addr: Option<String>,
    /// Chat relays: the WebSocket URL, e.g. `ws://127.0.0.1:8091/ws`.
    #[serde(default)]
    pub ws_url: Option<String>,
    /// What the node can take. A zero field means "not reported" and is left out of the load ratio.
    #[serde(default)]
    pub capacity: Capacity,
    /// What the node carries now.
    #[serde(default)]
    pub load: Load,
    /// Streams the node holds (origins: publishing; edges: cached/serving).
    #[serde(default)]
    pub streams: Vec<HeldStream>,
    /// Chat rooms the node holds (chat relays).
    #[serde(default)]
    pub rooms: Vec<HeldRoom>,
    /// The node is shutting down gracefully: keep its current sessions, send it nothing new.
    #[serde(default)]
    pub draining: bool,
}

/// A node's limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capacity {
    /// Most concurrent client connections (HLS viewers, WebSocket sessions). 0: unknown.
    pub max_connections: u64,
    /// Most egress, bits per second. 0: unknown.
    pub max_egress_bps: u64,
}

/// A node's current load.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Load {
    /// Open client connections.
    pub connections: u64,
    /// Egress, bits per second.
    pub egress_bps: u64,
    /// CPU use as a fraction of the node's cores: 0.0 idle, 1.0 all cores busy. Finite, ≥ 0.
    pub cpu: f64,
}

/// A stream a node holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeldStream {
    /// Stream name (1 to [`MAX_NAME_LEN`] bytes, no whitespace, control characters or `/`).
    pub name: String,
    /// Viewers of this stream on this node (0 on origins).
    #[serde(default)]
    pub viewers: u64,
}

/// A chat room a relay holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeldRoom {
    /// Room name (same rule as stream names).
    pub name: String,
    /// Client connections in this room on this relay.
    #[serde(default)]
    pub connections: u64,
    /// Chat messages this relay accepted in the room since it started (a counter; the
    /// control plane turns it into per-interval stats).
    #[serde(default)]
    pub messages: u64,
    /// Likes this relay accepted in the room since it started (a counter).
    #[serde(default)]
    pub likes: u64,
    /// Gift value committed in the room through this relay since it started (a counter).
    #[serde(default)]
    pub gift_value: u64,
}

/// Why a [`NodeReport`] was rejected. The HTTP layer answers 400 with the `Display` text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReportError {
    /// `id` is empty, longer than [`MAX_ID_LEN`] or has a character outside `[A-Za-z0-9._-]`.
    #[error("invalid node id {0:?}")]
    InvalidId(String),
    /// `region` breaks the same rule as ids.
    #[error("invalid region {0:?}")]
    InvalidRegion(String),
    /// An edge's tier is outside `1..=MAX_TIER`, or another role's tier is not 0.
    #[error("tier {tier} is invalid for role {role}")]
    InvalidTier {
        /// The role reported.
        role: Role,
        /// The tier reported.
        tier: u8,
    },
    /// A URL or address longer than [`MAX_URL_LEN`] or empty.
    #[error("field {field} has an empty or oversized value")]
    InvalidUrl {
        /// Which field.
        field: &'static str,
    },
    /// `load.cpu` is NaN, infinite or negative.
    #[error("cpu load {0} is not a finite non-negative number")]
    InvalidCpu(f64),
    /// More than [`MAX_HELD`] streams or rooms.
    #[error("{count} held streams or rooms exceed {MAX_HELD}")]
    TooManyHeld {
        /// How many were listed.
        count: usize,
    },
    /// A stream or room name breaks the naming rule.
    #[error("invalid stream or room name {0:?}")]
    InvalidName(String),
    /// The same stream or room is listed twice.
    #[error("stream or room {0:?} is listed twice")]
    DuplicateName(String),
}

impl ReportError {
    /// Closed label for `livecdn_control_heartbeats_rejected_total{reason}`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::InvalidId(_) => "invalid_id",
            Self::InvalidRegion(_) => "invalid_region",
            Self::InvalidTier { .. } => "invalid_tier",
            Self::InvalidUrl { .. } => "invalid_url",
            Self::InvalidCpu(_) => "invalid_cpu",
            Self::TooManyHeld { .. } => "too_many_held",
            Self::InvalidName(_) => "invalid_name",
            Self::DuplicateName(_) => "duplicate_name",
        }
    }
}

impl NodeReport {
    /// Checks every field against its named limit. [`Registry::handle_heartbeat`] calls it.
    ///
    /// [`Registry::handle_heartbeat`]: crate::Registry::handle_heartbeat
    pub fn validate(&self) -> Result<(), ReportError> {
        if !is_token(&self.id) {
            return Err(ReportError::InvalidId(truncated(&self.id)));
        }
        if !is_token(&self.region) {
            return Err(ReportError::InvalidRegion(truncated(&self.region)));
        }
        let tier_ok = match self.role {
            Role::Edge => (1..=MAX_TIER).contains(&self.tier),
            Role::Origin | Role::ChatRelay => self.tier == 0,
        };
        if !tier_ok {
            return Err(ReportError::InvalidTier {
                role: self.role,
                tier: self.tier,
            });
        }
        for (field, value) in [
            ("http_url", &self.http_url),
            ("rtmp_url", &self.rtmp_url),
            ("relay_addr", &self.relay_addr),
            ("ws_url", &self.ws_url),
        ] {
            if value
                .as_ref()
                .is_some_and(|v| v.is_empty() || v.len() > MAX_URL_LEN)
            {
                return Err(ReportError::InvalidUrl { field });
            }
        }
        let cpu = self.load.cpu;
        if !cpu.is_finite() || cpu < 0.0 {
            return Err(ReportError::InvalidCpu(cpu));
        }
        check_names(
            self.streams.iter().map(|s| s.name.as_str()),
            self.streams.len(),
        )?;
        check_names(self.rooms.iter().map(|r| r.name.as_str()), self.rooms.len())
    }

    /// Whether the report lists `stream`.
    pub fn holds_stream(&self, stream: &str) -> bool {
        self.streams.iter().any(|s| s.name == stream)
    }
}

fn check_names<'a>(names: impl Iterator<Item = &'a str>, count: usize) -> Result<(), ReportError> {
    if count > MAX_HELD {
        return Err(ReportError::TooManyHeld { count });
    }
    let mut seen = std::collections::HashSet::with_capacity(count);
    for name in names {
        let bad = |c: char| c.is_whitespace() || c.is_control() || c == '/';
        if name.is_empty() || name.len() > MAX_NAME_LEN || name.chars().any(bad) {
            return Err(ReportError::InvalidName(truncated(name)));
        }
        if !seen.insert(name) {
            return Err(ReportError::DuplicateName(name.to_owned()));
        }
    }
    Ok(())
}

/// 1 to [`MAX_ID_LEN`] bytes of `[A-Za-z0-9._-]`.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_ID_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Echo at most a short prefix of a hostile value back in an error.
fn truncated(s: &str) -> String {
    s.chars().take(MAX_ID_LEN + 1).collect()
}

#[cfg(test)]
mod tests;
