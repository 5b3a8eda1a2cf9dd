//! HTTPS: rustls (ring) with ALPN `h2` and `http/1.1` (hyper's connection for the version ALPN
//! chose), and graceful shutdown bounded by the drain deadline.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::conn::Protocol;

use crate::config::sections::HttpTls;
use crate::quic::TlsError;
use crate::shutdown::Shutdown;

/// A client that has not finished the TLS handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The rustls server config for an HTTPS listener: TLS 1.2 and 1.3, ALPN `h2` then `http/1.1`.
pub fn load_server_tls(files: &HttpTls) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let chain = crate::quic::tls::read_chain("http.tls_cert", &files.cert)?;
    let key = crate::quic::tls::read_key("http.tls_key", &files.key)?;
    let mut config =
        rustls::ServerConfig::builder_with_provider(crate::quic::tls::crypto_provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| TlsError::Config(format!("http.tls_cert/http.tls_key: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Serves `app` over TLS on `listener` until `shutdown`; then stops accepting and lets open
/// connections finish for at most `drain_deadline`. HTTP/2 or HTTP/1.1 as ALPN chose.
pub async fn serve_tls(
    listener: TcpListener,
    app: Router,
    tls: Arc<rustls::ServerConfig>,
    shutdown: Shutdown,
    drain_deadline: Duration,
) -> std::io::Result<()> {
    let acceptor = TlsAcceptor::from(tls);
    super::accept_loop(
        listener,
        shutdown,
        drain_deadline,
        move |tcp, peer, shutdown| {
            let (acceptor, router) = (acceptor.clone(), app.clone());
            async move {
                let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp));
                let stream = tokio::select! {
                    stream = handshake => match stream {
                        Ok(Ok(stream)) => stream,
                        // failed or slow handshakes are the client's problem, not ours
                        Ok(Err(_)) | Err(_) => return,
                    },
                    () = shutdown.triggered() => return,
                };
                let protocol = match stream.get_ref().1.alpn_protocol() {
                    Some(b"h2") => Protocol::Http2,
                    Some(_) => Protocol::Http1,
                    // No ALPN: HTTP/1.1, or HTTP/2 with prior knowledge.
                    None => Protocol::Sniff,
                };
                super::conn::serve(stream, protocol, router, peer, &shutdown).await;
            }
        },
    )
    .await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rustls_pki_types::ServerName;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::certs::DevCa;

    async fn client(
        ca: &DevCa,
        addr: std::net::SocketAddr,
        alpn: &[&[u8]],
    ) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_pki_types::CertificateDer::pem_slice_iter(ca.cert_pem().as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let mut config =
            rustls::ClientConfig::builder_with_provider(crate::quic::tls::crypto_provider())
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        connector
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap()
    }

    use rustls_pki_types::pem::PemObject;

    #[tokio::test]
    async fn https_negotiates_h2_by_alpn_and_serves_http1() {
        let ca = DevCa::generate().unwrap();
        let node = ca.issue_node("edge-a", &[]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let files = HttpTls {
            cert: dir.path().join("c.pem"),
            key: dir.path().join("k.pem"),
        };
        std::fs::write(&files.cert, &node.cert_pem).unwrap();
        std::fs::write(&files.key, &node.key_pem).unwrap();
        let tls = load_server_tls(&files).unwrap();

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().route("/healthz", axum::routing::get(|| async { "ok\n" }));
        let shutdown = Shutdown::new();
        let server = tokio::spawn(serve_tls(
            listener,
            app,
            tls,
            shutdown.clone(),
            Duration::from_secs(1),
        ));

        let h2 = client(&ca, addr, &[b"h2", b"http/1.1"]).await;
        assert_eq!(h2.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        drop(h2);

        let mut h1 = client(&ca, addr, &[b"http/1.1"]).await;
        h1.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut response = String::new();
        h1.read_to_string(&mut response).await.unwrap();
        assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
        assert!(response.ends_with("ok\n"), "{response}");

        shutdown.trigger();
        server.await.unwrap().unwrap();
    }

    #[test]
    fn missing_certificate_names_the_key() {
        let files = HttpTls {
            cert: "/nonexistent/c.pem".into(),
            key: "/nonexistent/k.pem".into(),
        };
        let error = load_server_tls(&files).unwrap_err().to_string();
        assert!(
            error.starts_with("http.tls_cert = /nonexistent/c.pem"),
            "{error}"
        );
    }
}
