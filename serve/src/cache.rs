//! The edge's object cache: every init, part and segment a node receives, weighed by its bytes,
//! bounded by `cache.max_bytes`, evicted least recently used.
//!
//! Why moka with [`EvictionPolicy::lru`]: its default (TinyLFU) admits a new key only if it
//! looks more popular than what it would evict, so a fresh part (never requested yet) could be
//! refused; live streaming needs the opposite.
//!
//! Where it sits: a request looks here first (no stream lock, no window walk); a miss falls back
//! to the stream's window, which still holds everything it lists. So the cache adds two things:
//! lock-free hits on the hot path, and objects that left the window (a late player's segment)
//! stay servable until the byte budget needs their room, instead of `410 Gone`.
//!
//! **Live-window protection.** Objects are inserted as they arrive and every player request
//! refreshes them, so LRU order puts the past (objects that left the window) first in line.
//! The cache never drops what a window lists: the window keeps its own reference (one shared
//! allocation, `Bytes`), and a live object the budget pushed out is still served from it. If
//! the windows alone outgrow `max_bytes` (memory exhausted: too many streams for the budget),
//! LRU starts evicting live objects; `livecdn_edge_cache_evictions_total{state="live"}` counts
//! exactly that, the signal to give the node more memory or fewer streams.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;
use hls::MediaObject;
use moka::notification::RemovalCause;
use moka::policy::EvictionPolicy;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

/// An object's key: which stream instance (a stream re-created under the same name, e.g. after
/// an idle unsubscribe, gets a new instance, so stale bytes can never answer for new ones) and
/// which object.
#[derive(Debug, Clone)]
pub struct ObjectKey {
    stream: Arc<StreamMark>,
    object: MediaObject,
}

impl PartialEq for ObjectKey {
    fn eq(&self, other: &Self) -> bool {
        self.stream.instance == other.stream.instance && self.object == other.object
    }
}

impl Eq for ObjectKey {}

impl std::hash::Hash for ObjectKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.stream.instance.hash(state);
        self.object.hash(state);
    }
}

/// What the eviction listener needs to know about a stream without taking its lock: whether
/// it is still served and the oldest segment its window still serves.
#[derive(Debug)]
pub struct StreamMark {
    instance: u64,
    served: AtomicBool,
    oldest_served_msn: AtomicU64,
}

impl StreamMark {
    /// A mark for a new stream instance.
    pub fn new() -> Arc<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Arc::new(Self {
            instance: NEXT.fetch_add(1, Ordering::Relaxed),
            served: AtomicBool::new(true),
            oldest_served_msn: AtomicU64::new(0),
        })
    }

    /// The window now serves segments from `msn` on.
    pub fn set_oldest_served(&self, msn: u64) {
        self.oldest_served_msn.store(msn, Ordering::Relaxed);
    }

    /// The stream left the node's table: none of its objects is live any more.
    pub fn retire(&self) {
        self.served.store(false, Ordering::Relaxed);
    }

    /// Whether `object` is still in the stream's window.
    fn is_live(&self, object: &MediaObject) -> bool {
        if !self.served.load(Ordering::Relaxed) {
            return false;
        }
        let oldest = self.oldest_served_msn.load(Ordering::Relaxed);
        match object {
            MediaObject::Part(position) => position.msn >= oldest,
            MediaObject::Segment(msn) => *msn >= oldest,
            // An init is small and the window keeps the ones its segments use.
            MediaObject::Init(_) | MediaObject::Playlist => true,
        }
    }
}

/// `{kind}` labels: `init`, `part`, `segment`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheKindLabels {
    /// The kind of object.
    pub kind: &'static str,
}

/// `{state}` labels: `past` (the object had left its window) or `live` (it had not: the live
/// windows outgrew the budget).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EvictionLabels {
    /// `past` or `live`.
    pub state: &'static str,
}

/// Cache metrics, under `livecdn_edge_cache_`.
#[derive(Debug, Clone, Default)]
pub struct CacheMetrics {
    /// `livecdn_edge_cache_hits_total{kind}`: requests answered from the cache.
    pub hits: Family<CacheKindLabels, Counter>,
    /// `livecdn_edge_cache_misses_total{kind}`: requests the cache could not answer (held for
    /// a part still to come, served from the window, or not found).
    pub misses: Family<CacheKindLabels, Counter>,
    /// `livecdn_edge_cache_evictions_total{state}`: objects evicted for room.
    pub evictions: Family<EvictionLabels, Counter>,
    /// `livecdn_edge_cache_inserted_bytes_total`: bytes put into the cache.
    pub inserted_bytes: Counter,
    /// `livecdn_edge_cache_size_bytes`: bytes held now (the sum of entry weights).
    pub size_bytes: Gauge,
    /// `livecdn_edge_cache_entries`: objects held now.
    pub entries: Gauge,
    /// `livecdn_edge_cache_capacity_bytes`: `cache.max_bytes`.
    pub capacity_bytes: Gauge,
}

