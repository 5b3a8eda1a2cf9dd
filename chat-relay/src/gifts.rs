//! Gifts on the home relay (`docs/chat-protocol.md` §7.2): the ledger commit and the
//! bookkeeping that answers a retried idempotency key with the first result.
//!
//! The commit is `store::Store::commit_gift`: one transaction that prices the gift, debits the
//! sender, credits the room's account and records the gift, at most once per
//! `(sender, idempotency_key)`. The room sequences and broadcasts the `gift` event only after
//! it returns, and only when it was not a replay, so a retry is never charged nor broadcast
//! twice. A replay is acked with the first event's seq: from [`GiftBook`] (keys of recent
//! gifts, seeded from the restored history) or, after that, from the chat log.
//!
//! Who is credited: the room's account `room:<room>`. Streams have no owner user id yet; when
//! the control plane maps a stream to its host's user id, that id replaces the account here.

use std::collections::{HashMap, VecDeque};

use chat_proto::{ChatEvent, ErrorCode, EventKind, ServerFrame};
use store::{ChatQuery, GiftOutcome, GiftRequest, Store, StoreError};
use tokio::sync::oneshot;

/// Recent `(sender, idempotency_key)` → seq pairs a room remembers.
const SEQ_WINDOW: usize = 4096;
/// Rows of the chat log searched for a replayed gift's seq.
const LOOKUP_LIMIT: u32 = 200;
/// Pages of [`LOOKUP_LIMIT`] rows searched before giving up (the seq is then left out).
const LOOKUP_PAGES: usize = 20;

type Key = (String, String);
type Waiter = oneshot::Sender<Option<ServerFrame>>;

/// The wallet a room's gifts are credited to.
pub(crate) fn room_account(room: &str) -> String {
    format!("room:{room}")
}

/// A room's gift bookkeeping: seqs of recent gifts and commits in flight.
#[derive(Debug, Default)]
pub(crate) struct GiftBook {
    seqs: HashMap<Key, u64>,
    order: VecDeque<Key>,
    /// Commits running now, with every client waiting for their outcome (a retry arriving
    /// while the first attempt commits waits for it instead of racing it).
    in_flight: HashMap<Key, Vec<Waiter>>,
}

impl GiftBook {
    /// A book knowing the gifts in `history`.
    pub(crate) fn seeded<'a>(history: impl Iterator<Item = &'a ChatEvent>) -> Self {
        let mut book = Self::default();
        for event in history {
            if let EventKind::Gift(gift) = &event.kind {
                book.remember(&gift.user_id, &gift.idempotency_key, event.seq);
            }
        }
        book
    }

    /// The seq the gift `(user_id, key)` was sequenced at, if remembered.
    pub(crate) fn seq_of(&self, user_id: &str, key: &str) -> Option<u64> {
        self.seqs
            .get(&(user_id.to_owned(), key.to_owned()))
            .copied()
    }

    pub(crate) fn remember(&mut self, user_id: &str, key: &str, seq: u64) {
        let key = (user_id.to_owned(), key.to_owned());
        if self.seqs.insert(key.clone(), seq).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > SEQ_WINDOW {
            if let Some(old) = self.order.pop_front() {
                self.seqs.remove(&old);
            }
        }
    }

    /// Adds `waiter` to the commit of `(user_id, key)`; `true` if that commit was already
    /// running (so the caller must not start another).
    pub(crate) fn wait(&mut self, user_id: &str, key: &str, waiter: Waiter) -> bool {
        let waiters = self
            .in_flight
            .entry((user_id.to_owned(), key.to_owned()))
            .or_default();
        waiters.push(waiter);
        waiters.len() > 1
    }

    /// Everyone waiting for the commit of `(user_id, key)`, which has ended.
    pub(crate) fn settle(&mut self, user_id: &str, key: &str) -> Vec<Waiter> {
        self.in_flight
            .remove(&(user_id.to_owned(), key.to_owned()))
            .unwrap_or_default()
    }

    /// Whether any commit is running.
    pub(crate) fn is_idle(&self) -> bool {
        self.in_flight.is_empty()
    }
}

/// A finished commit, back on the room's task.
#[derive(Debug)]
pub(crate) struct Committed {
    pub(crate) request: GiftRequest,
    pub(crate) name: String,
    pub(crate) count: u32,
    pub(crate) result: Result<GiftOutcome, StoreError>,
    /// For a replay: what the chat log says about its event.
    pub(crate) logged_seq: Logged,
}

