//! [`RelaySubscriber`]: the receiving side of one upstream connection.

mod replica;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use hls::{PartPosition, PartWindow};

use self::replica::{Outbox, Replica};
use crate::error::ProtocolError;
use crate::frame::{ErrorCode, Frame, Hello, ResumePoint, Subscribe};
use crate::limits::{DEFAULT_REORDER_TIMEOUT, MAX_EARLY_FRAMES};
use crate::window::{RelayEvent, RelayWindow};

/// Names one subscription locally. Stable across reconnects: the window survives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubscriptionHandle(pub u64);

/// How a [`RelaySubscriber`] behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriberConfig {
    /// Our node id, sent in `Hello`.
    pub node_id: String,
    /// How long to wait for a missing part once something after it is known before declaring
    /// a gap. Default [`DEFAULT_REORDER_TIMEOUT`].
    pub reorder_timeout: Duration,
}

impl SubscriberConfig {
    /// Defaults with this node id.
    pub fn new(node_id: impl Into<String>) -> Self {
        Self {
            node_id: node_id.into(),
            reorder_timeout: DEFAULT_REORDER_TIMEOUT,
        }
    }
}

/// Why the subscriber skipped ahead, leaving `EXT-X-DISCONTINUITY` in the local window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapReason {
    /// A missing part did not arrive within the reorder timeout (its stream was cancelled).
    Timeout,
    /// More than [`MAX_REORDER_PARTS`](crate::limits::MAX_REORDER_PARTS) parts waited.
    ReorderBufferFull,
    /// The local window refused a part (a broken upstream); it was dropped.
    Refused,
    /// After a reconnect, the upstream no longer had the part after our resume point.
    UpstreamMovedOn,
}

impl GapReason {
    /// A closed snake_case label for metrics.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::ReorderBufferFull => "reorder_buffer_full",
            Self::Refused => "refused",
            Self::UpstreamMovedOn => "upstream_moved_on",
        }
    }
}

/// What the driver must do or may record, drained with [`RelaySubscriber::poll_output`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscriberOutput {
    /// Write this frame (`frame.to_bytes()`) to the control stream.
    SendControl(Frame),
    /// The subscription's window changed: wake held playlist and part requests, purge caches,
    /// and forward to child publishers ([`RelayPublisher::handle_window_event`](crate::RelayPublisher::handle_window_event)
    /// with [`RelaySubscriber::relay_window`]).
    WindowChanged {
        /// The subscription.
        subscription: SubscriptionHandle,
        /// What changed.
        event: RelayEvent,
    },
    /// A part frame arrived (before reordering), for the "delay behind origin" metric:
    /// `now` minus `origin_time_us` on the wall clock.
    PartArrived {
        /// The subscription.
        subscription: SubscriptionHandle,
        /// Upstream position.
        position: PartPosition,
        /// The origin's wall clock when it made the part, µs since the Unix epoch.
        origin_time_us: u64,
        /// When it arrived.
        now: Instant,
    },
    /// Parts were skipped and a discontinuity inserted.
    Gap {
        /// The subscription.
        subscription: SubscriptionHandle,
        /// Why.
        reason: GapReason,
    },
    /// The upstream refused the subscription. Its window (if any) stays readable until
    /// [`RelaySubscriber::unsubscribe`]; it is not resubscribed on reconnect.
    SubscriptionFailed {
        /// The subscription.
        subscription: SubscriptionHandle,
        /// Why.
        code: ErrorCode,
        /// The upstream's text.
        reason: String,
    },
    /// The connection was lost; on the next [`RelaySubscriber::handle_connected`] the
    /// subscription resumes from here.
    ResumeState {
        /// The subscription.
        subscription: SubscriptionHandle,
        /// Last part held, upstream numbering (`None`: subscribe fresh).
        resume: Option<ResumePoint>,
    },
    /// The upstream broke the protocol: close the connection with [`ProtocolError::code`],
    /// then reconnect (with [`Backoff`](crate::Backoff)).
    Error(ProtocolError),
}

