//! Routing answers: which edge a viewer plays from, which origin a host publishes to, where an
//! edge subscribes, which chat relay a client joins.
//!
//! Every answer ranks candidates lexicographically by
//! `(liveness, saturated, region distance, load ratio, holds the stream, id)`:
//!
//! - **liveness**: Alive before Suspect; Dead never qualifies. So Suspect nodes are chosen only
//!   when no Alive node qualifies.
//! - **saturated**: load ratio ≥ [`RoutingConfig::saturation`]; a saturated node is chosen
//!   only when every qualifying node is saturated.
//! - **load ratio**: `max(connections / max_connections, egress / max_egress, cpu)` plus
//!   `1 / max_connections` per viewer routed since the node's last heartbeat (anti-herding).
//! - **holds the stream**: an edge that already caches the stream saves an upstream fetch.
//! - **id**: determinism.
//!
//! Costs: one hash lookup per region, then a scan of the nearest regions only, keeping the
//! best K in a small sorted buffer (no sort of all candidates, no allocation per candidate).

use std::time::Instant;

use crate::liveness::Liveness;
use crate::region::RegionTable;
use crate::registry::{Entry, NodeView, Registry};
use crate::report::Role;

mod answer;
mod rank;

pub use answer::{Route, RouteError, Target, Upstream};
pub(crate) use rank::load_ratio_parts;
use rank::{Query, TopK};

/// Default [`RoutingConfig::saturation`].
pub const DEFAULT_SATURATION: f64 = 0.9;
/// Default [`RoutingConfig::max_alternatives`].
pub const DEFAULT_MAX_ALTERNATIVES: usize = 4;

/// Routing knobs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RoutingConfig {
    /// Load ratio at or above which a node counts as saturated and is used only when every
    /// candidate is. Default 0.9.
    pub saturation: f64,
    /// How many runner-up edges [`Route::alternatives`] lists (for content steering and
    /// client failover). Default 4.
    pub max_alternatives: usize,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        Self {
            saturation: DEFAULT_SATURATION,
            max_alternatives: DEFAULT_MAX_ALTERNATIVES,
        }
    }
}

impl Registry {
    /// Picks the edge a viewer in `viewer_region` plays `stream` from, plus ranked alternatives.
    ///
    /// Candidates are edges that are not Dead, not draining and have an `http_url`. The chosen
    /// edge gets one provisional connection until its next heartbeat replaces its load, so a
    /// burst of decisions between heartbeats spreads over equal edges instead of herding.
    pub fn route_viewer(
        &mut self,
        stream: &str,
        viewer_region: &str,
        table: &RegionTable,
        now: Instant,
    ) -> Result<Route, RouteError> {
        self.route_viewer_avoiding(stream, viewer_region, table, now, &[])
    }

    /// [`route_viewer`](Self::route_viewer) for a player that just failed on the edges in
    /// `avoid` (before the control plane may have noticed): those edges are left out, and so
    /// are edges that would take the stream from one of them (a tier-2 child of a dead parent
    /// has nothing new to serve until it moves).
    pub fn route_viewer_avoiding(
        &mut self,
        stream: &str,
        viewer_region: &str,
        table: &RegionTable,
        now: Instant,
        avoid: &[String],
    ) -> Result<Route, RouteError> {
        if self.origin_for_stream(stream, now).is_none() {
            return Err(RouteError::StreamNotLive {
                stream: stream.to_owned(),
            });
        }
        let query = Query {
            role: Role::Edge,
            from_region: viewer_region,
            table,
            now,
            k: 1 + self.routing.max_alternatives,
            holders: self.holders(stream),
        };
        let this = &*self;
        let avoided = |e: &Entry| {
            let id = e.report.id.as_str();
            avoid.iter().any(|a| a == id)
                || (e.report.tier > 1
                    && this
                        .upstream_for_edge(id, stream, table, now)
                        .is_ok_and(|up| avoid.contains(&up.id)))
        };
        let top = this.rank(&query, |e, _| {
            !e.draining && e.has_http && (avoid.is_empty() || !avoided(e))
        });
        let chosen_slot = top.items.first().map(|(_, _, slot)| *slot);
        let mut targets = targets(top, |e| e.report.http_url.as_deref());
        let (Some(slot), false) = (chosen_slot, targets.is_empty()) else {
            return Err(RouteError::NoEdge {
                region: viewer_region.to_owned(),
            });
        };
        if let Some(entry) = self.slots.get_mut(slot).and_then(Option::as_mut) {
            entry.provisional = entry.provisional.saturating_add(1);
        }
        let chosen = targets.remove(0);
        Ok(Route {
            chosen,
            alternatives: targets,
        })
    }

