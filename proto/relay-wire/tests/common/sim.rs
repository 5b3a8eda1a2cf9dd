//! A deterministic, seeded, in-memory network for the relay state machines: an origin window,
//! then a chain of hops (publisher ⇄ link ⇄ subscriber), each subscriber's window feeding the
//! next hop's publisher. Time is virtual and advances in fixed ticks.
//!
//! The link models what the protocol cares about: control bytes in order after a latency (fed
//! to the decoder in random splits), one uni stream per data frame sharing a rate limit by
//! priority (highest first), per-stream jitter (reordering) and loss as "stream cancelled".

#![allow(dead_code, reason = "each scenario uses a different subset")]

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hls::{
    MediaObject, PartInput, PartWindow, PlaylistQuery, RenderOptions, WindowConfig,
    parse_object_name, render_media,
};
use livecdn_relay_wire::{
    ErrorCode, Frame, FrameDecoder, GapReason, INIT_PRIORITY, PublisherOutput, RelayEvent,
    RelayPublisher, RelaySubscriber, RelayWindow, ResumePoint, StreamKind, StreamToken,
    SubscriberConfig, SubscriberOutput, SubscriptionHandle,
};

pub(crate) const STREAM: &str = "demo";
pub(crate) const RENDITION: &str = "720p";
pub(crate) const TICK: Duration = Duration::from_millis(10);
pub(crate) const PART: Duration = Duration::from_millis(200);
pub(crate) const PARTS_PER_SEGMENT: u64 = 5;
const PDT_START_MS: u64 = 1_764_060_960_000;

/// The seed: `LIVECDN_SIM_SEED` or the scenario's default. Printed if the test fails.
pub(crate) struct Seed(pub(crate) u64);

impl Seed {
    pub(crate) fn new(default: u64) -> Self {
        let seed = std::env::var("LIVECDN_SIM_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default);
        Self(seed)
    }
}

impl Drop for Seed {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("simulation failed with LIVECDN_SIM_SEED={}", self.0);
        }
    }
}

/// xorshift64*: deterministic randomness for the link.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p && p > 0.0
    }
    pub(crate) fn duration(&mut self, max: Duration) -> Duration {
        Duration::from_micros(self.below(max.as_micros() as u64 + 1))
    }
}

/// Link behaviour of one hop.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LinkParams {
    pub(crate) latency: Duration,
    /// Extra random delay per uni stream (reordering).
    pub(crate) jitter: Duration,
    /// Probability that a uni stream is lost (the driver reports it cancelled).
    pub(crate) loss: f64,
    /// Bytes per second shared by all uni streams; `None` is unlimited.
    pub(crate) rate: Option<u64>,
}

impl Default for LinkParams {
    fn default() -> Self {
        Self {
            latency: Duration::from_millis(20),
            jitter: Duration::ZERO,
            loss: 0.0,
            rate: None,
        }
    }
}

/// The origin: a window fed by a fake packager, one 200 ms part per call.
pub(crate) struct Origin {
    pub(crate) window: RelayWindow,
    generation: u32,
    parts_made: u64,
    pub(crate) part_size: usize,
    /// Size of a segment's first part (a keyframe is bigger).
    pub(crate) key_part_size: usize,
}

impl Origin {
    pub(crate) fn new() -> Self {
        let mut window = RelayWindow::new(WindowConfig::default()).expect("valid config");
        window.handle_init(0, init_bytes(0)).expect("init");
        Self {
            window,
            generation: 0,
            parts_made: 0,
            part_size: 64,
            key_part_size: 64,
        }
    }

    pub(crate) fn produce(&mut self) {
        let Some(next) = self.window.window().next_part() else {
            return;
        };
        let mut data = format!("g{} {}.{} ", self.generation, next.msn, next.index).into_bytes();
        let size = if next.index == 0 {
            self.key_part_size
        } else {
            self.part_size
        };
        data.resize(size.max(data.len()), b'.');
        let pdt = PDT_START_MS + self.parts_made * 200;
        self.window
            .handle_part(
                PartInput {
                    data: Bytes::from(data),
                    duration: PART,
                    independent: next.index == 0,
                    ends_segment: next.index + 1 == PARTS_PER_SEGMENT,
                    program_date_time_ms: pdt,
                },
                pdt * 1000 + 7,
            )
            .expect("origin part");
        self.parts_made += 1;
    }

