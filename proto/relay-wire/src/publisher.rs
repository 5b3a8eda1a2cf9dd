//! [`RelayPublisher`]: the sending side of one downstream connection.

mod subscription;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Instant;

use bytes::Bytes;
use hls::{PartPosition, WindowEvent};

use self::subscription::Subscription;
use crate::error::ProtocolError;
use crate::frame::{
    EncodedFrame, ErrorCode, Frame, Hello, InitFrame, ResumePoint, Subscribe, SubscribeError,
    SubscribeOk,
};
use crate::limits::MAX_SUBSCRIPTIONS;
use crate::window::{RelayEvent, RelayWindow, ReplicatedPart, SnapshotAndBackfill};

/// Names one unidirectional stream the publisher asked the driver to open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamToken(pub u64);

/// Priority of init streams: above every part.
pub const INIT_PRIORITY: i32 = i32::MAX;
/// Priority distance between consecutive segments; a part's priority is its segment's base
/// minus its index, so it must exceed [`hls::MAX_PARTS_PER_SEGMENT`].
pub const PRIORITY_SEGMENT_STRIDE: i32 = 1024;

/// What the driver must do, drained with [`RelayPublisher::poll_output`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublisherOutput {
    /// Write this frame (`frame.to_bytes()`) to the control stream.
    SendControl(Frame),
    /// Look up `(stream, rendition)` in the node's windows and call
    /// [`RelayPublisher::answer_subscribe`] (typically with [`RelayWindow::snapshot`]).
    LookupWindow {
        /// Pass back to `answer_subscribe`.
        request_id: u64,
        /// Stream name.
        stream: String,
        /// Rendition name.
        rendition: String,
        /// The subscriber's resume point, for [`RelayWindow::snapshot`].
        resume: Option<ResumePoint>,
    },
    /// Open a unidirectional stream with this priority (higher first), write `frame.header`
    /// then `frame.body`, finish it, and report [`RelayPublisher::handle_stream_finished`] once
    /// the peer has read it all or [`RelayPublisher::handle_stream_cancelled`] if it was stopped.
    OpenUniStream {
        /// Names the stream in later calls and outputs.
        token: StreamToken,
        /// QUIC send priority (higher first): newer segments above older ones, earlier parts of
        /// a segment above later ones, inits at [`INIT_PRIORITY`].
        priority: i32,
        /// The data frame.
        frame: EncodedFrame,
    },
    /// Reset this stream (congestion: a newer part replaces it). Report nothing more for it.
    CancelUniStream {
        /// The stream.
        token: StreamToken,
    },
    /// The peer broke the protocol: close the connection with [`ProtocolError::code`].
    Error(ProtocolError),
}

/// The publisher side of the relay protocol for one downstream connection (sans-IO).
///
/// Inputs: control frames from the subscriber ([`handle_control`](Self::handle_control)),
/// answers to [`PublisherOutput::LookupWindow`] ([`answer_subscribe`](Self::answer_subscribe)),
/// window changes ([`handle_window_event`](Self::handle_window_event) or the granular
/// `handle_window_*`), and the fate of the streams it opened.
///
/// **Drain rule:** after every call that takes `&mut self`, call
/// [`poll_output`](Self::poll_output) until it returns `None`. The publisher has no timers
/// ([`poll_timeout`](Self::poll_timeout) is always `None`).
///
/// **Congestion rule:** at most [`MAX_INFLIGHT_PARTS`](crate::limits::MAX_INFLIGHT_PARTS) part
/// streams per subscription are open; a new live part cancels the open one with the lowest
/// priority (the last part of the oldest segment in flight). Parts that cannot
/// be opened yet (backfill) wait in a queue of at most
/// [`MAX_QUEUED_PARTS`](crate::limits::MAX_QUEUED_PARTS), oldest dropped first. Init streams are
/// never cancelled.
#[derive(Debug)]
pub struct RelayPublisher {
    node_id: String,
    peer_hello: bool,
    version_refused: bool,
    lookups: BTreeMap<u64, (String, String)>,
    subscriptions: BTreeMap<u64, Subscription>,
    streams: HashMap<StreamToken, u64>,
    next_subscription_id: u64,
    next_token: u64,
    /// Priority base of the newest segment opened on this connection.
    segment_priority: i32,
    outputs: VecDeque<PublisherOutput>,
    /// The latest `now` passed in: when part streams opened, for the congestion rule.
    clock: Option<Instant>,
}