    /// The live origin publishing `stream`: Alive before Suspect, not draining before
    /// draining, then by id. `None` when no live origin lists it.
    pub fn origin_for_stream(&self, stream: &str, now: Instant) -> Option<NodeView<'_>> {
        self.holders(stream)
            .iter()
            .filter_map(|&slot| self.slots.get(slot)?.as_ref())
            .filter(|e| e.report.role == Role::Origin)
            .map(|e| (self.liveness_at(e, now), e))
            .filter(|(liveness, _)| *liveness != Liveness::Dead)
            .min_by(|(la, a), (lb, b)| {
                (la, a.report.draining, &a.report.id).cmp(&(lb, b.report.draining, &b.report.id))
            })
            .map(|(_, e)| e.view())
    }

    /// The origin a host in `region` should publish to: live, not draining, with an
    /// `rtmp_url`; nearest, then least loaded. [`Target::url`] is its `rtmp_url`.
    pub fn ingest_origin(
        &self,
        region: &str,
        table: &RegionTable,
        now: Instant,
    ) -> Result<Target, RouteError> {
        let query = Query {
            role: Role::Origin,
            from_region: region,
            table,
            now,
            k: 1,
            holders: &[],
        };
        let top = self.rank(&query, |e, _| !e.draining && e.has_rtmp);
        let mut found = targets(top, |e| e.report.rtmp_url.as_deref());
        found.pop().ok_or_else(|| RouteError::NoOrigin {
            region: region.to_owned(),
        })
    }

    /// The chat relay a client in `region` should join: live, not draining, with a `ws_url`;
    /// nearest, then least loaded. [`Target::url`] is its `ws_url`.
    pub fn chat_relay_for(
        &self,
        region: &str,
        table: &RegionTable,
        now: Instant,
    ) -> Result<Target, RouteError> {
        let query = Query {
            role: Role::ChatRelay,
            from_region: region,
            table,
            now,
            k: 1,
            holders: &[],
        };
        let top = self.rank(&query, |e, _| !e.draining && e.has_ws);
        let mut found = targets(top, |e| e.report.ws_url.as_deref());
        found.pop().ok_or_else(|| RouteError::NoChatRelay {
            region: region.to_owned(),
        })
    }

    /// Where edge `edge_id` subscribes to `stream`.
    ///
    /// An edge of tier `t > 1` gets the best Alive, non-draining edge of a tier below `t` that
    /// has a `relay_addr` (same region first, then nearest, then least loaded, then one that
    /// already holds the stream). A tier-1 edge, or one with no such parent, gets the origin
    /// publishing the stream.
    ///
    /// **Invariant:** every hop strictly lowers the tier, so following upstreams from any edge
    /// reaches an origin in at most `tier` hops and can never cycle.
    pub fn upstream_for_edge(
        &self,
        edge_id: &str,
        stream: &str,
        table: &RegionTable,
        now: Instant,
    ) -> Result<Upstream, RouteError> {
        let unknown = || RouteError::UnknownNode {
            id: edge_id.to_owned(),
        };
        let slot = self.slot_of(edge_id).ok_or_else(unknown)?;
        let edge = self
            .slots
            .get(slot)
            .and_then(Option::as_ref)
            .ok_or_else(unknown)?;
        if edge.report.role != Role::Edge {
            let (id, role) = (edge_id.to_owned(), edge.report.role);
            return Err(RouteError::NotAnEdge { id, role });
        }
        let origin =
            self.origin_for_stream(stream, now)
                .ok_or_else(|| RouteError::StreamNotLive {
                    stream: stream.to_owned(),
                })?;
        let tier = edge.report.tier;
        if tier > 1 {
            let query = Query {
                role: Role::Edge,
                from_region: &edge.report.region,
                table,
                now,
                k: 1,
                holders: self.holders(stream),
            };
            let top = self.rank(&query, |e, liveness| {
                liveness == Liveness::Alive && e.tier < tier && !e.draining && e.has_relay
            });
            if let Some((_, parent, _)) = top.items.first()
                && let Some(addr) = &parent.report.relay_addr
            {
                return Ok(Upstream {
                    id: parent.report.id.clone(),
                    role: Role::Edge,
                    tier: parent.report.tier,
                    relay_addr: addr.clone(),
                });
            }
        }
        let origin = origin.report;
        match &origin.relay_addr {
            Some(addr) => Ok(Upstream {
                id: origin.id.clone(),
                role: Role::Origin,
                tier: 0,
                relay_addr: addr.clone(),
            }),
            None => Err(RouteError::NoUpstream {
                stream: stream.to_owned(),
                origin: origin.id.clone(),
            }),
        }
    }

    fn holders(&self, stream: &str) -> &[usize] {
        self.streams
            .get(stream)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }
}

/// Turns a ranking into owned targets, skipping any whose URL is missing.
fn targets(top: TopK<'_>, url: impl Fn(&Entry) -> Option<&str>) -> Vec<Target> {
    top.items
        .into_iter()
        .filter_map(|(rank, entry, _)| {
            Some(Target {
                id: entry.report.id.clone(),
                region: entry.report.region.clone(),
                url: url(entry)?.to_owned(),
                liveness: rank.liveness,
                distance: rank.distance,
                load_ratio: rank.ratio,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
