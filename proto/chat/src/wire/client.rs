//! Client → relay frames and their decoder (`docs/chat-protocol.md` §4).

use serde::{Deserialize, Serialize};

use super::{ErrorCode, Limits};
use crate::limits::{
    MAX_BAN_DURATION_S, MAX_ECHO_CHARS, MAX_GIFT_COUNT, MAX_ID_LEN, MAX_LIKES_PER_FRAME,
    MAX_SLOW_MODE_S,
};

/// A frame from a client. `Ping {}` is a struct variant because serde ignores unknown fields on
/// unit variants of tagged enums.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    /// Send a chat message. `client_id` makes retries idempotent and is echoed in the ack.
    Chat {
        /// The message; trimmed by [`decode_client`].
        text: String,
        /// Client-chosen message id, 1..=[`MAX_ID_LEN`] bytes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
    },
    /// Add likes; `count` defaults to 1 and is capped to [`MAX_LIKES_PER_FRAME`].
    Like {
        /// How many; after [`decode_client`] always `Some`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        count: Option<u32>,
    },
    /// Send a gift; the home relay commits it to the ledger before acking.
    Gift {
        /// Catalogue id.
        gift_id: String,
        /// How many, 1..=[`MAX_GIFT_COUNT`]; after [`decode_client`] always `Some`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        count: Option<u32>,
        /// Retrying with the same key returns the first result and never charges twice.
        idempotency_key: String,
    },
    /// Ask for every event after `after_seq` (same as `&since=` at connect time).
    Resume {
        /// The last `seq` the client holds.
        after_seq: u64,
    },
    /// Moderators and hosts: delete the chat message `seq`.
    Delete {
        /// The message to delete.
        seq: u64,
    },
    /// Moderators and hosts: ban `user_id`, for `duration_s` (a timeout) or for good.
    Ban {
        /// The user to ban.
        user_id: String,
        /// Timeout length, 1..=[`MAX_BAN_DURATION_S`]; `None` is permanent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_s: Option<u64>,
    },
    /// Moderators and hosts: lift a ban or timeout.
    Unban {
        /// The user.
        user_id: String,
    },
    /// Moderators and hosts: set slow mode, 0..=[`MAX_SLOW_MODE_S`] seconds; 0 turns it off.
    SlowMode {
        /// Seconds between a viewer's messages.
        interval_s: u32,
    },
    /// Keepalive; answered by `pong`.
    Ping {},
}

impl ClientFrame {
    /// The `"type"` of this frame.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Chat { .. } => "chat",
            Self::Like { .. } => "like",
            Self::Gift { .. } => "gift",
            Self::Resume { .. } => "resume",
            Self::Delete { .. } => "delete",
            Self::Ban { .. } => "ban",
            Self::Unban { .. } => "unban",
            Self::SlowMode { .. } => "slow_mode",
            Self::Ping {} => "ping",
        }
    }

    /// Whether only hosts and moderators may send this frame.
    pub fn is_moderation(&self) -> bool {
        matches!(
            self,
            Self::Delete { .. } | Self::Ban { .. } | Self::Unban { .. } | Self::SlowMode { .. }
        )
    }

    /// Checks and normalizes a parsed frame: trims chat text, fills default counts, bounds ids
    /// and numbers. [`decode_client`] calls it; the home relay calls it again on forwarded frames.
    pub fn validate(self, limits: &Limits) -> Result<Self, DecodeError> {
        match self {
            Self::Chat { text, client_id } => {
                let text = validate_text(&text, limits)?;
                check_opt_id("client_id", client_id.as_deref())?;
                Ok(Self::Chat { text, client_id })
            }
            Self::Like { count } => match count.unwrap_or(1) {
                0 => Err(DecodeError::OutOfRange("count")),
                n => Ok(Self::Like {
                    count: Some(n.min(MAX_LIKES_PER_FRAME)),
                }),
            },
            Self::Gift {
                gift_id,
                count,
                idempotency_key,
            } => {
                check_id("gift_id", &gift_id)?;
                check_id("idempotency_key", &idempotency_key)?;
                let count = count.unwrap_or(1);
                if !(1..=MAX_GIFT_COUNT).contains(&count) {
                    return Err(DecodeError::OutOfRange("count"));
                }
                Ok(Self::Gift {
                    gift_id,
                    count: Some(count),
                    idempotency_key,
                })
            }
            Self::Delete { seq: 0 } => Err(DecodeError::OutOfRange("seq")),
            Self::Ban {
                user_id,
                duration_s,
            } => {
                check_id("user_id", &user_id)?;
                if duration_s.is_some_and(|d| !(1..=MAX_BAN_DURATION_S).contains(&d)) {
                    return Err(DecodeError::OutOfRange("duration_s"));
                }
                Ok(Self::Ban {
                    user_id,
                    duration_s,
                })
            }
            Self::Unban { user_id } => {
                check_id("user_id", &user_id).map(|()| Self::Unban { user_id })
            }
            Self::SlowMode { interval_s } if interval_s > MAX_SLOW_MODE_S => {
                Err(DecodeError::OutOfRange("interval_s"))
            }
            other => Ok(other),
        }
    }
}

