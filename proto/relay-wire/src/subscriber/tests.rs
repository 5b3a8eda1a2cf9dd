use std::time::{Duration, Instant};

use bytes::Bytes;
use hls::{PartInput, WindowConfig};

use super::*;
use crate::frame::{InitFrame, PartFrame, SubscribeOk, Version};
use crate::limits::MAX_REORDER_PARTS;

struct Fixture {
    origin: RelayWindow,
    sub: RelaySubscriber,
    handle: SubscriptionHandle,
    now: Instant,
}

impl Fixture {
    /// A subscriber whose subscription was accepted with an empty origin window.
    fn new() -> Self {
        #[expect(clippy::disallowed_methods, reason = "test epoch")]
        let now = Instant::now();
        let mut origin = RelayWindow::new(WindowConfig::default()).expect("config");
        origin
            .handle_init(0, Bytes::from_static(b"init"))
            .expect("init");
        let mut sub = RelaySubscriber::new(SubscriberConfig::new("edge"));
        let handle = sub.subscribe("s", "r", now);
        sub.handle_connected(now);
        sub.handle_control(
            Frame::Hello(Hello {
                version: crate::VERSION,
                node_id: "origin".into(),
            }),
            now,
        );
        let answer = origin.snapshot(None);
        sub.handle_control(
            Frame::SubscribeOk(SubscribeOk {
                request_id: 0,
                subscription_id: 1,
                window: answer.snapshot,
            }),
            now,
        );
        sub.handle_uni_frame(init_frame(), now);
        let mut f = Self {
            origin,
            sub,
            handle,
            now,
        };
        f.drain();
        f
    }

    /// Makes `n` origin parts and returns their frames.
    fn make(&mut self, n: usize) -> Vec<Frame> {
        (0..n)
            .map(|_| {
                let next = self.origin.window().next_part().expect("live");
                self.origin
                    .handle_part(
                        PartInput {
                            data: Bytes::from(format!("{}.{}", next.msn, next.index)),
                            duration: Duration::from_millis(200),
                            independent: next.index == 0,
                            ends_segment: next.index == 4,
                            program_date_time_ms: 0,
                        },
                        0,
                    )
                    .expect("part");
                let part = self.origin.replicated_part(next).expect("part");
                Frame::Part(PartFrame {
                    subscription_id: 1,
                    position: part.position,
                    meta: part.meta,
                    data: part.data,
                })
            })
            .collect()
    }

    fn give(&mut self, frame: Frame) {
        self.sub.handle_uni_frame(frame, self.now);
    }

    fn drain(&mut self) -> Vec<SubscriberOutput> {
        std::iter::from_fn(|| self.sub.poll_output()).collect()
    }

    fn last(&self) -> Option<PartPosition> {
        self.sub.window(self.handle).and_then(PartWindow::last_part)
    }
}

fn init_frame() -> Frame {
    Frame::Init(InitFrame {
        subscription_id: 1,
        generation: 0,
        data: Bytes::from_static(b"init"),
    })
}

fn at(msn: u64, index: u64) -> Option<PartPosition> {
    Some(PartPosition { msn, index })
}

#[test]
fn reordered_parts_are_delivered_in_order() {
    let mut f = Fixture::new();
    let parts = f.make(4);
    for i in [2, 1, 3] {
        f.give(parts[i].clone());
    }
    assert_eq!(f.last(), None);
    assert!(f.sub.poll_timeout().is_some(), "waiting for part 0");
    f.give(parts[0].clone());
    assert_eq!(f.last(), at(0, 3));
    assert_eq!(f.sub.poll_timeout(), None);
    let out = f.drain();
    assert_eq!(
        out.iter()
            .filter(|o| matches!(o, SubscriberOutput::PartArrived { .. }))
            .count(),
        4
    );
    assert!(
        out.iter()
            .all(|o| !matches!(o, SubscriberOutput::Gap { .. }))
    );
}

#[test]
fn a_missing_part_becomes_a_gap_after_the_timeout() {
    let mut f = Fixture::new();
    let parts = f.make(12);
    f.give(parts[0].clone());
    f.give(parts[1].clone());
    // Part 0.2 never comes; later ones do.
    for part in &parts[3..] {
        f.give(part.clone());
    }
    assert_eq!(f.last(), at(0, 1));
    let deadline = f.sub.poll_timeout().expect("timer armed");
    assert_eq!(deadline, f.now + DEFAULT_REORDER_TIMEOUT);
    f.sub.handle_timeout(deadline);
    // Skipped to the next segment start and carried on.
    assert_eq!(f.last(), at(2, 1));
    let out = f.drain();
    assert!(out.contains(&SubscriberOutput::Gap {
        subscription: f.handle,
        reason: GapReason::Timeout,
    }));
    let window = f.sub.window(f.handle).expect("window");
    let text = hls::render_media(window, &Default::default(), &Default::default());
    assert!(text.contains("#EXT-X-DISCONTINUITY\n"), "{text}");
}

#[test]
fn a_full_reorder_buffer_is_a_gap_at_once() {
    let mut f = Fixture::new();
    let parts = f.make(MAX_REORDER_PARTS + 7);
    for part in &parts[1..] {
        f.give(part.clone());
    }
    assert!(f.drain().contains(&SubscriberOutput::Gap {
        subscription: f.handle,
        reason: GapReason::ReorderBufferFull,
    }));
    assert!(f.last().is_some());
}

