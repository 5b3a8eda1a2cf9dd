//! One registered node as routing sees it, and the index helpers.

use std::collections::HashMap;
use std::time::Instant;

use crate::liveness::Liveness;
use crate::report::{HeldStream, NodeReport};
use crate::route::load_ratio_parts;

/// One registered node. Routing scans entries by the hundred, so the fields it reads are
/// cached here at each heartbeat and the report itself sits behind a box: the slab stays
/// compact (about one cache line per node).
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) liveness: Liveness,
    pub(crate) last_beat: Instant,
    /// Viewers sent here since the last heartbeat (anti-herding, see `route_viewer`).
    pub(crate) provisional: u64,
    /// Load ratio from the report, before provisional connections.
    pub(crate) base_ratio: f64,
    /// Ratio added per provisional connection.
    pub(crate) step: f64,
    pub(crate) draining: bool,
    pub(crate) tier: u8,
    pub(crate) has_http: bool,
    pub(crate) has_rtmp: bool,
    pub(crate) has_relay: bool,
    pub(crate) has_ws: bool,
    pub(crate) report: Box<NodeReport>,
}

/// A read-only view of one node.
#[derive(Debug, Clone, Copy)]
pub struct NodeView<'a> {
    /// Its latest report.
    pub report: &'a NodeReport,
    /// Its state as of the last input.
    pub liveness: Liveness,
    /// When its last heartbeat arrived.
    pub last_beat: Instant,
    /// Viewers routed to it since that heartbeat.
    pub provisional_connections: u64,
}

impl Entry {
    pub(super) fn new(report: NodeReport, now: Instant) -> Self {
        let mut entry = Self {
            liveness: Liveness::Alive,
            last_beat: now,
            provisional: 0,
            base_ratio: 0.0,
            step: 0.0,
            draining: false,
            tier: 0,
            has_http: false,
            has_rtmp: false,
            has_relay: false,
            has_ws: false,
            report: Box::new(report),
        };
        entry.cache();
        entry
    }

    /// Takes a new report (keeping the box and the liveness); returns the old report.
    pub(super) fn replace(&mut self, report: NodeReport, now: Instant) -> NodeReport {
        let old = std::mem::replace(&mut *self.report, report);
        self.last_beat = now;
        self.provisional = 0;
        self.cache();
        old
    }

    fn cache(&mut self) {
        let r = &*self.report;
        (self.base_ratio, self.step) = load_ratio_parts(r);
        self.draining = r.draining;
        self.tier = r.tier;
        self.has_http = r.http_url.is_some();
        self.has_rtmp = r.rtmp_url.is_some();
        self.has_relay = r.relay_addr.is_some();
        self.has_ws = r.ws_url.is_some();
    }

    /// The load ratio routing compares, provisional connections included.
    pub(crate) fn load_ratio(&self) -> f64 {
        self.base_ratio + self.provisional as f64 * self.step
    }

    pub(crate) fn view(&self) -> NodeView<'_> {
        NodeView {
            report: &self.report,
            liveness: self.liveness,
            last_beat: self.last_beat,
            provisional_connections: self.provisional,
        }
    }
}

pub(super) fn same_names(a: &[HeldStream], b: &[HeldStream]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.name == y.name)
}

pub(super) fn unindex(map: &mut HashMap<String, Vec<usize>>, key: &str, slot: usize) {
    if let Some(list) = map.get_mut(key) {
        if let Some(i) = list.iter().position(|&s| s == slot) {
            list.swap_remove(i);
        }
        if list.is_empty() {
            map.remove(key);
        }
    }
}

pub(super) fn index_sorted(map: &mut HashMap<String, Vec<usize>>, key: &str, slot: usize) {
    let list = match map.get_mut(key) {
        Some(list) => list,
        None => map.entry(key.to_owned()).or_default(),
    };
    if let Err(i) = list.binary_search(&slot) {
        list.insert(i, slot);
    }
}

pub(super) fn unindex_sorted(map: &mut HashMap<String, Vec<usize>>, key: &str, slot: usize) {
    if let Some(list) = map.get_mut(key) {
        if let Ok(i) = list.binary_search(&slot) {
            list.remove(i);
        }
        if list.is_empty() {
            map.remove(key);
        }
    }
}
