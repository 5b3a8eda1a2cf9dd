//! [`DurableLikeTotal`]: the home's room total, written to storage before anyone sees it
//! (`docs/chat-protocol.md` §7.1).
//!
//! The home coalesces likes exactly as a [`LikeCoalescer`] does, but a flush is not broadcast
//! at once: it becomes a [`LikeOutput::Persist`] of the new total, and only once the driver
//! reports that write done ([`DurableLikeTotal::handle_persisted`]) does the total go out as
//! [`LikeOutput::Broadcast`]. So storage holds at least every total a client was shown, and a
//! home restarted from storage (even after `kill -9`) continues at or above it: **a broadcast
//! total never goes backwards.** Likes counted but not yet written when the home dies are lost,
//! which §7.1 allows (they were never acknowledged, nor shown in a total).
//!
//! The hot path stays free of storage: one write per flush (at most one per interval), at most
//! one write in flight per room; flushes that come due while a write is in flight are merged
//! into the next write. A failed write is retried one interval later with the newest total;
//! nothing is broadcast until a write succeeds.
//!
//! # The drain rule
//!
//! After every `handle_*` call and [`DurableLikeTotal::flush`], drain
//! [`DurableLikeTotal::poll_output`] until it returns `None` (start each `Persist`, send each
//! `Broadcast`), then re-arm the timer from [`DurableLikeTotal::poll_timeout`].
//!
//! ```
//! use std::time::{Duration, Instant};
//! use livecdn_chat_proto::{DurableLikeTotal, LikeFlush, LikeOutput};
//!
//! let start = Instant::now(); // a driver reads node::clock; any instant will do here
//! let mut likes = DurableLikeTotal::new(Duration::from_millis(200), 1000); // stored total
//! likes.handle_likes(5, start);
//! likes.handle_timeout(start + Duration::from_millis(200));
//! assert_eq!(likes.poll_output(), Some(LikeOutput::Persist { total: 1005 }));
//! assert_eq!(likes.poll_output(), None); // nothing is shown before it is written
//! likes.handle_persisted(1005);
//! let shown = LikeFlush { delta: 5, total: 1005 };
//! assert_eq!(likes.poll_output(), Some(LikeOutput::Broadcast(shown)));
//! ```

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::LikeCoalescer;
use crate::LikeFlush;

/// The home relay's like total of one room: coalesced, persisted, then broadcast.
///
/// **Invariant:** every total in a [`LikeOutput::Broadcast`] was reported written by
/// [`Self::handle_persisted`] before it was output, and broadcast totals strictly increase.
#[derive(Debug, Clone)]
pub struct DurableLikeTotal {
    interval: Duration,
    likes: LikeCoalescer,
    /// The highest total storage is known to hold.
    durable: u64,
    /// The total last broadcast (or restored: what a client may already hold).
    shown: u64,
    /// The total being written, if a write is in flight.
    writing: Option<u64>,
    /// A flushed total not written yet (waiting for the write in flight, or for a retry).
    unwritten: Option<u64>,
    /// When to retry after a failed write.
    retry_at: Option<Instant>,
    output: VecDeque<LikeOutput>,
}

/// What the driver does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LikeOutput {
    /// Write `total` as the room's stored total, then report the outcome with
    /// [`DurableLikeTotal::handle_persisted`] or [`DurableLikeTotal::handle_persist_failed`].
    /// Storage must keep the larger of what it has and `total` (writes are retried, and a
    /// late write must not lower a newer one).
    Persist {
        /// The room's total, every like so far included.
        total: u64,
    },
    /// Send this total to clients (`likes`) and federation links (`likes_total`): storage
    /// holds it. `delta` is the change since the previous broadcast.
    Broadcast(LikeFlush),
}

impl DurableLikeTotal {
    /// A room whose storage holds `stored` (0 for a new room), flushing every `interval`.
    pub fn new(interval: Duration, stored: u64) -> Self {
        Self {
            interval,
            likes: LikeCoalescer::new(interval, stored),
            durable: stored,
            shown: stored,
            writing: None,
            unwritten: None,
            retry_at: None,
            output: VecDeque::new(),
        }
    }

    /// Adds `count` likes (the home's clients' likes and every relay's `likes_delta`).
    pub fn handle_likes(&mut self, count: u64, now: Instant) {
        self.likes.handle_likes(count, now);
    }

    /// Flushes the pending likes if they are due, and retries a failed write if it is due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.retry_at.is_some_and(|at| now >= at) {
            self.retry_at = None;
        }
        self.likes.handle_timeout(now);
        self.take_flushes();
        self.start_write();
    }

    /// Flushes whatever is pending now, due or not, and retries a failed write at once (room
    /// closing, relay draining): the write it asks for is the last one.
    pub fn flush(&mut self) {
        self.retry_at = None;
        self.likes.flush();
        self.take_flushes();
        self.start_write();
    }

    /// The write of `total` succeeded: it is broadcast (unless a larger total already was),
    /// and the next write starts if a newer total waits.
    pub fn handle_persisted(&mut self, total: u64) {
        if self.writing == Some(total) {
            self.writing = None;
        }
        self.durable = self.durable.max(total);
        if self.durable > self.shown {
            self.output.push_back(LikeOutput::Broadcast(LikeFlush {
                delta: self.durable - self.shown,
                total: self.durable,
            }));
            self.shown = self.durable;
        }
        if self.unwritten.is_some_and(|t| t <= self.durable) {
            self.unwritten = None;
        }
        self.start_write();
    }

    /// The write of `total` failed: it is retried (with any newer total) one interval after
    /// `now`, and nothing newer is broadcast until a write succeeds.
    pub fn handle_persist_failed(&mut self, total: u64, now: Instant) {
        if self.writing == Some(total) {
            self.writing = None;
        }
        if total > self.durable {
            self.unwritten = Some(self.unwritten.map_or(total, |t| t.max(total)));
            self.retry_at = Some(now.checked_add(self.interval).unwrap_or(now));
        }
    }

    /// The next write or broadcast; see the drain rule.
    pub fn poll_output(&mut self) -> Option<LikeOutput> {
        self.output.pop_front()
    }

    /// When to call [`Self::handle_timeout`]; `None` while idle.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.likes.poll_timeout(), self.retry_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Every like counted so far, written or not.
    pub fn total(&self) -> u64 {
        self.likes.total()
    }

    /// The total last broadcast (or restored from storage): what clients may hold.
    pub fn shown(&self) -> u64 {
        self.shown
    }

    /// Whether a write is in flight: a closing room waits for its outcome.
    pub fn is_writing(&self) -> bool {
        self.writing.is_some()
    }

    fn take_flushes(&mut self) {
        while let Some(flush) = self.likes.poll_output() {
            self.unwritten = Some(self.unwritten.map_or(flush.total, |t| t.max(flush.total)));
        }
    }

    /// Starts a write of the newest unwritten total, unless one is in flight or a retry waits.
    fn start_write(&mut self) {
        if self.writing.is_some() || self.retry_at.is_some() {
            return;
        }
        if let Some(total) = self.unwritten.take()
            && total > self.durable
        {
            self.writing = Some(total);
            self.output.push_back(LikeOutput::Persist { total });
        }
    }
}

#[cfg(test)]
mod tests;
