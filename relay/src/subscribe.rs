//! Upstream: an edge's connection to its origin or parent edge. Subscribes on demand, keeps
//! the connection up with backoff, and mirrors every subscription's window into the edge's
//! `serve::StreamTable`.
//!
//! Mirroring clones the subscriber's `RelayWindow` after each change: the clone shares every
//! part's `Bytes`, so it copies metadata (a few dozen entries), never media.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use node::shutdown::Shutdown;
use relay_wire::{
    Backoff, FrameDecoder, RelayEvent, RelaySubscriber, StreamKind, SubscriberConfig,
    SubscriberOutput, SubscriptionHandle,
};
use serve::{SOURCE_RENDITION, ServedStream, StreamTable};
use tokio::sync::mpsc;

use crate::RelayMetrics;
use crate::metrics::ReasonLabels;

/// Where an edge's upstream is. The stream directory will answer this per stream once the
/// control plane lands; today one upstream serves every stream.
#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    /// The upstream's relay (QUIC) address.
    pub addr: SocketAddr,
    /// The name its certificate must carry.
    pub server_name: String,
    /// This node's id, sent in `Hello`.
    pub node_id: String,
    /// A subscription with no player request and no child subscriber for this long is
    /// dropped (and its window removed).
    pub idle_unsubscribe: Duration,
}

/// A handle to the upstream task.
#[derive(Debug, Clone)]
pub struct Upstream {
    wanted: mpsc::Sender<String>,
    link: Arc<Link>,
}

/// Where the upstream task connects, and whether it is connected, shared with its handles.
#[derive(Debug)]
struct Link {
    /// The relay address and certificate name of the next connection attempt.
    target: std::sync::Mutex<(SocketAddr, String)>,
    /// Wall-clock ms since which the upstream has been unreachable; 0 while connected.
    down_since_ms: AtomicU64,
    /// Cuts the reconnect backoff short after a retarget.
    retargeted: tokio::sync::Notify,
}

impl Link {
    fn target(&self) -> (SocketAddr, String) {
        self.target
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn set_connected(&self, connected: bool) {
        if connected {
            self.down_since_ms.store(0, Ordering::Relaxed);
        } else {
            let now = node::clock::unix_time_ms().max(1);
            let _ =
                self.down_since_ms
                    .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
        }
    }
}

impl Upstream {
    /// Starts the upstream task on client `endpoint`, mirroring into `table`.
    pub fn spawn(
        endpoint: quinn::Endpoint,
        config: UpstreamConfig,
        table: Arc<StreamTable>,
        metrics: RelayMetrics,
        shutdown: Shutdown,
    ) -> Self {
        let (wanted, requests) = mpsc::channel(64);
        let link = Arc::new(Link {
            target: std::sync::Mutex::new((config.addr, config.server_name.clone())),
            // Down until the first connection: a parent that never answers can be replaced.
            down_since_ms: AtomicU64::new(node::clock::unix_time_ms().max(1)),
            retargeted: tokio::sync::Notify::new(),
        });
        tokio::spawn(run(
            endpoint,
            config,
            link.clone(),
            table,
            metrics,
            requests,
            shutdown,
        ));
        Self { wanted, link }
    }

    /// How long the upstream has been unreachable (`None` while connected).
    pub fn down_for(&self) -> Option<Duration> {
        match self.link.down_since_ms.load(Ordering::Relaxed) {
            0 => None,
            since => Some(Duration::from_millis(
                node::clock::unix_time_ms().saturating_sub(since),
            )),
        }
    }

    /// Points the next connection attempt at another node (its relay address and certificate
    /// name), e.g. when the stream directory names a new parent after this one died. Every
    /// subscription moves with it and resumes from the last part it holds: continuous if the
    /// new parent has the following parts, else after a discontinuity, as after a reconnect.
    pub fn retarget(&self, addr: SocketAddr, server_name: &str) {
        *self
            .link
            .target
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = (addr, server_name.to_owned());
        self.link.retargeted.notify_one();
    }

    /// The node the upstream connects to (address, certificate name).
    pub fn target(&self) -> (SocketAddr, String) {
        self.link.target()
    }