/// The subscriber side of the relay protocol for one upstream connection (sans-IO).
///
/// Inputs: [`handle_connected`](Self::handle_connected) when a connection is up,
/// [`handle_control`](Self::handle_control), [`handle_uni_frame`](Self::handle_uni_frame) (a
/// complete data frame from a uni stream, in any order),
/// [`handle_connection_lost`](Self::handle_connection_lost), [`handle_timeout`](Self::handle_timeout);
/// API: [`subscribe`](Self::subscribe), [`unsubscribe`](Self::unsubscribe).
///
/// **Drain rule:** after every call that takes `&mut self`, call
/// [`poll_output`](Self::poll_output) until it returns `None`, then re-arm the timer with
/// [`poll_timeout`](Self::poll_timeout).
#[derive(Debug)]
pub struct RelaySubscriber {
    config: SubscriberConfig,
    connected: bool,
    peer_hello: bool,
    subs: BTreeMap<SubscriptionHandle, Entry>,
    /// Pending requests; `None` once unsubscribed before the answer.
    requests: HashMap<u64, Option<SubscriptionHandle>>,
    remote: HashMap<u64, SubscriptionHandle>,
    /// Data frames for subscription ids not known yet (they overtook their `SubscribeOk`).
    early: VecDeque<Frame>,
    next_request_id: u64,
    next_handle: u64,
    outputs: VecDeque<SubscriberOutput>,
}

#[derive(Debug)]
struct Entry {
    stream: String,
    rendition: String,
    state: State,
    replica: Replica,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for a connection.
    Idle,
    Requested(u64),
    Active(u64),
    /// Refused or ended: not resubscribed.
    Done,
}

impl RelaySubscriber {
    /// A subscriber with no connection yet.
    pub fn new(config: SubscriberConfig) -> Self {
        Self {
            config,
            connected: false,
            peer_hello: false,
            subs: BTreeMap::new(),
            requests: HashMap::new(),
            remote: HashMap::new(),
            early: VecDeque::new(),
            next_request_id: 0,
            next_handle: 0,
            outputs: VecDeque::new(),
        }
    }

    /// Subscribes to `(stream, rendition)`; sent now if connected, else on the next connect.
    pub fn subscribe(
        &mut self,
        stream: &str,
        rendition: &str,
        _now: Instant,
    ) -> SubscriptionHandle {
        self.next_handle += 1;
        let handle = SubscriptionHandle(self.next_handle);
        let entry = Entry {
            stream: stream.to_owned(),
            rendition: rendition.to_owned(),
            state: State::Idle,
            replica: Replica::default(),
        };
        self.subs.insert(handle, entry);
        if self.connected {
            self.request(handle);
        }
        handle
    }

    /// Drops a subscription and its window.
    pub fn unsubscribe(&mut self, handle: SubscriptionHandle, _now: Instant) {
        let Some(entry) = self.subs.remove(&handle) else {
            return;
        };
        match entry.state {
            State::Requested(request_id) => {
                self.requests.insert(request_id, None);
            }
            State::Active(subscription_id) => {
                self.remote.remove(&subscription_id);
                self.send(Frame::Unsubscribe { subscription_id });
            }
            State::Idle | State::Done => {}
        }
    }

    /// Asks again for a subscription the upstream refused (e.g. `unknown_stream` from an origin
    /// that restarted before its host republished), keeping its window: when the stream is
    /// back, the window continues after a discontinuity (the upstream's numbering restarted).
    /// Sent now if connected, else on the next connect. Does nothing for a subscription that is
    /// not refused (active, pending, or ended).
    pub fn retry(&mut self, handle: SubscriptionHandle, _now: Instant) {
        let Some(entry) = self.subs.get_mut(&handle) else {
            return;
        };
        if entry.state != State::Done || entry.replica.is_ended() {
            return;
        }
        entry.state = State::Idle;
        if self.connected {
            self.request(handle);
        }
    }

    /// A connection to the upstream is up: says `Hello` and (re)subscribes everything not done,
    /// resuming each from its last part.
    pub fn handle_connected(&mut self, _now: Instant) {
        self.connected = true;
        self.peer_hello = false;
        self.send(Frame::Hello(Hello {
            version: crate::VERSION,
            node_id: self.config.node_id.clone(),
        }));
        let idle: Vec<_> = self
            .subs
            .iter()
            .filter(|(_, e)| e.state == State::Idle)
            .map(|(h, _)| *h)
            .collect();
        for handle in idle {
            self.request(handle);
        }
    }

