use std::time::Duration;

use bytes::Bytes;

use super::*;
use crate::testing::{Feed, START_MS, window, window_with};

fn drain(w: &mut PartWindow) -> Vec<WindowEvent> {
    std::iter::from_fn(|| w.poll_output()).collect()
}

fn part(independent: bool, ends_segment: bool, millis: u64) -> PartInput {
    PartInput {
        data: Bytes::from_static(b"moof+mdat"),
        duration: Duration::from_millis(millis),
        independent,
        ends_segment,
        program_date_time_ms: START_MS,
    }
}

#[test]
fn parts_open_and_close_segments() {
    let mut w = window();
    let mut feed = Feed::default();
    feed.parts(&mut w, 2);
    assert_eq!(
        drain(&mut w),
        [
            WindowEvent::PartReady { msn: 0, part: 0 },
            WindowEvent::PartReady { msn: 0, part: 1 }
        ]
    );
    assert_eq!(w.segment(0), None, "open segments are not served whole");
    assert_eq!(w.segment_len(0), None, "nor measured");
    assert_eq!(w.part(0, 1).as_deref(), Some(&b"[0.1]"[..]));
    feed.parts_ending(&mut w, 1);
    assert_eq!(
        drain(&mut w),
        [
            WindowEvent::PartReady { msn: 0, part: 2 },
            WindowEvent::SegmentClosed { msn: 0 }
        ]
    );
    assert_eq!(w.segment_len(0), Some(15), "measured before it is built");
    assert_eq!(w.segment(0).as_deref(), Some(&b"[0.0][0.1][0.2]"[..]));
    assert_eq!(w.last_part(), Some(PartPosition { msn: 0, index: 2 }));
    assert_eq!(w.next_part(), Some(PartPosition { msn: 1, index: 0 }));
    assert!(w.has_part(0, 2));
    assert!(!w.has_part(0, 3));
}

#[test]
fn eviction_keeps_window_segments_and_retires_bytes() {
    let mut w = window();
    let mut feed = Feed::default();
    feed.segments(&mut w, 7, 5);
    let events = drain(&mut w);
    assert!(events.contains(&WindowEvent::Evicted { msn: 0 }));
    assert_eq!(w.media_sequence(), 1);
    assert_eq!(w.listed().len(), 6);
    assert!(
        w.segment(0).is_some(),
        "evicted segments stay servable for a while"
    );
    // Released after its duration plus the playlist's (1 s + 7 s) of further media.
    feed.segments(&mut w, 8, 5);
    let events = drain(&mut w);
    assert!(events.contains(&WindowEvent::Released { msn: 0 }));
    assert_eq!(w.segment(0), None);
    assert_eq!(w.oldest_served_msn(), Some(1));
}

#[test]
fn eviction_never_leaves_less_than_three_target_durations() {
    let config = WindowConfig {
        window_segments: 3,
        ..Default::default()
    };
    let mut w = window_with(config);
    let mut feed = Feed::default();
    // 0.6 s segments: three of them are 1.8 s < 3 s, so more are kept.
    feed.segments(&mut w, 10, 3);
    let listed: Duration = w.listed().iter().map(|s| s.duration).sum();
    assert!(listed >= Duration::from_secs(3));
    assert!(listed - w.listed()[0].duration < Duration::from_secs(3));
}

#[test]
fn discontinuity_sequence_counts_evicted_discontinuities() {
    let mut w = window();
    let mut feed = Feed::default();
    feed.segments(&mut w, 1, 5);
    w.handle_discontinuity().expect("live");
    feed.segments(&mut w, 1, 5);
    assert!(w.listed()[1].discontinuity);
    feed.segments(&mut w, 5, 5);
    assert_eq!((w.media_sequence(), w.discontinuity_sequence()), (1, 0));
    feed.segments(&mut w, 1, 5);
    assert_eq!((w.media_sequence(), w.discontinuity_sequence()), (2, 1));
}

#[test]
fn discontinuity_closes_the_open_segment() {
    let mut w = window();
    let mut feed = Feed::default();
    feed.parts(&mut w, 2);
    w.handle_discontinuity().expect("live");
    assert_eq!(w.segment(0).as_deref(), Some(&b"[0.0][0.1]"[..]));
    assert_eq!(w.next_part(), Some(PartPosition { msn: 1, index: 0 }));
}

#[test]
fn a_discontinuity_before_any_media_is_not_marked() {
    let mut w = window();
    w.handle_discontinuity().expect("live");
    Feed::default().parts(&mut w, 1);
    assert!(!w.listed()[0].discontinuity);
}

