//! A development certificate authority and node certificates (`livecdn certs --out DIR`).
//!
//! Nodes authenticate each other with mutual TLS: every node certificate is signed by one
//! cluster CA and valid for both server and client auth. For production, operators may use
//! their own CA; these files have the same shape.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

/// File name of the CA certificate in a certificate directory.
pub const CA_CERT_FILE: &str = "ca.pem";
/// File name of the CA private key in a certificate directory.
pub const CA_KEY_FILE: &str = "ca.key";

/// Certificates could not be made or written.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// rcgen refused the parameters or could not parse an existing CA.
    #[error("certificate generation: {0}")]
    Generate(#[from] rcgen::Error),
    /// A file could not be read or written.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The IO error.
        error: std::io::Error,
    },
    /// A node name is not usable as a DNS name.
    #[error("invalid node name {0:?}: use letters, digits, '-' and '.'")]
    BadName(String),
}

/// A CA able to sign node certificates.
pub struct DevCa {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
    key_pem: String,
}

/// A node's certificate and key, PEM encoded.
#[derive(Debug, Clone)]
pub struct NodeCert {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key (PKCS#8), PEM.
    pub key_pem: String,
}

impl DevCa {
    /// A fresh CA with an ECDSA P-256 key.
    pub fn generate() -> Result<Self, CertError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params
            .distinguished_name
            .push(DnType::CommonName, "livecdn development CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key)?;
        let key_pem = key.serialize_pem();
        Ok(Self {
            cert_pem: cert.pem(),
            key_pem,
            issuer: Issuer::new(params, key),
        })
    }

    /// A CA from existing PEM files (to add nodes to an existing cluster).
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, CertError> {
        let key = KeyPair::from_pem(key_pem)?;
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key)?;
        Ok(Self {
            issuer,
            cert_pem: cert_pem.to_owned(),
            key_pem: key_pem.to_owned(),
        })
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Issues a certificate for node `name`, valid as TLS server and client, with subject
    /// alternative names `name`, `localhost`, `127.0.0.1` and `::1` (plus `extra_sans`).
    pub fn issue_node(&self, name: &str, extra_sans: &[String]) -> Result<NodeCert, CertError> {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            return Err(CertError::BadName(name.to_owned()));
        }
        let key = KeyPair::generate()?;
        let mut names = vec![name.to_owned(), "localhost".to_owned()];
        names.extend(extra_sans.iter().cloned());
        let mut params = CertificateParams::new(names)?;
        params
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        params
            .subject_alt_names
            .push(SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()));
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(NodeCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// Writes `ca.pem`/`ca.key` (reusing them if `dir` already has them) and `<name>.pem` /
/// `<name>.key` for each node into `dir`. Returns the files written.
pub fn write_dev_set(dir: &Path, nodes: &[String]) -> Result<Vec<PathBuf>, CertError> {
    std::fs::create_dir_all(dir).map_err(|error| CertError::Io {
        path: dir.to_owned(),
        error,
    })?;
    let (ca_cert, ca_key) = (dir.join(CA_CERT_FILE), dir.join(CA_KEY_FILE));
    let mut written = Vec::new();
    let ca = if ca_cert.exists() && ca_key.exists() {
        DevCa::from_pem(&read(&ca_cert)?, &read(&ca_key)?)?
    } else {
        let ca = DevCa::generate()?;
        write(&ca_cert, &ca.cert_pem, false)?;
        write(&ca_key, &ca.key_pem, true)?;
        written.extend([ca_cert, ca_key]);
        ca
    };
    for name in nodes {
        let node = ca.issue_node(name, &[])?;
        let (cert, key) = (
            dir.join(format!("{name}.pem")),
            dir.join(format!("{name}.key")),
        );
        write(&cert, &node.cert_pem, false)?;
        write(&key, &node.key_pem, true)?;
        written.extend([cert, key]);
    }
    Ok(written)
}

fn read(path: &Path) -> Result<String, CertError> {
    std::fs::read_to_string(path).map_err(|error| CertError::Io {
        path: path.to_owned(),
        error,
    })
}

/// Writes `text` to `path`; private keys are created readable by the owner only.
fn write(path: &Path, text: &str, private: bool) -> Result<(), CertError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let io = |error| CertError::Io {
        path: path.to_owned(),
        error,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(if private { 0o600 } else { 0o644 })
        .open(path)
        .map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_ca_and_nodes_and_reuses_the_ca() {
        let dir = tempfile::tempdir().unwrap();
        let first = write_dev_set(dir.path(), &["origin".into()]).unwrap();
        assert_eq!(first.len(), 4);
        let ca_before = std::fs::read_to_string(dir.path().join(CA_CERT_FILE)).unwrap();
        let second = write_dev_set(dir.path(), &["edge-a".into()]).unwrap();
        assert_eq!(second.len(), 2, "the existing CA is reused, not replaced");
        let ca_after = std::fs::read_to_string(dir.path().join(CA_CERT_FILE)).unwrap();
        assert_eq!(ca_before, ca_after);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("edge-a.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn refuses_a_name_that_is_not_a_dns_name() {
        let ca = DevCa::generate().unwrap();
        assert!(matches!(
            ca.issue_node("bad name/..", &[]),
            Err(CertError::BadName(_))
        ));
    }
}
