//! One subscription on the subscriber side: the local window, the reorder buffer, and the
//! mapping from upstream to local numbering (`docs/relay-wire.md` §7).

use std::collections::BTreeMap;
use std::time::Instant;

use bytes::Bytes;
use hls::PartPosition;

use super::{GapReason, SubscriberOutput, SubscriptionHandle};
use crate::error::ProtocolError;
use crate::frame::{PartFrame, ResumePoint, WindowSnapshot};
use crate::limits::{MAX_PENDING_INITS, MAX_REORDER_PARTS};
use crate::window::RelayWindow;

/// Collects the outputs of one subscription.
pub(super) struct Outbox<'a> {
    pub(super) handle: SubscriptionHandle,
    pub(super) out: &'a mut std::collections::VecDeque<SubscriberOutput>,
}

impl Outbox<'_> {
    fn push(&mut self, output: SubscriberOutput) {
        self.out.push_back(output);
    }
}

/// The local window of one subscription and everything needed to feed it strictly in order.
///
/// **Invariant:** local msn never goes backwards. Upstream positions map to local ones by a
/// fixed msn offset that changes only at a discontinuity (a gap, or a resume after the upstream
/// moved on), where the next upstream segment becomes the local window's next segment.
#[derive(Debug, Default)]
pub(super) struct Replica {
    pub(super) window: Option<RelayWindow>,
    /// `(upstream msn, local msn)` of one segment; others follow by difference.
    msn_base: (u64, u64),
    /// The next delivered part starts a segment and re-bases `msn_base`.
    rebase: bool,
    /// Local generation = upstream generation + this.
    generation_offset: u32,
    /// Next upstream part to deliver; `None` while skipping to the next segment start.
    expected: Option<PartPosition>,
    /// Last delivered part, upstream numbering.
    pub(super) last: Option<ResumePoint>,
    reorder: BTreeMap<PartPosition, PartFrame>,
    inits: BTreeMap<u32, Bytes>,
    discontinuity_after: Option<PartPosition>,
    end_after: Option<Option<PartPosition>>,
    pub(super) stalled_since: Option<Instant>,
}

impl Replica {
    /// Applies a `SubscribeOk`: a new window, a continuation, or a restart at a segment start.
    pub(super) fn start(
        &mut self,
        snapshot: WindowSnapshot,
        out: &mut Outbox<'_>,
    ) -> Result<(), ProtocolError> {
        let first = snapshot.first_part;
        let Some(window) = self.window.as_mut() else {
            if first.index != 0 || first.msn != snapshot.start.msn || snapshot.continues {
                return Err(ProtocolError::InvalidSnapshot);
            }
            let window = RelayWindow::starting_at(snapshot.config, snapshot.start)
                .map_err(|_| ProtocolError::InvalidSnapshot)?;
            self.window = Some(window);
            self.msn_base = (first.msn, first.msn);
            self.expected = Some(first);
            return Ok(());
        };
        if snapshot.continues && self.last.is_some_and(|l| first > l.position) {
            self.expected = Some(first);
            return Ok(());
        }
        if first.index != 0 {
            return Err(ProtocolError::InvalidSnapshot);
        }
        // The upstream moved on (or restarted): continue the same local window after a
        // discontinuity, with a fresh init generation.
        let _ = window.handle_discontinuity();
        if let (Some(local), Some(upstream)) =
            (window.window().current_generation(), snapshot.generation)
        {
            self.generation_offset = local
                .checked_add(1)
                .and_then(|next| next.checked_sub(upstream))
                .unwrap_or(self.generation_offset);
        }
        self.rebase = true;
        self.expected = Some(first);
        // A restarted upstream numbers from 0 again: parts before our last one are not stale
        // any more (the next delivered part re-bases the local numbering).
        self.last = None;
        self.reorder.clear();
        self.drain_window(out);
        out.push(SubscriberOutput::Gap {
            subscription: out.handle,
            reason: GapReason::UpstreamMovedOn,
        });
        Ok(())
    }

    /// Forgets everything tied to the lost connection; keeps the window and resume point.
    pub(super) fn disconnect(&mut self) {
        self.reorder.clear();
        self.inits.clear();
        self.discontinuity_after = None;
        self.end_after = None;
        self.stalled_since = None;
    }

