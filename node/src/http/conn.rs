//! One accepted connection: which HTTP version it speaks, and hyper's connection for it, so
//! that the plain and the TLS listener serve the same way.
//!
//! Why not `hyper_util`'s `auto::Builder` (what `axum::serve` uses): it reads the first 24 bytes
//! to tell HTTP/2's preface from HTTP/1, then hands them back through a rewind buffer. hyper's
//! HTTP/1 reader gets those 24 bytes first and must then read again with a full 8 KiB of room,
//! so its read buffer doubles to 16 KiB for the connection's life (heaptrack, 2 000 held
//! blocking playlist requests: 16 KiB of the ~33 KiB of heap each one cost). Here plain TCP
//! peeks at the preface instead (nothing is consumed, hyper reads the request in one go into
//! 8 KiB) and TLS knows the version from ALPN. A client whose first bytes are a partial
//! preface (split across packets) still goes through the auto builder.

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tower::Service;

use crate::shutdown::Shutdown;

/// The HTTP/2 connection preface (RFC 9113 §3.4).
const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The HTTP version a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    Http1,
    Http2,
    /// Not known yet (a partial preface so far): let `hyper_util` read and decide.
    Sniff,
}

/// Waits for the connection's first bytes and tells its version without consuming them;
/// `None` if the peer closed first.
pub(crate) async fn sniff(tcp: &TcpStream) -> std::io::Result<Option<Protocol>> {
    let mut buf = [0u8; H2_PREFACE.len()];
    let n = tcp.peek(&mut buf).await?;
    Ok(match n {
        0 => None,
        n if buf[..n] != H2_PREFACE[..n] => Some(Protocol::Http1),
        n if n == H2_PREFACE.len() => Some(Protocol::Http2),
        _ => Some(Protocol::Sniff),
    })
}

/// Serves `router` on `io` as `protocol` until the peer closes, or, once `shutdown` triggers,
/// until the requests in flight are answered (hyper's graceful shutdown: HTTP/1 closes after
/// the current response, HTTP/2 sends GOAWAY). Requests carry `ConnectInfo(peer)`.
///
/// hyper's connection is boxed, and only the one for `protocol`: the three differ in size by
/// kilobytes, and a future holding any of them inline is as large as the largest.
pub(crate) async fn serve<I>(
    io: I,
    protocol: Protocol,
    router: Router,
    peer: SocketAddr,
    shutdown: &Shutdown,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = PeerService { router, peer };
    let io = TokioIo::new(io);
    let result = match protocol {
        Protocol::Http1 => Box::pin(http1(io, service, shutdown)).await,
        Protocol::Http2 => Box::pin(http2(io, service, shutdown)).await,
        Protocol::Sniff => Box::pin(sniffed(io, service, shutdown)).await,
    };
    if let Err(error) = result {
        // A peer that resets or goes away mid-request is routine on the internet.
        tracing::trace!(%error, "connection ended with an error");
    }
}

/// Runs a hyper connection until it ends, or, once `shutdown` triggers, until its requests in
/// flight are answered. A macro, not a function: hyper's upgradeable HTTP/1 connection and
/// `hyper_util`'s auto connection share no trait with `graceful_shutdown`.
macro_rules! until_drained {
    ($connection:expr, $shutdown:expr) => {{
        let connection = $connection;
        let mut connection = std::pin::pin!(connection);
        let result = tokio::select! {
            result = connection.as_mut() => result,
            () = $shutdown.triggered() => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        result.map_err(|error| error.to_string())
    }};
}

async fn http1<I>(io: TokioIo<I>, service: PeerService, shutdown: &Shutdown) -> Result<(), String>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let builder = hyper::server::conn::http1::Builder::new();
    until_drained!(
        builder.serve_connection(io, service).with_upgrades(),
        shutdown
    )
}

async fn http2<I>(io: TokioIo<I>, service: PeerService, shutdown: &Shutdown) -> Result<(), String>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    until_drained!(http2_builder().serve_connection(io, service), shutdown)
}

async fn sniffed<I>(io: TokioIo<I>, service: PeerService, shutdown: &Shutdown) -> Result<(), String>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    until_drained!(
        builder.serve_connection_with_upgrades(io, service),
        shutdown
    )
}

fn http2_builder() -> hyper::server::conn::http2::Builder<TokioExecutor> {
    let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    // RFC 8441 extended CONNECT, so WebSockets work over HTTP/2 too (as with `axum::serve`).
    builder.enable_connect_protocol();
    builder
}

/// The router as hyper's service for one connection: adds `ConnectInfo(peer)` to each request
/// and calls the router directly (its future is not boxed again, nor the router cloned into a
/// `oneshot` per request as `TowerToHyperService` does).
#[derive(Clone)]
struct PeerService {
    router: Router,
    peer: SocketAddr,
}

impl hyper::service::Service<hyper::Request<Incoming>> for PeerService {
    type Response = Response;
    type Error = Infallible;
    type Future = axum::routing::future::RouteFuture<Infallible>;

    fn call(&self, mut request: hyper::Request<Incoming>) -> Self::Future {
        request.extensions_mut().insert(ConnectInfo(self.peer));
        // `Router` is always ready (its `poll_ready` returns `Ready` without looking).
        self.router.clone().call(request.map(Body::new))
    }
}
