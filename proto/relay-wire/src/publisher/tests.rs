use std::time::{Duration, Instant};

use bytes::Bytes;
use hls::{PartInput, WindowConfig};

use super::*;
use crate::frame::{FrameDecoder, Subscribe, Version};
use crate::limits::MAX_INFLIGHT_PARTS;

fn hello(major: u64) -> Frame {
    Frame::Hello(Hello {
        version: Version { major, minor: 0 },
        node_id: "edge".into(),
    })
}

fn subscribe(request_id: u64) -> Frame {
    Frame::Subscribe(Subscribe {
        request_id,
        stream: "s".into(),
        rendition: "r".into(),
        resume: None,
    })
}

fn drain(p: &mut RelayPublisher) -> Vec<PublisherOutput> {
    std::iter::from_fn(|| p.poll_output()).collect()
}

fn origin() -> RelayWindow {
    let mut w = RelayWindow::new(WindowConfig::default()).expect("config");
    w.handle_init(0, Bytes::from_static(b"init")).expect("init");
    w
}

fn part(w: &mut RelayWindow) {
    let next = w.window().next_part().expect("live");
    w.handle_part(
        PartInput {
            data: Bytes::from_static(b"part"),
            duration: Duration::from_millis(200),
            independent: next.index == 0,
            ends_segment: next.index == 4,
            program_date_time_ms: 0,
        },
        0,
    )
    .expect("part");
}

/// A publisher with one active subscription to `window`, outputs drained.
fn subscribed(window: &RelayWindow, now: Instant) -> RelayPublisher {
    let mut p = RelayPublisher::new("origin");
    p.handle_control(hello(1), now);
    p.handle_control(subscribe(7), now);
    drain(&mut p);
    p.answer_subscribe(7, Ok(window.snapshot(None)), now);
    p
}

#[test]
fn refuses_frames_before_hello_and_unknown_majors() {
    #[expect(clippy::disallowed_methods, reason = "test epoch")]
    let now = Instant::now();
    let mut p = RelayPublisher::new("origin");
    p.handle_control(subscribe(1), now);
    assert!(matches!(
        drain(&mut p)[..],
        [PublisherOutput::Error(ProtocolError::HelloOutOfOrder)]
    ));

    let mut p = RelayPublisher::new("origin");
    p.handle_control(hello(2), now);
    p.handle_control(subscribe(1), now);
    let out = drain(&mut p);
    assert!(matches!(
        out[0],
        PublisherOutput::SendControl(Frame::Hello(_))
    ));
    assert!(matches!(
        out[1],
        PublisherOutput::Error(ProtocolError::UnsupportedVersion { major: 2, .. })
    ));
    assert!(matches!(
        &out[2],
        PublisherOutput::SendControl(Frame::SubscribeError(e)) if e.code == ErrorCode::Version
    ));
}

#[test]
fn answers_lookups_with_ok_or_error() {
    #[expect(clippy::disallowed_methods, reason = "test epoch")]
    let now = Instant::now();
    let mut p = RelayPublisher::new("origin");
    p.handle_control(hello(1), now);
    p.handle_control(subscribe(3), now);
    let out = drain(&mut p);
    assert!(matches!(
        &out[1],
        PublisherOutput::LookupWindow { request_id: 3, stream, .. } if stream == "s"
    ));
    p.answer_subscribe(3, Err(ErrorCode::UnknownStream), now);
    assert!(matches!(
        &drain(&mut p)[..],
        [PublisherOutput::SendControl(Frame::SubscribeError(e))] if e.code == ErrorCode::UnknownStream
    ));
    // A duplicate pending request id is a protocol error.
    p.handle_control(subscribe(4), now);
    p.handle_control(subscribe(4), now);
    assert!(drain(&mut p).iter().any(|o| matches!(
        o,
        PublisherOutput::Error(ProtocolError::DuplicateRequest(4))
    )));
}

