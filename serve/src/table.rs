//! The streams a node serves.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use bytes::Bytes;
use hls::{MediaObject, PartPosition, WindowEvent};
use relay_wire::{RelayEvent, RelayWindow};
use tokio::sync::{broadcast, watch};

use crate::cache::{ObjectCache, StreamMark};

/// Window events kept for relay publishers that fall behind; a publisher that lags further
/// treats it as a gap (its subscribers get a discontinuity, never a corrupt playlist).
pub const EVENT_BACKLOG: usize = 1024;

/// Streams by name.
#[derive(Debug)]
pub struct StreamTable {
    streams: Mutex<HashMap<String, Arc<ServedStream>>>,
    inserted: watch::Sender<u64>,
    /// The object cache every stream of the table fills (the edge's), if any.
    cache: Option<ObjectCache>,
}

impl Default for StreamTable {
    fn default() -> Self {
        Self {
            streams: Mutex::new(HashMap::new()),
            inserted: watch::Sender::new(0),
            cache: None,
        }
    }
}

/// One stream: its window, its multivariant attributes, the held requests waiting on it and the
/// window's events for relay publishers.
#[derive(Debug)]
pub struct ServedStream {
    name: String,
    state: Mutex<ServedState>,
    events: broadcast::Sender<RelayEvent>,
    /// Wall-clock ms of the last player request (an edge unsubscribes idle streams).
    last_request_ms: AtomicU64,
    /// Downstream relay subscriptions (child edges) holding this stream.
    subscribers: AtomicUsize,
    /// Players seen recently (for the viewer count reported to the control plane).
    viewers: Mutex<crate::viewers::ViewerSet>,
    /// This instance's identity in the object cache, and what eviction needs to know.
    mark: Arc<StreamMark>,
    /// The table's object cache, set when the stream joins a table that has one.
    cache: OnceLock<ObjectCache>,
    /// Held requests by what they wait for.
    waiters: crate::waiters::Waiters,
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
    /// Media playlists rendered for the window's current state.
    pub(crate) playlists: crate::memo::PlaylistMemo,
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

    /// An empty table whose streams put every object they receive into `cache` and answer
    /// requests from it first.
    pub fn with_cache(cache: ObjectCache) -> Self {
        Self {
            cache: Some(cache),
            ..Self::default()
        }
    }

    /// The table's object cache.
    pub fn cache(&self) -> Option<&ObjectCache> {
        self.cache.as_ref()
    }

    /// The stream called `name`.
    pub fn get(&self, name: &str) -> Option<Arc<ServedStream>> {
        lock(&self.streams).get(name).cloned()
    }

    /// Adds `stream`, returning the one it replaces.
    pub fn insert(&self, stream: Arc<ServedStream>) -> Option<Arc<ServedStream>> {
        if let Some(cache) = &self.cache {
            let _ = stream.cache.set(cache.clone());
            stream.cache_window();
        }
        let replaced = lock(&self.streams).insert(stream.name.clone(), stream);
        self.inserted.send_modify(|n| *n = n.wrapping_add(1));
        if let Some(old) = &replaced {
            self.forget(old);
        }
        replaced
    }

    fn forget(&self, stream: &ServedStream) {
        match &self.cache {
            Some(cache) => cache.forget(&stream.mark),
            None => stream.mark.retire(),
        }
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
        let removed = lock(&self.streams).remove(name);
        if let Some(stream) = &removed {
            self.forget(stream);
        }
        removed
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
                playlists: crate::memo::PlaylistMemo::default(),
            }),
            events: broadcast::Sender::new(EVENT_BACKLOG),
            last_request_ms: AtomicU64::new(node::clock::unix_time_ms()),
            subscribers: AtomicUsize::new(0),
            viewers: Mutex::new(crate::viewers::ViewerSet::default()),
            mark: StreamMark::new(),
            cache: OnceLock::new(),
            waiters: crate::waiters::Waiters::default(),
        }
    }

    /// Held requests by what they wait for.
    pub fn waiters(&self) -> &crate::waiters::Waiters {
        &self.waiters
    }

    /// The cached bytes of `object`, if the node has a cache and it holds them (no lock).
    pub fn cached(&self, object: MediaObject) -> Option<Bytes> {
        self.cache.get()?.get(&self.mark, object)
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
    /// the held requests they may satisfy (all of them for an empty batch: an unknown change);
    /// call after each change, outside the lock.
    pub fn notify(&self, events: Vec<RelayEvent>) {
        if let Some(cache) = self.cache.get() {
            self.cache_objects(cache, &events);
        }
        self.waiters.wake(&crate::waiters::Progress::of(&events));
        for event in events {
            // No receiver is fine: nobody replicates this stream right now.
            let _ = self.events.send(event);
        }
    }
}

impl ServedStream {
    /// Puts the objects that `events` made available into `cache` (bytes copied out under the
    /// lock, inserted after it: moka's maintenance never runs under a stream lock).
    fn cache_objects(&self, cache: &ObjectCache, events: &[RelayEvent]) {
        let mut fresh: Vec<(MediaObject, Bytes)> = Vec::new();
        {
            let state = self.lock();
            let window = state.window.window();
            for event in events {
                let object = match event {
                    RelayEvent::Window(WindowEvent::PartReady { msn, part }) => {
                        MediaObject::Part(PartPosition {
                            msn: *msn,
                            index: *part,
                        })
                    }
                    RelayEvent::Window(WindowEvent::SegmentClosed { msn }) => {
                        MediaObject::Segment(*msn)
                    }
                    RelayEvent::Window(WindowEvent::InitReady { generation }) => {
                        MediaObject::Init(*generation)
                    }
                    _ => continue,
                };
                if let hls::ObjectDecision::Serve(bytes) = window.object_decision(&object) {
                    fresh.push((object, bytes));
                }
            }
            if let Some(oldest) = window.oldest_served_msn() {
                self.mark.set_oldest_served(oldest);
            }
        }
        for (object, bytes) in fresh {
            cache.insert(&self.mark, object, bytes);
        }
    }

    /// Puts everything the window serves now into the cache (a stream joining a table).
    fn cache_window(&self) {
        let Some(cache) = self.cache.get() else {
            return;
        };
        let mut objects: Vec<(MediaObject, Bytes)> = Vec::new();
        {
            let state = self.lock();
            let window = state.window.window();
            if let Some(oldest) = window.oldest_served_msn() {
                self.mark.set_oldest_served(oldest);
                let next = window.next_part();
                for msn in oldest..next.map_or(oldest, |p| p.msn.saturating_add(1)) {
                    if let Some(bytes) = window.segment(msn) {
                        objects.push((MediaObject::Segment(msn), bytes));
                    }
                    for index in 0.. {
                        let Some(bytes) = window.part(msn, index) else {
                            break;
                        };
                        objects.push((MediaObject::Part(PartPosition { msn, index }), bytes));
                    }
                }
            }
            if let Some(generation) = window.current_generation() {
                // Inits a served segment still uses are a few generations back at most.
                for g in generation.saturating_sub(8)..=generation {
                    if let Some(bytes) = window.init(g) {
                        objects.push((MediaObject::Init(g), bytes));
                    }
                }
            }
        }
        for (object, bytes) in objects {
            cache.insert(&self.mark, object, bytes);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