impl CacheMetrics {
    /// Creates and registers the metrics in `registry` (the node's root registry).
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        let r = registry.sub_registry_with_prefix("livecdn_edge_cache");
        r.register(
            "hits",
            "Requests answered from the cache, by object kind",
            metrics.hits.clone(),
        );
        r.register(
            "misses",
            "Requests the cache could not answer (held, served from the window, or not found)",
            metrics.misses.clone(),
        );
        r.register(
            "evictions",
            "Objects evicted for room; state=live means the live windows outgrew cache.max_bytes",
            metrics.evictions.clone(),
        );
        r.register_with_unit(
            "inserted",
            "Bytes put into the cache",
            Unit::Bytes,
            metrics.inserted_bytes.clone(),
        );
        r.register_with_unit(
            "size",
            "Bytes held by the cache now",
            Unit::Bytes,
            metrics.size_bytes.clone(),
        );
        r.register("entries", "Objects held now", metrics.entries.clone());
        // Every label set exists from start, so dashboards and alerts see zeros, not gaps.
        for kind in ["init", "part", "segment"] {
            let _ = metrics.hits.get_or_create(&CacheKindLabels { kind });
            let _ = metrics.misses.get_or_create(&CacheKindLabels { kind });
        }
        for state in ["past", "live"] {
            let _ = metrics.evictions.get_or_create(&EvictionLabels { state });
        }
        r.register_with_unit(
            "capacity",
            "The cache's byte budget (cache.max_bytes)",
            Unit::Bytes,
            metrics.capacity_bytes.clone(),
        );
        metrics
    }
}

/// The object cache (cheap to clone: one shared cache).
#[derive(Clone)]
pub struct ObjectCache {
    objects: moka::sync::Cache<ObjectKey, Bytes>,
    metrics: CacheMetrics,
}

impl std::fmt::Debug for ObjectCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectCache")
            .field("entries", &self.objects.entry_count())
            .field("bytes", &self.objects.weighted_size())
            .finish()
    }
}

impl ObjectCache {
    /// A cache holding at most `max_bytes` of objects.
    pub fn new(max_bytes: u64, metrics: CacheMetrics) -> Self {
        let evictions = metrics.evictions.clone();
        let objects = moka::sync::Cache::builder()
            .max_capacity(max_bytes)
            .eviction_policy(EvictionPolicy::lru())
            .weigher(|_key: &ObjectKey, bytes: &Bytes| {
                u32::try_from(bytes.len()).unwrap_or(u32::MAX)
            })
            .support_invalidation_closures()
            .eviction_listener(move |key: Arc<ObjectKey>, _bytes, cause| {
                if cause == RemovalCause::Size {
                    let state = if key.stream.is_live(&key.object) {
                        "live"
                    } else {
                        "past"
                    };
                    evictions.get_or_create(&EvictionLabels { state }).inc();
                }
            })
            .build();
        metrics
            .capacity_bytes
            .set(i64::try_from(max_bytes).unwrap_or(i64::MAX));
        Self { objects, metrics }
    }

    /// Puts `object` of `stream` in the cache (an object is immutable: a second insert of the
    /// same key carries the same bytes).
    pub fn insert(&self, stream: &Arc<StreamMark>, object: MediaObject, bytes: Bytes) {
        self.metrics.inserted_bytes.inc_by(bytes.len() as u64);
        self.objects.insert(
            ObjectKey {
                stream: stream.clone(),
                object,
            },
            bytes,
        );
    }

    /// The cached bytes of `object`, counting a hit or a miss under `kind`.
    pub fn get(&self, stream: &Arc<StreamMark>, object: MediaObject) -> Option<Bytes> {
        let key = ObjectKey {
            stream: stream.clone(),
            object,
        };
        let found = self.objects.get(&key);
        let kind = CacheKindLabels {
            kind: kind_of(&object),
        };
        match &found {
            Some(_) => self.metrics.hits.get_or_create(&kind).inc(),
            None => self.metrics.misses.get_or_create(&kind).inc(),
        };
        found
    }

    /// Drops every object of `stream` (it left the node).
    pub fn forget(&self, stream: &Arc<StreamMark>) {
        stream.retire();
        let instance = stream.instance;
        // Only fails without `support_invalidation_closures`, which the builder sets.
        let _ = self
            .objects
            .invalidate_entries_if(move |key, _| key.stream.instance == instance);
    }

