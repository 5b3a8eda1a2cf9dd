//! Serving an axum router with graceful shutdown bounded by a drain deadline, over plain TCP
//! (HTTP/1.1 and HTTP/2 with prior knowledge) or TLS (HTTP/2 negotiated by ALPN, as browsers
//! need), and the response-status metric every listener shares.

mod conn;
mod metrics_layer;
mod tls;

pub use tls::{load_server_tls, serve_tls};

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use tokio::net::{TcpListener, TcpStream};

use crate::metrics::HttpMetrics;
use crate::shutdown::Shutdown;

/// Serves `app` on `listener` (HTTP/1.1 and HTTP/2 cleartext, keep-alive) until `shutdown`
/// triggers; then stops accepting, lets in-flight requests finish for at most `drain_deadline`,
/// and returns. Connections still open after the deadline are dropped.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: Shutdown,
    drain_deadline: Duration,
) -> std::io::Result<()> {
    accept_loop(
        listener,
        shutdown,
        drain_deadline,
        move |tcp, peer, shutdown| {
            let router = app.clone();
            async move {
                // Nothing of hyper exists until the first bytes arrive: an idle connection
                // costs its task and socket only.
                let protocol = tokio::select! {
                    sniffed = conn::sniff(&tcp) => match sniffed {
                        Ok(Some(protocol)) => protocol,
                        Ok(None) | Err(_) => return,
                    },
                    () = shutdown.triggered() => return,
                };
                conn::serve(tcp, protocol, router, peer, &shutdown).await;
            }
        },
    )
    .await;
    Ok(())
}

/// Accepts connections on `listener` and runs `handle` for each in its own task until
/// `shutdown`; then waits up to `drain_deadline` for the tasks to end.
async fn accept_loop<F, Fut>(
    listener: TcpListener,
    shutdown: Shutdown,
    drain_deadline: Duration,
    handle: F,
) where
    F: Fn(TcpStream, SocketAddr, Shutdown) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    // Each connection task holds a receiver; `closed()` completes when the last one ends.
    let (open_tx, open_rx) = tokio::sync::watch::channel(());
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, mostly: back off rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.triggered() => break,
        };
        // No Nagle: a WebSocket message or a held playlist answer written after a previous
        // small write would otherwise wait for the peer's delayed ACK (~40 ms).
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY refused");
        }
        let open = open_rx.clone();
        let task = handle(tcp, peer, shutdown.clone());
        tokio::spawn(async move {
            task.await;
            drop(open);
        });
    }
    drop(listener);
    drop(open_rx);
    if tokio::time::timeout(drain_deadline, open_tx.closed())
        .await
        .is_err()
    {
        tracing::warn!(
            ?drain_deadline,
            "drain deadline passed, closing remaining connections"
        );
    }
}

/// Adds the `livecdn_http_responses_total{status}` count to every response of `app`.
pub fn with_response_metrics(app: Router, metrics: HttpMetrics) -> Router {
    app.layer(metrics_layer::ResponseMetricsLayer::new(metrics))
}
