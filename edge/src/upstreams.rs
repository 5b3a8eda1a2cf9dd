//! Where the edge gets a stream from: one fixed upstream from `relay.upstream`, or, with a
//! control plane, the stream directory's answer per stream (`GET /v1/directory/{stream}`),
//! with one QUIC connection per upstream node shared by every stream it serves.
//!
//! A stream keeps its upstream while the edge holds it. Once it is dropped (idle unsubscribe,
//! or it never arrived) the next viewer asks the directory again, so a dead parent is replaced
//! at the next pull. Moving a held stream to a new upstream while it plays (on parent death) is
//! not done yet: the subscription reconnects to the same parent with backoff.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use control_client::ControlClient;
use node::shutdown::Shutdown;
use relay::subscribe::{Upstream, UpstreamConfig};
use serve::StreamTable;

/// Where streams come from.
pub(crate) enum Upstreams {
    /// No upstream: the edge serves nothing it does not hold.
    None,
    /// `relay.upstream`: one upstream for every stream.
    Fixed(Upstream),
    /// The control plane's directory, per stream.
    Directory(Box<DirectoryUpstreams>),
}

impl Upstreams {
    /// Asks the right upstream for `stream` (returns once the request is on its way).
    pub(crate) async fn want(&self, stream: &str) {
        match self {
            Self::None => {}
            Self::Fixed(upstream) => upstream.want(stream),
            Self::Directory(directory) => directory.want(stream).await,
        }
    }
}

/// Upstreams chosen by the stream directory.
pub(crate) struct DirectoryUpstreams {
    client: ControlClient,
    endpoint: relay::Endpoint,
    node_id: String,
    idle_unsubscribe: Duration,
    table: Arc<StreamTable>,
    metrics: relay::RelayMetrics,
    shutdown: Shutdown,
    /// Upstream node id → its connection task.
    connections: Mutex<HashMap<String, (SocketAddr, Upstream)>>,
}

impl DirectoryUpstreams {
    pub(crate) fn new(
        client: ControlClient,
        endpoint: relay::Endpoint,
        node_id: String,
        idle_unsubscribe: Duration,
        table: Arc<StreamTable>,
        metrics: relay::RelayMetrics,
        shutdown: Shutdown,
    ) -> Self {
        Self {
            client,
            endpoint,
            node_id,
            idle_unsubscribe,
            table,
            metrics,
            shutdown,
            connections: Mutex::new(HashMap::new()),
        }
    }

    async fn want(&self, stream: &str) {
        let answer = match self.client.directory(stream, &self.node_id).await {
            Ok(Some(answer)) => answer,
            Ok(None) => return, // not live anywhere: the viewer gets 404 after the wait
            Err(error) => {
                tracing::warn!(stream, %error, "stream directory unavailable");
                return;
            }
        };
        // Numeric addresses only for now (what nodes advertise by default); names would need
        // a resolver here.
        let Ok(addr) = answer.relay_addr.parse::<SocketAddr>() else {
            tracing::warn!(stream, relay_addr = %answer.relay_addr, "directory gave an unusable upstream address");
            return;
        };
        let upstream = {
            let mut connections = self
                .connections
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match connections.get(&answer.node_id) {
                Some((known, upstream)) if *known == addr => upstream.clone(),
                _ => {
                    tracing::info!(upstream = %answer.node_id, %addr, "new relay upstream from the directory");
                    let upstream = Upstream::spawn(
                        self.endpoint.clone(),
                        UpstreamConfig {
                            addr,
                            server_name: answer.node_id.clone(),
                            node_id: self.node_id.clone(),
                            idle_unsubscribe: self.idle_unsubscribe,
                        },
                        self.table.clone(),
                        self.metrics.clone(),
                        self.shutdown.clone(),
                    );
                    connections.insert(answer.node_id.clone(), (addr, upstream.clone()));
                    upstream
                }
            }
        };
        upstream.want(stream);
    }
}
