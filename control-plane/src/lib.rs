//! The control-plane role of livecdn: the node registry and failure detector, routing of
//! viewers, hosts and chatters, the stream directory, stream keys, chat tokens and the records
//! (SQLite or PostgreSQL through `store`).
//!
//! Data flow: nodes `POST /v1/nodes/heartbeat` → `directory::Registry` (sans-IO, under a
//! mutex in [`state::ControlPlane`]) ← the detector task advances its clock; routing handlers
//! read it; admin handlers and the stats task use `store`.
//!
//! Starting is two-phase so a caller (such as `livecdn dev`) learns of a port clash before
//! anything serves: [`bind`] claims the socket and opens the database, [`BoundControlPlane::serve`]
//! runs until shutdown.
#![warn(missing_docs)]

pub mod api;
pub mod config;
pub mod keys;
pub mod metrics;
pub mod state;
pub mod stats;
pub mod tasks;
pub mod web;

use std::net::SocketAddr;
use std::sync::Arc;

pub use config::ControlPlaneConfig;
use node::role::{NodeServices, RoleError};
use node::shutdown::Shutdown;
use tokio::net::TcpListener;

use crate::metrics::ControlPlaneMetrics;
use crate::state::ControlPlane;

/// The role's name in logs, metrics and the CLI.
pub const ROLE: &str = "control-plane";

/// A control plane whose listener is bound and database open, ready to serve.
pub struct BoundControlPlane {
    services: NodeServices,
    listener: TcpListener,
    tls: Option<Arc<node::rustls::ServerConfig>>,
    state: Arc<ControlPlane>,
}

impl std::fmt::Debug for BoundControlPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundControlPlane")
            .field("listener", &self.listener)
            .finish_non_exhaustive()
    }
}

/// Checks the configuration's files, binds the listener and opens (and migrates) the database.
pub async fn bind(config: ControlPlaneConfig) -> Result<BoundControlPlane, RoleError> {
    let tls = node::role::load_http_tls(&config.http)?;
    let mut services = NodeServices::new(ROLE);
    let metrics = ControlPlaneMetrics::register(&mut services.registry);
    let listener = services
        .bind_http(config.http.listen, "http.listen")
        .await?;
    let database_ready = services.readiness.register("database");
    let store = store::Store::connect(
        config.database.url.expose(),
        config.database.max_connections,
    )
    .await
    .map_err(|error| RoleError::Missing(format!("database.url: {error}")))?;
    database_ready.set(true);
    let state = Arc::new(ControlPlane::new(config, store, metrics).map_err(RoleError::Missing)?);
    Ok(BoundControlPlane {
        services,
        listener,
        tls,
        state,
    })
}

/// Binds, then serves until `shutdown` triggers and the drain completes.
pub async fn run(config: ControlPlaneConfig, shutdown: Shutdown) -> Result<(), RoleError> {
    bind(config).await?.serve(shutdown).await
}

impl BoundControlPlane {
    /// The bound HTTP address.
    pub fn http_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The shared state (for `livecdn dev`, which seeds the demo stream).
    pub fn state(&self) -> &Arc<ControlPlane> {
        &self.state
    }

    /// Serves the API until `shutdown` triggers, then drains within `[shutdown] drain_deadline`.
    pub async fn serve(self, shutdown: Shutdown) -> Result<(), RoleError> {
        let Self {
            services,
            listener,
            tls,
            state,
        } = self;
        tracing::info!(
            node = %state.config.node.id_or(ROLE),
            http = %listener.local_addr()?,
            database = ?state.store.backend(),
            "control plane listening"
        );
        let detector = tokio::spawn(tasks::run_detector(state.clone(), shutdown.clone()));
        let stats = tokio::spawn(tasks::run_stats(state.clone(), shutdown.clone()));
        let drain_deadline = state.config.shutdown.drain_deadline;
        let served = services
            .serve(listener, api::routes(state), tls, shutdown, drain_deadline)
            .await;
        let _ = detector.await;
        let _ = stats.await;
        served.map_err(RoleError::from)
    }
}