    /// Asks for `stream` (idempotent, returns at once); it appears in the table once the
    /// upstream's snapshot arrived.
    pub fn want(&self, stream: &str) {
        let _ = self.wanted.try_send(stream.to_owned());
    }
}

struct Mirror {
    subscriber: RelaySubscriber,
    /// Wall-clock µs when the current connection's subscriptions started: parts the origin
    /// made before it are backfill (the window sent on subscribe, or catch-up after a
    /// reconnect), not live arrivals, and stay out of the arrival-delay histogram.
    live_since_us: HashMap<SubscriptionHandle, u64>,
    names: HashMap<SubscriptionHandle, String>,
    handles: HashMap<String, SubscriptionHandle>,
    table: Arc<StreamTable>,
    metrics: RelayMetrics,
    idle_unsubscribe: Duration,
    /// Subscriptions the upstream refused for a stream this edge still serves: asked again
    /// every [`RETRY_REFUSED`] while wanted.
    refused: std::collections::HashSet<SubscriptionHandle>,
    /// Subscriptions whose backfill is in: a live part arrived (or the stream ended). A new
    /// stream joins the table only then, so the first viewer gets the whole window, not the
    /// first backfilled parts of its oldest segment.
    caught_up: std::collections::HashSet<SubscriptionHandle>,
}

/// The longest a new subscription's window waits for a live part before it is served anyway.
const CATCH_UP_WAIT_US: u64 = 1_500_000;

/// How often a refused subscription of a served stream is asked for again.
const RETRY_REFUSED: Duration = Duration::from_millis(500);

async fn run(
    endpoint: quinn::Endpoint,
    config: UpstreamConfig,
    link: Arc<Link>,
    table: Arc<StreamTable>,
    metrics: RelayMetrics,
    mut requests: mpsc::Receiver<String>,
    shutdown: Shutdown,
) {
    let mut mirror = Mirror {
        subscriber: RelaySubscriber::new(SubscriberConfig::new(config.node_id.clone())),
        live_since_us: HashMap::new(),
        names: HashMap::new(),
        handles: HashMap::new(),
        table,
        metrics,
        idle_unsubscribe: config.idle_unsubscribe,
        refused: std::collections::HashSet::new(),
        caught_up: std::collections::HashSet::new(),
    };
    let backoff = Backoff::new(node::clock::unix_time_us());
    let mut attempt = 0u32;
    loop {
        let (addr, server_name) = link.target();
        let connected = match endpoint.connect(addr, &server_name) {
            Ok(connecting) => connecting.await.map_err(|e| e.to_string()),
            Err(error) => Err(error.to_string()),
        };
        match connected {
            Ok(connection) => {
                attempt = 0;
                link.set_connected(true);
                mirror.metrics.upstream_connects.inc();
                mirror.metrics.upstream_connected.set(1);
                tracing::info!(upstream = %addr, node = %server_name, "relay upstream connected");
                let reason = mirror.pump(&connection, &mut requests, &shutdown).await;
                link.set_connected(false);
                mirror.metrics.upstream_connected.set(0);
                mirror.subscriber.handle_connection_lost(node::clock::now());
                // Outputs after a loss (resume points, last window changes) need no connection.
                let _ = mirror.drain(None).await;
                if shutdown.is_triggered() {
                    return;
                }
                mirror.metrics.error(reason);
                tracing::warn!(upstream = %addr, reason, "relay upstream lost, reconnecting");
            }
            Err(error) => {
                link.set_connected(false);
                mirror.metrics.error("connect");
                tracing::warn!(upstream = %addr, %error, attempt, "relay upstream unreachable");
            }
        }
        let delay = backoff.next_delay(attempt);
        attempt = attempt.saturating_add(1);
        // Keep accepting requests while waiting: they are subscribed on the next connection.
        let wait = tokio::time::sleep(delay);
        tokio::pin!(wait);
        loop {
            tokio::select! {
                () = &mut wait => break,
                () = link.retargeted.notified() => {
                    attempt = 0;
                    break;
                }
                Some(stream) = requests.recv() => mirror.want(&stream),
                () = shutdown.triggered() => return,
            }
        }
    }
}

impl Mirror {
    fn want(&mut self, stream: &str) {
        if self.handles.contains_key(stream) {
            return;
        }
        let handle = self
            .subscriber
            .subscribe(stream, SOURCE_RENDITION, node::clock::now());
        self.live_since_us
            .insert(handle, node::clock::unix_time_us());
        self.names.insert(handle, stream.to_owned());
        self.handles.insert(stream.to_owned(), handle);
        self.metrics.subscriptions.set(self.handles.len() as i64);
    }