impl RelayPublisher {
    /// A publisher that introduces itself as `node_id`.
    pub fn new(node_id: impl Into<String>) -> Self {
        Self {
            node_id: node_id.into(),
            peer_hello: false,
            version_refused: false,
            lookups: BTreeMap::new(),
            subscriptions: BTreeMap::new(),
            streams: HashMap::new(),
            next_subscription_id: 1,
            next_token: 0,
            segment_priority: 0,
            outputs: VecDeque::new(),
            clock: None,
        }
    }

    /// A frame from the control stream.
    pub fn handle_control(&mut self, frame: Frame, now: Instant) {
        self.clock = Some(now);
        match frame {
            Frame::Hello(hello) => self.on_hello(hello),
            _ if !self.peer_hello => self.fail(ProtocolError::HelloOutOfOrder),
            Frame::Subscribe(subscribe) => self.on_subscribe(subscribe),
            Frame::Unsubscribe { subscription_id } => {
                if let Some(mut sub) = self.subscriptions.remove(&subscription_id) {
                    for token in sub.cancel_all() {
                        self.streams.remove(&token);
                        self.outputs
                            .push_back(PublisherOutput::CancelUniStream { token });
                    }
                }
            }
            other => self.fail(ProtocolError::WrongDirection(other.name())),
        }
    }

    /// The driver's answer to [`PublisherOutput::LookupWindow`]. The snapshot must include every
    /// part already given to this publisher for that rendition, and later parts must be newer.
    pub fn answer_subscribe(
        &mut self,
        request_id: u64,
        answer: Result<SnapshotAndBackfill, ErrorCode>,
        now: Instant,
    ) {
        self.clock = Some(now);
        let Some((stream, rendition)) = self.lookups.remove(&request_id) else {
            return;
        };
        let answer = match answer {
            Ok(answer) => answer,
            Err(code) => return self.refuse(request_id, code),
        };
        let id = self.next_subscription_id;
        self.next_subscription_id += 1;
        let ended = answer.snapshot.ended;
        let mut sub = Subscription::new(id, stream, rendition, answer.snapshot.first_part);
        self.send(Frame::SubscribeOk(SubscribeOk {
            request_id,
            subscription_id: id,
            window: answer.snapshot,
        }));
        for (generation, data) in answer.inits {
            self.open_init(&mut sub, generation, data);
        }
        for part in answer.parts {
            sub.enqueue(part);
        }
        if ended {
            sub.ended = true;
            let last = sub.last_queued;
            self.send(Frame::StreamEnded {
                subscription_id: id,
                last,
            });
        }
        self.pump(&mut sub);
        self.subscriptions.insert(id, sub);
    }

    /// Forwards one event of a [`RelayWindow`] holding `(stream, rendition)`.
    pub fn handle_window_event(
        &mut self,
        stream: &str,
        rendition: &str,
        window: &RelayWindow,
        event: &RelayEvent,
        now: Instant,
    ) {
        match *event {
            RelayEvent::Window(WindowEvent::PartReady { msn, part }) => {
                let position = PartPosition { msn, index: part };
                if let Some(part) = window.replicated_part(position) {
                    self.handle_window_part(stream, rendition, part, now);
                }
            }
            RelayEvent::Window(WindowEvent::InitReady { generation }) => {
                if let Some(data) = window.window().init(generation) {
                    self.handle_window_init(stream, rendition, generation, data, now);
                }
            }
            RelayEvent::Window(WindowEvent::Ended) => {
                let last = window.window().last_part();
                self.handle_stream_ended(stream, rendition, last, now);
            }
            RelayEvent::Discontinuity { last } => {
                self.handle_window_discontinuity(stream, rendition, last, now);
            }
            RelayEvent::Window(_) => {}
        }
    }