#[test]
fn init_generations() {
    let mut w = window();
    let mut feed = Feed::default();
    assert_eq!(
        w.handle_init(0, Bytes::from_static(b"init0")),
        Ok(()),
        "repeat is a no-op"
    );
    assert_eq!(
        w.handle_init(0, Bytes::from_static(b"other"))
            .map_err(|e| e.reason()),
        Err("generation_reused")
    );
    feed.parts(&mut w, 2);
    w.handle_init(2, Bytes::from_static(b"init2"))
        .expect("newer");
    assert_eq!(
        drain(&mut w).last(),
        Some(&WindowEvent::InitReady { generation: 2 })
    );
    assert_eq!(
        w.handle_init(1, Bytes::from_static(b"init1"))
            .map_err(|e| e.reason()),
        Err("stale_generation")
    );
    feed.segments(&mut w, 1, 5);
    assert_eq!(w.listed()[1].generation, 2);
    assert!(w.listed()[1].discontinuity);
    assert!(w.init(0).is_some(), "segment 0 still uses generation 0");
    feed.segments(&mut w, 30, 5);
    assert_eq!(w.init(0), None, "dropped once no served segment uses it");
    assert_eq!(w.init(2).as_deref(), Some(&b"init2"[..]));
}

#[test]
fn refused_inputs_change_nothing() {
    let mut w = PartWindow::new(WindowConfig::default()).expect("valid");
    assert_eq!(
        w.handle_part(part(true, false, 200))
            .map_err(|e| e.reason()),
        Err("missing_init")
    );
    assert_eq!(
        w.handle_init(0, Bytes::new()).map_err(|e| e.reason()),
        Err("empty_init")
    );
    w.handle_init(0, Bytes::from_static(b"init")).expect("init");
    let cases = [
        (part(false, false, 200), "segment_starts_without_keyframe"),
        (part(true, false, 201), "part_too_long"),
        (part(true, false, 0), "empty_part"),
        (
            PartInput {
                data: Bytes::new(),
                ..part(true, false, 200)
            },
            "empty_part",
        ),
    ];
    for (input, reason) in cases {
        assert_eq!(w.handle_part(input).map_err(|e| e.reason()), Err(reason));
    }
    assert_eq!(w.last_part(), None);
    w.handle_end();
    w.handle_end();
    assert_eq!(
        drain(&mut w),
        [WindowEvent::InitReady { generation: 0 }, WindowEvent::Ended]
    );
    assert_eq!(
        w.handle_part(part(true, false, 200))
            .map_err(|e| e.reason()),
        Err("ended")
    );
    assert_eq!(
        w.handle_discontinuity().map_err(|e| e.reason()),
        Err("ended")
    );
    assert_eq!(w.next_part(), None);
}

#[test]
fn segments_without_keyframes_are_bounded() {
    let mut w = window();
    w.handle_part(part(true, false, 100)).expect("first");
    for _ in 1..MAX_PARTS_PER_SEGMENT {
        w.handle_part(part(false, false, 100))
            .expect("within bound");
    }
    assert_eq!(
        w.handle_part(part(false, false, 100))
            .map_err(|e| e.reason()),
        Err("too_many_parts")
    );
}

#[test]
fn long_segments_raise_the_target_duration() {
    let mut w = window();
    let mut feed = Feed::default();
    feed.segments(&mut w, 1, 8); // 1.6 s rounds to 2
    assert!(drain(&mut w).contains(&WindowEvent::TargetDurationRaised { from: 1, to: 2 }));
    assert_eq!(w.target_duration(), 2);
    feed.segments(&mut w, 10, 5);
    assert_eq!(w.target_duration(), 2, "never lowered");
}

#[test]
fn an_edge_can_start_mid_stream() {
    let start = WindowStart {
        msn: 1234,
        discontinuity_sequence: 7,
        target_duration: Some(2),
        discontinuity: true,
    };
    let mut w = PartWindow::starting_at(WindowConfig::default(), start).expect("valid");
    assert_eq!(
        w.next_part(),
        Some(PartPosition {
            msn: 1234,
            index: 0
        })
    );
    w.handle_init(3, Bytes::from_static(b"init3"))
        .expect("init");
    Feed::default().segments(&mut w, 1, 5);
    assert_eq!((w.media_sequence(), w.discontinuity_sequence()), (1234, 7));
    assert_eq!(w.target_duration(), 2);
    assert!(
        w.listed()[0].discontinuity,
        "mirrors the upstream's first segment"
    );
    assert!(w.segment(1234).is_some());
    assert_eq!(w.segment(1233), None);

    let start = WindowStart {
        msn: u64::MAX,
        ..Default::default()
    };
    let mut w = PartWindow::starting_at(WindowConfig::default(), start).expect("valid");
    w.handle_init(0, Bytes::from_static(b"init")).expect("init");
    assert_eq!(
        w.handle_part(part(true, true, 200)).map_err(|e| e.reason()),
        Err("msn_overflow")
    );
}

#[test]
fn replicated_parts_must_come_in_order() {
    let mut w = window();
    let position = PartPosition { msn: 0, index: 1 };
    assert_eq!(
        w.handle_part_at(position, part(true, false, 200))
            .map_err(|e| e.reason()),
        Err("unexpected_position")
    );
    w.handle_part_at(PartPosition { msn: 0, index: 0 }, part(true, false, 200))
        .expect("next");
    w.handle_part_at(position, part(false, true, 200))
        .expect("next");
    assert_eq!(w.next_part(), Some(PartPosition { msn: 1, index: 0 }));
}
