//! RTMP ingest: the TCP listener and one task per connection driving a sans-IO
//! `rtmp::ServerSession`. Publishes are authorized through [`auth::StreamKeys`] and claimed in
//! the [`crate::streams::StreamHub`]; media events go to the stream's `Publication`.

pub mod auth;
pub mod control_keys;
mod session;

use std::sync::Arc;
use std::time::Duration;

use node::shutdown::Shutdown;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::metrics::OriginMetrics;
use crate::streams::StreamHub;

/// What every connection task shares.
pub(crate) struct IngestContext {
    pub(crate) keys: Arc<dyn auth::StreamKeys>,
    pub(crate) hub: Arc<StreamHub>,
    pub(crate) metrics: OriginMetrics,
    pub(crate) handshake_timeout: Duration,
    pub(crate) idle_timeout: Duration,
}

/// Accepts RTMP connections until `shutdown`, then closes the listener and waits for the
/// connection tasks, which end their publishes and return.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    ctx: Arc<IngestContext>,
    shutdown: Shutdown,
) {
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, peer)) => {
                    ctx.metrics.rtmp_connections.inc();
                    // Low latency for control replies; media flows the other way.
                    let _ = socket.set_nodelay(true);
                    sessions.spawn(session::run(socket, peer, ctx.clone(), shutdown.clone()));
                }
                Err(error) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    tracing::warn!(%error, "rtmp accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            () = shutdown.triggered() => break,
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
        }
    }
    drop(listener);
    while sessions.join_next().await.is_some() {}
}

#[cfg(test)]
mod tests;
