use std::time::Duration;

use bytes::Bytes;
use hls::{PartInput, PartPosition, WindowConfig};

use super::*;
use crate::frame::ResumePoint;

fn origin() -> RelayWindow {
    let mut w = RelayWindow::new(WindowConfig::default()).expect("config");
    w.handle_init(0, Bytes::from_static(b"init0"))
        .expect("init");
    w
}

fn parts(w: &mut RelayWindow, n: usize) {
    for _ in 0..n {
        let next = w.window().next_part().expect("live");
        w.handle_part(
            PartInput {
                data: Bytes::from(format!("{}.{}", next.msn, next.index)),
                duration: Duration::from_millis(200),
                independent: next.index == 0,
                ends_segment: next.index == 4,
                program_date_time_ms: 1000 * next.msn,
            },
            7,
        )
        .expect("part");
    }
}

fn at(msn: u64, index: u64) -> PartPosition {
    PartPosition { msn, index }
}

#[test]
fn fresh_snapshot_backfills_the_listed_window() {
    let mut w = origin();
    parts(&mut w, 42); // segments 0..=7 closed, 8 open with two parts; 0 and 1 evicted
    let answer = w.snapshot(None);
    let first = w.window().media_sequence();
    assert_eq!(answer.snapshot.first_part, at(first, 0));
    assert_eq!(answer.snapshot.start.msn, first);
    assert!(!answer.snapshot.continues);
    assert_eq!(answer.parts.len() as u64, (8 - first) * 5 + 2);
    assert_eq!(answer.inits, vec![(0, Bytes::from_static(b"init0"))]);
    assert!(answer.parts.iter().all(|p| p.meta.origin_time_us == 7));
}

#[test]
fn resume_continues_or_restarts_at_the_open_segment() {
    let mut w = origin();
    parts(&mut w, 12);
    let resume = |position, generation| {
        Some(ResumePoint {
            position,
            generation,
        })
    };
    let answer = w.snapshot(resume(at(1, 4), 0));
    assert!(answer.snapshot.continues);
    assert_eq!(answer.snapshot.first_part, at(2, 0));
    assert_eq!(answer.parts.len(), 2);
    assert!(answer.inits.is_empty());
    // Same position, other generation: not ours; restart at the open segment's part 0.
    let answer = w.snapshot(resume(at(1, 4), 3));
    assert!(!answer.snapshot.continues);
    assert_eq!(answer.snapshot.first_part, at(2, 0));
    assert_eq!(answer.inits.len(), 1);
    // A closed last segment: nothing to backfill, start at the next segment.
    parts(&mut w, 3);
    let answer = w.snapshot(resume(at(99, 0), 0));
    assert_eq!(answer.snapshot.first_part, at(3, 0));
    assert!(answer.parts.is_empty());
}

#[test]
fn early_close_is_replayed_and_discontinuities_are_counted() {
    let mut w = origin();
    parts(&mut w, 7); // segment 1 open with parts 0 and 1
    w.handle_discontinuity().expect("discontinuity");
    let events: Vec<_> = std::iter::from_fn(|| w.poll_output()).collect();
    assert!(events.contains(&RelayEvent::Discontinuity {
        last: Some(at(1, 1))
    }));
    // A repeat says nothing new.
    w.handle_discontinuity().expect("discontinuity");
    assert!(
        std::iter::from_fn(|| w.poll_output())
            .all(|e| !matches!(e, RelayEvent::Discontinuity { .. }))
    );
    parts(&mut w, 1);
    let closed = w.replicated_part(at(1, 1)).expect("part");
    assert!(
        closed.meta.ends_segment,
        "early close replays as ends_segment"
    );
    let next = w.replicated_part(at(2, 0)).expect("part");
    assert!(next.meta.discontinuity_before);
    let answer = w.snapshot(None);
    assert_eq!(answer.snapshot.start.discontinuity_sequence, 0);
    assert!(!answer.snapshot.start.discontinuity);
    // Starting at segment 2 means one discontinuity tag in the first listed segment.
    assert!(w.start_for(2).discontinuity);
    assert_eq!(w.start_for(3).discontinuity_sequence, 1);
}
