//! Config sections shared by every role. Each role's config struct embeds them as
//! `[node]`, `[log]`, `[shutdown]` and, for nodes that talk QUIC, `[tls]`.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `[node]`: who this node is in the cluster.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct NodeSection {
    /// Unique node id in the cluster, used in logs, metrics and the control plane's registry.
    /// Default: the role name, e.g. `"edge"`.
    pub id: Option<String>,
    /// Region this node serves, e.g. `"eu-west"`; viewers and chatters are routed to nodes of
    /// their region first. Default: `"local"`.
    pub region: String,
}

impl Default for NodeSection {
    fn default() -> Self {
        Self {
            id: None,
            region: "local".to_owned(),
        }
    }
}

impl NodeSection {
    /// The configured id, or `role` when none is set.
    pub fn id_or(&self, role: &str) -> String {
        self.id.clone().unwrap_or_else(|| role.to_owned())
    }
}

/// `[log]`: how the node logs.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    /// `"text"` (human-readable) or `"json"` (one JSON object per line, for log shippers).
    /// Default: `"text"`.
    pub format: LogFormat,
    /// Filter in `tracing` env-filter syntax, e.g. `"info"` or `"info,livecdn_origin=debug"`.
    /// Default: `"info"`.
    pub level: LogFilter,
}

impl Default for LogSection {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: LogFilter("info".to_owned()),
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable text.
    Text,
    /// One JSON object per line.
    Json,
}

/// A validated `tracing` env-filter directive string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFilter(pub String);

impl Serialize for LogFilter {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for LogFilter {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        tracing_subscriber::EnvFilter::try_new(&text)
            .map_err(|e| serde::de::Error::custom(format!("invalid log filter {text:?}: {e}")))?;
        Ok(Self(text))
    }
}

/// `[shutdown]`: graceful shutdown on SIGINT/SIGTERM.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ShutdownSection {
    /// After a stop signal the node stops accepting, lets in-flight work finish for at most
    /// this long, then closes what is left and exits 0. Duration, e.g. `"10s"`. Default: `"10s"`.
    #[serde(with = "humantime_serde")]
    pub drain_deadline: Duration,
}

impl Default for ShutdownSection {
    fn default() -> Self {
        Self {
            drain_deadline: Duration::from_secs(10),
        }
    }
}

/// `[tls]`: this node's certificate for mutual TLS with other nodes (QUIC replication,
/// federation). Make a development set with `livecdn certs --out DIR`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    /// PEM file of the cluster CA that signs every node certificate; peers must chain to it.
    pub ca: PathBuf,
    /// PEM file of this node's certificate (chain, leaf first).
    pub cert: PathBuf,
    /// PEM file of this node's private key (PKCS#8, SEC1 or PKCS#1).
    pub key: PathBuf,
}

/// `[http]`: a role's HTTP listener, which also serves `/metrics`, `/healthz` and `/readyz`.
/// `DEFAULT_PORT` is the role's port from `design.md` (origin 8080, edge 8081, control plane
/// 8000, chat relay 8091). (Serde's derive does not support const generics, hence the
/// hand-written impls through `HttpSectionRepr`.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSection<const DEFAULT_PORT: u16> {
    /// Address and port of the HTTP listener. Default: `"0.0.0.0:<the role's port>"`.
    pub listen: std::net::SocketAddr,
    /// HTTPS: PEM certificate chain and private key files. When set, the listener speaks TLS
    /// only (HTTP/2 or HTTP/1.1 by ALPN). Default: none (plain HTTP, HTTP/2 by prior knowledge).
    pub tls: Option<HttpTls>,
}

/// The certificate an HTTPS listener presents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpTls {
    /// PEM file with the certificate chain, leaf first (`http.tls_cert`).
    pub cert: PathBuf,
    /// PEM file with the private key (`http.tls_key`).
    pub key: PathBuf,
}

impl<const DEFAULT_PORT: u16> Default for HttpSection<DEFAULT_PORT> {
    fn default() -> Self {
        Self {
            listen: std::net::SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT)),
            tls: None,
        }
    }
}

/// The serialized form of [`HttpSection`].
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct HttpSectionRepr {
    #[serde(skip_serializing_if = "Option::is_none")]
    listen: Option<std::net::SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_cert: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_key: Option<PathBuf>,
}

impl<'de, const DEFAULT_PORT: u16> Deserialize<'de> for HttpSection<DEFAULT_PORT> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let repr = HttpSectionRepr::deserialize(deserializer)?;
        let tls = match (repr.tls_cert, repr.tls_key) {
            (Some(cert), Some(key)) => Some(HttpTls { cert, key }),
            (None, None) => None,
            _ => {
                return Err(serde::de::Error::custom(
                    "tls_cert and tls_key must be set together",
                ));
            }
        };
        let listen = repr.listen.unwrap_or_else(|| Self::default().listen);
        Ok(Self { listen, tls })
    }
}

impl<const DEFAULT_PORT: u16> Serialize for HttpSection<DEFAULT_PORT> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        HttpSectionRepr {
            listen: Some(self.listen),
            tls_cert: self.tls.as_ref().map(|t| t.cert.clone()),
            tls_key: self.tls.as_ref().map(|t| t.key.clone()),
        }
        .serialize(serializer)
    }
}
