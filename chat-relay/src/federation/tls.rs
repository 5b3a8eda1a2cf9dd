//! `wss://` federation links: the TLS client side. The home's side is its ordinary HTTPS
//! listener (`http.tls_cert`, served by `node::http`), so `/federation` speaks TLS wherever
//! `/ws` does.
//!
//! The dialing relay verifies the home's certificate against `federation.tls_ca` (chain and
//! name: the host or IP of the home's URL); the home authenticates the dialer by its node
//! token, as over `ws://`. A home presenting a certificate of another CA is refused at the
//! handshake, before the token is sent.

use std::path::Path;
use std::sync::Arc;

use node::quic::TlsError;
use node::rustls;
use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;

/// The config key the CA comes from, named in errors.
const KEY: &str = "federation.tls_ca";

/// The TLS client config of `wss://` links: TLS 1.2 or 1.3 (the HTTPS listener's versions),
/// trusting only the CA certificates in `ca`, ALPN `http/1.1` (a WebSocket upgrade is
/// HTTP/1.1), no client certificate.
pub(crate) fn client_config(ca: &Path) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let path = ca.display().to_string();
    let pem = std::fs::read(ca).map_err(|error| TlsError::Read {
        key: KEY,
        path: path.clone(),
        error,
    })?;
    let pem_error = |message: String| TlsError::Pem {
        key: KEY,
        path: path.clone(),
        message,
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| pem_error(format!("invalid PEM: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| pem_error(format!("unusable CA certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(pem_error("no CERTIFICATE found".to_owned()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_file_without_certificates_naming_the_key() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let error = client_config(&empty).unwrap_err().to_string();
        assert!(error.starts_with("federation.tls_ca = "), "{error}");
        assert!(error.ends_with("no CERTIFICATE found"), "{error}");
        let missing = client_config(&dir.join("missing.pem")).unwrap_err();
        assert!(
            matches!(missing, TlsError::Read { key: KEY, .. }),
            "{missing}"
        );
        let ca = node::certs::DevCa::generate().unwrap();
        let good = dir.join("ca.pem");
        std::fs::write(&good, ca.cert_pem()).unwrap();
        assert_eq!(
            client_config(&good).unwrap().alpn_protocols,
            [b"http/1.1".to_vec()]
        );
    }
}