    pub(super) fn handle_part(&mut self, part: PartFrame, now: Instant, out: &mut Outbox<'_>) {
        let position = part.position;
        let stale = self.last.is_some_and(|l| position <= l.position)
            || self.expected.is_some_and(|e| position < e)
            || self.expected.is_none() && position.index != 0;
        if stale || self.is_ended() {
            return;
        }
        self.reorder.entry(position).or_insert(part);
        if self.reorder.len() > MAX_REORDER_PARTS {
            self.gap(GapReason::ReorderBufferFull, out);
        }
        self.pump(now, out);
    }

    pub(super) fn handle_init(
        &mut self,
        generation: u32,
        data: Bytes,
        now: Instant,
        out: &mut Outbox<'_>,
    ) {
        let applied = self
            .window
            .as_ref()
            .and_then(|w| w.window().current_generation());
        let local = generation.checked_add(self.generation_offset);
        if applied.is_some_and(|a| local.is_none_or(|l| l <= a)) {
            return; // already in the window (a snapshot repeats the current init)
        }
        self.inits.insert(generation, data);
        while self.inits.len() > MAX_PENDING_INITS {
            self.inits.pop_first();
        }
        self.pump(now, out);
    }

    pub(super) fn handle_discontinuity(
        &mut self,
        last: Option<PartPosition>,
        now: Instant,
        out: &mut Outbox<'_>,
    ) {
        // Only a discontinuity right after the last delivered part applies now; one behind it
        // was already covered by a gap (or by the snapshot).
        match last {
            Some(mark) if !self.is_behind(mark) => self.discontinuity_after = Some(mark),
            Some(mark) if self.last.is_some_and(|l| l.position == mark) => {
                self.apply_discontinuity(out);
            }
            _ => {}
        }
        self.pump(now, out);
    }

    pub(super) fn handle_end(
        &mut self,
        last: Option<PartPosition>,
        now: Instant,
        out: &mut Outbox<'_>,
    ) {
        self.end_after = Some(last);
        self.pump(now, out);
    }

    /// The reorder timeout expired: whatever we wait for is not coming.
    pub(super) fn handle_timeout(&mut self, now: Instant, out: &mut Outbox<'_>) {
        self.gap(GapReason::Timeout, out);
        self.pump(now, out);
    }

    /// Whether part `mark` was delivered or skipped.
    fn is_behind(&self, mark: PartPosition) -> bool {
        self.expected.is_some_and(|e| e > mark) || self.last.is_some_and(|l| l.position >= mark)
    }

    pub(super) fn is_ended(&self) -> bool {
        self.window.as_ref().is_some_and(|w| w.window().is_ended())
    }

    /// Delivers every part that is next, applies end and discontinuity markers that are due,
    /// and (re)arms the stall timer.
    fn pump(&mut self, now: Instant, out: &mut Outbox<'_>) {
        let mut blocked_on_init = false;
        loop {
            if self.is_ended() {
                self.reorder.clear();
                self.stalled_since = None;
                return;
            }
            if let Some(end) = self.end_after
                && end.is_none_or(|mark| self.is_behind(mark))
            {
                self.end(out);
                continue;
            }
            if let Some(mark) = self.discontinuity_after.filter(|&m| self.is_behind(m)) {
                self.discontinuity_after = None;
                if self.last.is_some_and(|l| l.position == mark) {
                    self.apply_discontinuity(out);
                }
            }
            let Some((&position, part)) = self.reorder.first_key_value() else {
                break;
            };
            let next = match self.expected {
                Some(expected) => position == expected,
                None => position.index == 0 && part.meta.independent,
            };
            if !next {
                break;
            }
            match self.deliver(position, out) {
                Delivery::Done => {}
                Delivery::Blocked => {
                    blocked_on_init = true;
                    break;
                }
                Delivery::Refused => self.gap(GapReason::Refused, out),
            }
        }
        // Waiting for an init is not a stall: init streams are never cancelled.
        let waiting = !blocked_on_init && !self.reorder.is_empty()
            || self.discontinuity_after.is_some()
            || self.end_after.is_some();
        self.stalled_since = if waiting {
            self.stalled_since.or(Some(now))
        } else {
            None
        };
    }

