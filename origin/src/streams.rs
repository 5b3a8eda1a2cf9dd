//! Live streams on this origin: one [`LiveStream`] per stream name, holding its LL-HLS
//! `PartWindow`, and the [`Publication`] a connected publisher feeds.
//!
//! Lifecycle: a publisher claims a stream ([`StreamHub::claim`]); a second claim while one is
//! connected is refused. When the publisher goes away the window stays; a new claim within the
//! reconnect grace continues the same window with a new init generation (so
//! `EXT-X-DISCONTINUITY` and a new `EXT-X-MAP`); after the grace the window ends
//! (`EXT-X-ENDLIST`) and a later claim starts a new stream.
//!
//! Readers (HTTP) lock the window only to render or copy out `Bytes`, and wait for changes on
//! a `watch` channel bumped after every window change: no polling.

mod publication;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use hls::{PartWindow, WindowConfig};
use tokio::sync::watch;

pub use publication::{MediaRejection, Publication};

use crate::ingest::auth::Rejection;
use crate::metrics::OriginMetrics;

/// The one rendition the origin makes today: the publisher's own encoding, muxed A/V.
pub const SOURCE_RENDITION: &str = "source";

/// All streams of this origin.
pub struct StreamHub {
    streams: Mutex<HashMap<String, Arc<LiveStream>>>,
    window: WindowConfig,
    part_target: Duration,
    segment_target: Duration,
    grace: Duration,
    metrics: OriginMetrics,
}

/// One stream: its window, what the publisher told us, and a change signal.
pub struct LiveStream {
    name: String,
    state: Mutex<StreamState>,
    changed: watch::Sender<u64>,
}

/// What the lock protects.
pub struct StreamState {
    /// The LL-HLS window (single renderer shared with the edge).
    pub window: PartWindow,
    /// The multivariant attributes, known once the first init arrived.
    pub variant: Option<VariantInfo>,
    publisher: PublisherState,
    /// Claims so far; a publication only touches the state while its epoch is current.
    epoch: u64,
}

/// What the multivariant playlist says about the source rendition.
#[derive(Debug, Clone, PartialEq)]
pub struct VariantInfo {
    /// `CODECS`.
    pub codecs: String,
    /// `RESOLUTION`.
    pub resolution: Option<(u32, u32)>,
    /// `FRAME-RATE`.
    pub frame_rate: Option<f64>,
    /// `BANDWIDTH`: the peak segment bitrate seen, bits per second.
    pub peak_bitrate: u64,
    /// `AVERAGE-BANDWIDTH`: bytes over media time so far, bits per second.
    pub average_bitrate: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PublisherState {
    Connected,
    /// Gone; the window waits for a reconnect until the grace timer of this epoch fires.
    Away,
    Ended,
}

impl StreamHub {
    /// A hub packaging with `packaging` and waiting `grace` for reconnects.
    pub fn new(
        packaging: &crate::config::PackagingSection,
        grace: Duration,
        metrics: OriginMetrics,
    ) -> Self {
        let window = WindowConfig {
            part_target: packaging.part_target,
            segment_target: packaging.segment_target,
            window_segments: packaging.window_segments,
            delta_updates: true,
        };
        Self {
            streams: Mutex::new(HashMap::new()),
            window,
            part_target: packaging.part_target,
            segment_target: packaging.segment_target,
            grace,
            metrics,
        }
    }

    /// The stream called `name`, if this origin has (or had) it.
    pub fn get(&self, name: &str) -> Option<Arc<LiveStream>> {
        lock(&self.streams).get(name).cloned()
    }

    /// Names of the streams with a publisher or within the reconnect grace.
    pub fn live_names(&self) -> Vec<String> {
        let streams = lock(&self.streams);
        let mut names: Vec<String> = streams
            .values()
            .filter(|s| !s.lock().is_ended())
            .map(|s| s.name.clone())
            .collect();
        names.sort();
        names
    }