#[test]
fn parts_wait_for_their_init_without_a_gap() {
    let mut f = Fixture::new();
    let parts = f.make(5);
    f.origin
        .handle_init(1, Bytes::from_static(b"init1"))
        .expect("init");
    let next = f.make(2);
    for part in parts.into_iter().chain(next) {
        f.give(part);
    }
    assert_eq!(f.last(), at(0, 4));
    assert_eq!(
        f.sub.poll_timeout(),
        None,
        "waiting for an init is not a stall"
    );
    f.give(Frame::Init(InitFrame {
        subscription_id: 1,
        generation: 1,
        data: Bytes::from_static(b"init1"),
    }));
    assert_eq!(f.last(), at(1, 1));
    assert_eq!(
        f.sub
            .window(f.handle)
            .and_then(PartWindow::current_generation),
        Some(1)
    );
}

#[test]
fn data_frames_may_overtake_subscribe_ok() {
    #[expect(clippy::disallowed_methods, reason = "test epoch")]
    let now = Instant::now();
    let mut f = Fixture::new();
    let parts = f.make(2);
    let mut sub = RelaySubscriber::new(SubscriberConfig::new("edge"));
    let handle = sub.subscribe("s", "r", now);
    sub.handle_connected(now);
    sub.handle_control(
        Frame::Hello(Hello {
            version: crate::VERSION,
            node_id: "o".into(),
        }),
        now,
    );
    sub.handle_uni_frame(init_frame(), now);
    sub.handle_uni_frame(parts[0].clone(), now);
    let mut snapshot = f.origin.snapshot(None).snapshot;
    snapshot.first_part = PartPosition { msn: 0, index: 0 };
    snapshot.start.msn = 0;
    sub.handle_control(
        Frame::SubscribeOk(SubscribeOk {
            request_id: 0,
            subscription_id: 1,
            window: snapshot,
        }),
        now,
    );
    assert_eq!(sub.window(handle).and_then(PartWindow::last_part), at(0, 0));
}

#[test]
fn an_unknown_major_version_is_an_error() {
    #[expect(clippy::disallowed_methods, reason = "test epoch")]
    let now = Instant::now();
    let mut sub = RelaySubscriber::new(SubscriberConfig::new("edge"));
    sub.handle_connected(now);
    sub.handle_control(
        Frame::Hello(Hello {
            version: Version { major: 9, minor: 0 },
            node_id: "o".into(),
        }),
        now,
    );
    let out: Vec<_> = std::iter::from_fn(|| sub.poll_output()).collect();
    assert!(out.iter().any(|o| matches!(
        o,
        SubscriberOutput::Error(e) if e.reason() == "unsupported_version" && e.code() == 2
    )));
}

#[test]
fn connection_loss_reports_the_resume_point() {
    let mut f = Fixture::new();
    for part in f.make(3) {
        f.give(part);
    }
    f.drain();
    f.sub.handle_connection_lost(f.now);
    let out = f.drain();
    assert!(matches!(
        out[..],
        [SubscriberOutput::ResumeState { resume: Some(r), .. }] if Some(r.position) == at(0, 2)
    ));
    f.sub.handle_connected(f.now);
    let out = f.drain();
    assert!(matches!(
        &out[1],
        SubscriberOutput::SendControl(Frame::Subscribe(s)) if s.resume.map(|r| r.position) == at(0, 2)
    ));
}

#[test]
fn a_refused_resubscription_is_retried_and_continues_the_window_after_a_discontinuity() {
    let mut f = Fixture::new();
    for part in f.make(7) {
        f.give(part);
    }
    f.drain();
    assert_eq!(f.last(), at(1, 1));
    // The upstream restarts: the resubscription is refused until the host is back.
    f.sub.handle_connection_lost(f.now);
    f.sub.handle_connected(f.now);
    f.drain();
    f.sub.handle_control(
        Frame::Hello(Hello {
            version: crate::VERSION,
            node_id: "origin".into(),
        }),
        f.now,
    );
    f.sub.handle_control(
        Frame::SubscribeError(crate::frame::SubscribeError {
            request_id: 1,
            code: crate::ErrorCode::UnknownStream,
            reason: "unknown stream".into(),
        }),
        f.now,
    );
    assert!(
        f.drain()
            .iter()
            .any(|o| matches!(o, SubscriberOutput::SubscriptionFailed { .. }))
    );
    // Retried: a new Subscribe goes out, resuming from the last part held.
    f.sub.retry(f.handle, f.now);
    let out = f.drain();
    assert!(matches!(
        &out[..],
        [SubscriberOutput::SendControl(Frame::Subscribe(s))] if s.request_id == 2 && s.resume.map(|r| r.position) == at(1, 1)
    ));
    // The restarted upstream numbers from 0 again: the window continues after a
    // discontinuity instead of starting over.
    let mut restarted = RelayWindow::new(WindowConfig::default()).expect("config");
    restarted
        .handle_init(0, Bytes::from_static(b"init"))
        .expect("init");
    f.origin = restarted;
    let answer = f.origin.snapshot(None);
    f.sub.handle_control(
        Frame::SubscribeOk(SubscribeOk {
            request_id: 2,
            subscription_id: 1,
            window: answer.snapshot,
        }),
        f.now,
    );
    f.give(init_frame());
    for part in f.make(3) {
        f.give(part);
    }
    f.drain();
    let window = f.sub.window(f.handle).expect("window kept");
    let last = window.last_part().expect("parts");
    assert!(last.msn >= 2, "numbering continues: {last:?}");
    let playlist = hls::render_media(
        window,
        &hls::PlaylistQuery::default(),
        &hls::RenderOptions {
            rendition_reports: &[],
        },
    );
    assert!(playlist.contains("#EXT-X-DISCONTINUITY\n"), "{playlist}");
    // A retry of a subscription that is not refused does nothing.
    f.sub.retry(f.handle, f.now);
    assert!(f.drain().is_empty());
}
