//! [`RoomSequencer`]: the home relay's per-room order (`docs/chat-protocol.md` §6).
//!
//! Every input produces its one answer synchronously, so the methods return it instead of
//! queueing outputs for `poll_output`: there is no timer and nothing to drain.

use std::collections::{HashMap, VecDeque};

use crate::history::{History, Resume, RoomConfig};
use crate::token::ChatClaims;
use crate::wire::{ChatEvent, ChatMessage, ErrorCode, EventKind, SystemEvent};

/// The home relay's state for one room: assigns `seq`, drops retried chats, keeps the history
/// ring and answers resumes.
///
/// **Invariant:** seqs are assigned consecutively from `last_seq + 1` (the value restored from
/// storage), and `at_ms` never decreases along them.
#[derive(Debug, Clone)]
pub struct RoomSequencer {
    config: RoomConfig,
    history: History,
    dedupe: Dedupe,
    last_at_ms: i64,
}

/// The result of [`RoomSequencer::submit_chat`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted {
    /// A new event: store it, ack the sender, fan it out.
    New(ChatEvent),
    /// A retry of an already sequenced `(user_id, client_id)`: ack with this seq, send nothing.
    Duplicate {
        /// The first attempt's seq.
        seq: u64,
    },
}

/// Why [`RoomSequencer::apply_delete`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DeleteError {
    /// No event has this seq yet (or it is 0).
    #[error("no event {0}")]
    NotFound(u64),
    /// The event is a gift or system event; only chat messages can be deleted.
    #[error("event {0} is not a chat message")]
    NotChat(u64),
    /// Already deleted.
    #[error("event {0} already deleted")]
    AlreadyDeleted(u64),
    /// Older than the history ring: the sequencer cannot check what it was.
    #[error("event {0} is older than the history")]
    TooOld(u64),
}

impl DeleteError {
    /// The error code sent to the moderator.
    pub fn code(self) -> ErrorCode {
        match self {
            Self::TooOld(_) => ErrorCode::TooOld,
            Self::NotFound(_) | Self::NotChat(_) | Self::AlreadyDeleted(_) => ErrorCode::NotFound,
        }
    }
}

impl RoomSequencer {
    /// A room whose last stored event is `last_seq` (0 for a new room), with empty history.
    pub fn new(config: RoomConfig, last_seq: u64) -> Self {
        Self::restore(config, last_seq, Vec::new())
    }

    /// A room restored from storage: `recent` are its latest events (any order). Only their
    /// consecutive run ending at `last_seq` is kept; their `client_id`s seed the dedupe window.
    pub fn restore(config: RoomConfig, last_seq: u64, recent: Vec<ChatEvent>) -> Self {
        let mut history = History::new(config.history_len, last_seq);
        history.reset(last_seq, recent);
        let mut dedupe = Dedupe::new(config.dedupe_window);
        for event in history.iter() {
            if let EventKind::Chat(ChatMessage {
                user_id,
                client_id: Some(id),
                ..
            }) = &event.kind
            {
                dedupe.insert(user_id, id, event.seq);
            }
        }
        let last_at_ms = history.iter().last().map_or(i64::MIN, |e| e.at_ms);
        Self {
            config,
            history,
            dedupe,
            last_at_ms,
        }
    }

    /// The latest assigned seq.
    pub fn last_seq(&self) -> u64 {
        self.history.last_seq()
    }

    /// The seq a `(user_id, client_id)` chat already got, if it is in the dedupe window. Check
    /// it before moderation, so that a retry is acked rather than refused by slow mode.
    pub fn duplicate_of(&self, user_id: &str, client_id: &str) -> Option<u64> {
        self.dedupe.get(user_id, client_id)
    }

