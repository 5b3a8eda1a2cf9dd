//! The node registry: every node's latest report, its liveness, and the indexes routing reads.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Instant;

use crate::liveness::{DetectorConfig, DetectorEvent, FailureDetector, Liveness};
use crate::report::{NodeReport, Role};
use crate::route::RoutingConfig;

mod entry;
mod event;

pub(crate) use entry::Entry;
pub use entry::NodeView;
use entry::{index_sorted, same_names, unindex, unindex_sorted};
pub use event::{HeartbeatOutcome, RegistryError, RegistryEvent, RemovalReason};

/// Most nodes one registry tracks; bounds memory against a flood of made-up ids.
pub const MAX_NODES: usize = 100_000;

/// The control plane's sans-IO core: heartbeats in, liveness events and routing answers out.
///
/// # Drain rule
///
/// After **every** input (`handle_heartbeat`, `handle_deregister`, `handle_timeout`), drain
/// [`poll_output`](Self::poll_output) until it returns `None`, then re-arm the timer at
/// [`poll_timeout`](Self::poll_timeout). Routing answers are correct at the `now` they are
/// given even if the timer fired late: a node silent past `dead_after` is never routed to.
#[derive(Debug)]
pub struct Registry {
    pub(crate) detector: FailureDetector<usize>,
    pub(crate) routing: RoutingConfig,
    /// Slab of nodes; a slot is the node's key in the detector and the indexes.
    pub(crate) slots: Vec<Option<Entry>>,
    free: Vec<usize>,
    ids: HashMap<String, usize>,
    /// Per role (by [`Role::index`]): region → slots.
    pub(crate) by_region: [HashMap<String, Vec<usize>>; 3],
    /// Stream → sorted slots of the nodes (any role) that list it.
    pub(crate) streams: HashMap<String, Vec<usize>>,
    events: VecDeque<RegistryEvent>,
}

impl Registry {
    /// An empty registry with the given failure-detector thresholds and default routing.
    pub fn new(config: DetectorConfig) -> Self {
        Self {
            detector: FailureDetector::new(config),
            routing: RoutingConfig::default(),
            slots: Vec::new(),
            free: Vec::new(),
            ids: HashMap::new(),
            by_region: Default::default(),
            streams: HashMap::new(),
            events: VecDeque::new(),
        }
    }

    /// Replaces the routing knobs.
    pub fn with_routing(mut self, routing: RoutingConfig) -> Self {
        self.routing = routing;
        self
    }

    /// A heartbeat from a node at `now`: validates it, registers or updates the node, makes it
    /// Alive and resets its provisional load. Time first advances to `now`.
    pub fn handle_heartbeat(
        &mut self,
        report: NodeReport,
        now: Instant,
    ) -> Result<HeartbeatOutcome, RegistryError> {
        report.validate()?;
        self.handle_timeout(now);
        if let Some(&slot) = self.ids.get(&report.id)
            && let Some(entry) = self.slots.get_mut(slot).and_then(Option::as_mut)
        {
            if entry.report.role != report.role {
                return Err(RegistryError::RoleChanged {
                    id: report.id,
                    registered: entry.report.role,
                    reported: report.role,
                });
            }
            let old = entry.replace(report, now);
            let role = old.role.index();
            if old.region != entry.report.region {
                unindex(&mut self.by_region[role], &old.region, slot);
                let list = self.by_region[role]
                    .entry(entry.report.region.clone())
                    .or_default();
                list.push(slot);
            }
            if !same_names(&old.streams, &entry.report.streams) {
                for s in &old.streams {
                    unindex_sorted(&mut self.streams, &s.name, slot);
                }
                for s in &entry.report.streams {
                    index_sorted(&mut self.streams, &s.name, slot);
                }
            }
            let before = self.detector.handle_beat(slot, now);
            self.drain_detector();
            return Ok(match before {
                Some(Liveness::Suspect | Liveness::Dead) => HeartbeatOutcome::Revived,
                _ => HeartbeatOutcome::Updated,
            });
        }
        if self.ids.len() >= MAX_NODES {
            return Err(RegistryError::TooManyNodes);
        }
        let slot = self.free.pop().unwrap_or(self.slots.len());
        if slot == self.slots.len() {
            self.slots.push(None);
        }
        self.ids.insert(report.id.clone(), slot);
        self.by_region[report.role.index()]
            .entry(report.region.clone())
            .or_default()
            .push(slot);
        for s in &report.streams {
            index_sorted(&mut self.streams, &s.name, slot);
        }
        self.events.push_back(RegistryEvent::NodeRegistered {
            id: report.id.clone(),
            role: report.role,
            region: report.region.clone(),
        });
        self.slots[slot] = Some(Entry::new(report, now));
        self.detector.handle_beat(slot, now);
        self.drain_detector();
        Ok(HeartbeatOutcome::Registered)
    }

