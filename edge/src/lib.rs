//! The edge role of livecdn: receives streams over QUIC from its upstream (the origin, or a
//! parent edge) and serves LL-HLS to players through the same code as the origin
//! (`serve::routes`, rendered by `hls`), so both give identical playlists for the same window.
//! It can feed child edges with the same protocol (tiers).
//!
//! Data flow: `relay::subscribe::Upstream` (subscribe on first viewer, mirror windows into a
//! `serve::StreamTable`) → `serve::routes` (players) and `relay::publish::serve` (children).
//!
//! A stream nobody requested for `relay.idle_unsubscribe` (and no child edge holds) is
//! unsubscribed and dropped from memory.
//!
//! With `[control] url`, the edge registers with the control plane, heartbeats its viewers
//! and load, and asks the stream directory where to subscribe each stream
//! (`upstreams::DirectoryUpstreams`); without it, `relay.upstream` serves every stream.
//!
//! Every object the edge receives also enters its `serve::ObjectCache` (moka, LRU, weighed by
//! bytes, `cache.max_bytes`): requests are answered from it first, and objects that left a
//! window stay servable until the budget needs their room.
#![warn(missing_docs)]

pub mod config;
mod report;
mod source;
mod upstreams;

use std::net::SocketAddr;
use std::sync::Arc;

pub use config::EdgeConfig;
use node::role::{NodeServices, RoleError};
use node::shutdown::Shutdown;
use relay::subscribe::{Upstream, UpstreamConfig};
use serve::{ServeMetrics, StreamTable};
use tokio::net::TcpListener;
use upstreams::{DirectoryUpstreams, Upstreams};

use crate::source::EdgeSource;

/// The role's name in logs, metrics and the CLI.
pub const ROLE: &str = "edge";

/// An edge whose listeners are bound, ready to serve.
pub struct BoundEdge {
    config: EdgeConfig,
    services: NodeServices,
    http: TcpListener,
    http_tls: Option<Arc<node::rustls::ServerConfig>>,
    /// Client endpoint to the upstream, and the listener for children.
    upstream: Option<relay::Endpoint>,
    children: Option<relay::Endpoint>,
    relay_metrics: relay::RelayMetrics,
    serve_metrics: ServeMetrics,
    cache_metrics: serve::CacheMetrics,
}

/// How often the cache's gauges (bytes, entries) are refreshed.
const CACHE_GAUGE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// Checks the configuration's files and binds the HTTP listener and the QUIC endpoints.
pub async fn bind(config: EdgeConfig) -> Result<BoundEdge, RoleError> {
    let node_tls = config
        .tls
        .as_ref()
        .map(node::quic::NodeTls::load)
        .transpose()?;
    let directory = config.control.url.is_some() && config.relay.upstream.is_none();
    let needs_tls = config.relay.upstream.is_some() || config.relay.listen.is_some();
    let tls = match (&node_tls, needs_tls) {
        (Some(tls), _) => Some(tls),
        (None, true) => {
            return Err(RoleError::Missing(
                "relay.upstream and relay.listen need the [tls] section".to_owned(),
            ));
        }
        (None, false) => None,
    };
    let http_tls = node::role::load_http_tls(&config.http)?;
    let mut services = NodeServices::new(ROLE);
    let relay_metrics = relay::RelayMetrics::register(&mut services.registry);
    let serve_metrics = ServeMetrics::register(&mut services.registry);
    let cache_metrics = serve::CacheMetrics::register(&mut services.registry);
    let http = services
        .bind_http(config.http.listen, "http.listen")
        .await?;
    let upstream = match (config.relay.upstream, tls) {
        (Some(upstream), Some(tls)) => Some(node::role::bind_quic_client(
            upstream,
            "relay.upstream",
            tls,
            &[relay_wire::ALPN],
        )?),
        // Upstreams from the directory: one client endpoint for every upstream node.
        (None, Some(tls)) if directory => Some(node::role::bind_quic_client(
            SocketAddr::from(([0, 0, 0, 0], 0)),
            "relay.upstream",
            tls,
            &[relay_wire::ALPN],
        )?),
        _ => None,
    };
    let children = match (config.relay.listen, tls) {
        (Some(listen), Some(tls)) => Some(node::role::bind_quic_server(
            listen,
            "relay.listen",
            tls,
            &[relay_wire::ALPN],
        )?),
        _ => None,
    };
    Ok(BoundEdge {
        config,
        services,
        http,
        http_tls,
        upstream,
        children,
        relay_metrics,
        serve_metrics,
        cache_metrics,
    })
}

