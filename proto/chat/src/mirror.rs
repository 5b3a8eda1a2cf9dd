//! [`RoomMirror`]: an edge relay's copy of a room it does not sequence (`docs/chat-protocol.md`
//! §9.3).
//!
//! # The drain rule
//!
//! After every `handle_*` call, drain [`RoomMirror::poll_output`] until it returns `None`: the
//! outputs are the events to send to this relay's clients, in seq order, and resets after
//! which every client needs a new `welcome`.

use std::collections::{BTreeMap, VecDeque};

use crate::history::{History, Resume, RoomConfig};
use crate::limits::MAX_MIRROR_PENDING;
use crate::wire::ChatEvent;

/// A non-home relay's state for one room: applies the home's sequenced events strictly in
/// order, holds early ones, reports gaps, and serves resume and history to its own clients
/// exactly like the home does.
///
/// **Invariant:** after a catch-up (`subscribe` with [`RoomMirror::after_seq`], answered by
/// [`RoomSequencer::subscribe`](crate::RoomSequencer::subscribe)) the ring and `last_seq`
/// equal the home's, whatever was lost, duplicated or reordered before.
#[derive(Debug, Clone)]
pub struct RoomMirror {
    config: RoomConfig,
    history: History,
    /// Events past a gap, by seq. Bounded by [`MAX_MIRROR_PENDING`].
    pending: BTreeMap<u64, ChatEvent>,
    /// A [`MirrorOutcome::Gap`] was reported and its `subscribed` has not arrived yet. One
    /// catch-up returns everything up to the home's present, so later gaps need no new one.
    awaiting_catch_up: bool,
    synced: bool,
    output: VecDeque<MirrorOutput>,
}

/// What one input did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MirrorOutcome {
    /// Events were applied (this one, and any held ones it unblocked); drain the outputs.
    Applied,
    /// Already applied (or older than a reset): ignored.
    Duplicate,
    /// Held until the events before it arrive: a catch-up is already under way, or the mirror
    /// awaits its first `subscribed`.
    Held,
    /// Events from `from` on are missing (`to` is the seq before the event that revealed the
    /// gap): send `subscribe` with `after_seq: from - 1`. Reported once until the `subscribed`
    /// arrives; if the channel drops meanwhile, the reconnect's `subscribe` covers it.
    Gap {
        /// First missing seq.
        from: u64,
        /// Last missing seq.
        to: u64,
    },
}

/// Outputs of a [`RoomMirror`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MirrorOutput {
    /// Send this event to the relay's clients in the room.
    Event(ChatEvent),
    /// The mirror replaced its history (a too-old catch-up): send every client a `welcome` with
    /// `resumed: false` and [`RoomMirror::welcome_history`].
    Reset,
}

impl RoomMirror {
    /// A mirror that has not heard from the home yet; [`Self::after_seq`] is `None`.
    pub fn new(config: RoomConfig) -> Self {
        Self {
            config,
            history: History::new(config.history_len, 0),
            pending: BTreeMap::new(),
            awaiting_catch_up: false,
            synced: false,
            output: VecDeque::new(),
        }
    }

    /// The `after_seq` to send in `subscribe`: `None` before the first `subscribed`.
    pub fn after_seq(&self) -> Option<u64> {
        self.synced.then(|| self.history.last_seq())
    }

    /// Whether the mirror has a base from the home; hold client welcomes until it does.
    pub fn is_synced(&self) -> bool {
        self.synced
    }

    /// The latest applied seq.
    pub fn last_seq(&self) -> u64 {
        self.history.last_seq()
    }

    /// A `sequenced` frame from the home.
    pub fn handle_sequenced(&mut self, event: ChatEvent) -> MirrorOutcome {
        let next = self.history.last_seq().saturating_add(1);
        if self.synced && event.seq < next {
            return MirrorOutcome::Duplicate;
        }
        if self.synced && event.seq == next {
            self.apply(event);
            self.drain_pending();
            return MirrorOutcome::Applied;
        }
        let seq = event.seq;
        self.hold(event);
        if self.synced && !self.awaiting_catch_up {
            self.awaiting_catch_up = true;
            // Synced and not applied: `seq > next >= 1`, so `seq - 1` cannot underflow.
            MirrorOutcome::Gap {
                from: next,
                to: seq - 1,
            }
        } else {
            MirrorOutcome::Held
        }
    }

    /// A `subscribed` frame: the home's answer to this mirror's `subscribe`.
    pub fn handle_subscribed(
        &mut self,
        last_seq: u64,
        events: Vec<ChatEvent>,
        resumed: bool,
    ) -> MirrorOutcome {
        if !resumed || !self.synced {
            self.history.reset(last_seq, events);
            self.pending = self.pending.split_off(&last_seq.saturating_add(1));
            self.synced = true;
            self.output.clear();
            self.output.push_back(MirrorOutput::Reset);
        } else {
            for event in events {
                if event.seq == self.history.last_seq().saturating_add(1) {
                    self.apply(event);
                } else if event.seq > self.history.last_seq() {
                    self.hold(event);
                }
            }
        }
        self.awaiting_catch_up = false;
        self.drain_pending();
        // Whatever is still held lies past a gap the answer did not cover.
        match self.pending.keys().next() {
            Some(&first) => {
                self.awaiting_catch_up = true;
                MirrorOutcome::Gap {
                    from: self.history.last_seq() + 1,
                    to: first - 1,
                }
            }
            None => MirrorOutcome::Applied,
        }
    }

    /// The next output; see the drain rule in the module docs.
    pub fn poll_output(&mut self) -> Option<MirrorOutput> {
        self.output.pop_front()
    }

    /// A client of this relay resuming after `after_seq`; same rule as the home.
    pub fn resume(&self, after_seq: u64) -> Resume {
        self.history.resume(after_seq, self.config.welcome_len)
    }

    /// The events for a fresh client's `welcome`.
    pub fn welcome_history(&self) -> Vec<ChatEvent> {
        self.history.tail(self.config.welcome_len)
    }

    /// The history ring, oldest first.
    pub fn history(&self) -> impl Iterator<Item = &ChatEvent> {
        self.history.iter()
    }

    fn apply(&mut self, event: ChatEvent) {
        self.history.push(event.clone());
        self.output.push_back(MirrorOutput::Event(event));
    }

    fn hold(&mut self, event: ChatEvent) {
        self.pending.insert(event.seq, event);
        if self.pending.len() > MAX_MIRROR_PENDING {
            // The newest go first: the catch-up for the gap fetches them again.
            self.pending.pop_last();
        }
    }

    fn drain_pending(&mut self) {
        while let Some(entry) = self.pending.first_entry() {
            let next = self.history.last_seq().saturating_add(1);
            if *entry.key() > next {
                break;
            }
            let event = entry.remove();
            if event.seq == next {
                self.apply(event);
            }
        }
    }
}

#[cfg(test)]
mod tests;
