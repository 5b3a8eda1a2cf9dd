//! The history ring shared by [`crate::RoomSequencer`] and [`crate::RoomMirror`], and the
//! resume rule both serve (`docs/chat-protocol.md` §6).
//!
//! **Invariant:** the ring holds consecutive seqs ending at `last_seq` (or is empty), so "every
//! event after `after_seq`" is a suffix of the ring whenever `after_seq + 1` is in it.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::limits::{DEFAULT_DEDUPE_WINDOW, DEFAULT_HISTORY_LEN, DEFAULT_WELCOME_LEN};
use crate::wire::{ChatEvent, EventKind, SystemEvent};

/// Per-room settings of the sequencer and the mirror. Config-ready: `deny_unknown_fields`,
/// every field defaulted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoomConfig {
    /// Events kept in the history ring, the window within which resume is exact. Default 200.
    pub history_len: usize,
    /// Events sent in a fresh `welcome` (or one whose resume point is too old). Default 50.
    pub welcome_len: usize,
    /// Recent `(user_id, client_id)` pairs remembered to drop retried chats (home only).
    /// Default 1024.
    pub dedupe_window: usize,
}

impl Default for RoomConfig {
    fn default() -> Self {
        Self {
            history_len: DEFAULT_HISTORY_LEN,
            welcome_len: DEFAULT_WELCOME_LEN,
            dedupe_window: DEFAULT_DEDUPE_WINDOW,
        }
    }
}

/// What a client (or a mirror) resuming after `after_seq` gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resume {
    /// Exactly the events after `after_seq`, in order: no loss, no duplicates. Empty when the
    /// client is up to date.
    Missed(Vec<ChatEvent>),
    /// `after_seq` is older than the ring (or newer than `last_seq`): the view cannot be
    /// continued. `history` is the recent tail, which replaces the client's view.
    TooOld {
        /// The recent events.
        history: Vec<ChatEvent>,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct History {
    events: VecDeque<ChatEvent>,
    capacity: usize,
    last_seq: u64,
}

impl History {
    pub(crate) fn new(capacity: usize, last_seq: u64) -> Self {
        Self {
            events: VecDeque::new(),
            capacity,
            last_seq,
        }
    }

    pub(crate) fn last_seq(&self) -> u64 {
        self.last_seq
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &ChatEvent> {
        self.events.iter()
    }

    pub(crate) fn get(&self, seq: u64) -> Option<&ChatEvent> {
        let first = self.events.front()?.seq;
        let index = usize::try_from(seq.checked_sub(first)?).ok()?;
        self.events.get(index)
    }

    /// Appends the next event. A `deleted` tombstone also redacts its target in the ring, so a
    /// later resume never replays deleted text; the home and every mirror redact at the same
    /// point of the order and so keep identical rings.
    pub(crate) fn push(&mut self, event: ChatEvent) {
        debug_assert_eq!(
            event.seq,
            self.last_seq + 1,
            "history must stay consecutive"
        );
        if let EventKind::System(SystemEvent::Deleted { seq, by }) = &event.kind {
            let tombstone = EventKind::System(SystemEvent::Deleted {
                seq: *seq,
                by: by.clone(),
            });
            if let Some(first) = self.events.front().map(|e| e.seq)
                && let Some(target) = usize::try_from(seq.wrapping_sub(first))
                    .ok()
                    .and_then(|i| self.events.get_mut(i))
                && matches!(target.kind, EventKind::Chat(_))
            {
                target.kind = tombstone;
            }
        }
        self.last_seq = event.seq;
        self.events.push_back(event);
        while self.events.len() > self.capacity {
            self.events.pop_front();
        }
    }

    /// Replaces the ring with `events`, keeping only their consecutive suffix ending at
    /// `last_seq` (and at most `capacity` of them).
    pub(crate) fn reset(&mut self, last_seq: u64, mut events: Vec<ChatEvent>) {
        events.retain(|e| e.seq <= last_seq);
        events.sort_by_key(|e| e.seq);
        events.dedup_by_key(|e| e.seq);
        let mut start = events.len();
        let mut expect = last_seq;
        while start > 0 && events[start - 1].seq == expect && events.len() - start < self.capacity {
            start -= 1;
            expect = expect.wrapping_sub(1);
        }
        self.events = events.split_off(start).into();
        self.last_seq = last_seq;
    }

    pub(crate) fn tail(&self, n: usize) -> Vec<ChatEvent> {
        let skip = self.events.len().saturating_sub(n);
        self.events.iter().skip(skip).cloned().collect()
    }

    /// The resume rule. `reset_len` is how much of the tail a too-old resumer gets.
    pub(crate) fn resume(&self, after_seq: u64, reset_len: usize) -> Resume {
        if after_seq == self.last_seq {
            return Resume::Missed(Vec::new());
        }
        match self.events.front() {
            Some(first) if after_seq < self.last_seq && first.seq <= after_seq + 1 => {
                let skip = usize::try_from(after_seq + 1 - first.seq).unwrap_or(usize::MAX);
                Resume::Missed(self.events.iter().skip(skip).cloned().collect())
            }
            _ => Resume::TooOld {
                history: self.tail(reset_len),
            },
        }
    }
}
