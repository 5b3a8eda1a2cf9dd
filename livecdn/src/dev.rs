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
/// The dev cluster's admin token for the control plane's admin API (a development cluster
/// binds loopback and has no secrets worth keeping; set `admin_token` to change it).
pub const DEV_ADMIN_TOKEN: &str = "dev-admin-token";
/// The token dev nodes present to the control plane.
pub const DEV_NODE_TOKEN: &str = "dev-node-token";
/// The secret chat tokens are signed with in the dev cluster.
pub const DEV_CHAT_SECRET: &str = "dev-chat-secret";
/// The dev chat relays' gift catalogue: id, name, price in wallet units.
pub const DEV_GIFTS: [(&str, &str, i64); 3] = [
    ("rose", "Rose", 1),
    ("heart", "Heart", 5),
    ("rocket", "Rocket", 100),
];
/// Region distance between the two dev regions.
pub const DEV_REGION_DISTANCE: u32 = 100;
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
    /// Admin token of the dev control plane. Default: `"dev-admin-token"`.
    pub admin_token: String,
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
            admin_token: DEV_ADMIN_TOKEN.to_owned(),
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
        let control = |tier: u8| control_client::ControlSection {
            url: Some(format!("http://{}", at(ports.control_plane))),
            token: node::redact::Redacted::new(DEV_NODE_TOKEN.to_owned()),
            tier,
            ..control_client::ControlSection::default()
        };
        let database_url = format!(
            "sqlite://{}",
            config.data_dir.join("control-plane.db").display()
        );
        // One database for the whole dev cluster, as a production cluster shares one
        // PostgreSQL: the relays' chat log and gift ledger are the records the control plane
        // serves, and a user's wallet is the same whichever relay they join.
        let chat_relay_config = |control: control_client::ControlSection,
                                 log: LogSection,
                                 shutdown: ShutdownSection| {
            chat_relay::ChatRelayConfig {
                chat: chat_relay::config::ChatSection {
                    token_secret: node::redact::Redacted::new(DEV_CHAT_SECRET.to_owned()),
                    ..Default::default()
                },
                database: chat_relay::config::DatabaseSection {
                    url: node::redact::Redacted::new(database_url.clone()),
                    ..Default::default()
                },
                gifts: chat_relay::config::GiftsSection {
                    demo_topup: true,
                    catalog: DEV_GIFTS
                        .iter()
                        .map(|(id, name, price)| chat_relay::config::GiftEntry {
                            id: (*id).to_owned(),
                            name: (*name).to_owned(),
                            price: *price,
                            animation: String::new(),
                        })
                        .collect(),
                },
                control,
                log,
                shutdown,
                ..Default::default()
            }
        };
        Ok(Self {
            control_plane: control_plane::ControlPlaneConfig {
                node: node("control-plane", region_a),
                http: control_plane::config::HttpSection {
                    listen: at(ports.control_plane),
                    tls: None,
                },
                database: control_plane::config::DatabaseSection {
                    url: node::redact::Redacted::new(database_url.clone()),
                    ..Default::default()
                },
                auth: control_plane::config::AuthSection {
                    admin_tokens: vec![node::redact::Redacted::new(config.admin_token.clone())],
                    node_tokens: vec![node::redact::Redacted::new(DEV_NODE_TOKEN.to_owned())],
                },
                chat: control_plane::config::ChatSection {
                    token_secret: node::redact::Redacted::new(DEV_CHAT_SECRET.to_owned()),
                    guest_tokens: true,
                    ..Default::default()
                },
                routing: control_plane::config::RoutingSection {
                    default_region: Some(region_a.to_owned()),
                    distances: vec![control_plane::config::RegionDistance {
                        a: region_a.to_owned(),
                        b: region_b.to_owned(),
                        distance: DEV_REGION_DISTANCE,
                    }],
                    ..Default::default()
                },
                log: log.clone(),
                shutdown: shutdown.clone(),
                ..Default::default()
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
                control: control(0),
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
                // Upstream from the control plane's stream directory (the origin, tier 1).
                relay: edge::config::RelaySection {
                    listen: Some(at(ports.edge_a)),
                    ..edge::config::RelaySection::default()
                },
                control: control(1),
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
                // Tier 2: the directory gives it the nearest tier-1 edge, edge A.
                relay: edge::config::RelaySection::default(),
                control: control(2),
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
                ..chat_relay_config(control(0), log.clone(), shutdown.clone())
            },
            relay_b: chat_relay::ChatRelayConfig {
                node: node("chat-relay-b", region_b),
                http: chat_relay::config::HttpSection {
                    listen: at(ports.relay_b),
                    tls: None,
                },
                ..chat_relay_config(control(0), log, shutdown)
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
