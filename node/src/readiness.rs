//! Readiness: a node is ready when every registered condition holds and it is not draining.
//!
//! Each component registers the conditions it needs (`"http"`, `"rtmp"`, `"upstream"`, ...) and
//! flips its [`ReadyFlag`]; `/readyz` reports them all, so an operator sees *why* a node is not
//! ready.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Shared readiness state of one node (cheap to clone).
#[derive(Debug, Clone, Default)]
pub struct Readiness {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    conditions: Mutex<BTreeMap<&'static str, Arc<AtomicBool>>>,
    draining: AtomicBool,
}

/// One named readiness condition, initially false.
#[derive(Debug, Clone)]
pub struct ReadyFlag(Arc<AtomicBool>);

impl ReadyFlag {
    /// Sets whether the condition holds.
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::Release);
    }
}

/// A snapshot of readiness, as served by `/readyz`.
#[derive(Debug, Clone, serde::Serialize, PartialEq, Eq)]
pub struct ReadinessReport {
    /// Every condition holds and the node is not draining.
    pub ready: bool,
    /// The node got a stop signal and is draining.
    pub draining: bool,
    /// Each condition and whether it holds.
    pub conditions: BTreeMap<&'static str, bool>,
}

impl Readiness {
    /// A node with no conditions yet (ready until something registers).
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers (or returns the existing) condition `name`.
    pub fn register(&self, name: &'static str) -> ReadyFlag {
        let mut conditions = self
            .inner
            .conditions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        ReadyFlag(conditions.entry(name).or_default().clone())
    }

    /// Marks the node as draining: it stays up but is no longer ready.
    pub fn start_draining(&self) {
        self.inner.draining.store(true, Ordering::Release);
    }

    /// The current state.
    pub fn report(&self) -> ReadinessReport {
        let conditions: BTreeMap<&'static str, bool> = self
            .inner
            .conditions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(name, flag)| (*name, flag.load(Ordering::Acquire)))
            .collect();
        let draining = self.inner.draining.load(Ordering::Acquire);
        let ready = !draining && conditions.values().all(|ok| *ok);
        ReadinessReport {
            ready,
            draining,
            conditions,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Readiness;

    #[test]
    fn ready_only_when_every_condition_holds_and_not_draining() {
        let readiness = Readiness::new();
        let http = readiness.register("http");
        let rtmp = readiness.register("rtmp");
        assert!(!readiness.report().ready);
        http.set(true);
        assert!(!readiness.report().ready);
        rtmp.set(true);
        assert!(readiness.report().ready);
        readiness.start_draining();
        let report = readiness.report();
        assert!(!report.ready && report.draining);
        assert_eq!(report.conditions.len(), 2);
    }
}
