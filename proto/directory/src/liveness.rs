//! Failure detection: Alive → Suspect → Dead by time since the last heartbeat.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

/// Default [`DetectorConfig::suspect_after`]: 1.5 s.
pub const DEFAULT_SUSPECT_AFTER: Duration = Duration::from_millis(1500);
/// Default [`DetectorConfig::dead_after`]: 2.5 s.
pub const DEFAULT_DEAD_AFTER: Duration = Duration::from_millis(2500);
/// Default [`DetectorConfig::forget_after`]: 5 min.
pub const DEFAULT_FORGET_AFTER: Duration = Duration::from_secs(300);

/// A node's health as seen by the control plane. Ordered from best to worst.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Liveness {
    /// Beat within [`DetectorConfig::suspect_after`].
    Alive,
    /// Late: still routable, but only when no Alive node qualifies.
    Suspect,
    /// Silent for [`DetectorConfig::dead_after`]: never routed to.
    Dead,
}

impl Liveness {
    /// Stable label for metrics and logs: `alive`, `suspect`, `dead`.
    pub fn as_str(self) -> &'static str {
        match self {
            Liveness::Alive => "alive",
            Liveness::Suspect => "suspect",
            Liveness::Dead => "dead",
        }
    }
}

/// Failure-detector thresholds, measured from a node's last heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectorConfig {
    /// Silence after which a node is Suspect. Default 1.5 s (one beat late plus jitter).
    pub suspect_after: Duration,
    /// Silence after which a node is Dead and leaves routing. Must exceed `suspect_after`.
    /// Default 2.5 s, so a dead node leaves routing within 3 s with 1 s beats.
    pub dead_after: Duration,
    /// Silence after which a Dead node is forgotten (removed from the registry). Must exceed
    /// `dead_after`. Default 5 min.
    pub forget_after: Duration,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self {
            suspect_after: DEFAULT_SUSPECT_AFTER,
            dead_after: DEFAULT_DEAD_AFTER,
            forget_after: DEFAULT_FORGET_AFTER,
        }
    }
}

/// A [`DetectorConfig`] whose thresholds are not strictly increasing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("detector thresholds must satisfy 0 < suspect_after < dead_after < forget_after")]
pub struct DetectorConfigError;

impl DetectorConfig {
    /// Checks `0 < suspect_after < dead_after < forget_after`. An unchecked config still works:
    /// a state whose threshold is not above the previous one is skipped.
    pub fn validate(&self) -> Result<(), DetectorConfigError> {
        let ok = !self.suspect_after.is_zero()
            && self.suspect_after < self.dead_after
            && self.dead_after < self.forget_after;
        if ok { Ok(()) } else { Err(DetectorConfigError) }
    }

    /// The state of a node silent for `silence`.
    pub fn classify(&self, silence: Duration) -> Liveness {
        if silence >= self.dead_after {
            Liveness::Dead
        } else if silence >= self.suspect_after {
            Liveness::Suspect
        } else {
            Liveness::Alive
        }
    }

    /// The state at `now` of a node last heard from at `last_beat`.
    pub fn liveness_at(&self, last_beat: Instant, now: Instant) -> Liveness {
        self.classify(now.saturating_duration_since(last_beat))
    }

    /// How long after its last beat a node in `state` changes state next (to the next state,
    /// or to being forgotten).
    fn deadline(&self, state: Liveness) -> Duration {
        match state {
            Liveness::Alive => self.suspect_after,
            Liveness::Suspect => self.dead_after,
            Liveness::Dead => self.forget_after.max(self.dead_after),
        }
    }
}

/// What a [`FailureDetector`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DetectorEvent<K> {
    /// `key` moved from one state to another (a beat, or silence past a threshold).
    Transitioned {
        /// The peer.
        key: K,
        /// Its previous state.
        from: Liveness,
        /// Its new state.
        to: Liveness,
    },
    /// `key` was Dead for [`DetectorConfig::forget_after`] and is no longer tracked.
    Forgot {
        /// The peer.
        key: K,
    },
}

