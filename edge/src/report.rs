//! What the edge tells the control plane every heartbeat: its URLs, tier, the streams it holds
//! with their viewers, and its load.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use control_client::{Capacity, HeldStream, Load, LoadMeter, NodeReport, ReportSource, Role};
use serve::StreamTable;

use crate::EdgeConfig;

/// Builds the edge's heartbeat reports.
pub(crate) struct EdgeReport {
    template: NodeReport,
    table: Arc<StreamTable>,
    serve_metrics: serve::ServeMetrics,
    meter: Mutex<LoadMeter>,
}

impl EdgeReport {
    pub(crate) fn new(
        config: &EdgeConfig,
        http: Option<SocketAddr>,
        children: Option<SocketAddr>,
        https: bool,
        table: Arc<StreamTable>,
        serve_metrics: serve::ServeMetrics,
    ) -> Self {
        let control = &config.control;
        let template = NodeReport {
            id: config.node.id_or(crate::ROLE),
            role: Role::Edge,
            region: config.node.region.clone(),
            tier: control.tier,
            http_url: http.map(|a| control.public_url_for(a, if https { "https" } else { "http" })),
            rtmp_url: None,
            relay_addr: children.map(|a| control.public_relay_addr_for(a)),
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
            table,
            serve_metrics,
            meter: Mutex::new(LoadMeter::new()),
        }
    }
}

impl ReportSource for EdgeReport {
    fn report(&self) -> NodeReport {
        let mut report = self.template.clone();
        report.streams = self
            .table
            .all()
            .iter()
            .map(|s| HeldStream {
                name: s.name().to_owned(),
                viewers: s.viewers(),
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
