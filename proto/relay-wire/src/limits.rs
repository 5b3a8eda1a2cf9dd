//! Named limits. Every buffer the protocol fills from the network or from a peer's behaviour is
//! bounded by one of these, and each breach has its own error variant.

use std::time::Duration;

/// Largest control frame payload (`Hello` … `Discontinuity`). Control frames carry names and
/// numbers only; anything larger is a peer trying to make us buffer.
pub const MAX_CONTROL_FRAME_SIZE: usize = 64 * 1024;
/// Largest `Part` body: one `moof`+`mdat` fragment of at most one part target (≤ 1 s) of media.
pub const MAX_PART_SIZE: usize = 16 * 1024 * 1024;
/// Largest `Init` body (`ftyp`+`moov`).
pub const MAX_INIT_SIZE: usize = 1024 * 1024;
/// Largest header of a data frame (every field before the body). Headers are a handful of
/// varints, well under this.
pub const MAX_DATA_HEADER_SIZE: usize = 128;
/// Longest stream name, rendition name or node id, in bytes of UTF-8.
pub const MAX_NAME_LEN: usize = 255;
/// Longest `SubscribeError` reason text, in bytes of UTF-8.
pub const MAX_REASON_LEN: usize = 1024;

/// Part streams a publisher keeps open per subscription. Opening one more cancels the oldest
/// (newest first under congestion).
pub const MAX_INFLIGHT_PARTS: usize = 8;
/// Parts a publisher queues per subscription behind the in-flight ones (backfill, and live parts
/// arriving while backfill is still going). Beyond it the oldest queued parts are dropped.
pub const MAX_QUEUED_PARTS: usize = 256;
/// Subscriptions (active or being looked up) one downstream connection may hold.
pub const MAX_SUBSCRIPTIONS: usize = 256;

/// Out-of-order parts a subscriber buffers per subscription while it waits for a missing one.
/// A full buffer is a gap: the subscriber skips to the next segment start at once.
pub const MAX_REORDER_PARTS: usize = 32;
/// Init segments a subscriber buffers per subscription before the parts that need them.
pub const MAX_PENDING_INITS: usize = 4;
/// Default time a subscriber waits for a missing part once a later one arrived (or once the
/// upstream announced an end or discontinuity after it) before declaring a gap.
pub const DEFAULT_REORDER_TIMEOUT: Duration = Duration::from_millis(500);
/// Data frames a subscriber holds for a subscription id it does not know yet: a uni stream can
/// overtake the `SubscribeOk` on the control stream. Oldest dropped first.
pub const MAX_EARLY_FRAMES: usize = 64;

/// A part stream must have been in flight at least this long before a newer part may cancel it:
/// congestion means parts are stuck, while a burst (a parent edge's own backfill arriving at
/// once) only queues briefly and must not turn into gaps downstream.
pub const MIN_INFLIGHT_AGE_TO_CANCEL: Duration = Duration::from_millis(500);