/// Tracks the liveness of a set of peers from their heartbeats.
///
/// # Why fixed deadlines and not phi-accrual
///
/// The requirement is a hard bound: with 1 s heartbeats, a dead node leaves routing within 3 s
/// of its last beat. A fixed-deadline detector meets it by construction: a node is Suspect
/// [`DetectorConfig::suspect_after`] (1.5 s) after its last beat and Dead
/// [`DetectorConfig::dead_after`] (2.5 s) after it, whatever happened before.
/// The 0.5 s left to the bound absorbs timer slack, and routing re-checks each node's silence
/// at the decision's `now`, so a late timer never routes to a Dead node.
///
/// A phi-accrual detector (Hayashibara et al., as in Cassandra and Akka) estimates the
/// inter-arrival distribution and declares failure when the probability of a beat still coming
/// drops below a threshold. Under jitter the estimated variance grows, so the effective timeout
/// grows with it, and no deadline can be promised. It also has state (a sample window per node)
/// that makes reasoning about a given verdict harder. Fixed deadlines are simple to explain:
/// one lost beat (next beat due at 2 s) with up to 300 ms of jitter lands before 2.5 s, so it
/// never causes a false Dead; a node that lost one beat may briefly be Suspect.
///
/// **Invariant:** Suspect nodes are de-preferred but still routable (only when no Alive node
/// qualifies); Dead nodes are never routed to. A Suspect or Dead node that beats again is Alive.
///
/// # Verbs
///
/// Sans-IO, with the house verbs: feed [`handle_beat`](Self::handle_beat) and
/// [`handle_timeout`](Self::handle_timeout), then drain [`poll_output`](Self::poll_output)
/// until it returns `None` after **every** input; call `handle_timeout` at
/// [`poll_timeout`](Self::poll_timeout). Each input costs O(log n) per state change.
#[derive(Debug, Clone)]
pub struct FailureDetector<K> {
    config: DetectorConfig,
    peers: BTreeMap<K, Peer>,
    /// Per state (by `Liveness as usize`): `(last_beat, key)` ordered by last beat, so the
    /// first entry is the next to change.
    queues: [BTreeSet<(Instant, K)>; 3],
    events: VecDeque<DetectorEvent<K>>,
}

#[derive(Debug, Clone, Copy)]
struct Peer {
    last_beat: Instant,
    state: Liveness,
}

impl<K: Ord + Clone> FailureDetector<K> {
    /// An empty detector.
    pub fn new(config: DetectorConfig) -> Self {
        Self {
            config,
            peers: BTreeMap::new(),
            queues: Default::default(),
            events: VecDeque::new(),
        }
    }

    /// The thresholds in use.
    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    /// A heartbeat from `key` at `now`. Time first advances to `now` (so a late beat first
    /// reports the Suspect/Dead it earned), then the peer is Alive. Returns the state before the
    /// beat, `None` for a new peer.
    pub fn handle_beat(&mut self, key: K, now: Instant) -> Option<Liveness> {
        self.handle_timeout(now);
        let previous = self.peers.insert(
            key.clone(),
            Peer {
                last_beat: now,
                state: Liveness::Alive,
            },
        );
        if let Some(old) = previous {
            self.queues[old.state as usize].remove(&(old.last_beat, key.clone()));
            if old.state != Liveness::Alive {
                self.events.push_back(DetectorEvent::Transitioned {
                    key: key.clone(),
                    from: old.state,
                    to: Liveness::Alive,
                });
            }
        }
        self.queues[Liveness::Alive as usize].insert((now, key));
        previous.map(|p| p.state)
    }

    /// Advances every peer's state to `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        for state in [Liveness::Alive, Liveness::Suspect, Liveness::Dead] {
            let limit = self.config.deadline(state);
            while let Some((last_beat, _)) = self.queues[state as usize].first() {
                if now.saturating_duration_since(*last_beat) < limit {
                    break;
                }
                let Some((last_beat, key)) = self.queues[state as usize].pop_first() else {
                    break;
                };
                let silence = now.saturating_duration_since(last_beat);
                if silence >= self.config.deadline(Liveness::Dead) {
                    self.peers.remove(&key);
                    if state != Liveness::Dead {
                        self.events.push_back(DetectorEvent::Transitioned {
                            key: key.clone(),
                            from: state,
                            to: Liveness::Dead,
                        });
                    }
                    self.events.push_back(DetectorEvent::Forgot { key });
                    continue;
                }
                // Jump straight to the state the silence earned; one event per jump.
                let to = self.config.classify(silence);
                if let Some(peer) = self.peers.get_mut(&key) {
                    peer.state = to;
                }
                self.queues[to as usize].insert((last_beat, key.clone()));
                self.events.push_back(DetectorEvent::Transitioned {
                    key,
                    from: state,
                    to,
                });
            }
        }
    }

    /// Next queued event. Drain until `None` after every input.
    pub fn poll_output(&mut self) -> Option<DetectorEvent<K>> {
        self.events.pop_front()
    }

    /// The earliest instant at which some peer changes state or is forgotten.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [Liveness::Alive, Liveness::Suspect, Liveness::Dead]
            .into_iter()
            .filter_map(|s| {
                let (last_beat, _) = self.queues[s as usize].first()?;
                last_beat.checked_add(self.config.deadline(s))
            })
            .min()
    }

    /// Stops tracking `key` (graceful deregistration). No event is queued.
    pub fn remove(&mut self, key: &K) -> bool {
        let Some(peer) = self.peers.remove(key) else {
            return false;
        };
        self.queues[peer.state as usize].remove(&(peer.last_beat, key.clone()));
        true
    }

    /// The state of `key` as of the last input, and its last beat.
    pub fn state(&self, key: &K) -> Option<(Liveness, Instant)> {
        self.peers.get(key).map(|p| (p.state, p.last_beat))
    }

    /// Number of tracked peers.
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    /// Whether no peer is tracked.
    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }
}

#[cfg(test)]
mod tests;
