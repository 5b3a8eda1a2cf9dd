//! Relay → client frames (`docs/chat-protocol.md` §5).

use serde::{Deserialize, Serialize};

use super::{ChatEvent, ErrorCode};
use crate::token::ChatRole;

/// A frame to a client. Sequenced events are sent flat ([`ServerFrame::Event`]), so a client
/// tells them apart by `"type"` (`chat`, `gift`, `system`) like every other frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ServerFrame {
    /// First frame of a connection, and the answer to `resume`.
    Welcome {
        /// The room.
        room: String,
        /// The client's user id, from its token.
        user_id: String,
        /// The client's role, from its token.
        role: ChatRole,
        /// The room's latest `seq` when this frame was built.
        last_seq: u64,
        /// With `resumed`, exactly the events after the client's `since`/`after_seq`; without,
        /// the most recent events, which replace whatever the client showed.
        history: Vec<ChatEvent>,
        /// Whether `history` continues the client's view without loss.
        resumed: bool,
    },
    /// Coalesced like totals (not sequenced).
    Likes {
        /// The room's total.
        total: u64,
        /// Likes since the previous `likes` frame.
        delta: u64,
    },
    /// Current viewer count (not sequenced).
    Viewers {
        /// Connected clients across all relays.
        count: u64,
    },
    /// A `chat` or `gift` was accepted (or had already been: a retry gets the first result).
    Ack {
        /// The chat's `client_id`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
        /// The gift's `idempotency_key`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        idempotency_key: Option<String>,
        /// The event's `seq`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
        /// The sender's balance after a gift.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        balance: Option<i64>,
    },
    /// A frame was refused; the connection stays open.
    Error {
        /// What went wrong.
        code: ErrorCode,
        /// Human-readable detail, for logs and developers; not for matching.
        message: String,
        /// The refused chat's `client_id`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
        /// The refused gift's `idempotency_key`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        idempotency_key: Option<String>,
        /// When retrying may succeed (slow mode, timeouts, rate limits), in ms.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
    /// Answer to `ping`.
    Pong {},
    /// A sequenced event (`chat`, `gift` or `system`), flat.
    #[serde(untagged)]
    Event(ChatEvent),
}

impl ServerFrame {
    /// An `error` frame with only a code and message.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Error {
            code,
            message: message.into(),
            client_id: None,
            idempotency_key: None,
            retry_after_ms: None,
        }
    }
}

/// Encodes a frame as the text of one WebSocket message.
pub fn encode_server(frame: &ServerFrame) -> String {
    // Every field is a string, integer, bool or list of those: serialization cannot fail.
    serde_json::to_string(frame).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{ChatMessage, EventKind, SystemEvent};

    fn round_trip(frame: &ServerFrame, json: &str) {
        assert_eq!(encode_server(frame), json);
        assert_eq!(&serde_json::from_str::<ServerFrame>(json).unwrap(), frame);
    }

    #[test]
    fn wire_examples() {
        let chat = ChatEvent {
            seq: 7,
            at_ms: 1_764_060_960_000,
            kind: EventKind::Chat(ChatMessage {
                user_id: "u1".into(),
                name: "Ada".into(),
                text: "hi".into(),
                client_id: Some("c1".into()),
            }),
        };
        round_trip(
            &ServerFrame::Event(chat.clone()),
            r#"{"type":"chat","seq":7,"at_ms":1764060960000,"user_id":"u1","name":"Ada","text":"hi","client_id":"c1"}"#,
        );
        let deleted = ChatEvent {
            seq: 9,
            at_ms: 1_764_060_961_000,
            kind: EventKind::System(SystemEvent::Deleted {
                seq: 7,
                by: "m1".into(),
            }),
        };
        round_trip(
            &ServerFrame::Event(deleted),
            r#"{"type":"system","seq":9,"at_ms":1764060961000,"system":{"event":"deleted","seq":7,"by":"m1"}}"#,
        );
        round_trip(
            &ServerFrame::Welcome {
                room: "demo".into(),
                user_id: "u1".into(),
                role: ChatRole::Viewer,
                last_seq: 7,
                history: vec![chat],
                resumed: false,
            },
            r#"{"type":"welcome","room":"demo","user_id":"u1","role":"viewer","last_seq":7,"history":[{"type":"chat","seq":7,"at_ms":1764060960000,"user_id":"u1","name":"Ada","text":"hi","client_id":"c1"}],"resumed":false}"#,
        );
        round_trip(
            &ServerFrame::Likes {
                total: 10,
                delta: 3,
            },
            r#"{"type":"likes","total":10,"delta":3}"#,
        );
        round_trip(&ServerFrame::Pong {}, r#"{"type":"pong"}"#);
        round_trip(
            &ServerFrame::error(ErrorCode::SlowMode, "slow mode"),
            r#"{"type":"error","code":"slow_mode","message":"slow mode"}"#,
        );
    }

    #[test]
    fn unknown_fields_refused() {
        for json in [
            r#"{"type":"pong","x":1}"#,
            r#"{"type":"chat","seq":1,"at_ms":0,"user_id":"u","name":"n","text":"t","x":1}"#,
            r#"{"type":"system","seq":1,"at_ms":0,"system":{"event":"presence","joined":1,"left":0,"x":1}}"#,
        ] {
            assert!(serde_json::from_str::<ServerFrame>(json).is_err(), "{json}");
        }
    }

    #[test]
    fn error_codes_match_serde_names() {
        for code in [
            ErrorCode::BadFrame,
            ErrorCode::InsufficientFunds,
            ErrorCode::TooOld,
        ] {
            assert_eq!(
                serde_json::to_string(&code).unwrap(),
                format!("\"{}\"", code.as_str())
            );
        }
    }
}