    pub(crate) fn discontinuity(&mut self) {
        self.window.handle_discontinuity().expect("discontinuity");
    }

    pub(crate) fn new_generation(&mut self) {
        self.generation += 1;
        self.window
            .handle_init(self.generation, init_bytes(self.generation))
            .expect("init");
    }

    pub(crate) fn end(&mut self) {
        self.window.handle_end();
    }
}

fn init_bytes(generation: u32) -> Bytes {
    Bytes::from(format!("ftyp+moov generation {generation}"))
}

struct SimStream {
    bytes: Bytes,
    priority: i32,
    sent: usize,
    lost: bool,
}

/// One publisher ⇄ subscriber connection with its link.
pub(crate) struct Hop {
    pub(crate) params: LinkParams,
    pub(crate) publisher: RelayPublisher,
    pub(crate) subscriber: RelaySubscriber,
    pub(crate) handle: SubscriptionHandle,
    pub(crate) connected: bool,
    down: VecDeque<(Instant, Bytes)>,
    up: VecDeque<(Instant, Bytes)>,
    down_decoder: FrameDecoder,
    up_decoder: FrameDecoder,
    streams: BTreeMap<StreamToken, SimStream>,
    arrivals: Vec<(Instant, StreamToken, Bytes)>,
    acks: Vec<(Instant, StreamToken, bool)>,
    /// Events of this hop's subscriber window, for the next hop.
    pub(crate) events: Vec<RelayEvent>,
    pub(crate) gaps: Vec<GapReason>,
    pub(crate) cancelled: usize,
    pub(crate) failures: Vec<ErrorCode>,
    pub(crate) arrived: usize,
    /// Lookups for a stream the source does not hold yet (pull-through, as an edge driver
    /// does): answered once it does, or refused after a while.
    lookups: Vec<(Instant, u64, Option<ResumePoint>)>,
}

impl Hop {
    pub(crate) fn new(params: LinkParams, name: &str, now: Instant) -> Self {
        let mut subscriber = RelaySubscriber::new(SubscriberConfig::new(name));
        let handle = subscriber.subscribe(STREAM, RENDITION, now);
        Self {
            params,
            publisher: RelayPublisher::new("upstream"),
            subscriber,
            handle,
            connected: false,
            down: VecDeque::new(),
            up: VecDeque::new(),
            down_decoder: FrameDecoder::new(StreamKind::Control),
            up_decoder: FrameDecoder::new(StreamKind::Control),
            streams: BTreeMap::new(),
            arrivals: Vec::new(),
            acks: Vec::new(),
            events: Vec::new(),
            gaps: Vec::new(),
            cancelled: 0,
            failures: Vec::new(),
            arrived: 0,
            lookups: Vec::new(),
        }
    }

    pub(crate) fn window(&self) -> Option<&PartWindow> {
        self.subscriber.window(self.handle)
    }

    pub(crate) fn relay_window(&self) -> Option<&RelayWindow> {
        self.subscriber.relay_window(self.handle)
    }

    pub(crate) fn connect(&mut self, now: Instant) {
        self.connected = true;
        self.subscriber.handle_connected(now);
    }

    /// Drops the connection: everything in flight is lost, the publisher goes away.
    pub(crate) fn disconnect(&mut self, now: Instant) {
        self.connected = false;
        self.down.clear();
        self.up.clear();
        self.down_decoder = FrameDecoder::new(StreamKind::Control);
        self.up_decoder = FrameDecoder::new(StreamKind::Control);
        self.streams.clear();
        self.arrivals.clear();
        self.acks.clear();
        self.publisher = RelayPublisher::new("upstream");
        self.subscriber.handle_connection_lost(now);
    }

