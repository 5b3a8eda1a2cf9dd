//! What the relay tells the control plane every heartbeat: its WebSocket URL, the rooms it
//! holds (connections and cumulative message, like and gift-value counters) and its load.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use control_client::{Capacity, HeldRoom, Load, LoadMeter, NodeReport, ReportSource, Role};

use crate::ChatRelayConfig;
use crate::room::Rooms;

/// Builds the relay's heartbeat reports.
#[derive(Debug)]
pub(crate) struct ChatRelayReport {
    template: NodeReport,
    rooms: Arc<Rooms>,
    meter: Mutex<LoadMeter>,
}

impl ChatRelayReport {
    /// A report source for the relay whose HTTP listener is bound at `http`.
    pub(crate) fn new(
        config: &ChatRelayConfig,
        http: Option<SocketAddr>,
        https: bool,
        rooms: Arc<Rooms>,
    ) -> Self {
        let control = &config.control;
        let http_url =
            http.map(|a| control.public_url_for(a, if https { "https" } else { "http" }));
        let template = NodeReport {
            id: config.node.id_or(crate::ROLE),
            role: Role::ChatRelay,
            region: config.node.region.clone(),
            tier: 0,
            ws_url: http_url.as_deref().map(ws_url),
            http_url,
            rtmp_url: None,
            relay_addr: None,
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
            rooms,
            meter: Mutex::new(LoadMeter::new()),
        }
    }
}

impl ReportSource for ChatRelayReport {
    fn report(&self) -> NodeReport {
        let mut report = self.template.clone();
        report.rooms = self
            .rooms
            .snapshot()
            .into_iter()
            .map(|(name, stats)| HeldRoom {
                name,
                connections: stats.connections.load(Ordering::Relaxed),
                messages: stats.messages.load(Ordering::Relaxed),
                likes: stats.likes.load(Ordering::Relaxed),
                gift_value: stats.gift_value.load(Ordering::Relaxed),
            })
            .collect();
        // Egress is not metered per byte on WebSockets yet; CPU is.
        let (cpu, egress_bps) = self
            .meter
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .sample(
                node::clock::now(),
                node::metrics::cpu_seconds().unwrap_or(0.0),
                0,
            );
        report.load = Load {
            connections: report.rooms.iter().map(|r| r.connections).sum(),
            egress_bps,
            cpu,
        };
        report
    }
}

/// `http://host:port/base` → `ws://host:port/base/ws` (`https` → `wss`).
pub(crate) fn ws_url(http_url: &str) -> String {
    let base = http_url.trim_end_matches('/');
    let swapped = match base.split_once("://") {
        Some(("https", rest)) => format!("wss://{rest}"),
        Some((_, rest)) => format!("ws://{rest}"),
        None => format!("ws://{base}"),
    };
    format!("{swapped}/ws")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_url_swaps_the_scheme_and_appends_the_path() {
        assert_eq!(ws_url("http://127.0.0.1:8091"), "ws://127.0.0.1:8091/ws");
        assert_eq!(
            ws_url("https://chat.example.net/"),
            "wss://chat.example.net/ws"
        );
        assert_eq!(ws_url("relay:8091"), "ws://relay:8091/ws");
    }
}