/// A replayed gift's event in the chat log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Logged {
    /// Logged with this seq.
    Found(u64),
    /// Every row that could be it was searched: it was never logged (so never broadcast).
    Absent,
    /// Not a replay, or the search failed or was cut short: do not assume anything.
    Unknown,
}

/// Commits `request` (off the room's task: it waits for the database).
pub(crate) async fn commit(
    store: Store,
    request: GiftRequest,
    name: String,
    count: u32,
) -> Committed {
    let result = store.commit_gift(&request).await;
    let logged_seq = match &result {
        Ok(outcome) if outcome.replayed => logged_seq(&store, &request, outcome).await,
        _ => Logged::Unknown,
    };
    Committed {
        request,
        name,
        count,
        result,
        logged_seq,
    }
}

/// The seq of a replayed gift's event in the chat log, searched page by page from its commit
/// time (at most [`LOOKUP_PAGES`] pages of the sender's gifts).
async fn logged_seq(store: &Store, request: &GiftRequest, outcome: &GiftOutcome) -> Logged {
    let mut query = ChatQuery {
        room: Some(request.room.clone()),
        user_id: Some(request.sender_id.clone()),
        kind: Some("gift".to_owned()),
        from_ms: Some(outcome.record.at_ms),
        limit: LOOKUP_LIMIT,
        ..ChatQuery::default()
    };
    for _ in 0..LOOKUP_PAGES {
        let Ok(page) = store.query_chat(&query).await else {
            return Logged::Unknown;
        };
        let found = page
            .items
            .iter()
            .find(|r| r.client_msg_id.as_deref() == Some(request.idempotency_key.as_str()))
            .and_then(|r| u64::try_from(r.seq).ok());
        match (found, page.next_cursor) {
            (Some(seq), _) => return Logged::Found(seq),
            (None, None) => return Logged::Absent,
            (None, Some(cursor)) => query.cursor = Some(cursor),
        }
    }
    Logged::Unknown
}

/// The error code, metric reason and message for a failed commit. Nothing was charged.
pub(crate) fn refusal(error: &StoreError) -> (ErrorCode, &'static str, String) {
    match error {
        StoreError::InsufficientFunds { .. } => (
            ErrorCode::InsufficientFunds,
            "insufficient_funds",
            error.to_string(),
        ),
        StoreError::UnknownGift { .. } => {
            (ErrorCode::UnknownGift, "unknown_gift", error.to_string())
        }
        StoreError::IdempotencyConflict { .. } => (
            ErrorCode::BadFrame,
            "idempotency_conflict",
            error.to_string(),
        ),
        StoreError::InvalidArgument { .. } => (ErrorCode::BadFrame, "invalid", error.to_string()),
        error if error.is_retryable() => (
            ErrorCode::Unavailable,
            "database_busy",
            "the ledger is busy; retry with the same key".to_owned(),
        ),
        _ => (
            ErrorCode::Internal,
            "database",
            "the ledger failed; retry with the same key".to_owned(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn book_forgets_the_oldest_and_parks_retries() {
        let mut book = GiftBook::default();
        for seq in 0..(SEQ_WINDOW as u64 + 1) {
            book.remember("u1", &format!("k{seq}"), seq + 1);
        }
        assert_eq!(book.seq_of("u1", "k0"), None);
        assert_eq!(book.seq_of("u1", "k1"), Some(2));
        assert_eq!(book.seq_of("u2", "k1"), None);

        let (a, _ra) = oneshot::channel();
        let (b, _rb) = oneshot::channel();
        assert!(!book.wait("u1", "x", a));
        assert!(book.wait("u1", "x", b));
        assert!(!book.is_idle());
        assert_eq!(book.settle("u1", "x").len(), 2);
        assert!(book.is_idle());
    }

    #[test]
    fn ledger_errors_map_to_protocol_codes() {
        let funds = StoreError::InsufficientFunds {
            balance: 1,
            needed: 5,
        };
        assert_eq!(refusal(&funds).0, ErrorCode::InsufficientFunds);
        let unknown = StoreError::UnknownGift {
            gift_id: "x".into(),
        };
        assert_eq!(refusal(&unknown).1, "unknown_gift");
        assert_eq!(refusal(&StoreError::BadCursor).0, ErrorCode::Internal);
    }
}