    /// Runs one connection until it ends; returns why.
    async fn pump(
        &mut self,
        connection: &quinn::Connection,
        requests: &mut mpsc::Receiver<String>,
        shutdown: &Shutdown,
    ) -> &'static str {
        let Ok((mut control_tx, mut control_rx)) = connection.open_bi().await else {
            return "control_stream";
        };
        let (data_tx, mut data_rx) = mpsc::channel::<Bytes>(256);
        let reader = tokio::spawn(read_uni_streams(connection.clone(), data_tx));
        let probes = tokio::spawn(discard_datagrams(connection.clone()));
        let mut decoder = FrameDecoder::new(StreamKind::Control);
        let mut buffer = vec![0u8; 16 * 1024];
        let mut idle_check = tokio::time::interval(
            (self.idle_unsubscribe / 4).clamp(Duration::from_millis(100), Duration::from_secs(5)),
        );
        let mut retry = tokio::time::interval(RETRY_REFUSED);
        let reconnected_at = node::clock::unix_time_us();
        self.live_since_us
            .values_mut()
            .for_each(|since| *since = reconnected_at);
        self.subscriber.handle_connected(node::clock::now());
        let reason = loop {
            if let Err(reason) = self.drain(Some(&mut control_tx)).await {
                break reason;
            }
            let deadline = self
                .subscriber
                .poll_timeout()
                .map(tokio::time::Instant::from_std);
            let timer = async {
                match deadline {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                read = control_rx.read(&mut buffer) => match read {
                    Ok(Some(n)) => {
                        decoder.handle_bytes(&buffer[..n]);
                        while let Some(frame) = decoder.poll_frame() {
                            match frame {
                                Ok(frame) => self.subscriber.handle_control(frame, node::clock::now()),
                                Err(error) => return error.reason(),
                            }
                        }
                    }
                    Ok(None) | Err(_) => break "control_stream",
                },
                Some(data) = data_rx.recv() => match FrameDecoder::decode_data_stream(&data) {
                    Ok(frame) => self.subscriber.handle_uni_frame(frame, node::clock::now()),
                    Err(error) => break error.reason(),
                },
                Some(stream) = requests.recv() => self.want(&stream),
                () = timer => self.subscriber.handle_timeout(node::clock::now()),
                _ = idle_check.tick() => self.drop_idle(),
                _ = retry.tick(), if !self.refused.is_empty() => {
                    let now = node::clock::now();
                    for handle in self.refused.drain() {
                        self.subscriber.retry(handle, now);
                    }
                }
                _ = connection.closed() => break "connection_lost",
                () = shutdown.triggered() => {
                    connection.close(0u32.into(), b"shutting down");
                    break "shutdown";
                }
            }
        };
        reader.abort();
        probes.abort();
        reason
    }

    /// The drain rule: act on every output; then mirror the windows that changed.
    async fn drain(
        &mut self,
        mut control: Option<&mut quinn::SendStream>,
    ) -> Result<(), &'static str> {
        let mut changed: HashMap<SubscriptionHandle, Vec<RelayEvent>> = HashMap::new();
        while let Some(output) = self.subscriber.poll_output() {
            match output {
                SubscriberOutput::SendControl(frame) => {
                    if let Some(control) = control.as_deref_mut() {
                        control
                            .write_all(&frame.to_bytes())
                            .await
                            .map_err(|_| "control_stream")?;
                    }
                }
                SubscriberOutput::WindowChanged {
                    subscription,
                    event,
                } => {
                    changed.entry(subscription).or_default().push(event);
                }
                SubscriberOutput::PartArrived {
                    subscription,
                    origin_time_us,
                    ..
                } => {
                    let since = self.live_since_us.get(&subscription).copied().unwrap_or(0);
                    if origin_time_us < since {
                        self.metrics.backfill_parts.inc();
                    } else {
                        self.caught_up.insert(subscription);
                        let delay_us = node::clock::unix_time_us().saturating_sub(origin_time_us);
                        self.metrics.arrival_delay.observe(delay_us as f64 / 1e6);
                    }
                }
                SubscriberOutput::Gap { reason, .. } => {
                    self.metrics
                        .gaps
                        .get_or_create(&ReasonLabels {
                            reason: reason.reason(),
                        })
                        .inc();
                }
                SubscriberOutput::SubscriptionFailed {
                    subscription,
                    code,
                    reason,
                } => {
                    let Some(name) = self.names.get(&subscription).cloned() else {
                        continue;
                    };
                    // A stream this edge was serving that the upstream no longer has (an origin
                    // restarted before its host republished): keep the window and ask again
                    // while viewers are here, so it continues after a discontinuity.
                    let serving = self
                        .table
                        .get(&name)
                        .is_some_and(|served| served.lock().owner == subscription.0);
                    if serving && code == relay_wire::ErrorCode::UnknownStream {
                        tracing::info!(stream = %name, %reason, "upstream lost the stream: asking again until it is back");
                        self.refused.insert(subscription);
                        continue;
                    }
                    tracing::info!(stream = %name, code = code.reason(), %reason, "upstream refused the subscription");
                    self.names.remove(&subscription);
                    self.handles.remove(&name);
                    self.live_since_us.remove(&subscription);
                    self.caught_up.remove(&subscription);
                    self.subscriber
                        .unsubscribe(subscription, node::clock::now());
                    self.metrics.subscriptions.set(self.handles.len() as i64);
                }
                SubscriberOutput::ResumeState { .. } => {}
                SubscriberOutput::Error(error) => return Err(error.reason()),
            }
        }
        for (handle, events) in changed {
            self.mirror(handle, events);
        }
        Ok(())
    }