#[test]
fn congestion_keeps_at_most_the_limit_in_flight_and_never_cancels_inits() {
    #[expect(clippy::disallowed_methods, reason = "test epoch")]
    let now = Instant::now();
    let mut window = origin();
    let mut p = subscribed(&window, now);
    let mut inflight = Vec::new();
    let mut inits = Vec::new();
    let mut cancelled = Vec::new();
    for i in 0..20u64 {
        // Parts every 200 ms, none acknowledged: the link is congested.
        let now = now + std::time::Duration::from_millis(200 * i);
        part(&mut window);
        while let Some(event) = window.poll_output() {
            p.handle_window_event("s", "r", &window, &event, now);
        }
        for out in drain(&mut p) {
            match out {
                PublisherOutput::OpenUniStream {
                    token,
                    priority,
                    frame,
                } => match FrameDecoder::decode_data_stream(&frame.to_bytes()) {
                    Ok(Frame::Init(_)) => {
                        assert_eq!(priority, INIT_PRIORITY);
                        inits.push(token);
                    }
                    Ok(Frame::Part(part)) => inflight.push((token, part.position, priority)),
                    other => panic!("unexpected {other:?}"),
                },
                PublisherOutput::CancelUniStream { token } => {
                    cancelled.push(token);
                    inflight.retain(|(t, _, _)| *t != token);
                }
                _ => {}
            }
        }
        assert!(inflight.len() <= MAX_INFLIGHT_PARTS);
    }
    assert_eq!(inits.len(), 1);
    assert_eq!(cancelled.len(), 20 - MAX_INFLIGHT_PARTS);
    assert!(cancelled.iter().all(|t| !inits.contains(t)));
    // Newer segments first; within a segment, earlier parts first.
    let by_priority = |a: &(StreamToken, PartPosition, i32)| a.2;
    let top = inflight.iter().max_by_key(|e| by_priority(e)).map(|e| e.1);
    assert_eq!(top.map(|p| p.index), Some(0));
    assert_eq!(top.map(|p| p.msn), inflight.iter().map(|e| e.1.msn).max());
    // A finished stream frees room without cancelling.
    let (token, _, _) = inflight[0];
    p.handle_stream_finished(token, now);
    part(&mut window);
    while let Some(event) = window.poll_output() {
        p.handle_window_event("s", "r", &window, &event, now);
    }
    assert!(
        drain(&mut p)
            .iter()
            .all(|o| !matches!(o, PublisherOutput::CancelUniStream { .. }))
    );
}

#[test]
fn backfill_waits_for_room_instead_of_cancelling() {
    #[expect(clippy::disallowed_methods, reason = "test epoch")]
    let now = Instant::now();
    let mut window = origin();
    for _ in 0..12 {
        part(&mut window);
    }
    let mut p = subscribed(&window, now);
    let opened = |out: &[PublisherOutput]| {
        out.iter()
            .filter_map(|o| match o {
                PublisherOutput::OpenUniStream {
                    token, priority, ..
                } if *priority != INIT_PRIORITY => Some(*token),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let out = drain(&mut p);
    assert!(matches!(
        out[0],
        PublisherOutput::SendControl(Frame::SubscribeOk(_))
    ));
    let first = opened(&out);
    assert_eq!(first.len(), MAX_INFLIGHT_PARTS);
    for token in first {
        p.handle_stream_finished(token, now);
    }
    assert_eq!(opened(&drain(&mut p)).len(), 12 - MAX_INFLIGHT_PARTS);
}

#[test]
fn unsubscribe_cancels_open_parts() {
    #[expect(clippy::disallowed_methods, reason = "test epoch")]
    let now = Instant::now();
    let mut window = origin();
    for _ in 0..3 {
        part(&mut window);
    }
    let mut p = subscribed(&window, now);
    drain(&mut p);
    assert!(p.is_subscribed("s", "r"));
    p.handle_control(Frame::Unsubscribe { subscription_id: 1 }, now);
    let cancels = drain(&mut p)
        .iter()
        .filter(|o| matches!(o, PublisherOutput::CancelUniStream { .. }))
        .count();
    assert_eq!(cancels, 3);
    assert!(!p.is_subscribed("s", "r"));
}

#[test]
fn a_burst_of_parts_queues_instead_of_cancelling() {
    // A parent edge's backfill arrives all at once: nothing is stuck yet, so nothing may be
    // cancelled (a cancelled part is a gap downstream); the extra parts wait for room.
    #[expect(clippy::disallowed_methods, reason = "test epoch")]
    let now = Instant::now();
    let mut window = origin();
    let mut p = subscribed(&window, now);
    let mut opened = Vec::new();
    for _ in 0..20 {
        part(&mut window);
        while let Some(event) = window.poll_output() {
            p.handle_window_event("s", "r", &window, &event, now);
        }
        for out in drain(&mut p) {
            match out {
                PublisherOutput::CancelUniStream { .. } => panic!("a burst must not cancel"),
                PublisherOutput::OpenUniStream { token, .. } => opened.push(token),
                _ => {}
            }
        }
    }
    assert_eq!(
        opened.len(),
        1 + MAX_INFLIGHT_PARTS,
        "the init and a full window of parts"
    );
    // As streams finish, the queued parts follow.
    let mut next = 0;
    while let Some(&token) = opened.get(next) {
        next += 1;
        p.handle_stream_finished(token, now);
        opened.extend(drain(&mut p).into_iter().filter_map(|out| match out {
            PublisherOutput::OpenUniStream { token, .. } => Some(token),
            _ => None,
        }));
    }
    assert_eq!(opened.len(), 1 + 20, "every part was sent");
}
