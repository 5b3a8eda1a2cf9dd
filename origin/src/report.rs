//! What the origin tells the control plane every heartbeat: its URLs, the streams it holds
//! (with a publisher or within the reconnect grace) and its load.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use control_client::{Capacity, HeldStream, Load, LoadMeter, NodeReport, ReportSource, Role};

use crate::OriginConfig;
use crate::streams::StreamHub;

/// Builds the origin's heartbeat reports.
pub struct OriginReport {
    template: NodeReport,
    hub: Arc<StreamHub>,
    serve_metrics: serve::ServeMetrics,
    meter: Mutex<LoadMeter>,
}

impl OriginReport {
    /// A report source for the origin bound at these addresses.
    pub fn new(
        config: &OriginConfig,
        http: Option<SocketAddr>,
        rtmp: Option<SocketAddr>,
        relay: Option<SocketAddr>,
        https: bool,
        hub: Arc<StreamHub>,
        serve_metrics: serve::ServeMetrics,
    ) -> Self {
        let control = &config.control;
        let template = NodeReport {
            id: config.node.id_or(crate::ROLE),
            role: Role::Origin,
            region: config.node.region.clone(),
            tier: 0,
            http_url: http.map(|a| control.public_url_for(a, if https { "https" } else { "http" })),
            rtmp_url: control.public_rtmp_url.clone().or_else(|| {
                rtmp.map(|a| {
                    let addr = control_client::reachable(a);
                    format!("rtmp://{addr}/{}", config.rtmp.app)
                })
            }),
            relay_addr: relay.map(|a| control.public_relay_addr_for(a)),
            ws_url: None,
            capacity: Capacity {
                max_connections: control.max_connections,
                max_egress_bps: control.max_egress_bps,
            },
            load: Load::default(),
            streams: Vec::new(),
            rooms: Vec::new(),
            draining: false,
        };
        Self {
            template,
            hub,
            serve_metrics,
            meter: Mutex::new(LoadMeter::new()),
        }
    }
}

impl ReportSource for OriginReport {
    fn report(&self) -> NodeReport {
        let mut report = self.template.clone();
        let table = self.hub.table();
        report.streams = self
            .hub
            .live_names()
            .into_iter()
            .map(|name| {
                let viewers = table.get(&name).map_or(0, |s| s.viewers());
                HeldStream { name, viewers }
            })
            .collect();
        report.load = self
            .meter
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .load_now(
                report.streams.iter().map(|s| s.viewers).sum(),
                self.serve_metrics.egress_bytes_total(),
            );
        report
    }
}
