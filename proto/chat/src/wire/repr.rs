//! The flat wire shape of [`ChatEvent`]: serde cannot combine `flatten` with
//! `deny_unknown_fields`, so the fields are spelled out per kind and converted by hand.

use serde::{Deserialize, Serialize};

use super::{ChatEvent, ChatMessage, EventKind, GiftEvent, SystemEvent};

#[derive(Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub(super) enum EventRepr {
    Chat {
        seq: u64,
        at_ms: i64,
        user_id: String,
        name: String,
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
    },
    Gift {
        seq: u64,
        at_ms: i64,
        user_id: String,
        name: String,
        gift_id: String,
        count: u32,
        value: i64,
        idempotency_key: String,
    },
    System {
        seq: u64,
        at_ms: i64,
        system: SystemEvent,
    },
}

impl From<EventRepr> for ChatEvent {
    fn from(repr: EventRepr) -> Self {
        match repr {
            EventRepr::Chat {
                seq,
                at_ms,
                user_id,
                name,
                text,
                client_id,
            } => Self {
                seq,
                at_ms,
                kind: EventKind::Chat(ChatMessage {
                    user_id,
                    name,
                    text,
                    client_id,
                }),
            },
            EventRepr::Gift {
                seq,
                at_ms,
                user_id,
                name,
                gift_id,
                count,
                value,
                idempotency_key,
            } => {
                let gift = GiftEvent {
                    user_id,
                    name,
                    gift_id,
                    count,
                    value,
                    idempotency_key,
                };
                Self {
                    seq,
                    at_ms,
                    kind: EventKind::Gift(gift),
                }
            }
            EventRepr::System { seq, at_ms, system } => Self {
                seq,
                at_ms,
                kind: EventKind::System(system),
            },
        }
    }
}

impl From<ChatEvent> for EventRepr {
    fn from(event: ChatEvent) -> Self {
        let ChatEvent { seq, at_ms, kind } = event;
        match kind {
            EventKind::Chat(ChatMessage {
                user_id,
                name,
                text,
                client_id,
            }) => Self::Chat {
                seq,
                at_ms,
                user_id,
                name,
                text,
                client_id,
            },
            EventKind::Gift(g) => Self::Gift {
                seq,
                at_ms,
                user_id: g.user_id,
                name: g.name,
                gift_id: g.gift_id,
                count: g.count,
                value: g.value,
                idempotency_key: g.idempotency_key,
            },
            EventKind::System(system) => Self::System { seq, at_ms, system },
        }
    }
}
