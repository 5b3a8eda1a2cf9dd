//! The origin role of livecdn: hosts publish over RTMP, the origin remuxes H.264/AAC into CMAF
//! and packages Low-Latency HLS, served over HTTP/1.1 and HTTP/2.
//!
//! Data flow: `ingest` (TCP, `rtmp::ServerSession`) → `streams::Publication`
//! (`media::Packager` → `hls::PartWindow`) → `serve` (playlists and media, blocking reload).
//! Replication to edges lands with its issue.
//!
//! Starting is two-phase so a caller (such as `livecdn dev`) learns of a port clash before
//! anything serves: [`bind`] claims the sockets and checks files, [`BoundOrigin::serve`] runs
//! until shutdown.
#![warn(missing_docs)]

pub mod config;
pub mod demo;
pub mod ingest;
pub mod metrics;
pub mod report;
pub mod streams;

use std::net::SocketAddr;
use std::sync::Arc;

pub use config::OriginConfig;
use node::role::{NodeServices, RoleError};
use node::shutdown::Shutdown;
use tokio::net::TcpListener;

use crate::ingest::IngestContext;
use crate::ingest::auth::{ConfigKeys, StreamKeys};
use crate::metrics::OriginMetrics;
use crate::streams::StreamHub;

/// The role's name in logs, metrics and the CLI.
pub const ROLE: &str = "origin";

/// An origin whose listeners are bound, ready to serve.
pub struct BoundOrigin {
    config: OriginConfig,
    services: NodeServices,
    http: TcpListener,
    http_tls: Option<Arc<node::rustls::ServerConfig>>,
    rtmp: TcpListener,
    relay: Option<relay::Endpoint>,
    relay_metrics: relay::RelayMetrics,
    hub: Arc<StreamHub>,
    keys: Arc<dyn StreamKeys>,
}

/// Checks the configuration's files and binds the HTTP and RTMP listeners, with stream keys
/// from the configuration.
pub async fn bind(config: OriginConfig) -> Result<BoundOrigin, RoleError> {
    let local = ConfigKeys::new(&config.rtmp.app, &config.streams);
    let keys: Arc<dyn StreamKeys> = match control_client::ControlClient::new(&config.control) {
        Some(client) => Arc::new(ingest::control_keys::ControlPlaneKeys::new(
            local,
            client,
            config.rtmp.key_cache_ttl,
        )),
        None => Arc::new(local),
    };
    bind_with_keys(config, keys).await
}

/// As [`bind`], with stream keys from `keys` (the control plane's lookup plugs in here).
pub async fn bind_with_keys(
    config: OriginConfig,
    keys: Arc<dyn StreamKeys>,
) -> Result<BoundOrigin, RoleError> {
    let node_tls = config
        .tls
        .as_ref()
        .map(node::quic::NodeTls::load)
        .transpose()?;
    let relay = match (config.relay.listen, &node_tls) {
        (Some(addr), Some(tls)) => Some(node::role::bind_quic_server(
            addr,
            "relay.listen",
            tls,
            &[relay_wire::ALPN],
        )?),
        (Some(_), None) => {
            return Err(RoleError::Missing(
                "relay.listen needs the [tls] section".to_owned(),
            ));
        }
        (None, _) => None,
    };
    let http_tls = node::role::load_http_tls(&config.http)?;
    let mut services = NodeServices::new(ROLE);
    let metrics = OriginMetrics::register(&mut services.registry);
    let http = services
        .bind_http(config.http.listen, "http.listen")
        .await?;
    let rtmp_ready = services.readiness.register("rtmp");
    let rtmp = node::listen::bind_tcp(config.rtmp.listen, "rtmp.listen").await?;
    rtmp_ready.set(true);
    let relay_metrics = relay::RelayMetrics::register(&mut services.registry);
    let hub = Arc::new(StreamHub::new(
        &config.packaging,
        config.rtmp.reconnect_grace,
        metrics,
    ));
    Ok(BoundOrigin {
        config,
        services,
        http,
        http_tls,
        rtmp,
        relay,
        relay_metrics,
        hub,
        keys,
    })
}

/// Binds, then serves until `shutdown` triggers and the drain completes.
pub async fn run(config: OriginConfig, shutdown: Shutdown) -> Result<(), RoleError> {
    bind(config).await?.serve(shutdown).await
}

impl BoundOrigin {
    /// The bound HTTP address.
    pub fn http_addr(&self) -> std::io::Result<SocketAddr> {
        self.http.local_addr()
    }

    /// The bound RTMP address.
    pub fn rtmp_addr(&self) -> std::io::Result<SocketAddr> {
        self.rtmp.local_addr()
    }

    /// Serves RTMP ingest and HTTP until `shutdown` triggers, then drains within
    /// `[shutdown] drain_deadline`.
    pub async fn serve(self, shutdown: Shutdown) -> Result<(), RoleError> {
        let Self {
            config,
            mut services,
            http,
            http_tls,
            rtmp,
            relay,
            relay_metrics,
            hub,
            keys,
        } = self;
        tracing::info!(
            node = %config.node.id_or(ROLE),
            http = %http.local_addr()?,
            rtmp = %rtmp.local_addr()?,
            streams = config.streams.len(),
            "origin listening"
        );
        let (rtmp_addr, relay_addr) = (
            rtmp.local_addr().ok(),
            relay.as_ref().and_then(|r| r.local_addr().ok()),
        );
        let ingest = Arc::new(IngestContext {
            keys,
            hub: hub.clone(),
            metrics: hub.metrics().clone(),
            handshake_timeout: config.rtmp.handshake_timeout,
            idle_timeout: config.rtmp.idle_timeout,
        });
        let ingest_task = tokio::spawn(ingest::accept_loop(rtmp, ingest, shutdown.clone()));
        let relay_task = relay.map(|endpoint| {
            let node_id = config.node.id_or(ROLE);
            tracing::info!(relay = ?endpoint.local_addr().ok(), "replication listener up");
            tokio::spawn(relay::publish::serve(
                endpoint,
                hub.table(),
                node_id,
                relay_metrics,
                shutdown.clone(),
            ))
        });
        let serve_metrics = serve::ServeMetrics::register(&mut services.registry);
        let heartbeat_task = control_client::ControlClient::new(&config.control).map(|client| {
            let report = report::OriginReport::new(
                &config,
                http.local_addr().ok(),
                rtmp_addr,
                relay_addr,
                http_tls.is_some(),
                hub.clone(),
                serve_metrics.clone(),
            );
            tokio::spawn(control_client::run_heartbeats(
                client,
                report,
                config.control.heartbeat_interval,
                shutdown.clone(),
            ))
        });
        let app = serve::routes(hub.table(), serve_metrics);
        let served = services
            .serve(
                http,
                app,
                http_tls,
                shutdown,
                config.shutdown.drain_deadline,
            )
            .await;
        // The ingest loop ends on the same shutdown; its sessions end their publications.
        let _ = ingest_task.await;
        if let Some(relay_task) = relay_task {
            let _ = relay_task.await;
        }
        if let Some(heartbeat_task) = heartbeat_task {
            let _ = heartbeat_task.await;
        }
        served.map_err(RoleError::from)
    }
}