    /// The connection is gone (closed, timed out, or closed by us after an error). Every
    /// subscription keeps its window and resumes on the next [`handle_connected`](Self::handle_connected).
    pub fn handle_connection_lost(&mut self, _now: Instant) {
        self.connected = false;
        self.peer_hello = false;
        self.requests.clear();
        self.remote.clear();
        self.early.clear();
        for (handle, entry) in &mut self.subs {
            if entry.state == State::Done {
                continue;
            }
            entry.state = State::Idle;
            entry.replica.disconnect();
            self.outputs.push_back(SubscriberOutput::ResumeState {
                subscription: *handle,
                resume: entry.replica.last,
            });
        }
    }

    /// A frame from the control stream.
    pub fn handle_control(&mut self, frame: Frame, now: Instant) {
        match frame {
            Frame::Hello(hello) => {
                if self.peer_hello {
                    return self.fail(ProtocolError::HelloOutOfOrder);
                }
                self.peer_hello = true;
                if hello.version.major != crate::VERSION.major {
                    self.fail(ProtocolError::UnsupportedVersion {
                        major: hello.version.major,
                        minor: hello.version.minor,
                    });
                }
            }
            _ if !self.peer_hello => self.fail(ProtocolError::HelloOutOfOrder),
            Frame::SubscribeOk(ok) => {
                let Some(handle) = self.answered(ok.request_id) else {
                    return;
                };
                let Some(handle) = handle else {
                    // Unsubscribed while the request was in flight.
                    return self.send(Frame::Unsubscribe {
                        subscription_id: ok.subscription_id,
                    });
                };
                let Some(entry) = self.subs.get_mut(&handle) else {
                    return;
                };
                entry.state = State::Active(ok.subscription_id);
                self.remote.insert(ok.subscription_id, handle);
                let mut out = Outbox {
                    handle,
                    out: &mut self.outputs,
                };
                if let Err(e) = entry.replica.start(ok.window, &mut out) {
                    return self.fail(e);
                }
                let (early, rest) = std::mem::take(&mut self.early)
                    .into_iter()
                    .partition(|f| data_subscription(f) == Some(ok.subscription_id));
                self.early = rest;
                for frame in early {
                    self.handle_uni_frame(frame, now);
                }
            }
            Frame::SubscribeError(error) => {
                let Some(Some(handle)) = self.answered(error.request_id) else {
                    return;
                };
                if let Some(entry) = self.subs.get_mut(&handle) {
                    entry.state = State::Done;
                    self.outputs
                        .push_back(SubscriberOutput::SubscriptionFailed {
                            subscription: handle,
                            code: error.code,
                            reason: error.reason,
                        });
                }
            }
            Frame::StreamEnded {
                subscription_id,
                last,
            } => self.with_replica(subscription_id, |r, out| r.handle_end(last, now, out)),
            Frame::Discontinuity {
                subscription_id,
                last,
            } => self.with_replica(subscription_id, |r, out| {
                r.handle_discontinuity(last, now, out);
            }),
            other => self.fail(ProtocolError::WrongDirection(other.name())),
        }
    }

    /// A complete data frame read from a uni stream.
    pub fn handle_uni_frame(&mut self, frame: Frame, now: Instant) {
        if let Some(id) = data_subscription(&frame)
            && !self.remote.contains_key(&id)
            && !self.requests.is_empty()
        {
            self.early.push_back(frame);
            if self.early.len() > MAX_EARLY_FRAMES {
                self.early.pop_front();
            }
            return;
        }
        match frame {
            Frame::Init(init) => self.with_replica(init.subscription_id, |r, out| {
                r.handle_init(init.generation, init.data, now, out);
            }),
            Frame::Part(part) => {
                if let Some(&handle) = self.remote.get(&part.subscription_id) {
                    self.outputs.push_back(SubscriberOutput::PartArrived {
                        subscription: handle,
                        position: part.position,
                        origin_time_us: part.meta.origin_time_us,
                        now,
                    });
                }
                self.with_replica(part.subscription_id, |r, out| r.handle_part(part, now, out));
            }
            other => self.fail(ProtocolError::WrongDirection(other.name())),
        }
    }

