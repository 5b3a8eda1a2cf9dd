//! The JSON messages (`docs/chat-protocol.md` §4–§5, §9): client frames, server frames,
//! federation frames, and the sequenced [`ChatEvent`] they share.
//!
//! Every message is one JSON object with a `"type"` field naming its kind, in snake_case.
//! Receivers refuse unknown kinds and unknown fields: a typo must fail loudly, not be ignored.

mod client;
mod federation;
mod repr;
mod server;

pub use client::{ClientFrame, DecodeError, decode_client, encode_client};
pub use federation::{
    FEDERATION_VERSION, FederationError, FederationFrame, MAX_FEDERATION_FRAME_BYTES,
    decode_federation, encode_federation,
};
pub use server::{ServerFrame, encode_server};

use repr::EventRepr;
use serde::{Deserialize, Serialize};

/// One sequenced room event: the unit of ordering, history and resume. Only the home relay
/// assigns `seq` ([`crate::RoomSequencer`]); everyone else relays it unchanged.
///
/// On the wire it is a flat object whose `"type"` is the kind:
/// `{"type":"chat","seq":7,"at_ms":1764060960000,"user_id":"u1","name":"Ada","text":"hi"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "EventRepr", into = "EventRepr")]
pub struct ChatEvent {
    /// Position in the room's one order: 1, 2, 3, … without gaps.
    pub seq: u64,
    /// When the home relay sequenced it, unix milliseconds; never decreases along `seq`.
    pub at_ms: i64,
    /// What happened.
    pub kind: EventKind,
}

/// The kinds of sequenced event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// A chat message.
    Chat(ChatMessage),
    /// A committed gift.
    Gift(GiftEvent),
    /// Presence and moderation notices.
    System(SystemEvent),
}

/// A chat message as broadcast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// Sender's user id (from the token).
    pub user_id: String,
    /// Sender's display name (from the token).
    pub name: String,
    /// The trimmed, validated text.
    pub text: String,
    /// The sender's message id, echoed so the sender can match its own message.
    pub client_id: Option<String>,
}

/// A gift, broadcast after the ledger committed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GiftEvent {
    /// Sender's user id.
    pub user_id: String,
    /// Sender's display name.
    pub name: String,
    /// Catalogue id of the gift.
    pub gift_id: String,
    /// How many.
    pub count: u32,
    /// Total value charged, in the ledger's smallest unit.
    pub value: i64,
    /// The sender's idempotency key.
    pub idempotency_key: String,
}

/// A system notice. Nested under `"system"` in a `system` event, tagged by `"event"`:
/// `{"type":"system","seq":9,"at_ms":…,"system":{"event":"deleted","seq":7,"by":"m1"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case", deny_unknown_fields)]
pub enum SystemEvent {
    /// Chatters that joined and left the room since the previous presence notice.
    Presence {
        /// Joins.
        joined: u64,
        /// Leaves.
        left: u64,
    },
    /// Tombstone: the chat message `seq` was deleted; clients MUST hide it.
    Deleted {
        /// The deleted message.
        seq: u64,
        /// The moderator's user id.
        by: String,
    },
    /// A user was banned; with `until_ms` a timeout that ends then (unix ms).
    Banned {
        /// The banned user.
        user_id: String,
        /// End of a timeout, unix ms; `None` for a permanent ban.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until_ms: Option<i64>,
        /// The moderator's user id.
        by: String,
    },
    /// A ban or timeout was lifted.
    Unbanned {
        /// The user.
        user_id: String,
        /// The moderator's user id.
        by: String,
    },
    /// Slow mode changed: each viewer may send one message per `interval_s`; 0 is off.
    SlowMode {
        /// Seconds between a viewer's messages.
        interval_s: u32,
        /// The moderator's user id.
        by: String,
    },
}

/// Error codes in `error` frames, snake_case on the wire. Clients match the code, never the
/// message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame is not valid JSON of a known shape, or a field breaks its rule.
    BadFrame,
    /// The `"type"` is not a client frame kind.
    UnknownKind,
    /// The frame or its text is over the limit.
    TooLarge,
    /// The IO layer's rate limiter refused the frame.
    RateLimited,
    /// Slow mode: wait `retry_after_ms`.
    SlowMode,
    /// The sender is banned from the room.
    Banned,
    /// The sender is timed out; `retry_after_ms` says for how long.
    TimedOut,
    /// The text contains a blocked word.
    BlockedWord,
    /// The sender's role may not do this (moderation frames, read-only connections).
    Forbidden,
    /// The gift costs more than the sender's balance.
    InsufficientFunds,
    /// No such gift in the catalogue.
    UnknownGift,
    /// The target event is older than the home relay's history (a `delete`).
    TooOld,
    /// The target event does not exist or is not a chat message (a `delete`).
    NotFound,
    /// The room's home relay is unreachable; retry later.
    Unavailable,
    /// A bug or a storage failure on the relay.
    Internal,
}

impl ErrorCode {
    /// The snake_case name, also the `reason` label of `livecdn_chat_rejected_total`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadFrame => "bad_frame",
            Self::UnknownKind => "unknown_kind",
            Self::TooLarge => "too_large",
            Self::RateLimited => "rate_limited",
            Self::SlowMode => "slow_mode",
            Self::Banned => "banned",
            Self::TimedOut => "timed_out",
            Self::BlockedWord => "blocked_word",
            Self::Forbidden => "forbidden",
            Self::InsufficientFunds => "insufficient_funds",
            Self::UnknownGift => "unknown_gift",
            Self::TooOld => "too_old",
            Self::NotFound => "not_found",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }
}

/// Size limits on client frames. Config-ready: `deny_unknown_fields`, every field defaulted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest client frame, in bytes of the WebSocket message, checked before parsing.
    /// Default 4096 (4 KiB).
    pub max_frame_bytes: usize,
    /// Longest chat text after trimming, in Unicode scalar values. Default 500.
    pub max_text_chars: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame_bytes: 4096,
            max_text_chars: 500,
        }
    }
}
