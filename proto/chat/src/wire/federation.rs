//! Relay ↔ relay frames (`docs/chat-protocol.md` §9). Transport-independent: each frame is one
//! JSON message on an ordered, reliable, mutually authenticated channel between two relays.

use serde::{Deserialize, Serialize};

use super::{ChatEvent, ClientFrame, ServerFrame};
use crate::token::ChatClaims;

/// The federation protocol version carried in `hello`. A relay MUST close the channel on a
/// different major.
pub const FEDERATION_VERSION: u32 = 1;
/// Largest federation frame, in bytes: a `subscribed` carries up to a history ring of events.
pub const MAX_FEDERATION_FRAME_BYTES: usize = 1024 * 1024;

/// A frame between two relays. The *edge relay* holds clients of a room; the *home relay*
/// sequences the room. A relay can be both, for different rooms, on one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum FederationFrame {
    /// Both directions, first frame on a channel.
    Hello {
        /// The sender's node id.
        relay_id: String,
        /// [`FEDERATION_VERSION`].
        version: u32,
    },
    /// Edge → home: start (or restart, after a reconnect or a gap) receiving a room.
    Subscribe {
        /// The room.
        room: String,
        /// The last `seq` the edge relay holds; `None` for a fresh mirror.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after_seq: Option<u64>,
    },
    /// Edge → home: the edge relay has no clients left in the room.
    Unsubscribe {
        /// The room.
        room: String,
    },
    /// Edge → home: a client's frame, with the claims its token carried.
    Forward {
        /// Edge-chosen id, unique on this channel, that the `reply` carries back.
        forward_id: u64,
        /// The edge relay's node id.
        origin_relay: String,
        /// The room.
        room: String,
        /// The sender, as verified by the edge relay.
        claims: ChatClaims,
        /// The client's validated frame (`chat`, `gift` or a moderation frame).
        frame: ClientFrame,
    },
    /// Edge → home: likes from the edge relay's clients since its previous delta.
    LikesDelta {
        /// The room.
        room: String,
        /// How many.
        delta: u64,
    },
    /// Edge → home: how many clients the edge relay holds in the room.
    ViewerCount {
        /// The room.
        room: String,
        /// Its clients in the room.
        count: u64,
    },
    /// Home → edge: answer to `subscribe`, before any `sequenced` of the room.
    Subscribed {
        /// The room.
        room: String,
        /// The room's latest `seq`.
        last_seq: u64,
        /// With `resumed`, exactly the events after `after_seq`; otherwise the home's whole
        /// history, which replaces the mirror's.
        events: Vec<ChatEvent>,
        /// Whether `events` continues the mirror without loss.
        resumed: bool,
    },
    /// Home → edge: a new event of the room, in `seq` order.
    Sequenced {
        /// The room.
        room: String,
        /// The event.
        event: ChatEvent,
    },
    /// Home → edge: coalesced like total.
    LikesTotal {
        /// The room.
        room: String,
        /// The room's total.
        total: u64,
        /// Likes since the previous `likes_total`.
        delta: u64,
    },
    /// Home → edge: viewers across all relays.
    Viewers {
        /// The room.
        room: String,
        /// The count.
        count: u64,
    },
    /// Home → edge: the `ack` or `error` for a `forward`, sent on to the client unchanged.
    /// Every `forward` gets exactly one `reply`.
    Reply {
        /// The `forward_id` answered.
        forward_id: u64,
        /// An `ack` or `error` frame; absent when the frame has no direct answer (a moderation
        /// action that succeeded: its sequenced `system` event is the answer).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        frame: Option<ServerFrame>,
    },
    /// Home → edge: this relay is not (or no longer) the room's home. The edge relay asks the
    /// control plane again and re-subscribes there; its mirror and clients stay.
    NotHome {
        /// The room.
        room: String,
    },
}

/// A federation frame that does not decode. The channel is closed: a peer relay sending junk is
/// a bug, not hostile input to tolerate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FederationError {
    /// Larger than [`MAX_FEDERATION_FRAME_BYTES`].
    #[error("federation frame of {0} bytes exceeds {MAX_FEDERATION_FRAME_BYTES}")]
    TooLarge(usize),
    /// Not a valid frame.
    #[error("invalid federation frame: {0}")]
    Invalid(String),
}

/// Decodes one federation frame. Forwarded client frames still need
/// [`ClientFrame::validate`] on the home relay.
pub fn decode_federation(bytes: &[u8]) -> Result<FederationFrame, FederationError> {
    if bytes.len() > MAX_FEDERATION_FRAME_BYTES {
        return Err(FederationError::TooLarge(bytes.len()));
    }
    serde_json::from_slice(bytes).map_err(|e| FederationError::Invalid(e.to_string()))
}

/// Encodes one federation frame.
pub fn encode_federation(frame: &FederationFrame) -> Vec<u8> {
    // Strings, integers, bools and lists only: serialization cannot fail.
    serde_json::to_vec(frame).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::ChatRole;

    #[test]
    fn forward_round_trip_and_example() {
        let frame = FederationFrame::Forward {
            forward_id: 17,
            origin_relay: "relay-eu-1".into(),
            room: "demo".into(),
            claims: ChatClaims {
                user_id: "u1".into(),
                name: "Ada".into(),
                role: ChatRole::Viewer,
                room: Some("demo".into()),
                exp: 1_800_000_000,
            },
            frame: ClientFrame::Chat {
                text: "hi".into(),
                client_id: Some("c1".into()),
            },
        };
        let bytes = encode_federation(&frame);
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            r#"{"type":"forward","forward_id":17,"origin_relay":"relay-eu-1","room":"demo","claims":{"user_id":"u1","name":"Ada","role":"viewer","room":"demo","exp":1800000000},"frame":{"type":"chat","text":"hi","client_id":"c1"}}"#
        );
        assert_eq!(decode_federation(&bytes), Ok(frame));
    }

    #[test]
    fn reply_frame_is_optional() {
        let bare = br#"{"type":"reply","forward_id":3}"#;
        let frame = decode_federation(bare).unwrap();
        assert_eq!(
            frame,
            FederationFrame::Reply {
                forward_id: 3,
                frame: None
            }
        );
        assert_eq!(encode_federation(&frame), bare.to_vec());
    }

    #[test]
    fn junk_and_size() {
        assert!(matches!(
            decode_federation(b"{}"),
            Err(FederationError::Invalid(_))
        ));
        let big = vec![b' '; MAX_FEDERATION_FRAME_BYTES + 1];
        assert!(matches!(
            decode_federation(&big),
            Err(FederationError::TooLarge(_))
        ));
        let unknown = br#"{"type":"not_home","room":"r","x":1}"#;
        assert!(decode_federation(unknown).is_err());
    }
}
