//! Downstream: accept subscriber connections and replicate this node's windows to them.

use std::collections::HashMap;
use std::sync::Arc;

use node::shutdown::Shutdown;
use relay_wire::{
    ErrorCode, FrameDecoder, PublisherOutput, RelayEvent, RelayPublisher, StreamKind, StreamToken,
};
use serve::{SOURCE_RENDITION, ServedStream, StreamSource};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use crate::RelayMetrics;

/// Accepts downstream connections on `endpoint` (a server endpoint with the relay ALPN) until
/// `shutdown`, replicating the streams `source` finds. An edge's source pulls a stream it does
/// not hold from its own upstream first, so a tier-2 subscribe reaches the origin.
pub async fn serve(
    endpoint: quinn::Endpoint,
    source: Arc<dyn StreamSource>,
    node_id: String,
    metrics: RelayMetrics,
    shutdown: Shutdown,
) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            incoming = endpoint.accept() => {
                let Some(incoming) = incoming else { break };
                let (source, node_id, metrics, shutdown) = (source.clone(), node_id.clone(), metrics.clone(), shutdown.clone());
                connections.spawn(async move {
                    match incoming.await {
                        Ok(connection) => {
                            metrics.downstream_connections.inc();
                            let peer = connection.remote_address();
                            if let Err(reason) = Downstream::new(connection, source, node_id, metrics.clone()).run(shutdown).await {
                                metrics.error(reason);
                                tracing::info!(%peer, reason, "relay subscriber connection closed");
                            }
                            metrics.downstream_connections.dec();
                        }
                        // Wrong certificate, wrong ALPN, aborted handshakes.
                        Err(error) => {
                            metrics.error("handshake");
                            tracing::info!(%error, "relay handshake refused");
                        }
                    }
                });
            }
            () = shutdown.triggered() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    endpoint.close(0u32.into(), b"shutting down");
    connections.shutdown().await;
}

/// One subscriber connection.
/// Both ends of a bounded channel the connection task owns.
type Channel<T> = (mpsc::Sender<T>, mpsc::Receiver<T>);
/// Both ends of an unbounded channel the connection task owns (bounded in practice by the
/// publisher's in-flight limit).
type UnboundedChannel<T> = (mpsc::UnboundedSender<T>, mpsc::UnboundedReceiver<T>);

/// A stream found (or not) for a subscribe: (request id, rendition, resume, stream).
type Found = (
    u64,
    String,
    Option<relay_wire::ResumePoint>,
    Option<Arc<ServedStream>>,
);

struct Downstream {
    connection: quinn::Connection,
    source: Arc<dyn StreamSource>,
    streams: std::collections::HashMap<String, Arc<ServedStream>>,
    found: (mpsc::UnboundedSender<Found>, mpsc::UnboundedReceiver<Found>),
    publisher: RelayPublisher,
    metrics: RelayMetrics,
    events: Channel<(String, RelayEvent)>,
    finished: UnboundedChannel<(StreamToken, bool)>,
    writers: HashMap<StreamToken, CancellationToken>,
    stop: CancellationToken,
}

impl Downstream {
    fn new(
        connection: quinn::Connection,
        source: Arc<dyn StreamSource>,
        node_id: String,
        metrics: RelayMetrics,
    ) -> Self {
        Self {
            connection,
            source,
            streams: std::collections::HashMap::new(),
            found: mpsc::unbounded_channel(),
            publisher: RelayPublisher::new(node_id),
            metrics,
            events: mpsc::channel(serve::EVENT_BACKLOG),
            finished: mpsc::unbounded_channel(),
            writers: HashMap::new(),
            stop: CancellationToken::new(),
        }
    }