    /// Runs moka's pending maintenance (evictions, listener calls) and refreshes the gauges.
    pub fn refresh_metrics(&self) {
        self.objects.run_pending_tasks();
        self.metrics
            .size_bytes
            .set(i64::try_from(self.objects.weighted_size()).unwrap_or(i64::MAX));
        self.metrics
            .entries
            .set(i64::try_from(self.objects.entry_count()).unwrap_or(i64::MAX));
    }

    /// Bytes held now (after pending maintenance).
    pub fn size_bytes(&self) -> u64 {
        self.objects.run_pending_tasks();
        self.objects.weighted_size()
    }
}

fn kind_of(object: &MediaObject) -> &'static str {
    match object {
        MediaObject::Part(_) => "part",
        MediaObject::Segment(_) => "segment",
        MediaObject::Init(_) | MediaObject::Playlist => "init",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hls::PartPosition;

    fn part(msn: u64, index: u64) -> MediaObject {
        MediaObject::Part(PartPosition { msn, index })
    }

    fn evictions(metrics: &CacheMetrics, state: &'static str) -> u64 {
        metrics
            .evictions
            .get_or_create(&EvictionLabels { state })
            .get()
    }

    #[test]
    fn bounded_by_bytes_evicting_the_least_recently_used() {
        let metrics = CacheMetrics::default();
        let cache = ObjectCache::new(10_000, metrics.clone());
        let stream = StreamMark::new();
        for msn in 0..10 {
            cache.insert(&stream, part(msn, 0), Bytes::from(vec![0u8; 2_000]));
            // The window moves on: only the last two segments are live.
            stream.set_oldest_served(msn.saturating_sub(1));
            cache.refresh_metrics();
        }
        assert!(cache.size_bytes() <= 10_000, "{}", cache.size_bytes());
        // The newest objects are there, the oldest were evicted, none of them live.
        assert!(cache.get(&stream, part(9, 0)).is_some());
        assert!(cache.get(&stream, part(8, 0)).is_some());
        assert!(cache.get(&stream, part(0, 0)).is_none());
        assert!(evictions(&metrics, "past") >= 5);
        assert_eq!(evictions(&metrics, "live"), 0);
    }

    #[test]
    fn a_fresh_key_is_admitted_even_when_the_cache_is_full_of_popular_ones() {
        // TinyLFU would refuse part 5: parts 0..4 were each read many times.
        let cache = ObjectCache::new(5_000, CacheMetrics::default());
        let stream = StreamMark::new();
        for msn in 0..5 {
            cache.insert(&stream, part(msn, 0), Bytes::from(vec![1u8; 1_000]));
        }
        for _ in 0..20 {
            for msn in 0..5 {
                assert!(cache.get(&stream, part(msn, 0)).is_some());
            }
        }
        cache.insert(&stream, part(5, 0), Bytes::from(vec![2u8; 1_000]));
        cache.refresh_metrics();
        assert_eq!(
            cache.get(&stream, part(5, 0)).map(|b| b[0]),
            Some(2),
            "the fresh part must be admitted"
        );
    }

    #[test]
    fn live_evictions_are_counted_when_the_windows_outgrow_the_budget() {
        let metrics = CacheMetrics::default();
        let cache = ObjectCache::new(4_000, metrics.clone());
        let stream = StreamMark::new();
        // Everything stays live (oldest served msn 0) but only two objects fit.
        for msn in 0..5 {
            cache.insert(&stream, part(msn, 0), Bytes::from(vec![0u8; 2_000]));
            cache.refresh_metrics();
        }
        assert!(evictions(&metrics, "live") >= 3);
        assert_eq!(evictions(&metrics, "past"), 0);
    }

    #[test]
    fn a_new_instance_of_a_stream_never_sees_the_old_bytes() {
        let cache = ObjectCache::new(1 << 20, CacheMetrics::default());
        let old = StreamMark::new();
        cache.insert(&old, part(0, 0), Bytes::from_static(b"old"));
        let new = StreamMark::new();
        assert_eq!(cache.get(&new, part(0, 0)), None);
        cache.forget(&old);
        cache.refresh_metrics();
        assert_eq!(cache.get(&old, part(0, 0)), None);
        assert_eq!(cache.size_bytes(), 0);
    }

    #[test]
    fn hits_and_misses_are_counted_by_kind() {
        let metrics = CacheMetrics::default();
        let cache = ObjectCache::new(1 << 20, metrics.clone());
        let stream = StreamMark::new();
        cache.insert(&stream, MediaObject::Segment(3), Bytes::from_static(b"seg"));
        assert!(cache.get(&stream, MediaObject::Segment(3)).is_some());
        assert!(cache.get(&stream, MediaObject::Segment(4)).is_none());
        let count = |family: &Family<CacheKindLabels, Counter>| {
            family
                .get_or_create(&CacheKindLabels { kind: "segment" })
                .get()
        };
        assert_eq!((count(&metrics.hits), count(&metrics.misses)), (1, 1));
    }
}
