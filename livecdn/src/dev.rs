//! `livecdn dev`: a whole local cluster in one process, for newcomers, demos and tests.
//!
//! It starts every role that exists so far on the default ports of `design.md` (moved together
//! by `port_base`), with generated development certificates under the data directory.

mod ports;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use node::config::sections::{LogSection, NodeSection, ShutdownSection, TlsSection};
use serde::{Deserialize, Serialize};

pub use ports::{DEFAULT_PORT_BASE, DevPorts, PortError};

/// The config role name of `livecdn dev` (environment prefix `LIVECDN_DEV__`).
pub const ROLE: &str = "dev";

/// Node names of the dev cluster, also the default set of `livecdn certs`.
pub const DEV_NODES: [&str; 6] = [
    "control-plane",
    "origin",
    "edge-a",
    "edge-b",
    "chat-relay-a",
    "chat-relay-b",
];

/// The two dev regions: edge A and relay A serve the first, edge B and relay B the second.
pub const DEV_REGIONS: [&str; 2] = ["eu", "us"];

/// The demo stream, published by the built-in publisher unless `demo = false`.
pub const DEMO_STREAM: &str = "demo";
/// Its stream key (a development cluster has no secrets worth keeping).
pub const DEMO_KEY: &str = "demo-key";
/// A second stream for the developer's own publisher (ffmpeg, OBS).
pub const OWN_STREAM: &str = "cam";
/// Its stream key.
pub const OWN_KEY: &str = "cam-key";

/// `livecdn dev --config FILE`: the dev cluster's configuration.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DevConfig {
    /// Directory for the cluster's data (database, generated certificates). Created if
    /// missing. Default: `"./livecdn-dev"`.
    pub data_dir: PathBuf,
    /// Port of the control plane; every other port moves by the same amount
    /// (`port = default + port_base - 8000`). Default: `8000`.
    pub port_base: u16,
    /// Publish the built-in demo stream `demo`. Default: `true`.
    pub demo: bool,
    /// Address every dev listener binds. Default: `"127.0.0.1"`.
    pub bind: IpAddr,
    /// `[log]`: logging for the whole cluster.
    pub log: LogSection,
    /// `[shutdown]`: graceful shutdown for the whole cluster.
    pub shutdown: ShutdownSection,
}

impl Default for DevConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./livecdn-dev"),
            port_base: DEFAULT_PORT_BASE,
            demo: true,
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            log: LogSection::default(),
            shutdown: ShutdownSection::default(),
        }
    }
}

/// Every role config of the dev cluster, derived from a [`DevConfig`].
#[derive(Debug, Clone)]
pub struct DevPlan {
    /// The ports in use.
    pub ports: DevPorts,
    /// Where certificates live.
    pub certs_dir: PathBuf,
    /// The control plane.
    pub control_plane: control_plane::ControlPlaneConfig,
    /// The origin.
    pub origin: origin::OriginConfig,
    /// Edge A (first region, fed by the origin).
    pub edge_a: edge::EdgeConfig,
    /// Edge B (second region, a tier-2 child of edge A).
    pub edge_b: edge::EdgeConfig,
    /// Chat relay of the first region.
    pub relay_a: chat_relay::ChatRelayConfig,
    /// Chat relay of the second region.
    pub relay_b: chat_relay::ChatRelayConfig,
}

