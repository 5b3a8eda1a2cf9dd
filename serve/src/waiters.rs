//! Targeted wake-ups for held requests: a request waits for the part or segment that can
//! satisfy it, and a window change wakes only the requests it may satisfy. With 10 000 players
//! held on the next part, each part wakes the ones waiting for it, not everyone on every change.
//!
//! Written here rather than taken from a crate: it is a small map of `tokio::sync::Notify` keyed
//! by LL-HLS positions, and its wake rules are the blocking-reload rules of `hls`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use hls::{MediaObject, PartPosition, PlaylistQuery, WindowEvent};
use relay_wire::RelayEvent;
use tokio::sync::Notify;

/// What a held request waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WakeKey {
    /// A part at or after this position (`_HLS_msn`+`_HLS_part`, a held part).
    Part(PartPosition),
    /// A closed segment with this msn or later (`_HLS_msn` alone, a segment being built).
    Segment(u64),
    /// Any change (multivariant attributes, init segments).
    Any,
}

impl WakeKey {
    /// The key of a playlist request.
    pub(crate) fn for_playlist(query: &PlaylistQuery) -> Self {
        match (query.msn, query.part) {
            (Some(msn), Some(index)) => Self::Part(PartPosition { msn, index }),
            (Some(msn), None) => Self::Segment(msn),
            (None, _) => Self::Any,
        }
    }

    /// The key of an object request.
    pub(crate) fn for_object(object: &MediaObject) -> Self {
        match *object {
            MediaObject::Part(position) => Self::Part(position),
            MediaObject::Segment(msn) => Self::Segment(msn),
            MediaObject::Init(_) | MediaObject::Playlist => Self::Any,
        }
    }
}

/// The held requests of one stream, by what they wait for.
#[derive(Debug, Default)]
pub struct Waiters {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    parts: BTreeMap<PartPosition, Arc<Notify>>,
    segments: BTreeMap<u64, Arc<Notify>>,
    any: Arc<Notify>,
}

/// What a batch of window events may have satisfied.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Progress {
    /// The newest part that appeared.
    newest_part: Option<PartPosition>,
    /// The newest segment that closed.
    newest_closed: Option<u64>,
    /// Something that may answer any held request (an end, a discontinuity, an unknown
    /// change): wake them all to re-check.
    everyone: bool,
}

impl Progress {
    /// Reads `events` (an empty batch is an unknown change: everyone re-checks).
    pub(crate) fn of(events: &[RelayEvent]) -> Self {
        let mut progress = Self {
            everyone: events.is_empty(),
            ..Self::default()
        };
        for event in events {
            match event {
                RelayEvent::Window(WindowEvent::PartReady { msn, part }) => {
                    let position = PartPosition {
                        msn: *msn,
                        index: *part,
                    };
                    progress.newest_part = progress.newest_part.max(Some(position));
                }
                RelayEvent::Window(WindowEvent::SegmentClosed { msn }) => {
                    progress.newest_closed = progress.newest_closed.max(Some(*msn));
                }
                // Nothing a held request waits for: it waits for new media only.
                RelayEvent::Window(WindowEvent::Evicted { .. } | WindowEvent::Released { .. }) => {}
                // Ended (ENDLIST answers every playlist), discontinuities (a hinted part will
                // never come: 404), new inits, raised target durations.
                _ => progress.everyone = true,
            }
        }
        progress
    }
}