    /// Claims `name` for a new publisher: refused while another publisher is connected;
    /// continues the window within the grace period; starts a new stream otherwise.
    pub fn claim(self: &Arc<Self>, name: &str) -> Result<Publication, Rejection> {
        let mut streams = lock(&self.streams);
        if let Some(existing) = streams.get(name) {
            let mut state = existing.lock();
            match state.publisher {
                PublisherState::Connected => return Err(Rejection::AlreadyLive(name.to_owned())),
                PublisherState::Away => {
                    state.publisher = PublisherState::Connected;
                    state.epoch += 1;
                    let epoch = state.epoch;
                    let generation_base = state.window.current_generation().map_or(0, |g| g + 1);
                    drop(state);
                    tracing::info!(
                        stream = name,
                        "publisher reconnected within the grace period"
                    );
                    return Ok(Publication::new(
                        self.clone(),
                        existing.clone(),
                        epoch,
                        generation_base,
                    ));
                }
                PublisherState::Ended => {}
            }
        }
        // WindowConfig was validated from the origin config, so this cannot fail; map the
        // impossible case to a refusal rather than a panic.
        let window = PartWindow::new(self.window.clone())
            .map_err(|e| Rejection::Unavailable(format!("window configuration: {e}")))?;
        let stream = Arc::new(LiveStream {
            name: name.to_owned(),
            state: Mutex::new(StreamState {
                window,
                variant: None,
                publisher: PublisherState::Connected,
                epoch: 1,
            }),
            changed: watch::Sender::new(0),
        });
        streams.insert(name.to_owned(), stream.clone());
        self.metrics.live_streams.set(count_live(&streams));
        Ok(Publication::new(self.clone(), stream, 1, 0))
    }

    /// The publisher of `stream` at `epoch` went away: start the grace timer.
    fn publisher_left(self: &Arc<Self>, stream: &Arc<LiveStream>, epoch: u64) {
        {
            let mut state = stream.lock();
            if state.epoch != epoch || state.publisher != PublisherState::Connected {
                return;
            }
            state.publisher = PublisherState::Away;
        }
        let (hub, stream, grace) = (self.clone(), stream.clone(), self.grace);
        // Drop runs inside the session task, so a runtime is present; without one (tests
        // driving the hub synchronously) the stream ends at once.
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    tokio::time::sleep(grace).await;
                    hub.end_if_still_away(&stream, epoch);
                });
            }
            Err(_) => self.end_if_still_away(&stream, epoch),
        }
    }

    fn end_if_still_away(&self, stream: &LiveStream, epoch: u64) {
        {
            let mut state = stream.lock();
            if state.epoch != epoch || state.publisher != PublisherState::Away {
                return;
            }
            state.publisher = PublisherState::Ended;
            state.window.handle_end();
            while state.window.poll_output().is_some() {}
        }
        tracing::info!(stream = %stream.name, "no reconnect within the grace period: stream ended");
        stream.notify();
        self.metrics.forget_stream(&stream.name);
        self.metrics
            .live_streams
            .set(count_live(&lock(&self.streams)));
    }

    pub(crate) fn metrics(&self) -> &OriginMetrics {
        &self.metrics
    }

    pub(crate) fn targets(&self) -> (Duration, Duration) {
        (self.part_target, self.segment_target)
    }
}

impl LiveStream {
    /// The stream's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Locks the stream's state (briefly: render or copy out, then drop).
    pub fn lock(&self) -> MutexGuard<'_, StreamState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A receiver that sees every change of the window.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    fn notify(&self) {
        self.changed.send_modify(|version| *version += 1);
    }
}

impl StreamState {
    /// Whether the stream ended (no publisher and the grace period passed).
    pub fn is_ended(&self) -> bool {
        self.publisher == PublisherState::Ended
    }
}

fn count_live(streams: &HashMap<String, Arc<LiveStream>>) -> i64 {
    streams.values().filter(|s| !s.lock().is_ended()).count() as i64
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests;
