//! The control plane's shared state: the registry (sans-IO, under a mutex), the data layer,
//! routing tables, tokens and metrics.

use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};

use axum::http::HeaderMap;
use directory::{RegionResolver, RegionTable, Registry};
use tokio::sync::Notify;

use crate::api::auth::TokenSet;
use crate::config::ControlPlaneConfig;
use crate::metrics::ControlPlaneMetrics;

/// Everything the handlers and background tasks share.
#[derive(Debug)]
pub struct ControlPlane {
    registry: Mutex<Registry>,
    /// Wakes the detector task after an input that may move its next deadline.
    pub registry_changed: Notify,
    /// Region distances for routing.
    pub regions: RegionTable,
    /// Client address → region.
    pub resolver: RegionResolver,
    /// The data layer.
    pub store: store::Store,
    /// Accepted admin tokens.
    pub admin_tokens: TokenSet,
    /// Accepted node tokens.
    pub node_tokens: TokenSet,
    /// The configuration the control plane started with.
    pub config: ControlPlaneConfig,
    /// Metrics.
    pub metrics: ControlPlaneMetrics,
    /// Room → its home chat relay's node id (sticky while that relay is alive). Lock order:
    /// the registry first, then this.
    pub room_homes: Mutex<std::collections::HashMap<String, String>>,
}

impl ControlPlane {
    /// Builds the state from `config`, a connected `store` and registered `metrics`; refuses
    /// inconsistent detector thresholds or routing tables, naming the config key.
    pub fn new(
        config: ControlPlaneConfig,
        store: store::Store,
        metrics: ControlPlaneMetrics,
    ) -> Result<Self, String> {
        let detector = directory::DetectorConfig {
            suspect_after: config.detector.suspect_after,
            dead_after: config.detector.dead_after,
            forget_after: config.detector.forget_after,
        };
        detector.validate().map_err(|e| format!("detector: {e}"))?;
        let registry = Registry::new(detector).with_routing(directory::RoutingConfig {
            saturation: config.routing.saturation,
            ..directory::RoutingConfig::default()
        });
        let regions = RegionTable::new(
            config
                .routing
                .distances
                .iter()
                .map(|d| (d.a.clone(), d.b.clone(), d.distance)),
        )
        .map_err(|e| format!("routing.distances: {e}"))?;
        let resolver = RegionResolver::new(
            config
                .routing
                .cidrs
                .iter()
                .map(|c| (c.cidr, c.region.clone())),
        )
        .map_err(|e| format!("routing.cidrs: {e}"))?;
        Ok(Self {
            registry: Mutex::new(registry),
            registry_changed: Notify::new(),
            regions,
            resolver,
            store,
            admin_tokens: TokenSet::new(
                config.auth.admin_tokens.iter().map(|t| t.expose().as_str()),
            ),
            node_tokens: TokenSet::new(config.auth.node_tokens.iter().map(|t| t.expose().as_str())),
            config,
            metrics,
            room_homes: Mutex::new(std::collections::HashMap::new()),
        })
    }

    /// The registry. Hold the guard briefly: never across an `.await`.
    pub fn registry(&self) -> MutexGuard<'_, Registry> {
        // A panic while holding the lock cannot leave the registry half-updated in a way that
        // matters more than stopping routing would, so a poisoned lock is recovered.
        self.registry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The client's region: the `region` query parameter, else the region header, else the
    /// CIDR map for `peer`, else the default region.
    pub fn client_region(
        &self,
        query_region: Option<&str>,
        headers: &HeaderMap,
        peer: Option<IpAddr>,
    ) -> String {
        if let Some(region) = query_region.filter(|r| !r.is_empty()) {
            return region.to_owned();
        }
        if let Some(region) = headers
            .get(self.config.routing.region_header.as_str())
            .and_then(|v| v.to_str().ok())
            .filter(|r| !r.is_empty())
        {
            return region.to_owned();
        }
        if let Some(region) = peer.and_then(|ip| self.resolver.resolve(ip)) {
            return region.to_owned();
        }
        self.config
            .routing
            .default_region
            .clone()
            .unwrap_or_else(|| self.config.node.region.clone())
    }
}