    /// Pumps until the connection ends; `Err` names why.
    async fn run(mut self, shutdown: Shutdown) -> Result<(), &'static str> {
        let result = self.pump(shutdown).await;
        self.stop.cancel(); // ends the event forwarders
        for served in self.streams.values() {
            served.count_subscriber(false);
        }
        result
    }

    async fn pump(&mut self, shutdown: Shutdown) -> Result<(), &'static str> {
        let (mut control_tx, mut control_rx) = self
            .connection
            .accept_bi()
            .await
            .map_err(|_| "no_control_stream")?;
        let mut decoder = FrameDecoder::new(StreamKind::Control);
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            self.drain(&mut control_tx).await?;
            tokio::select! {
                read = control_rx.read(&mut buffer) => match read {
                    Ok(Some(n)) => {
                        decoder.handle_bytes(&buffer[..n]);
                        while let Some(frame) = decoder.poll_frame() {
                            let frame = frame.map_err(|e| e.reason())?;
                            self.publisher.handle_control(frame, node::clock::now());
                        }
                        self.forget_unsubscribed();
                    }
                    Ok(None) => return Ok(()),
                    Err(_) => return Err("control_stream"),
                },
                Some((request_id, rendition, resume, stream)) = self.found.1.recv() => {
                    let answer = self.answer(stream, &rendition, resume);
                    self.publisher.answer_subscribe(request_id, answer, node::clock::now());
                }
                Some((stream, event)) = self.events.1.recv() => {
                    if let Some(served) = self.streams.get(&stream) {
                        let state = served.lock();
                        self.publisher.handle_window_event(&stream, SOURCE_RENDITION, &state.window, &event, node::clock::now());
                    }
                }
                Some((token, finished)) = self.finished.1.recv() => {
                    self.writers.remove(&token);
                    if finished {
                        self.publisher.handle_stream_finished(token, node::clock::now());
                    } else {
                        self.publisher.handle_stream_cancelled(token, node::clock::now());
                    }
                }
                _ = self.connection.closed() => return Ok(()),
                () = shutdown.triggered() => {
                    self.connection.close(0u32.into(), b"shutting down");
                    return Ok(());
                }
            }
        }
    }

    /// The drain rule: act on every output until the publisher has nothing more.
    async fn drain(&mut self, control: &mut quinn::SendStream) -> Result<(), &'static str> {
        while let Some(output) = self.publisher.poll_output() {
            match output {
                PublisherOutput::SendControl(frame) => {
                    control
                        .write_all(&frame.to_bytes())
                        .await
                        .map_err(|_| "control_stream")?;
                }
                PublisherOutput::LookupWindow {
                    request_id,
                    stream,
                    rendition,
                    resume,
                } => {
                    // Finding may wait (an edge pulling from its upstream): answer when found.
                    let (source, found) = (self.source.clone(), self.found.0.clone());
                    tokio::spawn(async move {
                        let served = source.find(&stream).await;
                        let _ = found.send((request_id, rendition, resume, served));
                    });
                }
                PublisherOutput::OpenUniStream {
                    token,
                    priority,
                    frame,
                } => {
                    self.metrics.parts_sent.inc();
                    let cancel = self.stop.child_token();
                    self.writers.insert(token, cancel.clone());
                    let (connection, done) = (self.connection.clone(), self.finished.0.clone());
                    let probes = self.metrics.tail_probes.clone();
                    tokio::spawn(async move {
                        let finished =
                            write_uni(&connection, priority, frame, cancel, &probes).await;
                        let _ = done.send((token, finished));
                    });
                }
                PublisherOutput::CancelUniStream { token } => {
                    self.metrics.parts_cancelled.inc();
                    if let Some(cancel) = self.writers.remove(&token) {
                        cancel.cancel();
                    }
                }
                PublisherOutput::Error(error) => {
                    self.connection.close(
                        quinn::VarInt::from_u64(error.code()).unwrap_or_default(),
                        error.reason().as_bytes(),
                    );
                    return Err(error.reason());
                }
            }
        }
        Ok(())
    }

    /// Stops counting this connection as a subscriber of streams it unsubscribed from.
    fn forget_unsubscribed(&mut self) {
        let publisher = &self.publisher;
        self.streams.retain(|name, served| {
            let still = publisher.is_subscribed(name, SOURCE_RENDITION);
            if !still {
                served.count_subscriber(false);
            }
            still
        });
    }

    /// Answers a subscribe with the stream's snapshot, after starting to forward the stream's
    /// events, so nothing between the snapshot and the first event is missed (the publisher
    /// drops parts it already sent).
    fn answer(
        &mut self,
        served: Option<Arc<ServedStream>>,
        rendition: &str,
        resume: Option<relay_wire::ResumePoint>,
    ) -> Result<relay_wire::SnapshotAndBackfill, ErrorCode> {
        if rendition != SOURCE_RENDITION {
            return Err(ErrorCode::UnknownRendition);
        }
        let served = served.ok_or(ErrorCode::UnknownStream)?;
        let name = served.name().to_owned();
        if !self.streams.contains_key(&name) {
            served.count_subscriber(true);
            self.streams.insert(name.clone(), served.clone());
            let (events, sender, stop) =
                (served.events(), self.events.0.clone(), self.stop.clone());
            tokio::spawn(forward_events(name, events, sender, stop));
        }
        let state = served.lock();
        Ok(state.window.snapshot(resume))
    }
}

/// Moves a stream's window events to the connection task until the connection ends.
async fn forward_events(
    stream: String,
    mut events: broadcast::Receiver<RelayEvent>,
    sender: mpsc::Sender<(String, RelayEvent)>,
    stop: CancellationToken,
) {
    loop {
        let event = tokio::select! {
            event = events.recv() => event,
            () = stop.cancelled() => return,
        };
        match event {
            Ok(event) => {
                if sender.send((stream.clone(), event)).await.is_err() {
                    return;
                }
            }
            // This subscriber fell more than the backlog behind: it sees a gap and recovers
            // with a discontinuity.
            Err(broadcast::error::RecvError::Lagged(skipped)) => {
                tracing::warn!(%stream, skipped, "relay publisher lagged behind the window");
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Writes one data frame on its own unidirectional stream; `true` once the peer has it all,
/// `false` if it was cancelled or the connection failed. Until the peer has it all, tail-loss
/// probes follow it (`tail_probe`).
async fn write_uni(
    connection: &quinn::Connection,
    priority: i32,
    frame: relay_wire::EncodedFrame,
    cancel: CancellationToken,
    probes: &prometheus_client::metrics::counter::Counter,
) -> bool {
    let Ok(mut send) = connection.open_uni().await else {
        return false;
    };
    let _ = send.set_priority(priority);
    let written = async {
        send.write_all(&frame.header).await.ok()?;
        send.write_all(&frame.body).await.ok()?;
        send.finish().ok()?;
        tokio::select! {
            stopped = send.stopped() => stopped.ok(),
            () = crate::tail_probe::probe_tail(connection, probes) => None,
        }
    };
    tokio::select! {
        done = written => done.is_some(),
        () = cancel.cancelled() => {
            let _ = send.reset(0u32.into());
            false
        }
    }
}