    fn deliver(&mut self, position: PartPosition, out: &mut Outbox<'_>) -> Delivery {
        let (Some(window), Some(part)) = (self.window.as_mut(), self.reorder.remove(&position))
        else {
            return Delivery::Refused;
        };
        // From here on a refused part is consumed, so a gap never picks it again.
        let Some(generation) = part.meta.generation.checked_add(self.generation_offset) else {
            return Delivery::Refused;
        };
        match window.window().current_generation() {
            Some(current) if current == generation => {}
            Some(current) if current > generation => return Delivery::Refused,
            _ => {
                let Some(data) = self.inits.remove(&part.meta.generation) else {
                    self.reorder.insert(position, part);
                    return Delivery::Blocked;
                };
                if window.handle_init(generation, data).is_err() {
                    return Delivery::Refused;
                }
            }
        }
        if position.index == 0 && part.meta.discontinuity_before {
            let _ = window.handle_discontinuity();
        }
        let local = if self.rebase {
            let Some(next) = window.window().next_part().filter(|_| position.index == 0) else {
                return Delivery::Refused;
            };
            self.msn_base = (position.msn, next.msn);
            self.rebase = false;
            next
        } else {
            let Some(msn) = position
                .msn
                .checked_sub(self.msn_base.0)
                .and_then(|d| d.checked_add(self.msn_base.1))
            else {
                return Delivery::Refused;
            };
            PartPosition {
                msn,
                index: position.index,
            }
        };
        if window.handle_part_at(local, part.meta, part.data).is_err() {
            self.drain_window(out);
            return Delivery::Refused;
        }
        self.last = Some(ResumePoint {
            position,
            generation: part.meta.generation,
        });
        self.expected = Some(successor(position, part.meta.ends_segment));
        self.stalled_since = None;
        self.drain_window(out);
        Delivery::Done
    }

    /// A part will never come: close the local segment, mark a discontinuity, and go on from
    /// the first buffered segment start (or the next one to arrive).
    fn gap(&mut self, reason: GapReason, out: &mut Outbox<'_>) {
        if let Some(window) = self.window.as_mut() {
            let _ = window.handle_discontinuity();
        }
        self.discontinuity_after = None;
        let after = self.last.map(|l| l.position);
        let restart = self
            .reorder
            .iter()
            .find(|(p, part)| {
                p.index == 0 && part.meta.independent && after.is_none_or(|a| **p > a)
            })
            .map(|(p, _)| *p);
        match restart {
            Some(restart) => self.reorder = self.reorder.split_off(&restart),
            None => self.reorder.clear(),
        }
        self.expected = restart;
        self.rebase = true;
        self.stalled_since = None;
        self.drain_window(out);
        out.push(SubscriberOutput::Gap {
            subscription: out.handle,
            reason,
        });
        if restart.is_none() && self.end_after.is_some() {
            self.end(out);
        }
    }

    fn apply_discontinuity(&mut self, out: &mut Outbox<'_>) {
        if let Some(window) = self.window.as_mut() {
            let _ = window.handle_discontinuity();
        }
        self.expected = self.expected.map(|e| match e.index {
            0 => e,
            _ => PartPosition {
                msn: e.msn.saturating_add(1),
                index: 0,
            },
        });
        self.drain_window(out);
    }

    fn end(&mut self, out: &mut Outbox<'_>) {
        self.end_after = None;
        if let Some(window) = self.window.as_mut() {
            window.handle_end();
        }
        self.drain_window(out);
    }

    fn drain_window(&mut self, out: &mut Outbox<'_>) {
        let Some(window) = self.window.as_mut() else {
            return;
        };
        while let Some(event) = window.poll_output() {
            out.push(SubscriberOutput::WindowChanged {
                subscription: out.handle,
                event,
            });
        }
    }
}

enum Delivery {
    Done,
    /// Its init has not arrived yet.
    Blocked,
    /// The window (or the numbering) refused it: a gap.
    Refused,
}

fn successor(position: PartPosition, ends_segment: bool) -> PartPosition {
    if ends_segment {
        PartPosition {
            msn: position.msn.saturating_add(1),
            index: 0,
        }
    } else {
        PartPosition {
            msn: position.msn,
            index: position.index.saturating_add(1),
        }
    }
}
