//! The home room's side of federation (`docs/chat-protocol.md` §9.3): answering a link's
//! `subscribe` and publishing the room's frames to every link, encoded once.

use std::time::Instant;

use axum::extract::ws::Utf8Bytes;
use chat_proto::{ChatEvent, FederationFrame, Resume};
use tokio::sync::oneshot;

use super::HomeRoom;
use crate::federation::serve::encode;
use crate::room::{Fanout, Subscription};

/// Events in one `subscribed` that continues a mirror (`resumed: true`); the rest of the
/// catch-up follows as `sequenced` frames, so every frame stays far below the 1 MiB
/// federation limit (one event is at most a few KiB).
const SUBSCRIBED_EVENTS: usize = 128;
/// Bytes of events in a `subscribed` that replaces a mirror (`resumed: false`): the newest
/// events of the ring that fit, in one frame, so the mirror is current the moment it has a
/// base (welcomes it held are answered then).
const FRESH_BUDGET: usize = 512 * 1024;

impl HomeRoom {
    /// A link subscribes: its catch-up (exact after `after_seq` when the ring covers it,
    /// else the whole ring with `resumed: false`) and a receiver that starts right after it.
    pub(super) fn subscribe_link(
        &mut self,
        link: u64,
        after_seq: Option<u64>,
        reply: oneshot::Sender<Subscription>,
    ) {
        self.links.entry(link).or_insert(0);
        let (mut events, resumed) = match self.sequencer.subscribe(after_seq) {
            Resume::Missed(events) => (events, true),
            Resume::TooOld { history } => (newest_within(history, FRESH_BUDGET), false),
        };
        // The catch-up ends at the durable seq; later events follow as `sequenced` once the
        // log has written them (on the broadcast this link subscribes to below).
        let durable = *self.durable.borrow();
        events.retain(|event| event.seq <= durable);
        let rest = if resumed && events.len() > SUBSCRIBED_EVENTS {
            events.split_off(SUBSCRIBED_EVENTS)
        } else {
            Vec::new()
        };
        // A split catch-up: the `subscribed` ends at its own last event, the mirror applies
        // the `sequenced` rest in order like live events.
        let last_seq = match rest.is_empty() {
            true => durable.min(self.sequencer.last_seq()),
            false => events.last().map_or(0, |e| e.seq),
        };
        let room = self.name.clone();
        let subscribed = FederationFrame::Subscribed {
            room: room.clone(),
            last_seq,
            events,
            resumed,
        };
        let mut first = vec![encode(&subscribed)];
        first.extend(rest.into_iter().map(|event| {
            let room = room.clone();
            encode(&FederationFrame::Sequenced { room, event })
        }));
        let events = self.federation.subscribe();
        let _ = reply.send(Subscription::Home { first, events });
    }

    /// Sends `frame` to every subscribed link (encoded once, only if there is a link).
    pub(super) fn federate(&self, frame: &FederationFrame) {
        if self.federation.receiver_count() > 0 {
            let _ = self.federation.send(encode(frame));
        }
    }

    /// After a promotion from mirror: every session asks for a new `welcome` from its last
    /// seq, answered from the history restored from the database.
    pub(crate) fn resync_sessions(&self, now: Instant) {
        self.events.send(Fanout {
            text: Utf8Bytes::from_static(""),
            seq: None,
            at: now,
            resync: true,
        });
    }
}

/// The newest events of `history` (oldest first) whose JSON fits in `budget` bytes.
fn newest_within(mut history: Vec<ChatEvent>, budget: usize) -> Vec<ChatEvent> {
    let mut used = 0;
    let mut keep = 0;
    for event in history.iter().rev() {
        used += serde_json::to_vec(event).map_or(0, |bytes| bytes.len());
        if used > budget {
            break;
        }
        keep += 1;
    }
    history.split_off(history.len() - keep)
}
