//! The QUIC driver of livecdn's replication protocol (`docs/relay-wire.md`): a thin pump around
//! the sans-IO `relay_wire::RelayPublisher` and `relay_wire::RelaySubscriber`.
//!
//! - [`publish::serve`]: any node that serves streams (origin, edge) accepts downstream
//!   connections and replicates its `serve::StreamTable` windows to them: one control stream
//!   per connection, one unidirectional QUIC stream per part, newest segments first.
//! - [`subscribe::Upstream`]: an edge's connection to its upstream (origin or parent edge),
//!   subscribing on demand and mirroring each subscription's window into the edge's table, so
//!   the edge serves (and re-publishes to its children) exactly what it received.
//!
//! Connections are QUIC with mutual TLS against the cluster CA and ALPN `livecdn-relay/1`
//! (`node::quic`).
#![warn(missing_docs)]

pub mod metrics;
pub mod publish;
pub mod subscribe;
mod tail_probe;
mod variant;

pub use metrics::RelayMetrics;
/// The QUIC endpoint type the drivers run on (from `node::quic`).
pub use quinn::Endpoint;