    /// One tick: publisher outputs onto the link, the link forward, deliveries, timers.
    pub(crate) fn step(&mut self, now: Instant, source: Option<&RelayWindow>, rng: &mut Rng) {
        self.drain_publisher(now, source, rng);
        self.transmit(now, rng);
        self.deliver(now, source, rng);
        if self.subscriber.poll_timeout().is_some_and(|t| t <= now) {
            self.subscriber.handle_timeout(now);
        }
        self.drain_subscriber(now);
        self.drain_publisher(now, source, rng);
    }

    fn drain_publisher(&mut self, now: Instant, source: Option<&RelayWindow>, rng: &mut Rng) {
        self.answer_lookups(now, source);
        while let Some(output) = self.publisher.poll_output() {
            match output {
                PublisherOutput::SendControl(frame) => {
                    self.down
                        .push_back((now + self.params.latency, frame.to_bytes()));
                }
                PublisherOutput::LookupWindow {
                    request_id, resume, ..
                } => self.lookups.push((now, request_id, resume)),
                PublisherOutput::OpenUniStream {
                    token,
                    priority,
                    frame,
                } => {
                    // Init streams are never cancelled (and QUIC retransmits what is lost).
                    let lost = priority != INIT_PRIORITY && rng.chance(self.params.loss);
                    let bytes = frame.to_bytes();
                    self.streams.insert(
                        token,
                        SimStream {
                            bytes,
                            priority,
                            sent: 0,
                            lost,
                        },
                    );
                }
                PublisherOutput::CancelUniStream { token } => {
                    self.cancelled += 1;
                    self.streams.remove(&token);
                    self.arrivals.retain(|(_, t, _)| *t != token);
                }
                PublisherOutput::Error(e) => panic!("publisher error: {e}"),
            }
        }
    }

    fn answer_lookups(&mut self, now: Instant, source: Option<&RelayWindow>) {
        let lookups = std::mem::take(&mut self.lookups);
        for (since, request_id, resume) in lookups {
            let answer = match source {
                Some(window) if window.window().last_part().is_some() => {
                    Ok(window.snapshot(resume))
                }
                _ if now.duration_since(since) < Duration::from_secs(5) => {
                    self.lookups.push((since, request_id, resume));
                    continue;
                }
                _ => Err(ErrorCode::UnknownStream),
            };
            self.publisher.answer_subscribe(request_id, answer, now);
        }
    }

    /// Sends stream bytes, highest priority first, within this tick's budget.
    fn transmit(&mut self, now: Instant, rng: &mut Rng) {
        let mut budget = match self.params.rate {
            Some(rate) => (rate as u128 * TICK.as_nanos() / 1_000_000_000) as usize,
            None => usize::MAX,
        };
        let mut order: Vec<(i32, StreamToken)> =
            self.streams.iter().map(|(t, s)| (s.priority, *t)).collect();
        order.sort_by(|a, b| b.cmp(a));
        for (_, token) in order {
            let Some(stream) = self.streams.get_mut(&token) else {
                continue;
            };
            let n = budget.min(stream.bytes.len() - stream.sent);
            stream.sent += n;
            budget -= n;
            if stream.sent == stream.bytes.len() {
                let Some(stream) = self.streams.remove(&token) else {
                    continue;
                };
                let at = now + self.params.latency + rng.duration(self.params.jitter);
                if stream.lost {
                    self.acks.push((at, token, false));
                } else {
                    self.arrivals.push((at, token, stream.bytes));
                }
            }
            if budget == 0 {
                break;
            }
        }
    }