    /// Graceful shutdown of node `id`: it leaves routing at once. Returns whether it was known.
    pub fn handle_deregister(&mut self, id: &str, now: Instant) -> bool {
        self.handle_timeout(now);
        let Some(&slot) = self.ids.get(id) else {
            return false;
        };
        self.detector.remove(&slot);
        self.remove_slot(slot, RemovalReason::Deregistered);
        true
    }

    /// Advances every node's liveness to `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.detector.handle_timeout(now);
        self.drain_detector();
    }

    /// Next event. Drain until `None` after every input.
    pub fn poll_output(&mut self) -> Option<RegistryEvent> {
        self.events.pop_front()
    }

    /// When the next liveness change (or forgetting) is due; call `handle_timeout` then.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.detector.poll_timeout()
    }

    /// The failure-detector thresholds.
    pub fn detector_config(&self) -> &DetectorConfig {
        self.detector.config()
    }

    /// Every registered node, in no particular order.
    pub fn nodes(&self) -> impl Iterator<Item = NodeView<'_>> {
        self.slots.iter().flatten().map(Entry::view)
    }

    /// One node by id.
    pub fn node(&self, id: &str) -> Option<NodeView<'_>> {
        let slot = *self.ids.get(id)?;
        self.slots.get(slot)?.as_ref().map(Entry::view)
    }

    /// Number of registered nodes (Dead ones included until forgotten).
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether no node is registered.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Node counts by (role, region, liveness), for `livecdn_control_nodes` gauges.
    pub fn counts(&self) -> BTreeMap<(Role, &str, Liveness), usize> {
        let mut counts = BTreeMap::new();
        for e in self.slots.iter().flatten() {
            *counts
                .entry((e.report.role, e.report.region.as_str(), e.liveness))
                .or_insert(0) += 1;
        }
        counts
    }

    /// Nodes of any role that list `stream`, in no particular order.
    pub fn stream_holders(&self, stream: &str) -> impl Iterator<Item = NodeView<'_>> {
        let slots = self
            .streams
            .get(stream)
            .map(Vec::as_slice)
            .unwrap_or_default();
        slots
            .iter()
            .filter_map(|&s| self.slots.get(s)?.as_ref())
            .map(Entry::view)
    }

    pub(crate) fn slot_of(&self, id: &str) -> Option<usize> {
        self.ids.get(id).copied()
    }

    fn drain_detector(&mut self) {
        while let Some(event) = self.detector.poll_output() {
            match event {
                DetectorEvent::Transitioned { key, from, to } => {
                    let Some(entry) = self.slots.get_mut(key).and_then(Option::as_mut) else {
                        continue;
                    };
                    entry.liveness = to;
                    self.events.push_back(RegistryEvent::NodeStateChanged {
                        id: entry.report.id.clone(),
                        role: entry.report.role,
                        from,
                        to,
                    });
                }
                DetectorEvent::Forgot { key } => self.remove_slot(key, RemovalReason::Forgotten),
            }
        }
    }

    fn remove_slot(&mut self, slot: usize, reason: RemovalReason) {
        let Some(entry) = self.slots.get_mut(slot).and_then(Option::take) else {
            return;
        };
        let report = *entry.report;
        self.ids.remove(&report.id);
        unindex(
            &mut self.by_region[report.role.index()],
            &report.region,
            slot,
        );
        for s in &report.streams {
            unindex_sorted(&mut self.streams, &s.name, slot);
        }
        self.free.push(slot);
        let (id, role) = (report.id, report.role);
        self.events
            .push_back(RegistryEvent::NodeRemoved { id, role, reason });
    }
}

#[cfg(test)]
mod tests;