impl DevPlan {
    /// Derives every role's config; fails only if `port_base` pushes a port out of range.
    pub fn new(config: &DevConfig) -> Result<Self, PortError> {
        let ports = DevPorts::shifted(config.port_base)?;
        let certs_dir = config.data_dir.join("certs");
        let at = |port: u16| SocketAddr::new(config.bind, port);
        let node = |id: &str, region: &str| NodeSection {
            id: Some(id.to_owned()),
            region: region.to_owned(),
        };
        let tls = |name: &str| {
            Some(TlsSection {
                ca: certs_dir.join(node::certs::CA_CERT_FILE),
                cert: certs_dir.join(format!("{name}.pem")),
                key: certs_dir.join(format!("{name}.key")),
            })
        };
        let [region_a, region_b] = DEV_REGIONS;
        let (log, shutdown) = (config.log.clone(), config.shutdown.clone());
        Ok(Self {
            control_plane: control_plane::ControlPlaneConfig {
                node: node("control-plane", region_a),
                http: control_plane::config::HttpSection {
                    listen: at(ports.control_plane),
                    tls: None,
                },
                log: log.clone(),
                shutdown: shutdown.clone(),
            },
            origin: origin::OriginConfig {
                node: node("origin", region_a),
                http: origin::config::HttpSection {
                    listen: at(ports.origin_http),
                    tls: None,
                },
                rtmp: origin::config::RtmpSection {
                    listen: at(ports.origin_rtmp),
                    ..origin::config::RtmpSection::default()
                },
                packaging: origin::config::PackagingSection::default(),
                // Replication listens on the same port number as HTTP, over UDP.
                relay: origin::config::RelaySection {
                    listen: Some(at(ports.origin_http)),
                },
                streams: [(DEMO_STREAM, DEMO_KEY), (OWN_STREAM, OWN_KEY)]
                    .map(|(name, key)| origin::config::StreamEntry {
                        name: name.to_owned(),
                        key: node::redact::Redacted::new(key.to_owned()),
                    })
                    .to_vec(),
                tls: tls("origin"),
                log: log.clone(),
                shutdown: shutdown.clone(),
            },
            edge_a: edge::EdgeConfig {
                node: node("edge-a", region_a),
                http: edge::config::HttpSection {
                    listen: at(ports.edge_a),
                    tls: None,
                },
                tls: tls("edge-a"),
                relay: edge::config::RelaySection {
                    upstream: Some(at(ports.origin_http)),
                    upstream_name: "origin".to_owned(),
                    listen: Some(at(ports.edge_a)),
                    ..edge::config::RelaySection::default()
                },
                ..edge::EdgeConfig {
                    log: log.clone(),
                    shutdown: shutdown.clone(),
                    ..Default::default()
                }
            },
            edge_b: edge::EdgeConfig {
                node: node("edge-b", region_b),
                http: edge::config::HttpSection {
                    listen: at(ports.edge_b),
                    tls: None,
                },
                tls: tls("edge-b"),
                relay: edge::config::RelaySection {
                    upstream: Some(at(ports.edge_a)),
                    upstream_name: "edge-a".to_owned(),
                    ..edge::config::RelaySection::default()
                },
                ..edge::EdgeConfig {
                    log: log.clone(),
                    shutdown: shutdown.clone(),
                    ..Default::default()
                }
            },
            relay_a: chat_relay::ChatRelayConfig {
                node: node("chat-relay-a", region_a),
                http: chat_relay::config::HttpSection {
                    listen: at(ports.relay_a),
                    tls: None,
                },
                log: log.clone(),
                shutdown: shutdown.clone(),
            },
            relay_b: chat_relay::ChatRelayConfig {
                node: node("chat-relay-b", region_b),
                http: chat_relay::config::HttpSection {
                    listen: at(ports.relay_b),
                    tls: None,
                },
                log,
                shutdown,
            },
            ports,
            certs_dir,
        })
    }

    /// Makes the data directory and the dev certificates when they are missing.
    pub fn prepare(&self, data_dir: &Path) -> Result<(), node::certs::CertError> {
        std::fs::create_dir_all(data_dir).map_err(|error| node::certs::CertError::Io {
            path: data_dir.to_owned(),
            error,
        })?;
        let missing: Vec<String> = DEV_NODES
            .iter()
            .filter(|name| !self.certs_dir.join(format!("{name}.pem")).exists())
            .map(|name| (*name).to_owned())
            .collect();
        if !missing.is_empty() {
            node::certs::write_dev_set(&self.certs_dir, &missing)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_plan_uses_the_documented_ports_on_loopback() {
        let plan = DevPlan::new(&DevConfig::default()).unwrap();
        let listen = |a: SocketAddr| a.to_string();
        assert_eq!(listen(plan.control_plane.http.listen), "127.0.0.1:8000");
        assert_eq!(listen(plan.origin.http.listen), "127.0.0.1:8080");
        assert_eq!(listen(plan.edge_a.http.listen), "127.0.0.1:8081");
        assert_eq!(listen(plan.edge_b.http.listen), "127.0.0.1:8082");
        assert_eq!(listen(plan.relay_a.http.listen), "127.0.0.1:8091");
        assert_eq!(listen(plan.relay_b.http.listen), "127.0.0.1:8092");
        assert_eq!(listen(plan.origin.rtmp.listen), "127.0.0.1:1935");
        assert_eq!(plan.origin.streams.len(), 2);
        assert_ne!(plan.edge_a.node.region, plan.edge_b.node.region);
    }
}
