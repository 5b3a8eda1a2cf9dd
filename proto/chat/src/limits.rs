//! Named bounds. Every value a client or a peer relay controls is bounded by one of these (or by
//! a field of [`crate::Limits`] / a config struct), and each breach has its own error variant.

/// Longest `client_id`, `idempotency_key`, `gift_id` or target `user_id` in a client frame, in
/// bytes.
pub const MAX_ID_LEN: usize = 64;
/// Likes one `like` frame may carry; larger counts are capped to it (a client batching taps).
pub const MAX_LIKES_PER_FRAME: u32 = 100;
/// Largest `count` of one `gift` frame.
pub const MAX_GIFT_COUNT: u32 = 1000;
/// Longest slow-mode interval a moderator may set, in seconds (one hour).
pub const MAX_SLOW_MODE_S: u32 = 3600;
/// Longest timeout (`ban` with `duration_s`), in seconds (one year). Longer is a permanent ban.
pub const MAX_BAN_DURATION_S: u64 = 365 * 24 * 3600;
/// Longest user-supplied string echoed back inside an error (unknown kinds and fields).
pub(crate) const MAX_ECHO_CHARS: usize = 32;

/// Default number of events kept in a room's history ring.
pub const DEFAULT_HISTORY_LEN: usize = 200;
/// Default number of events sent in a fresh `welcome`.
pub const DEFAULT_WELCOME_LEN: usize = 50;
/// Default number of recent `(user_id, client_id)` pairs remembered for dedupe.
pub const DEFAULT_DEDUPE_WINDOW: usize = 1024;
/// Sequenced events a [`crate::RoomMirror`] holds ahead of a gap. Beyond it the newest are
/// dropped: the catch-up the gap triggers fetches them again.
pub const MAX_MIRROR_PENDING: usize = 1024;
/// Blocked words or phrases per room.
pub const MAX_BLOCKED_WORDS: usize = 1000;
/// Users whose last message time slow mode tracks; beyond it, entries older than the interval
/// are pruned first.
pub const MAX_SLOW_MODE_USERS: usize = 100_000;
