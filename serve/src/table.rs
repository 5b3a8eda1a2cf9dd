//! The streams a node serves.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use hls::PartWindow;
use tokio::sync::watch;

/// Streams by name.
#[derive(Debug, Default)]
pub struct StreamTable {
    streams: Mutex<HashMap<String, Arc<ServedStream>>>,
}

/// One stream: its window, its multivariant attributes, and a change signal.
#[derive(Debug)]
pub struct ServedStream {
    name: String,
    state: Mutex<ServedState>,
    changed: watch::Sender<u64>,
}

/// What a stream's lock protects.
#[derive(Debug)]
pub struct ServedState {
    /// The LL-HLS window (the single renderer's input, on origin and edge alike).
    pub window: PartWindow,
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
        lock(&self.streams).insert(stream.name.clone(), stream)
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
    pub fn new(name: &str, window: PartWindow, owner: u64) -> Self {
        Self {
            name: name.to_owned(),
            state: Mutex::new(ServedState {
                window,
                variant: None,
                owner,
            }),
            changed: watch::Sender::new(0),
        }
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

    /// Wakes every held request; call after each change (outside the lock).
    pub fn notify(&self) {
        self.changed
            .send_modify(|version| *version = version.wrapping_add(1));
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
