//! What routing answers with, and why it sometimes cannot.

use crate::liveness::Liveness;
use crate::report::Role;

/// A node chosen by a routing answer (serialized as is in the control plane's JSON answers).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Target {
    /// Node id.
    pub id: String,
    /// Its region.
    pub region: String,
    /// The URL the client uses: `http_url` (edges), `rtmp_url` (ingest), `ws_url` (chat).
    pub url: String,
    /// Its liveness at decision time.
    pub liveness: Liveness,
    /// Region distance from the requester.
    pub distance: u32,
    /// Its load ratio at decision time (before this decision's provisional connection).
    pub load_ratio: f64,
}

/// Where a viewer plays from.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// The best edge.
    pub chosen: Target,
    /// The next best, best first, up to [`RoutingConfig::max_alternatives`](crate::RoutingConfig::max_alternatives).
    pub alternatives: Vec<Target>,
}

/// Where an edge subscribes to a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// Node id, which is also its certificate name (verify the QUIC peer against it).
    pub id: String,
    /// An origin, or an edge of a lower tier.
    pub role: Role,
    /// Its tier (0 for origins).
    pub tier: u8,
    /// `host:port` of its QUIC replication listener.
    pub relay_addr: String,
}

/// A routing question without an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// No live (Alive or Suspect) origin lists the stream (HTTP 404).
    #[error("stream {stream} is not live")]
    StreamNotLive {
        /// The stream asked for.
        stream: String,
    },
    /// No edge qualifies: none live, not draining, with an `http_url` (HTTP 503, retry).
    #[error("no edge available for region {region:?}")]
    NoEdge {
        /// The viewer's region.
        region: String,
    },
    /// No origin qualifies for ingest: none live, not draining, with an `rtmp_url`.
    #[error("no origin available for region {region:?}")]
    NoOrigin {
        /// The host's region.
        region: String,
    },
    /// No chat relay qualifies: none live, not draining, with a `ws_url`.
    #[error("no chat relay available for region {region:?}")]
    NoChatRelay {
        /// The client's region.
        region: String,
    },
    /// The origin holding the stream advertises no `relay_addr`.
    #[error("origin {origin} holds {stream} but has no relay address")]
    NoUpstream {
        /// The stream.
        stream: String,
        /// The origin that holds it.
        origin: String,
    },
    /// The asking node is not registered.
    #[error("unknown node {id}")]
    UnknownNode {
        /// The id asked about.
        id: String,
    },
    /// The asking node is registered but not an edge.
    #[error("node {id} is a {role}, not an edge")]
    NotAnEdge {
        /// Node id.
        id: String,
        /// Its role.
        role: Role,
    },
}

impl RouteError {
    /// Closed label for `livecdn_control_route_errors_total{reason}`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::StreamNotLive { .. } => "stream_not_live",
            Self::NoEdge { .. } => "no_edge",
            Self::NoOrigin { .. } => "no_origin",
            Self::NoChatRelay { .. } => "no_chat_relay",
            Self::NoUpstream { .. } => "no_upstream",
            Self::UnknownNode { .. } => "unknown_node",
            Self::NotAnEdge { .. } => "not_an_edge",
        }
    }

    /// Whether asking again shortly may succeed (capacity or liveness may change).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::NoEdge { .. } | Self::NoOrigin { .. } | Self::NoChatRelay { .. }
        )
    }
}