/// Binds, then serves until `shutdown` triggers and the drain completes.
pub async fn run(config: EdgeConfig, shutdown: Shutdown) -> Result<(), RoleError> {
    bind(config).await?.serve(shutdown).await
}

impl BoundEdge {
    /// The bound HTTP address.
    pub fn http_addr(&self) -> std::io::Result<SocketAddr> {
        self.http.local_addr()
    }

    /// Serves players and child edges until `shutdown` triggers, then drains within
    /// `[shutdown] drain_deadline`.
    pub async fn serve(self, shutdown: Shutdown) -> Result<(), RoleError> {
        let Self {
            config,
            services,
            http,
            http_tls,
            upstream,
            children,
            relay_metrics,
            serve_metrics,
            cache_metrics,
        } = self;
        let node_id = config.node.id_or(ROLE);
        let cache = serve::ObjectCache::new(config.cache.max_bytes.as_u64(), cache_metrics);
        let table = Arc::new(StreamTable::with_cache(cache.clone()));
        let cache_task = tokio::spawn(refresh_cache_gauges(cache, shutdown.clone()));
        let control = control_client::ControlClient::new(&config.control);
        let upstreams = match (upstream, config.relay.upstream) {
            (Some(endpoint), Some(addr)) => {
                let upstream_config = UpstreamConfig {
                    addr,
                    server_name: config.relay.upstream_name.clone(),
                    node_id: node_id.clone(),
                    idle_unsubscribe: config.relay.idle_unsubscribe,
                };
                Upstreams::Fixed(Upstream::spawn(
                    endpoint,
                    upstream_config,
                    table.clone(),
                    relay_metrics.clone(),
                    shutdown.clone(),
                ))
            }
            (Some(endpoint), None) => match &control {
                Some(client) => Upstreams::Directory(Arc::new(DirectoryUpstreams::new(
                    client.clone(),
                    endpoint,
                    node_id.clone(),
                    config.relay.idle_unsubscribe,
                    table.clone(),
                    relay_metrics.clone(),
                    shutdown.clone(),
                ))),
                None => Upstreams::None,
            },
            _ => Upstreams::None,
        };
        let failover_task = match &upstreams {
            Upstreams::Directory(directory) => Some(tokio::spawn(directory.clone().run_failover())),
            _ => None,
        };
        let heartbeat_task = control.map(|client| {
            let report = report::EdgeReport::new(
                &config,
                http.local_addr().ok(),
                children.as_ref().and_then(|c| c.local_addr().ok()),
                http_tls.is_some(),
                table.clone(),
                serve_metrics.clone(),
            );
            tokio::spawn(control_client::run_heartbeats(
                client,
                report,
                config.control.heartbeat_interval,
                shutdown.clone(),
            ))
        });
        let source = Arc::new(EdgeSource::new(table, upstreams, config.relay.pull_wait));
        // Children subscribe through the same source as players: a stream this edge does not
        // hold is pulled from its own upstream first.
        let children_task = children.map(|endpoint| {
            let source: Arc<dyn serve::StreamSource> = source.clone();
            tokio::spawn(relay::publish::serve(
                endpoint,
                source,
                node_id.clone(),
                relay_metrics,
                shutdown.clone(),
            ))
        });
        tracing::info!(
            node = %node_id,
            http = %http.local_addr()?,
            upstream = ?config.relay.upstream,
            children = ?config.relay.listen,
            "edge listening"
        );
        let app = serve::routes(source, serve_metrics);
        let served = services
            .serve(
                http,
                app,
                http_tls,
                shutdown,
                config.shutdown.drain_deadline,
            )
            .await;
        if let Some(task) = children_task {
            let _ = task.await;
        }
        let _ = cache_task.await;
        if let Some(task) = failover_task {
            let _ = task.await;
        }
        if let Some(task) = heartbeat_task {
            let _ = task.await;
        }
        served.map_err(RoleError::from)
    }
}

/// Runs the cache's maintenance and refreshes its gauges every [`CACHE_GAUGE_INTERVAL`].
async fn refresh_cache_gauges(cache: serve::ObjectCache, shutdown: Shutdown) {
    let mut tick = tokio::time::interval(CACHE_GAUGE_INTERVAL);
    loop {
        tokio::select! {
            _ = tick.tick() => cache.refresh_metrics(),
            () = shutdown.triggered() => return,
        }
    }
}