    fn deliver(&mut self, now: Instant, source: Option<&RelayWindow>, rng: &mut Rng) {
        while self.up.front().is_some_and(|(at, _)| *at <= now) {
            let Some((_, bytes)) = self.up.pop_front() else {
                break;
            };
            for chunk in random_split(&bytes, rng) {
                self.up_decoder.handle_bytes(chunk);
                while let Some(frame) = self.up_decoder.poll_frame() {
                    self.publisher
                        .handle_control(frame.expect("control frame"), now);
                    self.drain_publisher(now, source, rng);
                }
            }
        }
        while self.down.front().is_some_and(|(at, _)| *at <= now) {
            let Some((_, bytes)) = self.down.pop_front() else {
                break;
            };
            for chunk in random_split(&bytes, rng) {
                self.down_decoder.handle_bytes(chunk);
                while let Some(frame) = self.down_decoder.poll_frame() {
                    self.subscriber
                        .handle_control(frame.expect("control frame"), now);
                    self.drain_subscriber(now);
                }
            }
        }
        self.arrivals.sort_by_key(|(at, token, _)| (*at, *token));
        let due: Vec<_> = {
            let split = self.arrivals.partition_point(|(at, _, _)| *at <= now);
            self.arrivals.drain(..split).collect()
        };
        for (_, token, bytes) in due {
            let mut decoder = FrameDecoder::new(StreamKind::Data);
            let mut frames = Vec::new();
            for chunk in random_split(&bytes, rng) {
                decoder.handle_bytes(chunk);
                while let Some(frame) = decoder.poll_frame() {
                    frames.push(frame.expect("data frame"));
                }
            }
            decoder.finish().expect("complete data stream");
            for frame in frames {
                if matches!(frame, Frame::Part(_)) {
                    self.arrived += 1;
                }
                self.subscriber.handle_uni_frame(frame, now);
                self.drain_subscriber(now);
            }
            self.acks.push((now + self.params.latency, token, true));
        }
        let (due, later): (Vec<_>, Vec<_>) = self.acks.drain(..).partition(|(at, _, _)| *at <= now);
        self.acks = later;
        for (_, token, finished) in due {
            if finished {
                self.publisher.handle_stream_finished(token, now);
            } else {
                self.publisher.handle_stream_cancelled(token, now);
            }
        }
    }

    fn drain_subscriber(&mut self, now: Instant) {
        while let Some(output) = self.subscriber.poll_output() {
            match output {
                SubscriberOutput::SendControl(frame) => {
                    if self.connected {
                        self.up
                            .push_back((now + self.params.latency, frame.to_bytes()));
                    }
                }
                SubscriberOutput::WindowChanged { event, .. } => self.events.push(event),
                SubscriberOutput::Gap { reason, .. } => self.gaps.push(reason),
                SubscriberOutput::SubscriptionFailed { code, .. } => self.failures.push(code),
                SubscriberOutput::Error(e) => panic!("subscriber error: {e}"),
                SubscriberOutput::PartArrived { .. } | SubscriberOutput::ResumeState { .. } => {}
            }
        }
    }
}

fn random_split<'a>(bytes: &'a [u8], rng: &mut Rng) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let n = (rng.below(rest.len() as u64) + 1) as usize;
        let (a, b) = rest.split_at(n);
        out.push(a);
        rest = b;
    }
    out
}

/// Origin plus a chain of hops.
pub(crate) struct Sim {
    pub(crate) now: Instant,
    pub(crate) rng: Rng,
    pub(crate) origin: Origin,
    pub(crate) hops: Vec<Hop>,
    ticks: u64,
    /// Produce a part every 200 ms while true.
    pub(crate) producing: bool,
    /// Playlist invariants checked on every edge after every tick.
    monotonic: Vec<(u64, Option<(u64, u64)>)>,
}

