//! Sans-IO control-plane logic: node registry, failure detector, routing, stream directory.
//!
//! The control plane's HTTP layer is a thin pump around [`Registry`]:
//!
//! - `POST /v1/nodes/heartbeat` deserializes a [`NodeReport`] and calls
//!   [`Registry::handle_heartbeat`]; a [`RegistryError`] becomes a 400/409/503.
//! - Graceful shutdown calls [`Registry::handle_deregister`]: the node leaves routing at once.
//! - A timer armed at [`Registry::poll_timeout`] calls [`Registry::handle_timeout`], which moves
//!   silent nodes Alive → Suspect → Dead → forgotten ([`FailureDetector`], fixed deadlines:
//!   see [`FailureDetector`] for why not phi-accrual).
//! - After every input the driver drains [`Registry::poll_output`] ([`RegistryEvent`]) for logs
//!   and metrics.
//! - `GET /v1/play/{stream}` calls [`Registry::route_viewer`]; edges ask
//!   [`Registry::upstream_for_edge`]; hosts get [`Registry::ingest_origin`]; chat clients get
//!   [`Registry::chat_relay_for`]. Regions come from a [`RegionTable`], client IPs map to
//!   regions with a [`RegionResolver`].
//!
//! There is no clock, socket or runtime here: every input and query takes `now`.
//!
//! # Example
//!
//! ```
//! use std::time::{Duration, Instant};
//! use livecdn_directory::{
//!     Capacity, DetectorConfig, HeldStream, NodeReport, RegionTable, Registry, Role,
//! };
//!
//! let table = RegionTable::new([("eu".into(), "us".into(), 90)])?;
//! let mut registry = Registry::new(DetectorConfig::default());
//! let t0 = Instant::now(); // in the control plane, read at the clock boundary
//! let node = |id: &str, role, region: &str, tier| NodeReport {
//!     id: id.into(),
//!     role,
//!     region: region.into(),
//!     tier,
//!     http_url: Some(format!("http://{id}.example")),
//!     rtmp_url: None,
//!     relay_addr: Some(format!("{id}.example:4433")),
//!     ws_url: None,
//!     capacity: Capacity { max_connections: 1000, max_egress_bps: 10_000_000_000 },
//!     load: Default::default(),
//!     streams: vec![],
//!     rooms: vec![],
//!     draining: false,
//! };
//! let mut origin = node("origin-1", Role::Origin, "eu", 0);
//! origin.streams.push(HeldStream { name: "demo".into(), viewers: 0 });
//! registry.handle_heartbeat(origin.clone(), t0)?;
//! registry.handle_heartbeat(node("edge-eu", Role::Edge, "eu", 1), t0)?;
//! registry.handle_heartbeat(node("edge-us", Role::Edge, "us", 1), t0)?;
//! // Drain rule: after every input, drain the events.
//! while let Some(event) = registry.poll_output() {
//!     let _ = event;
//! }
//!
//! let route = registry.route_viewer("demo", "us", &table, t0 + Duration::from_millis(10))?;
//! assert_eq!(route.chosen.id, "edge-us");
//! assert_eq!(route.alternatives[0].id, "edge-eu");
//!
//! // edge-us stops beating: 2.5 s later it is Dead and never routed to again.
//! let later = t0 + Duration::from_secs(3);
//! registry.handle_heartbeat(origin, later)?;
//! registry.handle_heartbeat(node("edge-eu", Role::Edge, "eu", 1), later)?;
//! let route = registry.route_viewer("demo", "us", &table, later)?;
//! assert_eq!(route.chosen.id, "edge-eu");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Code map
//!
//! | Module | Holds |
//! |---|---|
//! | `report.rs` | [`NodeReport`] (heartbeat JSON), its limits and [`ReportError`] |
//! | `liveness.rs` | [`DetectorConfig`], [`Liveness`], [`FailureDetector`] |
//! | `registry.rs` | [`Registry`]: inputs, events, queries, indexes |
//! | `route.rs`, `route/rank.rs` | routing answers and the shared top-K ranking |
//! | `region.rs` | [`RegionTable`], [`RegionResolver`] |

#![warn(missing_docs)]

mod liveness;
mod region;
mod registry;
mod report;
mod route;
#[cfg(test)]
mod testing;

pub use crate::liveness::{
    DEFAULT_DEAD_AFTER, DEFAULT_FORGET_AFTER, DEFAULT_SUSPECT_AFTER, DetectorConfig,
    DetectorConfigError, DetectorEvent, FailureDetector, Liveness,
};
pub use crate::region::{DEFAULT_UNKNOWN_DISTANCE, RegionError, RegionResolver, RegionTable};
pub use crate::registry::{
    HeartbeatOutcome, MAX_NODES, NodeView, Registry, RegistryError, RegistryEvent, RemovalReason,
};
pub use crate::report::{
    Capacity, HeldRoom, HeldStream, Load, MAX_HELD, MAX_ID_LEN, MAX_NAME_LEN, MAX_TIER,
    MAX_URL_LEN, NodeReport, ReportError, Role,
};
pub use crate::route::{
    DEFAULT_MAX_ALTERNATIVES, DEFAULT_SATURATION, Route, RouteError, RoutingConfig, Target,
    Upstream,
};
