//! The control-plane role of livecdn. It keeps the node registry, routes viewers, hosts and chatters, and stores the records.
//!
//! **Status:** this role is not implemented yet. It starts only its HTTP listener with
//! `/healthz`, `/readyz` and `/metrics`, so deployments, `livecdn dev` and
//! monitoring can be wired now; its behaviour lands with its issue.
//!
//! Starting is two-phase so a caller (such as `livecdn dev`) learns of a port clash before
//! anything serves: [`bind`] claims the sockets, [`BoundControlPlane::serve`] runs until shutdown.
#![warn(missing_docs)]

pub mod config;

use std::net::SocketAddr;

pub use config::ControlPlaneConfig;
use node::role::{ListenerOnly, RoleError};
use node::shutdown::Shutdown;

/// The role's name in logs, metrics and the CLI.
pub const ROLE: &str = "control-plane";

/// A control-plane whose listeners are bound, ready to serve.
#[derive(Debug)]
pub struct BoundControlPlane {
    listener: ListenerOnly,
}

/// Checks the configuration's files and binds the listeners.
pub async fn bind(config: ControlPlaneConfig) -> Result<BoundControlPlane, RoleError> {
    let listener = ListenerOnly::bind(
        ROLE,
        config.node.id_or(ROLE),
        &config.http,
        config.shutdown.drain_deadline,
    )
    .await?;
    Ok(BoundControlPlane { listener })
}

/// Binds, then serves until `shutdown` triggers and the drain completes.
pub async fn run(config: ControlPlaneConfig, shutdown: Shutdown) -> Result<(), RoleError> {
    bind(config).await?.serve(shutdown).await
}

impl BoundControlPlane {
    /// The bound HTTP address.
    pub fn http_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.http_addr()
    }

    /// Serves until `shutdown` triggers, then drains within `[shutdown] drain_deadline`.
    pub async fn serve(self, shutdown: Shutdown) -> Result<(), RoleError> {
        self.listener.serve(shutdown).await
    }
}