    /// A new part of `(stream, rendition)`.
    pub fn handle_window_part(
        &mut self,
        stream: &str,
        rendition: &str,
        part: ReplicatedPart,
        now: Instant,
    ) {
        self.clock = Some(now);
        for id in self.matching(stream, rendition) {
            let Some(mut sub) = self.subscriptions.remove(&id) else {
                continue;
            };
            if sub.accepts(part.position) {
                sub.enqueue(part.clone());
                if let Some(token) = sub.make_room_for_live(self.clock) {
                    self.streams.remove(&token);
                    self.outputs
                        .push_back(PublisherOutput::CancelUniStream { token });
                }
                self.pump(&mut sub);
            }
            self.subscriptions.insert(id, sub);
        }
    }

    /// A new init segment of `(stream, rendition)`.
    pub fn handle_window_init(
        &mut self,
        stream: &str,
        rendition: &str,
        generation: u32,
        data: Bytes,
        now: Instant,
    ) {
        self.clock = Some(now);
        for id in self.matching(stream, rendition) {
            if let Some(mut sub) = self.subscriptions.remove(&id) {
                if sub.last_init.is_none_or(|g| generation > g) {
                    self.open_init(&mut sub, generation, data.clone());
                }
                self.subscriptions.insert(id, sub);
            }
        }
    }

    /// The window of `(stream, rendition)` closed its open segment after `last` and starts the
    /// next one with a discontinuity.
    pub fn handle_window_discontinuity(
        &mut self,
        stream: &str,
        rendition: &str,
        last: Option<PartPosition>,
        now: Instant,
    ) {
        self.clock = Some(now);
        for subscription_id in self.matching(stream, rendition) {
            self.send(Frame::Discontinuity {
                subscription_id,
                last,
            });
        }
    }

    /// `(stream, rendition)` ended after part `last`.
    pub fn handle_stream_ended(
        &mut self,
        stream: &str,
        rendition: &str,
        last: Option<PartPosition>,
        now: Instant,
    ) {
        self.clock = Some(now);
        for subscription_id in self.matching(stream, rendition) {
            if let Some(sub) = self.subscriptions.get_mut(&subscription_id) {
                sub.ended = true;
            }
            self.send(Frame::StreamEnded {
                subscription_id,
                last,
            });
        }
    }

    /// The peer read all of stream `token`.
    pub fn handle_stream_finished(&mut self, token: StreamToken, now: Instant) {
        self.clock = Some(now);
        self.release(token);
    }

    /// Stream `token` was stopped by the peer or lost with its connection; not retried.
    pub fn handle_stream_cancelled(&mut self, token: StreamToken, now: Instant) {
        self.clock = Some(now);
        self.release(token);
    }

    /// Next action for the driver. See the drain rule on [`RelayPublisher`].
    pub fn poll_output(&mut self) -> Option<PublisherOutput> {
        self.outputs.pop_front()
    }

    /// Always `None`: the publisher has no timers (kept for the common verb set).
    pub fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    /// Whether some subscription wants `(stream, rendition)`: lets the driver skip publishers
    /// that do not.
    pub fn is_subscribed(&self, stream: &str, rendition: &str) -> bool {
        self.subscriptions
            .values()
            .any(|s| s.stream == stream && s.rendition == rendition && !s.ended)
    }

    fn on_hello(&mut self, hello: Hello) {
        if self.peer_hello {
            return self.fail(ProtocolError::HelloOutOfOrder);
        }
        self.peer_hello = true;
        self.send(Frame::Hello(Hello {
            version: crate::VERSION,
            node_id: self.node_id.clone(),
        }));
        if hello.version.major != crate::VERSION.major {
            self.version_refused = true;
            self.fail(ProtocolError::UnsupportedVersion {
                major: hello.version.major,
                minor: hello.version.minor,
            });
        }
    }

