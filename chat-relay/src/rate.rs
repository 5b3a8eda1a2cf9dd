//! Rate limits on client frames (`docs/chat-protocol.md` §8): one GCRA limiter per connection
//! and one keyed by user id across all of a user's connections (governor), both on the node's
//! clock so paused-time tests control them. A connection that keeps hitting them is a flood:
//! after `flood_strikes` refusals within [`STRIKE_WINDOW`] it is closed with 4008.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

/// Refusals older than this no longer count toward a flood.
pub(crate) const STRIKE_WINDOW: Duration = Duration::from_secs(10);

/// governor's clock, read at the node's clock boundary.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct NodeClock;

impl Clock for NodeClock {
    type Instant = Instant;

    fn now(&self) -> Instant {
        node::clock::now()
    }
}

type Direct = RateLimiter<NotKeyed, InMemoryState, NodeClock, NoOpMiddleware<Instant>>;
type Keyed = RateLimiter<String, DashMapStateStore<String>, NodeClock, NoOpMiddleware<Instant>>;

/// The relay-wide per-user limiter.
#[derive(Debug)]
pub(crate) struct UserLimits(Keyed);

/// One connection's limiter and flood count.
#[derive(Debug)]
pub(crate) struct ConnectionLimits {
    limiter: Direct,
    strikes: u32,
    last_strike: Option<Instant>,
    flood_strikes: u32,
}

/// Whether a frame may pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Handle it.
    Pass,
    /// Refuse it with `rate_limited`.
    Limited {
        /// `connection` or `user`, the metric label.
        scope: &'static str,
        /// When one more frame would pass.
        retry_after: Duration,
        /// The connection kept flooding: close it with 4008.
        flood: bool,
    },
}

impl UserLimits {
    pub(crate) fn new(rate: NonZeroU32, burst: NonZeroU32) -> Self {
        Self(RateLimiter::dashmap_with_clock(
            quota(rate, burst),
            NodeClock,
        ))
    }

    /// Checks one frame of `user_id` forwarded by another relay (no connection of its own
    /// here): `Err` with the wait until one more would pass.
    pub(crate) fn check(&self, user_id: &str, now: Instant) -> Result<(), Duration> {
        self.0
            .check_key(&user_id.to_owned())
            .map_err(|not_until| not_until.wait_time_from(now))
    }

    /// Forgets users whose limiter is back to full (call periodically).
    pub(crate) fn prune(&self) {
        self.0.retain_recent();
        self.0.shrink_to_fit();
    }
}

impl ConnectionLimits {
    pub(crate) fn new(rate: NonZeroU32, burst: NonZeroU32, flood_strikes: u32) -> Self {
        Self {
            limiter: RateLimiter::direct_with_clock(quota(rate, burst), NodeClock),
            strikes: 0,
            last_strike: None,
            flood_strikes,
        }
    }

    /// Checks one frame from `user_id` against this connection's and the user's limits.
    pub(crate) fn check(&mut self, users: &UserLimits, user_id: &str, now: Instant) -> Verdict {
        let refused = match self.limiter.check() {
            Err(not_until) => Some(("connection", not_until.wait_time_from(now))),
            Ok(()) => match users.0.check_key(&user_id.to_owned()) {
                Err(not_until) => Some(("user", not_until.wait_time_from(now))),
                Ok(()) => None,
            },
        };
        let Some((scope, retry_after)) = refused else {
            return Verdict::Pass;
        };
        if self
            .last_strike
            .is_some_and(|last| now.saturating_duration_since(last) > STRIKE_WINDOW)
        {
            self.strikes = 0;
        }
        self.strikes = self.strikes.saturating_add(1);
        self.last_strike = Some(now);
        Verdict::Limited {
            scope,
            retry_after,
            flood: self.strikes >= self.flood_strikes.max(1),
        }
    }
}

fn quota(rate: NonZeroU32, burst: NonZeroU32) -> Quota {
    Quota::per_second(rate).allow_burst(burst)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn burst_passes_then_refusals_become_a_flood_and_time_heals() {
        let users = UserLimits::new(nz(100), nz(100));
        let mut conn = ConnectionLimits::new(nz(1), nz(2), 3);
        let now = node::clock::now();
        assert_eq!(conn.check(&users, "u1", now), Verdict::Pass);
        assert_eq!(conn.check(&users, "u1", now), Verdict::Pass);
        let Verdict::Limited {
            scope,
            retry_after,
            flood,
        } = conn.check(&users, "u1", now)
        else {
            panic!("third frame of a burst of 2 passed");
        };
        assert_eq!((scope, flood), ("connection", false));
        assert!(retry_after > Duration::ZERO && retry_after <= Duration::from_secs(1));
        assert!(matches!(
            conn.check(&users, "u1", now),
            Verdict::Limited { flood: false, .. }
        ));
        assert!(matches!(
            conn.check(&users, "u1", now),
            Verdict::Limited { flood: true, .. }
        ));

        tokio::time::advance(Duration::from_secs(11)).await;
        let later = node::clock::now();
        assert_eq!(conn.check(&users, "u1", later), Verdict::Pass);
        assert_eq!(conn.check(&users, "u1", later), Verdict::Pass);
        // The strike count restarted after the quiet window.
        assert!(matches!(
            conn.check(&users, "u1", later),
            Verdict::Limited { flood: false, .. }
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn the_user_limit_spans_connections() {
        let users = UserLimits::new(nz(1), nz(2));
        let mut a = ConnectionLimits::new(nz(100), nz(100), 10);
        let mut b = ConnectionLimits::new(nz(100), nz(100), 10);
        let now = node::clock::now();
        assert_eq!(a.check(&users, "u1", now), Verdict::Pass);
        assert_eq!(b.check(&users, "u1", now), Verdict::Pass);
        assert!(matches!(
            b.check(&users, "u1", now),
            Verdict::Limited { scope: "user", .. }
        ));
        assert_eq!(b.check(&users, "u2", now), Verdict::Pass);
        users.prune();
    }
}
