//! One subscription on the publisher side: what was queued, what is in flight, and the
//! congestion rule.

use std::collections::VecDeque;
use std::time::Instant;

use hls::PartPosition;

use super::StreamToken;
use crate::frame::{Frame, PartFrame};
use crate::limits::{MAX_INFLIGHT_PARTS, MAX_QUEUED_PARTS, MIN_INFLIGHT_AGE_TO_CANCEL};
use crate::window::ReplicatedPart;

#[derive(Debug)]
pub(super) struct Subscription {
    pub(super) id: u64,
    pub(super) stream: String,
    pub(super) rendition: String,
    /// Parts before this one are older than the subscription's start.
    floor: PartPosition,
    /// Newest part queued or sent: older or equal live parts are duplicates of the backfill.
    pub(super) last_queued: Option<PartPosition>,
    /// Newest init generation sent.
    pub(super) last_init: Option<u32>,
    /// `StreamEnded` was sent; no more parts.
    pub(super) ended: bool,
    /// Open part streams with their priorities, oldest first.
    inflight: VecDeque<(StreamToken, PartPosition, i32, Option<Instant>)>,
    /// Priority base of the newest segments opened, oldest first.
    segment_bases: VecDeque<(u64, i32)>,
    /// Parts waiting for room, oldest first.
    queue: VecDeque<ReplicatedPart>,
}

impl Subscription {
    pub(super) fn new(id: u64, stream: String, rendition: String, floor: PartPosition) -> Self {
        Self {
            id,
            stream,
            rendition,
            floor,
            last_queued: None,
            last_init: None,
            ended: false,
            inflight: VecDeque::new(),
            segment_bases: VecDeque::new(),
            queue: VecDeque::new(),
        }
    }

    /// Whether a live part is new to this subscription.
    pub(super) fn accepts(&self, position: PartPosition) -> bool {
        position >= self.floor && self.last_queued.is_none_or(|last| position > last)
    }

    /// Queues a part, dropping the oldest queued one beyond [`MAX_QUEUED_PARTS`].
    pub(super) fn enqueue(&mut self, part: ReplicatedPart) {
        self.last_queued = Some(part.position);
        self.queue.push_back(part);
        if self.queue.len() > MAX_QUEUED_PARTS {
            self.queue.pop_front();
        }
    }

    /// Congestion rule: a live part with nothing queued before it gets a stream at once; if
    /// [`MAX_INFLIGHT_PARTS`] are open, the one with the lowest priority (the last part of the
    /// oldest segment in flight) is cancelled (returned) to make room.
    pub(super) fn make_room_for_live(&mut self, now: Option<Instant>) -> Option<StreamToken> {
        if self.queue.len() != 1 || self.inflight.len() < MAX_INFLIGHT_PARTS {
            return None;
        }
        // Only a part stuck for a while is congestion; a fresh burst just queues.
        let stuck = |opened: &Option<Instant>| match (opened, now) {
            (Some(opened), Some(now)) => {
                now.saturating_duration_since(*opened) >= MIN_INFLIGHT_AGE_TO_CANCEL
            }
            _ => true,
        };
        let (lowest, _) = self
            .inflight
            .iter()
            .enumerate()
            .filter(|(_, (_, _, _, opened))| stuck(opened))
            .min_by_key(|(_, (_, _, priority, _))| *priority)?;
        self.inflight.remove(lowest).map(|(token, _, _, _)| token)
    }

    /// The priority base of segment `msn`, if one was given.
    pub(super) fn segment_base(&self, msn: u64) -> Option<i32> {
        self.segment_bases
            .iter()
            .find(|(m, _)| *m == msn)
            .map(|(_, base)| *base)
    }

    /// Records the priority base of a newly opened segment.
    pub(super) fn set_segment_base(&mut self, msn: u64, base: i32) {
        self.segment_bases.push_back((msn, base));
        if self.segment_bases.len() > MAX_INFLIGHT_PARTS {
            self.segment_bases.pop_front();
        }
    }

    /// The next queued part, if a stream may be opened for it.
    pub(super) fn next_to_open(&mut self) -> Option<ReplicatedPart> {
        if self.inflight.len() >= MAX_INFLIGHT_PARTS {
            return None;
        }
        self.queue.pop_front()
    }

    pub(super) fn opened(
        &mut self,
        token: StreamToken,
        position: PartPosition,
        priority: i32,
        at: Option<Instant>,
    ) {
        self.inflight.push_back((token, position, priority, at));
    }

    pub(super) fn closed(&mut self, token: StreamToken) {
        self.inflight.retain(|(t, _, _, _)| *t != token);
    }

    /// Unsubscribed: every open part stream to reset, and the queue dropped.
    pub(super) fn cancel_all(&mut self) -> Vec<StreamToken> {
        self.queue.clear();
        self.inflight
            .drain(..)
            .map(|(token, _, _, _)| token)
            .collect()
    }

    pub(super) fn part_frame(&self, part: ReplicatedPart) -> Frame {
        Frame::Part(PartFrame {
            subscription_id: self.id,
            position: part.position,
            meta: part.meta,
            data: part.data,
        })
    }
}
