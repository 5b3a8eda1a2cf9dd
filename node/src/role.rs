//! What every role does the same way: its registry, readiness and HTTP listener with the
//! admin endpoints, served until shutdown with a bounded drain.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

use crate::config::sections::HttpSection;
use crate::listen::{ListenError, bind_tcp};
use crate::metrics::{self, HttpMetrics};
use crate::readiness::Readiness;
use crate::shutdown::Shutdown;

/// The per-node services a role builds on: a fresh registry (with process and build metrics)
/// and readiness. Create one per role instance; never share registries between roles.
#[derive(Debug)]
pub struct NodeServices {
    /// The node's root registry; components register into it before serving starts.
    pub registry: Registry,
    /// The node's readiness conditions.
    pub readiness: Readiness,
    /// `livecdn_http_responses_total`.
    pub http_metrics: HttpMetrics,
}

impl NodeServices {
    /// Services for `role`, with `process_*` and `livecdn_build_info` registered.
    pub fn new(role: &str) -> Self {
        let mut registry = metrics::new_registry();
        metrics::register_process_metrics(&mut registry);
        metrics::register_build_info(&mut registry, role);
        let http_metrics = HttpMetrics::register(&mut registry);
        Self {
            registry,
            readiness: Readiness::new(),
            http_metrics,
        }
    }

    /// Binds the role's HTTP listener (`key` names the config key in errors) and marks the
    /// `http` readiness condition once bound.
    pub async fn bind_http(&self, addr: SocketAddr, key: &str) -> Result<TcpListener, ListenError> {
        let http_ready = self.readiness.register("http");
        let listener = bind_tcp(addr, key).await?;
        http_ready.set(true);
        Ok(listener)
    }

    /// Serves `app` plus `/metrics`, `/healthz`, `/readyz` on `listener` (over TLS when `tls`
    /// is given) until `shutdown`, draining for at most `drain_deadline`. On shutdown `/readyz`
    /// turns 503 first.
    pub async fn serve(
        self,
        listener: TcpListener,
        app: Router,
        tls: Option<Arc<rustls::ServerConfig>>,
        shutdown: Shutdown,
        drain_deadline: Duration,
    ) -> std::io::Result<()> {
        let readiness = self.readiness.clone();
        let drain_watch = shutdown.clone();
        tokio::spawn(async move {
            drain_watch.triggered().await;
            readiness.start_draining();
        });
        let admin = crate::admin::routes(Arc::new(self.registry), self.readiness);
        let app = crate::http::with_response_metrics(app.merge(admin), self.http_metrics);
        match tls {
            Some(tls) => crate::http::serve_tls(listener, app, tls, shutdown, drain_deadline).await,
            None => crate::http::serve(listener, app, shutdown, drain_deadline).await,
        }
    }
}

/// A role that so far has only its HTTP listener with the admin endpoints (no role behaviour
/// yet). Roles use it until their issue lands, and say so in their docs and logs.
#[derive(Debug)]
pub struct ListenerOnly {
    role: &'static str,
    node_id: String,
    services: NodeServices,
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    drain_deadline: Duration,
}

impl ListenerOnly {
    /// Loads the `[http]` TLS files if any and binds `http.listen` for node `node_id` of `role`.
    pub async fn bind<const PORT: u16>(
        role: &'static str,
        node_id: String,
        http: &HttpSection<PORT>,
        drain_deadline: Duration,
    ) -> Result<Self, RoleError> {
        let tls = load_http_tls(http)?;
        let services = NodeServices::new(role);
        let listener = services.bind_http(http.listen, "http.listen").await?;
        Ok(Self {
            role,
            node_id,
            services,
            listener,
            tls,
            drain_deadline,
        })
    }

    /// The bound HTTP address.
    pub fn http_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves the admin endpoints until `shutdown`, then drains.
    pub async fn serve(self, shutdown: Shutdown) -> Result<(), RoleError> {
        let addr = self.listener.local_addr()?;
        tracing::info!(role = self.role, node = %self.node_id, %addr, "listening: /healthz /readyz /metrics only, role behaviour not implemented yet");
        self.services
            .serve(
                self.listener,
                Router::new(),
                self.tls,
                shutdown,
                self.drain_deadline,
            )
            .await?;
        Ok(())
    }
}

/// A role could not start or failed while running.
#[derive(Debug, thiserror::Error)]
pub enum RoleError {
    /// A listener could not be bound.
    #[error(transparent)]
    Listen(#[from] ListenError),
    /// The node's TLS files could not be loaded.
    #[error(transparent)]
    Tls(#[from] crate::quic::TlsError),
    /// A QUIC endpoint could not be created.
    #[error(transparent)]
    Quic(#[from] crate::quic::QuicError),
    /// Something the role needs is not configured.
    #[error("{0}")]
    Missing(String),
    /// Serving failed.
    #[error("serving: {0}")]
    Io(#[from] std::io::Error),
}

/// Loads the `[http]` HTTPS certificate when one is configured.
pub fn load_http_tls<const PORT: u16>(
    http: &HttpSection<PORT>,
) -> Result<Option<Arc<rustls::ServerConfig>>, RoleError> {
    Ok(http
        .tls
        .as_ref()
        .map(crate::http::load_server_tls)
        .transpose()?)
}

/// Binds UDP `addr` (config key `key`) and makes a QUIC server endpoint with mutual TLS and
/// `alpn` on it (it can also open client connections).
pub fn bind_quic_server(
    addr: SocketAddr,
    key: &str,
    tls: &crate::quic::NodeTls,
    alpn: &[&[u8]],
) -> Result<quinn::Endpoint, RoleError> {
    let socket = crate::listen::bind_udp(addr, key)?;
    Ok(crate::quic::server_endpoint(socket, tls, alpn)?)
}

/// Binds an ephemeral UDP port of `remote`'s address family (config key `key` in errors) and
/// makes a QUIC client endpoint presenting this node's certificate.
pub fn bind_quic_client(
    remote: SocketAddr,
    key: &str,
    tls: &crate::quic::NodeTls,
    alpn: &[&[u8]],
) -> Result<quinn::Endpoint, RoleError> {
    let local: SocketAddr = if remote.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let socket = crate::listen::bind_udp(local, key)?;
    Ok(crate::quic::client_endpoint(socket, tls, alpn)?)
}
