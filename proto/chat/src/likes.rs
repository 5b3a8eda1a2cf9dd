//! [`LikeCoalescer`]: likes are counted, not sequenced (`docs/chat-protocol.md` §7).
//!
//! Each relay runs one coalescer per room for its own clients' likes and sends each flushed
//! `delta` to the home as `likes_delta`. The home runs one more per room inside a
//! [`DurableLikeTotal`], started at the stored total and fed with its own clients' likes *and*
//! every relay's deltas; its flushes carry the exact room total, which is written to storage
//! and only then broadcast (`likes_total`, then `likes` to clients).
//!
//! # The drain rule
//!
//! After every `handle_*` call, drain [`LikeCoalescer::poll_output`] until it returns `None`,
//! then re-arm the timer from [`LikeCoalescer::poll_timeout`].
//!
//! ```
//! use std::time::{Duration, Instant};
//! use livecdn_chat_proto::{LikeCoalescer, LikeFlush};
//!
//! let start = Instant::now(); // a driver reads node::clock; any instant will do here
//! let mut likes = LikeCoalescer::new(Duration::from_millis(200), 0);
//! likes.handle_likes(3, start);
//! likes.handle_likes(2, start + Duration::from_millis(50));
//! assert_eq!(likes.poll_timeout(), Some(start + Duration::from_millis(200)));
//! likes.handle_timeout(start + Duration::from_millis(200));
//! assert_eq!(likes.poll_output(), Some(LikeFlush { delta: 5, total: 5 }));
//! assert_eq!(likes.poll_timeout(), None); // idle until the next like
//! ```

use std::collections::VecDeque;
use std::time::{Duration, Instant};

mod durable;

pub use durable::{DurableLikeTotal, LikeOutput};

/// Default flush interval: five deltas a second at most, per room and relay.
pub const DEFAULT_LIKE_INTERVAL: Duration = Duration::from_millis(200);

/// Sums likes and releases them at most once per interval.
///
/// **Invariant:** `total` equals the starting total plus every like handed in; the deltas
/// flushed so far sum to everything handed in except what is still pending. Counters saturate
/// at `u64::MAX` rather than wrap.
#[derive(Debug, Clone)]
pub struct LikeCoalescer {
    interval: Duration,
    total: u64,
    pending: u64,
    /// When the pending likes are due; `None` while nothing is pending.
    due: Option<Instant>,
    output: VecDeque<LikeFlush>,
}

/// One flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LikeFlush {
    /// Likes since the previous flush (never 0).
    pub delta: u64,
    /// Starting total plus every like so far: on the home, the room's exact total.
    pub total: u64,
}

impl LikeCoalescer {
    /// A coalescer flushing every `interval`, starting at `total` (the stored room total on the
    /// home, 0 on a relay).
    pub fn new(interval: Duration, total: u64) -> Self {
        Self {
            interval,
            total,
            pending: 0,
            due: None,
            output: VecDeque::new(),
        }
    }

    /// Adds `count` likes (a client's `like`, or a relay's `likes_delta` on the home). The first
    /// like after a flush arms the timer for one interval later, so a lone like waits at most
    /// one interval and a steady stream is flushed once per interval.
    pub fn handle_likes(&mut self, count: u64, now: Instant) {
        if count == 0 {
            return;
        }
        self.pending = self.pending.saturating_add(count);
        self.total = self.total.saturating_add(count);
        if self.due.is_none() {
            self.due = Some(now.checked_add(self.interval).unwrap_or(now));
        }
    }

    /// Flushes the pending likes if they are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.due.is_some_and(|due| now >= due) {
            self.flush();
        }
    }

    /// Flushes whatever is pending now, due or not (room closing, relay draining).
    pub fn flush(&mut self) {
        self.due = None;
        if self.pending > 0 {
            self.output.push_back(LikeFlush {
                delta: self.pending,
                total: self.total,
            });
            self.pending = 0;
        }
    }

    /// When to call [`Self::handle_timeout`]; `None` while idle.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.due
    }

    /// The next flush; see the drain rule.
    pub fn poll_output(&mut self) -> Option<LikeFlush> {
        self.output.pop_front()
    }

    /// Starting total plus every like handed in, flushed or not.
    pub fn total(&self) -> u64 {
        self.total
    }
}

#[cfg(test)]
mod tests;
