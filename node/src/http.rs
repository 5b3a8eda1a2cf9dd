//! Serving an axum router with graceful shutdown bounded by a drain deadline, over plain TCP
//! (HTTP/1.1 and HTTP/2 with prior knowledge) or TLS (HTTP/2 negotiated by ALPN, as browsers
//! need), and the response-status metric every listener shares.

mod tls;

pub use tls::{load_server_tls, serve_tls};

use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use tokio::net::TcpListener;

use crate::metrics::{HttpMetrics, ResponseLabels};
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
    // With the peer address as `ConnectInfo<SocketAddr>` (routing by client address needs it).
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    // No Nagle: a WebSocket message or a held playlist answer written after a previous small
    // write would otherwise wait for the peer's delayed ACK (~40 ms).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY refused");
        }
    });
    let server = axum::serve(listener, app).with_graceful_shutdown(shutdown.triggered_owned());
    let deadline = async {
        shutdown.triggered().await;
        tokio::time::sleep(drain_deadline).await;
    };
    tokio::select! {
        result = server => result,
        () = deadline => {
            tracing::warn!(?drain_deadline, "drain deadline passed, closing remaining connections");
            Ok(())
        }
    }
}

/// Adds the `livecdn_http_responses_total{status}` count to every response of `app`.
pub fn with_response_metrics(app: Router, metrics: HttpMetrics) -> Router {
    app.layer(axum::middleware::from_fn(
        move |request: Request, next: Next| {
            let metrics = metrics.clone();
            async move {
                let response: Response = next.run(request).await;
                metrics
                    .responses
                    .get_or_create(&ResponseLabels {
                        status: response.status().as_u16(),
                    })
                    .inc();
                response
            }
        },
    ))
}
