//! What the registry reports: heartbeat outcomes, events, errors.

use crate::liveness::Liveness;
use crate::registry::MAX_NODES;
use crate::report::{ReportError, Role};

/// What a heartbeat did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeartbeatOutcome {
    /// First beat of this id (or first since it was deregistered or forgotten).
    Registered,
    /// A beat from an Alive node.
    Updated,
    /// A beat from a Suspect or Dead node, which is Alive again.
    Revived,
}

/// Why a node left the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemovalReason {
    /// It deregistered (graceful shutdown).
    Deregistered,
    /// It was Dead for `forget_after`.
    Forgotten,
}

/// What the registry reports; drained with [`Registry::poll_output`](crate::Registry::poll_output).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryEvent {
    /// A node appeared.
    NodeRegistered {
        /// Node id.
        id: String,
        /// Its role.
        role: Role,
        /// Its region.
        region: String,
    },
    /// A node's liveness changed. Silence may skip Suspect (`Alive → Dead`) when time jumps.
    NodeStateChanged {
        /// Node id.
        id: String,
        /// Its role.
        role: Role,
        /// Previous state.
        from: Liveness,
        /// New state.
        to: Liveness,
    },
    /// A node left the registry and all routing.
    NodeRemoved {
        /// Node id.
        id: String,
        /// Its role.
        role: Role,
        /// Why.
        reason: RemovalReason,
    },
}

/// A heartbeat the registry refuses.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RegistryError {
    /// The report breaks a field rule (HTTP 400).
    #[error("invalid report: {0}")]
    InvalidReport(#[from] ReportError),
    /// A node tried to change role under the same id (HTTP 409).
    #[error("node {id} is registered as {registered}, not {reported}")]
    RoleChanged {
        /// Node id.
        id: String,
        /// Role it registered with.
        registered: Role,
        /// Role in this report.
        reported: Role,
    },
    /// The registry already tracks [`MAX_NODES`] nodes (HTTP 503).
    #[error("registry is full ({MAX_NODES} nodes)")]
    TooManyNodes,
}

impl RegistryError {
    /// Closed label for `livecdn_control_heartbeats_rejected_total{reason}`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::InvalidReport(e) => e.reason(),
            Self::RoleChanged { .. } => "role_changed",
            Self::TooManyNodes => "too_many_nodes",
        }
    }
}
