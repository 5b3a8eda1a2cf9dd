//! Where the edge gets a stream from: one fixed upstream from `relay.upstream`, or, with a
//! control plane, the stream directory's answer per stream (`GET /v1/directory/{stream}`),
//! with one QUIC connection per upstream node shared by every stream it serves.
//!
//! A stream keeps its upstream while the edge holds it. When an upstream has been unreachable
//! for [`FAILOVER_AFTER`] (a parent edge killed: QUIC notices within its idle timeout), the
//! edge asks the directory again for one of the streams it took from there; the control plane
//! has meanwhile declared the dead node dead, so the answer is another parent (or the origin),
//! and the connection is retargeted there. Its subscriptions move with it and resume from the
//! last part they hold (`relay::subscribe::Upstream::retarget`), so viewers keep playing.

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
    Directory(Arc<DirectoryUpstreams>),
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
    /// Stream → the upstream node id it was asked from.
    streams: Mutex<HashMap<String, String>>,
}

/// How long an upstream must be unreachable before the directory is asked for another parent
/// (a blip shorter than this just reconnects). The directory keeps naming the old parent until
/// the control plane declares it dead (2.5 s after its last heartbeat); until then the answer
/// is the same node and nothing moves.
pub(crate) const FAILOVER_AFTER: Duration = Duration::from_secs(1);
/// How often unreachable upstreams are looked at.
const FAILOVER_CHECK: Duration = Duration::from_millis(500);

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
            streams: Mutex::new(HashMap::new()),
        }
    }

    /// Moves the streams of unreachable upstreams to the parent the directory names now, until
    /// shutdown.
    pub(crate) async fn run_failover(self: Arc<Self>) {
        let mut tick = tokio::time::interval(FAILOVER_CHECK);
        loop {
            tokio::select! {
                _ = tick.tick() => self.fail_over().await,
                () = self.shutdown.triggered() => return,
            }
        }
    }

    async fn fail_over(&self) {
        let down: Vec<(String, Upstream)> = lock(&self.connections)
            .iter()
            .filter(|(_, (_, upstream))| upstream.down_for().is_some_and(|d| d >= FAILOVER_AFTER))
            .map(|(node, (_, upstream))| (node.clone(), upstream.clone()))
            .collect();
        for (node, upstream) in down {
            let stream = lock(&self.streams)
                .iter()
                .find(|(name, from)| **from == node && self.table.get(name).is_some())
                .map(|(name, _)| name.clone());
            let Some(stream) = stream else {
                continue; // nothing held from there: the next viewer asks the directory anyway
            };
            let answer = match self.client.directory(&stream, &self.node_id).await {
                Ok(Some(answer)) if answer.node_id != node => answer,
                // Still named (not declared dead yet), not live anywhere, or no answer: later.
                Ok(_) => continue,
                Err(error) => {
                    tracing::warn!(%stream, %error, "stream directory unavailable for failover");
                    continue;
                }
            };
            let Ok(addr) = answer.relay_addr.parse::<SocketAddr>() else {
                continue;
            };
            tracing::warn!(from = %node, to = %answer.node_id, %addr, "relay upstream unreachable: moving its streams to the directory's new parent");
            upstream.retarget(addr, &answer.node_id);
            let mut connections = lock(&self.connections);
            connections.remove(&node);
            // Later pulls of streams the directory sends to the new parent share this
            // connection, unless one is already open there.
            connections
                .entry(answer.node_id.clone())
                .or_insert((addr, upstream));
            let mut streams = lock(&self.streams);
            for from in streams.values_mut().filter(|from| **from == node) {
                from.clone_from(&answer.node_id);
            }
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
        lock(&self.streams).insert(stream.to_owned(), answer.node_id.clone());
        let upstream = {
            let mut connections = lock(&self.connections);
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

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