/// Why a client frame was refused. Each variant maps to an [`ErrorCode`] ([`DecodeError::code`])
/// and a metric label ([`DecodeError::reason`]). The connection stays open: the relay answers
/// with an `error` frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Larger than [`Limits::max_frame_bytes`]; refused before parsing.
    #[error("frame of {len} bytes exceeds {max}")]
    TooLarge {
        /// Frame length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not UTF-8.
    #[error("frame is not utf-8")]
    InvalidUtf8,
    /// Not JSON.
    #[error("frame is not json")]
    InvalidJson,
    /// JSON, but not an object with a string `"type"`.
    #[error("frame is not an object with a string type")]
    MissingType,
    /// A `"type"` that is not a client frame kind (truncated to 32 characters).
    #[error("unknown frame type {0:?}")]
    UnknownKind(String),
    /// A field this kind does not have (truncated to 32 characters).
    #[error("{kind}: unknown field {field:?}")]
    UnknownField {
        /// The frame kind.
        kind: &'static str,
        /// The field.
        field: String,
    },
    /// A known field with the wrong JSON type, a missing required field, or a duplicate.
    #[error("{kind}: {detail}")]
    InvalidField {
        /// The frame kind.
        kind: &'static str,
        /// The JSON parser's description.
        detail: String,
    },
    /// Chat text that is empty after trimming.
    #[error("empty text")]
    EmptyText,
    /// Chat text longer than [`Limits::max_text_chars`] after trimming.
    #[error("text of {chars} characters exceeds {max}")]
    TextTooLong {
        /// Its length in characters.
        chars: usize,
        /// The limit.
        max: usize,
    },
    /// Chat text with a control character other than newline.
    #[error("control character in text")]
    ControlCharacter,
    /// An id that is empty, longer than [`MAX_ID_LEN`], or has whitespace or control characters.
    #[error("invalid {0}")]
    InvalidId(&'static str),
    /// A number outside its field's range.
    #[error("{0} out of range")]
    OutOfRange(&'static str),
}

impl DecodeError {
    /// The error code sent to the client.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::TooLarge { .. } | Self::TextTooLong { .. } => ErrorCode::TooLarge,
            Self::UnknownKind(_) => ErrorCode::UnknownKind,
            _ => ErrorCode::BadFrame,
        }
    }

    /// A closed snake_case label for `livecdn_chat_rejected_total{reason}`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "too_large",
            Self::InvalidUtf8 => "invalid_utf8",
            Self::InvalidJson => "invalid_json",
            Self::MissingType => "missing_type",
            Self::UnknownKind(_) => "unknown_kind",
            Self::UnknownField { .. } => "unknown_field",
            Self::InvalidField { .. } => "invalid_field",
            Self::EmptyText => "empty_text",
            Self::TextTooLong { .. } => "text_too_long",
            Self::ControlCharacter => "control_character",
            Self::InvalidId(_) => "invalid_id",
            Self::OutOfRange(_) => "out_of_range",
        }
    }
}