    fn on_subscribe(&mut self, s: Subscribe) {
        if self.version_refused {
            return self.refuse(s.request_id, ErrorCode::Version);
        }
        if self.lookups.contains_key(&s.request_id) {
            return self.fail(ProtocolError::DuplicateRequest(s.request_id));
        }
        if self.lookups.len() + self.subscriptions.len() >= MAX_SUBSCRIPTIONS {
            return self.refuse(s.request_id, ErrorCode::Overloaded);
        }
        self.lookups
            .insert(s.request_id, (s.stream.clone(), s.rendition.clone()));
        self.outputs.push_back(PublisherOutput::LookupWindow {
            request_id: s.request_id,
            stream: s.stream,
            rendition: s.rendition,
            resume: s.resume,
        });
    }

    fn refuse(&mut self, request_id: u64, code: ErrorCode) {
        self.send(Frame::SubscribeError(SubscribeError {
            request_id,
            code,
            reason: code.reason().replace('_', " "),
        }));
    }

    fn matching(&self, stream: &str, rendition: &str) -> Vec<u64> {
        self.subscriptions
            .values()
            .filter(|s| s.stream == stream && s.rendition == rendition && !s.ended)
            .map(|s| s.id)
            .collect()
    }

    fn open_init(&mut self, sub: &mut Subscription, generation: u32, data: Bytes) {
        sub.last_init = Some(sub.last_init.map_or(generation, |g| g.max(generation)));
        let frame = Frame::Init(InitFrame {
            subscription_id: sub.id,
            generation,
            data,
        });
        let token = self.token();
        self.outputs.push_back(PublisherOutput::OpenUniStream {
            token,
            priority: INIT_PRIORITY,
            frame: frame.encode(),
        });
    }

    /// Opens queued parts while the subscription has room.
    fn pump(&mut self, sub: &mut Subscription) {
        while let Some(part) = sub.next_to_open() {
            let token = self.token();
            let priority = self.priority(sub, part.position);
            sub.opened(token, part.position, priority, self.clock);
            self.streams.insert(token, sub.id);
            let frame = sub.part_frame(part);
            self.outputs.push_back(PublisherOutput::OpenUniStream {
                token,
                priority,
                frame: frame.encode(),
            });
        }
    }

    /// Newer segments first; within a segment, earlier parts first (a part is useless to the
    /// subscriber without the ones before it in its segment).
    fn priority(&mut self, sub: &mut Subscription, position: PartPosition) -> i32 {
        let base = match sub.segment_base(position.msn) {
            Some(base) => base,
            None => {
                // Restart from 0 before reaching the init priority; for the few streams open at
                // that moment the order is briefly wrong.
                self.segment_priority =
                    match self.segment_priority.checked_add(PRIORITY_SEGMENT_STRIDE) {
                        Some(next) if next < INIT_PRIORITY - PRIORITY_SEGMENT_STRIDE => next,
                        _ => 0,
                    };
                sub.set_segment_base(position.msn, self.segment_priority);
                self.segment_priority
            }
        };
        let index = i32::try_from(position.index).unwrap_or(PRIORITY_SEGMENT_STRIDE - 1);
        base - index.min(PRIORITY_SEGMENT_STRIDE - 1)
    }

    fn release(&mut self, token: StreamToken) {
        let Some(id) = self.streams.remove(&token) else {
            return;
        };
        if let Some(mut sub) = self.subscriptions.remove(&id) {
            sub.closed(token);
            self.pump(&mut sub);
            self.subscriptions.insert(id, sub);
        }
    }

    fn token(&mut self) -> StreamToken {
        self.next_token += 1;
        StreamToken(self.next_token)
    }

    fn send(&mut self, frame: Frame) {
        self.outputs.push_back(PublisherOutput::SendControl(frame));
    }

    fn fail(&mut self, error: ProtocolError) {
        self.outputs.push_back(PublisherOutput::Error(error));
    }
}