    /// The time from [`poll_timeout`](Self::poll_timeout) was reached.
    pub fn handle_timeout(&mut self, now: Instant) {
        let timeout = self.config.reorder_timeout;
        for (handle, entry) in &mut self.subs {
            if entry
                .replica
                .stalled_since
                .is_some_and(|since| since + timeout <= now)
            {
                let mut out = Outbox {
                    handle: *handle,
                    out: &mut self.outputs,
                };
                entry.replica.handle_timeout(now, &mut out);
            }
        }
        self.retire_ended();
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.subs
            .values()
            .filter_map(|e| e.replica.stalled_since)
            .min()
            .map(|since| since + self.config.reorder_timeout)
    }

    /// Next output. See the drain rule on [`RelaySubscriber`].
    pub fn poll_output(&mut self) -> Option<SubscriberOutput> {
        self.outputs.pop_front()
    }

    /// The subscription's window, for rendering playlists and serving objects.
    pub fn window(&self, handle: SubscriptionHandle) -> Option<&PartWindow> {
        self.relay_window(handle).map(RelayWindow::window)
    }

    /// The subscription's window with its replication metadata, for child publishers
    /// ([`RelayWindow::snapshot`], [`RelayWindow::replicated_part`]).
    pub fn relay_window(&self, handle: SubscriptionHandle) -> Option<&RelayWindow> {
        self.subs.get(&handle)?.replica.window.as_ref()
    }

    /// Where the subscription would resume: its last part, upstream numbering.
    pub fn resume_point(&self, handle: SubscriptionHandle) -> Option<ResumePoint> {
        self.subs.get(&handle)?.replica.last
    }

    fn request(&mut self, handle: SubscriptionHandle) {
        let Some(entry) = self.subs.get_mut(&handle) else {
            return;
        };
        let request_id = self.next_request_id;
        self.next_request_id += 1;
        entry.state = State::Requested(request_id);
        self.requests.insert(request_id, Some(handle));
        let resume = entry.replica.last;
        let frame = Frame::Subscribe(Subscribe {
            request_id,
            stream: entry.stream.clone(),
            rendition: entry.rendition.clone(),
            resume,
        });
        self.send(frame);
    }

    /// Removes a pending request: `None` (and an error) if we never made it.
    fn answered(&mut self, request_id: u64) -> Option<Option<SubscriptionHandle>> {
        let answer = self.requests.remove(&request_id);
        if answer.is_none() {
            self.fail(ProtocolError::UnknownId(request_id));
        }
        answer
    }

    fn with_replica(
        &mut self,
        subscription_id: u64,
        f: impl FnOnce(&mut Replica, &mut Outbox<'_>),
    ) {
        // Frames for an unknown id race with our Unsubscribe: ignored.
        let Some(&handle) = self.remote.get(&subscription_id) else {
            return;
        };
        if let Some(entry) = self.subs.get_mut(&handle) {
            let mut out = Outbox {
                handle,
                out: &mut self.outputs,
            };
            f(&mut entry.replica, &mut out);
        }
        self.retire_ended();
    }

    /// Ended subscriptions are done upstream: unsubscribe there, keep the window here.
    fn retire_ended(&mut self) {
        for entry in self.subs.values_mut() {
            if let State::Active(subscription_id) = entry.state
                && entry.replica.is_ended()
            {
                entry.state = State::Done;
                self.remote.remove(&subscription_id);
                self.outputs
                    .push_back(SubscriberOutput::SendControl(Frame::Unsubscribe {
                        subscription_id,
                    }));
            }
        }
    }

    fn send(&mut self, frame: Frame) {
        self.outputs.push_back(SubscriberOutput::SendControl(frame));
    }

    fn fail(&mut self, error: ProtocolError) {
        self.outputs.push_back(SubscriberOutput::Error(error));
    }
}

/// The subscription a data frame belongs to.
fn data_subscription(frame: &Frame) -> Option<u64> {
    match frame {
        Frame::Init(init) => Some(init.subscription_id),
        Frame::Part(part) => Some(part.subscription_id),
        _ => None,
    }
}
