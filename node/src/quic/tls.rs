//! Loading a node's certificate set and building rustls configs for mutual TLS.

use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::sections::TlsSection;

/// A node's TLS material could not be loaded or used. Each variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("{key} = {path}: {error}")]
    Read {
        /// The config key (`tls.ca`, `tls.cert`, `tls.key`).
        key: &'static str,
        /// The file.
        path: String,
        /// The IO error.
        error: std::io::Error,
    },
    /// A file holds no usable PEM object of the expected kind.
    #[error("{key} = {path}: {message}")]
    Pem {
        /// The config key.
        key: &'static str,
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// rustls refused the certificates or key.
    #[error("tls configuration: {0}")]
    Config(String),
}

/// The cluster CA, this node's certificate chain and its private key.
#[derive(Debug)]
pub struct NodeTls {
    roots: Arc<RootCertStore>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl Clone for NodeTls {
    fn clone(&self) -> Self {
        Self {
            roots: self.roots.clone(),
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl NodeTls {
    /// Loads the files named by a `[tls]` section.
    pub fn load(files: &TlsSection) -> Result<Self, TlsError> {
        Self::from_pem(
            &read("tls.ca", &files.ca)?,
            &read("tls.cert", &files.cert)?,
            &read("tls.key", &files.key)?,
            [
                files.ca.display().to_string(),
                files.cert.display().to_string(),
                files.key.display().to_string(),
            ],
        )
    }

    /// Builds from PEM bytes; `names` (ca, cert, key) label the sources in errors.
    pub fn from_pem(
        ca: &[u8],
        cert: &[u8],
        key: &[u8],
        names: [String; 3],
    ) -> Result<Self, TlsError> {
        let [ca_name, cert_name, key_name] = names;
        let pem_error = |key: &'static str, path: &str, message: String| TlsError::Pem {
            key,
            path: path.to_owned(),
            message,
        };
        let certs =
            |key, path: &str, bytes: &[u8]| -> Result<Vec<CertificateDer<'static>>, TlsError> {
                let certs: Vec<_> = CertificateDer::pem_slice_iter(bytes)
                    .collect::<Result<_, _>>()
                    .map_err(|e| pem_error(key, path, format!("invalid PEM: {e}")))?;
                if certs.is_empty() {
                    return Err(pem_error(key, path, "no CERTIFICATE found".to_owned()));
                }
                Ok(certs)
            };
        let mut roots = RootCertStore::empty();
        for ca_cert in certs("tls.ca", &ca_name, ca)? {
            roots.add(ca_cert).map_err(|e| {
                pem_error("tls.ca", &ca_name, format!("unusable CA certificate: {e}"))
            })?;
        }
        let chain = certs("tls.cert", &cert_name, cert)?;
        let key = PrivateKeyDer::from_pem_slice(key)
            .map_err(|e| pem_error("tls.key", &key_name, format!("no usable private key: {e}")))?;
        Ok(Self {
            roots: Arc::new(roots),
            chain,
            key,
        })
    }

    /// A TLS 1.3 server config that requires a client certificate from the cluster CA.
    pub fn server_config(&self, alpn: &[&[u8]]) -> Result<rustls::ServerConfig, TlsError> {
        let provider = provider();
        let verifier =
            WebPkiClientVerifier::builder_with_provider(self.roots.clone(), provider.clone())
                .build()
                .map_err(|e| TlsError::Config(e.to_string()))?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .map_err(|e| TlsError::Config(e.to_string()))?;
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(config)
    }

    /// A TLS 1.3 client config trusting only the cluster CA and presenting this node's
    /// certificate.
    pub fn client_config(&self, alpn: &[&[u8]]) -> Result<rustls::ClientConfig, TlsError> {
        let mut config = rustls::ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_root_certificates(self.roots.clone())
            .with_client_auth_cert(self.chain.clone(), self.key.clone_key())
            .map_err(|e| TlsError::Config(e.to_string()))?;
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(config)
    }
}

/// The one crypto provider of the build: ring (no C toolchain beyond cc, fast CI builds).
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads a PEM certificate chain (leaf first) from `path`; `key` names the config key in errors.
pub(crate) fn read_chain(
    key: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(key, path)?;
    let chain: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Pem {
            key,
            path: path.display().to_string(),
            message: format!("invalid PEM: {e}"),
        })?;
    if chain.is_empty() {
        return Err(TlsError::Pem {
            key,
            path: path.display().to_string(),
            message: "no CERTIFICATE found".to_owned(),
        });
    }
    Ok(chain)
}

/// Reads a PEM private key from `path`; `key` names the config key in errors.
pub(crate) fn read_key(key: &'static str, path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read(key, path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| TlsError::Pem {
        key,
        path: path.display().to_string(),
        message: format!("no usable private key: {e}"),
    })
}

/// The crypto provider, for other TLS configs of this crate.
pub(crate) fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    provider()
}

fn read(key: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|error| TlsError::Read {
        key,
        path: path.display().to_string(),
        error,
    })
}
