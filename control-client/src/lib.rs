//! What a node (origin, edge, chat relay) uses to talk to the control plane: the `[control]`
//! config section, an HTTP client for the node endpoints of the `/v1` API, and the heartbeat
//! loop that registers the node, reports its load every second and deregisters it when it
//! drains.
#![warn(missing_docs)]

mod client;
mod config;
mod heartbeat;
mod load;

pub use client::{ControlClient, ControlError, RoomHome, Upstream};
pub use config::{ControlSection, reachable};
pub use directory::{Capacity, HeldRoom, HeldStream, Load, NodeReport, Role};
pub use heartbeat::{ReportSource, run_heartbeats};
pub use load::LoadMeter;
