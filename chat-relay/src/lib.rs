//! The chat-relay role of livecdn. It runs WebSocket chat rooms with likes, gifts and moderation, federated across regions.
//!
//! **Status:** this role is not implemented yet. It starts only its HTTP listener with
//! `/healthz`, `/readyz` and `/metrics`, so deployments, `livecdn dev` and
//! monitoring can be wired now; its behaviour lands with its issue.
//!
//! Starting is two-phase so a caller (such as `livecdn dev`) learns of a port clash before
//! anything serves: [`bind`] claims the sockets, [`BoundChatRelay::serve`] runs until shutdown.
#![warn(missing_docs)]

pub mod config;

use std::net::SocketAddr;

pub use config::ChatRelayConfig;
use node::role::{ListenerOnly, RoleError};
use node::shutdown::Shutdown;

/// The role's name in logs, metrics and the CLI.
pub const ROLE: &str = "chat-relay";

/// A chat-relay whose listeners are bound, ready to serve.
#[derive(Debug)]
pub struct BoundChatRelay {
    listener: ListenerOnly,
}

/// Checks the configuration's files and binds the listeners.
pub async fn bind(config: ChatRelayConfig) -> Result<BoundChatRelay, RoleError> {
    let listener = ListenerOnly::bind(
        ROLE,
        config.node.id_or(ROLE),
        &config.http,
        config.shutdown.drain_deadline,
    )
    .await?;
    Ok(BoundChatRelay { listener })
}

/// Binds, then serves until `shutdown` triggers and the drain completes.
pub async fn run(config: ChatRelayConfig, shutdown: Shutdown) -> Result<(), RoleError> {
    bind(config).await?.serve(shutdown).await
}

impl BoundChatRelay {
    /// The bound HTTP address.
    pub fn http_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.http_addr()
    }

    /// Serves until `shutdown` triggers, then drains within `[shutdown] drain_deadline`.
    pub async fn serve(self, shutdown: Shutdown) -> Result<(), RoleError> {
        self.listener.serve(shutdown).await
    }
}