impl Waiters {
    /// The notification a request waiting for `key` awaits. Create its `notified()` future
    /// *before* checking the window: a wake between the check and the await is not lost.
    pub fn register(&self, key: WakeKey) -> Arc<Notify> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        match key {
            WakeKey::Part(position) => inner.parts.entry(position).or_default().clone(),
            WakeKey::Segment(msn) => inner.segments.entry(msn).or_default().clone(),
            WakeKey::Any => inner.any.clone(),
        }
    }

    /// Wakes the requests `progress` may satisfy (and those waiting for any change).
    pub(crate) fn wake(&self, progress: &Progress) {
        let mut woken: Vec<Arc<Notify>> = Vec::new();
        {
            let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            woken.push(inner.any.clone());
            if progress.everyone {
                woken.extend(std::mem::take(&mut inner.parts).into_values());
                woken.extend(std::mem::take(&mut inner.segments).into_values());
            } else {
                if let Some(newest) = progress.newest_part {
                    // Every key <= newest is satisfied: keep only those after it.
                    let later = inner.parts.split_off(&PartPosition {
                        msn: newest.msn,
                        index: newest.index.saturating_add(1),
                    });
                    woken.extend(std::mem::replace(&mut inner.parts, later).into_values());
                }
                if let Some(closed) = progress.newest_closed {
                    let later = inner.segments.split_off(&closed.saturating_add(1));
                    woken.extend(std::mem::replace(&mut inner.segments, later).into_values());
                }
            }
        }
        for notify in woken {
            notify.notify_waiters();
        }
    }

    /// Keys held now (parts, segments), for tests.
    #[cfg(test)]
    fn len(&self) -> (usize, usize) {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        (inner.parts.len(), inner.segments.len())
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll};

    use super::*;

    fn part(msn: u64, index: u64) -> PartPosition {
        PartPosition { msn, index }
    }

    fn ready(events: &[RelayEvent]) -> Progress {
        Progress::of(events)
    }

    fn part_ready(msn: u64, index: u64) -> RelayEvent {
        RelayEvent::Window(WindowEvent::PartReady { msn, part: index })
    }

    /// Whether a `notified()` created before the wake completes.
    fn woken(notify: &Notify, wake: impl FnOnce()) -> bool {
        let mut notified = pin!(notify.notified());
        wake();
        let waker = std::task::Waker::noop();
        matches!(
            notified.as_mut().poll(&mut Context::from_waker(waker)),
            Poll::Ready(())
        )
    }

    #[test]
    fn a_part_wakes_the_requests_it_satisfies_and_no_other() {
        let waiters = Waiters::default();
        let at_3_1 = waiters.register(WakeKey::Part(part(3, 1)));
        let at_3_2 = waiters.register(WakeKey::Part(part(3, 2)));
        let at_4_0 = waiters.register(WakeKey::Part(part(4, 0)));
        let progress = ready(&[part_ready(3, 0), part_ready(3, 1)]);
        let mut notified_3_2 = pin!(at_3_2.notified());
        let mut notified_4_0 = pin!(at_4_0.notified());
        assert!(woken(&at_3_1, || waiters.wake(&progress)));
        let mut context = Context::from_waker(std::task::Waker::noop());
        assert!(notified_3_2.as_mut().poll(&mut context).is_pending());
        assert!(notified_4_0.as_mut().poll(&mut context).is_pending());
        assert_eq!(waiters.len(), (2, 0), "woken keys are dropped");
        // A part index past the segment's last part is satisfied by the next segment's first.
        let at_3_9 = waiters.register(WakeKey::Part(part(3, 9)));
        assert!(woken(&at_3_9, || waiters.wake(&ready(&[part_ready(4, 0)]))));
        assert!(notified_4_0.as_mut().poll(&mut context).is_ready());
    }

    #[test]
    fn segments_wake_on_close_and_everyone_on_an_end_or_an_unknown_change() {
        let waiters = Waiters::default();
        let seg_5 = waiters.register(WakeKey::Segment(5));
        let seg_6 = waiters.register(WakeKey::Segment(6));
        let closed_5 = ready(&[RelayEvent::Window(WindowEvent::SegmentClosed { msn: 5 })]);
        assert!(woken(&seg_5, || waiters.wake(&closed_5)));
        let mut notified_6 = pin!(seg_6.notified());
        let mut context = Context::from_waker(std::task::Waker::noop());
        assert!(notified_6.as_mut().poll(&mut context).is_pending());
        // Parts and evictions do not close segment 6.
        waiters.wake(&ready(&[
            part_ready(6, 0),
            RelayEvent::Window(WindowEvent::Evicted { msn: 0 }),
        ]));
        assert!(notified_6.as_mut().poll(&mut context).is_pending());
        waiters.wake(&ready(&[RelayEvent::Window(WindowEvent::Ended)]));
        assert!(notified_6.as_mut().poll(&mut context).is_ready());

        let far = waiters.register(WakeKey::Part(part(9, 0)));
        assert!(woken(&far, || waiters.wake(&ready(&[]))));
        let disc = waiters.register(WakeKey::Part(part(9, 0)));
        assert!(woken(&disc, || waiters
            .wake(&ready(&[RelayEvent::Discontinuity { last: None }]))));
        assert_eq!(waiters.len(), (0, 0));
    }

    #[test]
    fn requests_waiting_for_any_change_wake_on_every_change() {
        let waiters = Waiters::default();
        let any = waiters.register(WakeKey::Any);
        assert!(woken(&any, || waiters.wake(&ready(&[part_ready(0, 0)]))));
        let any = waiters.register(WakeKey::Any);
        assert!(woken(&any, || waiters.wake(&ready(&[RelayEvent::Window(
            WindowEvent::Released { msn: 0 }
        )]))));
    }

    #[test]
    fn keys_follow_the_blocking_rules() {
        let query = |q: &str| WakeKey::for_playlist(&PlaylistQuery::parse(q).unwrap());
        assert_eq!(query("_HLS_msn=7&_HLS_part=2"), WakeKey::Part(part(7, 2)));
        assert_eq!(query("_HLS_msn=7"), WakeKey::Segment(7));
        assert_eq!(query(""), WakeKey::Any);
        assert_eq!(
            WakeKey::for_object(&MediaObject::Segment(4)),
            WakeKey::Segment(4)
        );
        assert_eq!(WakeKey::for_object(&MediaObject::Init(1)), WakeKey::Any);
    }
}