    /// Sequences a validated, moderated chat message, or recognizes a retry.
    pub fn submit_chat(
        &mut self,
        claims: &ChatClaims,
        text: String,
        client_id: Option<String>,
        now_ms: i64,
    ) -> Submitted {
        if let Some(seq) = client_id
            .as_deref()
            .and_then(|id| self.duplicate_of(&claims.user_id, id))
        {
            return Submitted::Duplicate { seq };
        }
        let message = ChatMessage {
            user_id: claims.user_id.clone(),
            name: claims.name.clone(),
            text,
            client_id,
        };
        let event = self.sequence(EventKind::Chat(message), now_ms);
        if let EventKind::Chat(ChatMessage {
            user_id,
            client_id: Some(id),
            ..
        }) = &event.kind
        {
            self.dedupe.insert(user_id, id, event.seq);
        }
        Submitted::New(event)
    }

    /// Sequences any event as is: gifts (after the ledger committed them; the ledger, not this
    /// window, dedupes idempotency keys) and system notices.
    pub fn sequence(&mut self, kind: EventKind, now_ms: i64) -> ChatEvent {
        self.last_at_ms = self.last_at_ms.max(now_ms);
        let event = ChatEvent {
            seq: self.last_seq() + 1,
            at_ms: self.last_at_ms,
            kind,
        };
        self.history.push(event.clone());
        event
    }

    /// Deletes chat message `seq`: returns the `deleted` tombstone to store and fan out, and
    /// redacts the message in the ring so that resumes never replay it.
    pub fn apply_delete(
        &mut self,
        seq: u64,
        by: &str,
        now_ms: i64,
    ) -> Result<ChatEvent, DeleteError> {
        if seq == 0 || seq > self.last_seq() {
            return Err(DeleteError::NotFound(seq));
        }
        match self.history.get(seq).map(|e| &e.kind) {
            None => return Err(DeleteError::TooOld(seq)),
            Some(EventKind::Chat(_)) => {}
            Some(EventKind::System(SystemEvent::Deleted { seq: target, .. })) if *target == seq => {
                return Err(DeleteError::AlreadyDeleted(seq));
            }
            Some(_) => return Err(DeleteError::NotChat(seq)),
        }
        let tombstone = SystemEvent::Deleted {
            seq,
            by: by.to_owned(),
        };
        Ok(self.sequence(EventKind::System(tombstone), now_ms))
    }

    /// A client resuming after `after_seq` (a `since` or `resume`): [`Resume::TooOld`] carries
    /// the last `welcome_len` events.
    pub fn resume(&self, after_seq: u64) -> Resume {
        self.history.resume(after_seq, self.config.welcome_len)
    }

    /// An edge relay's `subscribe`: like [`Self::resume`], but a fresh or too-old mirror gets
    /// the whole ring.
    pub fn subscribe(&self, after_seq: Option<u64>) -> Resume {
        match after_seq {
            Some(after) => self.history.resume(after, self.config.history_len),
            None => Resume::TooOld {
                history: self.history.tail(self.config.history_len),
            },
        }
    }

    /// The events for a fresh client's `welcome`.
    pub fn welcome_history(&self) -> Vec<ChatEvent> {
        self.history.tail(self.config.welcome_len)
    }

    /// The history ring, oldest first.
    pub fn history(&self) -> impl Iterator<Item = &ChatEvent> {
        self.history.iter()
    }
}

/// A bounded map of recent `(user_id, client_id)` → seq; the oldest entry goes first.
#[derive(Debug, Clone)]
struct Dedupe {
    seqs: HashMap<(String, String), u64>,
    order: VecDeque<(String, String)>,
    capacity: usize,
}

impl Dedupe {
    fn new(capacity: usize) -> Self {
        Self {
            seqs: HashMap::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    fn get(&self, user_id: &str, client_id: &str) -> Option<u64> {
        // Tuple keys need owned lookups; ids are at most 64 bytes each.
        self.seqs
            .get(&(user_id.to_owned(), client_id.to_owned()))
            .copied()
    }

    fn insert(&mut self, user_id: &str, client_id: &str, seq: u64) {
        if self.capacity == 0 {
            return;
        }
        let key = (user_id.to_owned(), client_id.to_owned());
        if self.seqs.insert(key.clone(), seq).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.seqs.remove(&old);
            }
        }
    }
}

#[cfg(test)]
mod tests;