impl Sim {
    pub(crate) fn new(seed: &Seed, hops: &[LinkParams]) -> Self {
        #[expect(
            clippy::disallowed_methods,
            reason = "the simulation's epoch; all later time is virtual"
        )]
        let now = Instant::now();
        let hops: Vec<Hop> = hops
            .iter()
            .enumerate()
            .map(|(i, p)| Hop::new(*p, &format!("edge-{i}"), now))
            .collect();
        Self {
            now,
            rng: Rng::new(seed.0),
            origin: Origin::new(),
            monotonic: vec![(0, None); hops.len()],
            hops,
            ticks: 0,
            producing: true,
        }
    }

    pub(crate) fn connect_all(&mut self) {
        let now = self.now;
        for hop in &mut self.hops {
            hop.connect(now);
        }
    }

    pub(crate) fn tick(&mut self) {
        self.now += TICK;
        self.ticks += 1;
        let now = self.now;
        if self.producing
            && self
                .ticks
                .is_multiple_of(PART.as_millis() as u64 / TICK.as_millis() as u64)
        {
            self.origin.produce();
        }
        self.forward_origin_events();
        for i in 0..self.hops.len() {
            let (before, rest) = self.hops.split_at_mut(i);
            let hop = &mut rest[0];
            let source = match before.last() {
                None => Some(&self.origin.window),
                Some(prev) => prev.relay_window(),
            };
            if hop.connected {
                hop.step(now, source, &mut self.rng);
            }
            // Forward this hop's window events to the next hop's publisher right away, before
            // it answers any lookup (the snapshot must include every forwarded part).
            let events = std::mem::take(&mut hop.events);
            let (current, after) = rest.split_at_mut(1);
            if let (Some(next), Some(window)) = (after.first_mut(), current[0].relay_window()) {
                for event in &events {
                    next.publisher
                        .handle_window_event(STREAM, RENDITION, window, event, now);
                }
            }
        }
        self.check_invariants();
    }

    fn forward_origin_events(&mut self) {
        let now = self.now;
        while let Some(event) = self.origin.window.poll_output() {
            if let Some(hop) = self.hops.first_mut() {
                hop.publisher.handle_window_event(
                    STREAM,
                    RENDITION,
                    &self.origin.window,
                    &event,
                    now,
                );
            }
        }
    }

    pub(crate) fn run_for(&mut self, duration: Duration) {
        let ticks = duration.as_millis() / TICK.as_millis();
        for _ in 0..ticks {
            self.tick();
        }
    }

    /// Stops producing and runs until every link is idle.
    pub(crate) fn settle(&mut self) {
        let producing = std::mem::replace(&mut self.producing, false);
        self.run_for(Duration::from_secs(5));
        self.producing = producing;
    }

    /// Every edge: every listed object exists; msn and last part never go backwards.
    fn check_invariants(&mut self) {
        for (i, hop) in self.hops.iter().enumerate() {
            let Some(window) = hop.window() else { continue };
            let text = playlist(window);
            check_playlist(window, &text).unwrap_or_else(|e| panic!("edge {i}: {e}\n{text}"));
            let last = window.last_part().map(|p| (p.msn, p.index));
            let (seq, prev_last) = self.monotonic[i];
            assert!(
                window.media_sequence() >= seq,
                "edge {i}: media sequence went back"
            );
            assert!(
                last >= prev_last,
                "edge {i}: last part went back: {prev_last:?} -> {last:?}"
            );
            self.monotonic[i] = (window.media_sequence(), last);
        }
    }
}

/// The full media playlist.
pub(crate) fn playlist(window: &PartWindow) -> String {
    render_media(window, &PlaylistQuery::default(), &RenderOptions::default())
}

/// Every URI the playlist lists (except the preload hint) is served by the window.
pub(crate) fn check_playlist(window: &PartWindow, text: &str) -> Result<(), String> {
    for line in text.lines() {
        let uri = if line.starts_with("#EXT-X-PRELOAD-HINT") {
            continue;
        } else if let Some(start) = line.find("URI=\"") {
            let rest = &line[start + 5..];
            &rest[..rest.find('"').ok_or("unterminated URI")?]
        } else if !line.starts_with('#') && !line.is_empty() {
            line
        } else {
            continue;
        };
        let exists = match parse_object_name(uri) {
            Some(MediaObject::Init(g)) => window.init(g).is_some(),
            Some(MediaObject::Part(p)) => window.has_part(p.msn, p.index),
            Some(MediaObject::Segment(msn)) => window.segment(msn).is_some(),
            _ => uri.starts_with("../"),
        };
        if !exists {
            return Err(format!("listed object {uri} does not exist"));
        }
    }
    Ok(())
}
