//! The streams a node serves.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use relay_wire::{RelayEvent, RelayWindow};
use tokio::sync::{broadcast, watch};

/// Window events kept for relay publishers that fall behind; a publisher that lags further
/// treats it as a gap (its subscribers get a discontinuity, never a corrupt playlist).
pub const EVENT_BACKLOG: usize = 1024;

/// Streams by name.
#[derive(Debug)]
pub struct StreamTable {
    streams: Mutex<HashMap<String, Arc<ServedStream>>>,
    inserted: watch::Sender<u64>,
}

impl Default for StreamTable {
    fn default() -> Self {
        Self {
            streams: Mutex::new(HashMap::new()),
            inserted: watch::Sender::new(0),
        }
    }
}

/// One stream: its window, its multivariant attributes, a change signal for held requests and
/// the window's events for relay publishers.
#[derive(Debug)]
pub struct ServedStream {
    name: String,
    state: Mutex<ServedState>,
    changed: watch::Sender<u64>,
    events: broadcast::Sender<RelayEvent>,
    /// Wall-clock ms of the last player request (an edge unsubscribes idle streams).
    last_request_ms: AtomicU64,
    /// Downstream relay subscriptions (child edges) holding this stream.
    subscribers: AtomicUsize,
    /// Players seen recently (for the viewer count reported to the control plane).
    viewers: Mutex<crate::viewers::ViewerSet>,
}

/// What a stream's lock protects.
#[derive(Debug)]
pub struct ServedState {
    /// The LL-HLS window with its replication metadata (render from `window.window()`, the
    /// single renderer's input on origin and edge alike).
    pub window: RelayWindow,
    /// The multivariant attributes, known once the first init (origin) or the upstream's
    /// description (edge) arrived.
    pub variant: Option<VariantInfo>,
    /// Which writer may change the window now: the origin's publisher epoch, or the edge's
    /// subscription. A writer checks it under the lock, so a replaced writer changes nothing.
    pub owner: u64,
}

/// What the multivariant playlist says about a rendition.
#[derive(Debug, Clone, PartialEq)]
pub struct VariantInfo {
    /// `CODECS`.
    pub codecs: String,
    /// `RESOLUTION` (width, height).
    pub resolution: Option<(u32, u32)>,
    /// `FRAME-RATE`.
    pub frame_rate: Option<f64>,
    /// `BANDWIDTH`: the peak segment bitrate seen, bits per second.
    pub peak_bitrate: u64,
    /// `AVERAGE-BANDWIDTH`: bytes over media time so far, bits per second.
    pub average_bitrate: u64,
}

/// A boxed future returned by [`StreamSource::find`].
pub type SourceFuture<'a> = Pin<Box<dyn Future<Output = Option<Arc<ServedStream>>> + Send + 'a>>;

/// How a request finds its stream.
pub trait StreamSource: Send + Sync + 'static {
    /// The stream called `name`, or `None` (404). May wait (an edge subscribing upstream).
    fn find<'a>(&'a self, name: &'a str) -> SourceFuture<'a>;
}

impl StreamSource for StreamTable {
    fn find<'a>(&'a self, name: &'a str) -> SourceFuture<'a> {
        Box::pin(std::future::ready(self.get(name)))
    }
}

impl StreamTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// The stream called `name`.
    pub fn get(&self, name: &str) -> Option<Arc<ServedStream>> {
        lock(&self.streams).get(name).cloned()
    }

    /// Adds `stream`, returning the one it replaces.
    pub fn insert(&self, stream: Arc<ServedStream>) -> Option<Arc<ServedStream>> {
        let replaced = lock(&self.streams).insert(stream.name.clone(), stream);
        self.inserted.send_modify(|n| *n = n.wrapping_add(1));
        replaced
    }

    /// The stream called `name`, waiting up to `timeout` for it to be inserted.
    pub async fn wait_for(
        &self,
        name: &str,
        timeout: std::time::Duration,
    ) -> Option<Arc<ServedStream>> {
        let mut inserted = self.inserted.subscribe();
        let deadline = tokio::time::Instant::from_std(node::clock::now()) + timeout;
        loop {
            if let Some(stream) = self.get(name) {
                return Some(stream);
            }
            match tokio::time::timeout_at(deadline, inserted.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return None,
            }
        }
    }

    /// Removes `name`.
    pub fn remove(&self, name: &str) -> Option<Arc<ServedStream>> {
        lock(&self.streams).remove(name)
    }

    /// Every stream, sorted by name.
    pub fn all(&self) -> Vec<Arc<ServedStream>> {
        let mut streams: Vec<_> = lock(&self.streams).values().cloned().collect();
        streams.sort_by(|a, b| a.name.cmp(&b.name));
        streams
    }
}

impl ServedStream {
    /// A stream called `name` over `window`, writable by `owner`.
    pub fn new(name: &str, window: RelayWindow, owner: u64) -> Self {
        Self {
            name: name.to_owned(),
            state: Mutex::new(ServedState {
                window,
                variant: None,
                owner,
            }),
            changed: watch::Sender::new(0),
            events: broadcast::Sender::new(EVENT_BACKLOG),
            last_request_ms: AtomicU64::new(node::clock::unix_time_ms()),
            subscribers: AtomicUsize::new(0),
            viewers: Mutex::new(crate::viewers::ViewerSet::default()),
        }
    }

    /// A player (identified by `client`, e.g. a hash of its address and user agent) fetched
    /// a media playlist now.
    pub fn note_viewer(&self, client: u64) {
        lock(&self.viewers).note(client, node::clock::unix_time_ms());
    }

    /// Players that fetched a media playlist within the last
    /// [`VIEWER_WINDOW`](crate::viewers::VIEWER_WINDOW).
    pub fn viewers(&self) -> u64 {
        lock(&self.viewers).count(node::clock::unix_time_ms())
    }

    /// The stream's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Locks the state (briefly: change, render or copy out `Bytes`, then drop).
    pub fn lock(&self) -> MutexGuard<'_, ServedState> {
        lock(&self.state)
    }

    /// A receiver that sees every change.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// A player asked for this stream now.
    pub fn touch(&self) {
        self.last_request_ms
            .store(node::clock::unix_time_ms(), Ordering::Relaxed);
    }

    /// How long ago a player last asked for this stream.
    pub fn idle_for(&self) -> std::time::Duration {
        let last = self.last_request_ms.load(Ordering::Relaxed);
        std::time::Duration::from_millis(node::clock::unix_time_ms().saturating_sub(last))
    }

    /// A downstream relay subscription started (`+1`) or ended (`-1`); returns the count.
    pub fn count_subscriber(&self, started: bool) -> usize {
        if started {
            self.subscribers.fetch_add(1, Ordering::Relaxed) + 1
        } else {
            self.subscribers
                .fetch_sub(1, Ordering::Relaxed)
                .saturating_sub(1)
        }
    }

    /// Downstream relay subscriptions holding this stream now.
    pub fn subscribers(&self) -> usize {
        self.subscribers.load(Ordering::Relaxed)
    }

    /// The window's events from now on, for a relay publisher.
    pub fn events(&self) -> broadcast::Receiver<RelayEvent> {
        self.events.subscribe()
    }

    /// Hands the events drained from the window (under the lock) to relay publishers and wakes
    /// every held request; call after each change, outside the lock.
    pub fn notify(&self, events: Vec<RelayEvent>) {
        for event in events {
            // No receiver is fine: nobody replicates this stream right now.
            let _ = self.events.send(event);
        }
        self.changed
            .send_modify(|version| *version = version.wrapping_add(1));
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