    /// Drops subscriptions nobody watched for `idle_unsubscribe` (no player request, no child
    /// subscriber), removing their windows.
    fn drop_idle(&mut self) {
        let idle: Vec<(String, SubscriptionHandle)> = self
            .handles
            .iter()
            .filter(|(name, _)| {
                self.table.get(name).is_some_and(|served| {
                    served.subscribers() == 0 && served.idle_for() >= self.idle_unsubscribe
                })
            })
            .map(|(name, handle)| (name.clone(), *handle))
            .collect();
        for (name, handle) in idle {
            tracing::info!(stream = %name, idle = ?self.idle_unsubscribe, "no viewer: unsubscribing");
            self.subscriber.unsubscribe(handle, node::clock::now());
            self.handles.remove(&name);
            self.names.remove(&handle);
            self.live_since_us.remove(&handle);
            self.refused.remove(&handle);
            self.caught_up.remove(&handle);
            self.table.remove(&name);
        }
        self.metrics.subscriptions.set(self.handles.len() as i64);
    }

    fn mirror(&mut self, handle: SubscriptionHandle, events: Vec<RelayEvent>) {
        let (Some(name), Some(window)) = (
            self.names.get(&handle),
            self.subscriber.relay_window(handle),
        ) else {
            return;
        };
        let ended = events
            .iter()
            .any(|e| matches!(e, RelayEvent::Window(hls::WindowEvent::Ended)));
        let served = match self.table.get(name) {
            Some(served) => served,
            // Still backfilling: the window joins the table once it has caught up (or after
            // CATCH_UP_WAIT whatever the clocks say: an origin whose clock runs behind ours
            // makes every part look like backfill).
            None if !ended
                && !self.caught_up.contains(&handle)
                && node::clock::unix_time_us()
                    .saturating_sub(self.live_since_us.get(&handle).copied().unwrap_or(0))
                    < CATCH_UP_WAIT_US =>
            {
                return;
            }
            None => {
                let served = Arc::new(ServedStream::new(name, window.clone(), handle.0));
                self.caught_up.insert(handle);
                self.table.insert(served.clone());
                served
            }
        };
        let window = window.clone();
        {
            let mut state = served.lock();
            state.variant = crate::variant::describe(&window).or(state.variant.take());
            state.window = window;
            state.owner = handle.0;
        }
        served.notify(events);
    }
}

/// Reads every unidirectional stream the upstream opens, each a complete data frame.
async fn read_uni_streams(connection: quinn::Connection, frames: mpsc::Sender<Bytes>) {
    const MAX_DATA_STREAM: usize =
        relay_wire::limits::MAX_PART_SIZE + relay_wire::limits::MAX_DATA_HEADER_SIZE;
    while let Ok(mut stream) = connection.accept_uni().await {
        let frames = frames.clone();
        tokio::spawn(async move {
            // A stream reset by the publisher (congestion) just ends here.
            if let Ok(data) = stream.read_to_end(MAX_DATA_STREAM).await {
                let _ = frames.send(Bytes::from(data)).await;
            }
        });
    }
}

/// Reads and drops the upstream's QUIC DATAGRAMs: tail-loss probes, whose only purpose is to
/// be acknowledged (`docs/relay-wire.md` §2). Reading them keeps quinn's receive buffer empty.
async fn discard_datagrams(connection: quinn::Connection) {
    while connection.read_datagram().await.is_ok() {}
}

/// How long an edge waits, at most, for a first viewer's stream to arrive from upstream.
pub const DEFAULT_PULL_WAIT: Duration = Duration::from_secs(5);
