//! Shared IO plumbing for every livecdn role.
//!
//! Every role (`origin`, `edge`, `control-plane`, `chat-relay`) is a library with
//! `run(config, shutdown)`. This crate gives them the pieces they all need, so a role adds
//! behaviour, not scaffolding:
//!
//! - [`config`]: typed TOML configuration with `LIVECDN_<ROLE>__A__B` environment overrides and
//!   one-line errors that name the key path;
//! - [`telemetry`]: `tracing` logs as text or JSON, and [`redact::Redacted`] for secrets;
//! - [`metrics`] and [`admin`]: a `prometheus-client` registry passed in by the caller (never a
//!   global), served at `/metrics` beside `/healthz` and `/readyz`;
//! - [`readiness`]: named conditions that back `/readyz`;
//! - [`shutdown`] and [`http`]: SIGINT/SIGTERM, stop accepting, drain within a deadline;
//! - [`listen`]: binding sockets with errors that name the config key;
//! - [`quic`] and [`certs`]: QUIC endpoints with mutual TLS between nodes (quinn + rustls, ring
//!   provider) and a development CA;
//! - [`clock`]: the only place in the workspace that reads the clock.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use livecdn_node::{admin, http, listen, metrics, readiness::Readiness, shutdown::Shutdown};
//! let mut registry = metrics::new_registry();
//! metrics::register_process_metrics(&mut registry);
//! let readiness = Readiness::new();
//! let listener = listen::bind_tcp("127.0.0.1:8080".parse()?, "http.listen").await?;
//! readiness.register("http").set(true);
//! let app = admin::routes(registry.into(), readiness);
//! let shutdown = Shutdown::new();
//! http::serve(listener, app, shutdown, std::time::Duration::from_secs(10)).await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

/// Re-exported so roles name the same rustls types as this crate.
pub use rustls;

pub mod admin;
pub mod certs;
pub mod clock;
pub mod config;
pub mod http;
pub mod listen;
pub mod metrics;
pub mod quic;
pub mod readiness;
pub mod redact;
pub mod role;
pub mod shutdown;
pub mod telemetry;
