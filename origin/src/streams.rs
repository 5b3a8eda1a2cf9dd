//! Live streams on this origin: one `serve::ServedStream` per stream name, holding its LL-HLS
//! `PartWindow`, and the [`Publication`] a connected publisher feeds.
//!
//! Lifecycle: a publisher claims a stream ([`StreamHub::claim`]); a second claim while one is
//! connected is refused. When the publisher goes away the window stays; a new claim within the
//! reconnect grace continues the same window with a new init generation (so
//! `EXT-X-DISCONTINUITY` and a new `EXT-X-MAP`); after the grace the window ends
//! (`EXT-X-ENDLIST`) and a later claim starts a new stream.
//!
//! Readers (HTTP, through `serve`) lock the window only to render or copy out `Bytes`, and wait
//! for changes on the stream's `watch` channel, bumped after every window change: no polling.

mod publication;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use hls::WindowConfig;
use relay_wire::RelayWindow;
use serve::{ServedStream, StreamTable};

pub use publication::{MediaRejection, Publication};

use crate::ingest::auth::Rejection;
use crate::metrics::OriginMetrics;

/// All streams of this origin: the served windows (in a `serve::StreamTable`) and who
/// publishes each.
pub struct StreamHub {
    table: Arc<StreamTable>,
    publishers: Mutex<HashMap<String, PublisherEntry>>,
    window: WindowConfig,
    part_target: Duration,
    segment_target: Duration,
    grace: Duration,
    metrics: OriginMetrics,
}

/// The publisher side of one stream.
struct PublisherEntry {
    stream: Arc<ServedStream>,
    state: PublisherState,
    /// Claims so far; also the stream's `owner`, so only the current publication writes.
    epoch: u64,
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
            table: Arc::new(StreamTable::new()),
            publishers: Mutex::new(HashMap::new()),
            window,
            part_target: packaging.part_target,
            segment_target: packaging.segment_target,
            grace,
            metrics,
        }
    }

    /// The served streams (what HTTP and replication read).
    pub fn table(&self) -> Arc<StreamTable> {
        self.table.clone()
    }

    /// The stream called `name`, if this origin has (or had) it.
    pub fn get(&self, name: &str) -> Option<Arc<ServedStream>> {
        self.table.get(name)
    }

    /// Names of the streams with a publisher or within the reconnect grace.
    pub fn live_names(&self) -> Vec<String> {
        let publishers = lock(&self.publishers);
        let mut names: Vec<String> = publishers
            .iter()
            .filter(|(_, entry)| entry.state != PublisherState::Ended)
            .map(|(name, _)| name.clone())
            .collect();
        names.sort();
        names
    }

    /// Claims `name` for a new publisher: refused while another publisher is connected;
    /// continues the window within the grace period; starts a new stream otherwise.
    pub fn claim(self: &Arc<Self>, name: &str) -> Result<Publication, Rejection> {
        let mut publishers = lock(&self.publishers);
        if let Some(entry) = publishers.get_mut(name) {
            match entry.state {
                PublisherState::Connected => return Err(Rejection::AlreadyLive(name.to_owned())),
                PublisherState::Away => {
                    entry.state = PublisherState::Connected;
                    entry.epoch += 1;
                    let mut state = entry.stream.lock();
                    state.owner = entry.epoch;
                    let generation_base = state
                        .window
                        .window()
                        .current_generation()
                        .map_or(0, |g| g + 1);
                    drop(state);
                    tracing::info!(
                        stream = name,
                        "publisher reconnected within the grace period"
                    );
                    return Ok(Publication::new(
                        self.clone(),
                        entry.stream.clone(),
                        entry.epoch,
                        generation_base,
                    ));
                }
                PublisherState::Ended => {}
            }
        }
        // WindowConfig was validated from the origin config, so this cannot fail; map the
        // impossible case to a refusal rather than a panic.
        let window = RelayWindow::new(self.window.clone())
            .map_err(|e| Rejection::Unavailable(format!("window configuration: {e}")))?;
        let stream = Arc::new(ServedStream::new(name, window, 1));
        self.table.insert(stream.clone());
        publishers.insert(
            name.to_owned(),
            PublisherEntry {
                stream: stream.clone(),
                state: PublisherState::Connected,
                epoch: 1,
            },
        );
        self.metrics.live_streams.set(count_live(&publishers));
        Ok(Publication::new(self.clone(), stream, 1, 0))
    }

    /// The publisher of `name` at `epoch` went away: start the grace timer.
    fn publisher_left(self: &Arc<Self>, name: &str, epoch: u64) {
        {
            let mut publishers = lock(&self.publishers);
            let Some(entry) = publishers.get_mut(name) else {
                return;
            };
            if entry.epoch != epoch || entry.state != PublisherState::Connected {
                return;
            }
            entry.state = PublisherState::Away;
        }
        let (hub, name, grace) = (self.clone(), name.to_owned(), self.grace);
        // Drop runs inside the session task, so a runtime is present; without one (tests
        // driving the hub synchronously) the stream ends at once.
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    tokio::time::sleep(grace).await;
                    hub.end_if_still_away(&name, epoch);
                });
            }
            Err(_) => self.end_if_still_away(&name, epoch),
        }
    }

    fn end_if_still_away(&self, name: &str, epoch: u64) {
        let stream = {
            let mut publishers = lock(&self.publishers);
            let Some(entry) = publishers.get_mut(name) else {
                return;
            };
            if entry.epoch != epoch || entry.state != PublisherState::Away {
                return;
            }
            entry.state = PublisherState::Ended;
            let stream = entry.stream.clone();
            self.metrics.live_streams.set(count_live(&publishers));
            stream
        };
        let events = {
            let mut state = stream.lock();
            state.window.handle_end();
            std::iter::from_fn(|| state.window.poll_output()).collect()
        };
        tracing::info!(
            stream = name,
            "no reconnect within the grace period: stream ended"
        );
        stream.notify(events);
        self.metrics.forget_stream(name);
    }

    pub(crate) fn metrics(&self) -> &OriginMetrics {
        &self.metrics
    }

    pub(crate) fn targets(&self) -> (Duration, Duration) {
        (self.part_target, self.segment_target)
    }
}

fn count_live(publishers: &HashMap<String, PublisherEntry>) -> i64 {
    publishers
        .values()
        .filter(|e| e.state != PublisherState::Ended)
        .count() as i64
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests;