/// Decodes and validates one client WebSocket text message.
///
/// The size is checked before anything else; then UTF-8, JSON, kind and fields, each with its
/// own [`DecodeError`] variant; then [`ClientFrame::validate`].
pub fn decode_client(bytes: &[u8], limits: &Limits) -> Result<ClientFrame, DecodeError> {
    if bytes.len() > limits.max_frame_bytes {
        return Err(DecodeError::TooLarge {
            len: bytes.len(),
            max: limits.max_frame_bytes,
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8)?;
    match serde_json::from_str::<ClientFrame>(text) {
        Ok(frame) => frame.validate(limits),
        Err(err) => Err(classify(text, &err)),
    }
}

/// Encodes a client frame (for clients, load generators and tests).
pub fn encode_client(frame: &ClientFrame) -> String {
    // Strings and integers only: serialization cannot fail.
    serde_json::to_string(frame).unwrap_or_default()
}

/// The fields each kind may carry. `tests::fields_match_the_enum` keeps it in step with
/// [`ClientFrame`].
const KINDS: &[(&str, &[&str])] = &[
    ("chat", &["text", "client_id"]),
    ("like", &["count"]),
    ("gift", &["gift_id", "count", "idempotency_key"]),
    ("resume", &["after_seq"]),
    ("delete", &["seq"]),
    ("ban", &["user_id", "duration_s"]),
    ("unban", &["user_id"]),
    ("slow_mode", &["interval_s"]),
    ("ping", &[]),
];

/// Serde's error does not say *which* rule broke in a way callers may match, so a failed parse
/// is re-read as a generic value to name the cause. Only failures pay for the second parse.
fn classify(text: &str, err: &serde_json::Error) -> DecodeError {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        return DecodeError::InvalidJson;
    };
    let Some(object) = value.as_object() else {
        return DecodeError::MissingType;
    };
    let Some(kind) = object.get("type").and_then(|t| t.as_str()) else {
        return DecodeError::MissingType;
    };
    let Some((kind, fields)) = KINDS.iter().find(|(k, _)| *k == kind) else {
        return DecodeError::UnknownKind(echo(kind));
    };
    if let Some(field) = object
        .keys()
        .find(|k| *k != "type" && !fields.contains(&k.as_str()))
    {
        return DecodeError::UnknownField {
            kind,
            field: echo(field),
        };
    }
    DecodeError::InvalidField {
        kind,
        detail: err.to_string(),
    }
}

fn validate_text(text: &str, limits: &Limits) -> Result<String, DecodeError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DecodeError::EmptyText);
    }
    let chars = text.chars().count();
    if chars > limits.max_text_chars {
        return Err(DecodeError::TextTooLong {
            chars,
            max: limits.max_text_chars,
        });
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(DecodeError::ControlCharacter);
    }
    Ok(text.to_owned())
}

fn check_id(field: &'static str, id: &str) -> Result<(), DecodeError> {
    let bad = id.is_empty()
        || id.len() > MAX_ID_LEN
        || id.chars().any(|c| c.is_control() || c.is_whitespace());
    if bad {
        Err(DecodeError::InvalidId(field))
    } else {
        Ok(())
    }
}

fn check_opt_id(field: &'static str, id: Option<&str>) -> Result<(), DecodeError> {
    id.map_or(Ok(()), |id| check_id(field, id))
}

fn echo(s: &str) -> String {
    s.chars().take(MAX_ECHO_CHARS).collect()
}

#[cfg(test)]
mod tests;
