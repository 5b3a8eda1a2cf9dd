//! `livecdn chat-relay --config FILE`: the chat-relay's configuration. Every key is documented here
//! (meaning, unit, default) and in `docs/config.md`; `deploy/config/chat-relay.toml` is the
//! commented example. Environment overrides: `LIVECDN_CHAT_RELAY__SECTION__KEY`.

use std::num::NonZeroU32;
use std::time::Duration;

use node::config::sections::{LogSection, NodeSection, ShutdownSection};
use node::redact::Redacted;
use serde::{Deserialize, Serialize};

/// The chat-relay's whole configuration.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ChatRelayConfig {
    /// `[node]`: identity and region.
    pub node: NodeSection,
    /// `[http]`: the HTTP listener (WebSocket `/ws`, the `/v1` wallet and room endpoints).
    pub http: HttpSection,
    /// `[chat]`: tokens, limits, rate limits and room defaults.
    pub chat: ChatSection,
    /// `[database]`: the chat log, wallets and the gift ledger.
    pub database: DatabaseSection,
    /// `[gifts]`: the gift catalogue and demo top-ups.
    pub gifts: GiftsSection,
    /// `[control]`: the control plane this relay heartbeats to and asks for rooms' home
    /// relays. Unset `control.url`: standalone (this relay is the home of every room). The
    /// node token `control.token` also authenticates federation links between relays.
    pub control: control_client::ControlSection,
    /// `[federation]`: links to other relays that are the home of a room (§9).
    pub federation: FederationSection,
    /// `[log]`: logging.
    pub log: LogSection,
    /// `[shutdown]`: graceful shutdown.
    pub shutdown: ShutdownSection,
}

/// `[http]`: the HTTP listener (default port 8091).
pub type HttpSection = node::config::sections::HttpSection<8091>;

/// `[chat]`: how clients are admitted and what they may send.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ChatSection {
    /// HMAC-SHA256 secret chat tokens are signed with, shared with the token issuer (the
    /// control plane's `chat.token_secret`). Required: the relay refuses to start without it.
    /// Default: empty.
    pub token_secret: Redacted<String>,
    /// Admit clients without a token as read-only guests (`anon:` user ids) that may only
    /// `ping` and `resume`. Default: `false`.
    pub allow_anonymous: bool,
    /// Events kept per room in the history ring; resumes within it are exact. Default: `200`.
    pub history_len: usize,
    /// Events sent in a fresh `welcome`. Default: `50`.
    pub welcome_len: usize,
    /// Recent `(user_id, client_id)` pairs remembered per room to drop retried chats.
    /// Default: `1024`.
    pub dedupe_window: usize,
    /// Largest client frame in bytes; larger ones get `too_large`, and WebSocket messages over
    /// 16 times this close the connection with 1009. Default: `4096`.
    pub max_frame_bytes: usize,
    /// Longest chat text after trimming, in characters. Default: `500`.
    pub max_text_chars: usize,
    /// Likes are summed and broadcast as `likes` at most this often per room. Duration.
    /// Default: `"200ms"`.
    #[serde(with = "humantime_serde")]
    pub like_interval: Duration,
    /// `viewers` counts are broadcast at most this often per room, when they changed.
    /// Duration. Default: `"1s"`.
    #[serde(with = "humantime_serde")]
    pub viewers_interval: Duration,
    /// Frames one user may send per second, over all their connections. Default: `10`.
    pub user_rate: NonZeroU32,
    /// Frames one user may send at once above `user_rate`. Default: `20`.
    pub user_burst: NonZeroU32,
    /// Frames one connection may send per second. Default: `10`.
    pub connection_rate: NonZeroU32,
    /// Frames one connection may send at once above `connection_rate`. Default: `20`.
    pub connection_burst: NonZeroU32,
    /// `rate_limited` refusals within 10 s after which a connection is closed with 4008.
    /// Default: `10`.
    pub flood_strikes: u32,
    /// Slow mode of a room when it opens (moderators change it with `slow_mode`). Duration;
    /// `"0s"` is off. Default: `"0s"`.
    #[serde(with = "humantime_serde")]
    pub slow_mode: Duration,
    /// Events buffered per room for clients that read slower than the room sends; a client
    /// that falls further behind is resynchronized with a `welcome` (or closed if it keeps
    /// falling behind). Default: `1024`.
    pub fanout_buffer: usize,
    /// A connection that sends nothing (no frame, no WebSocket ping) for this long is closed
    /// with 1001. Duration. Default: `"60s"`.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// A room without connections for this long is closed (its log flushed) and reopened from
    /// the database on the next join. Duration. Default: `"60s"`.
    #[serde(with = "humantime_serde")]
    pub room_idle_timeout: Duration,
}

impl Default for ChatSection {
    fn default() -> Self {
        let room = chat_proto::RoomConfig::default();
        let limits = chat_proto::Limits::default();
        Self {
            token_secret: Redacted::default(),
            allow_anonymous: false,
            history_len: room.history_len,
            welcome_len: room.welcome_len,
            dedupe_window: room.dedupe_window,
            max_frame_bytes: limits.max_frame_bytes,
            max_text_chars: limits.max_text_chars,
            like_interval: chat_proto::DEFAULT_LIKE_INTERVAL,
            viewers_interval: Duration::from_secs(1),
            user_rate: NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN),
            user_burst: NonZeroU32::new(20).unwrap_or(NonZeroU32::MIN),
            connection_rate: NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN),
            connection_burst: NonZeroU32::new(20).unwrap_or(NonZeroU32::MIN),
            flood_strikes: 10,
            slow_mode: Duration::ZERO,
            fanout_buffer: 1024,
            idle_timeout: Duration::from_secs(60),
            room_idle_timeout: Duration::from_secs(60),
        }
    }
}

impl ChatSection {
    /// The per-room sequencer settings.
    pub fn room_config(&self) -> chat_proto::RoomConfig {
        chat_proto::RoomConfig {
            history_len: self.history_len,
            welcome_len: self.welcome_len,
            dedupe_window: self.dedupe_window,
        }
    }

    /// The client frame limits.
    pub fn limits(&self) -> chat_proto::Limits {
        chat_proto::Limits {
            max_frame_bytes: self.max_frame_bytes,
            max_text_chars: self.max_text_chars,
        }
    }
}

/// `[federation]`: how this relay mirrors rooms whose home is another relay
/// (`docs/chat-protocol.md` §9). Links are WebSockets to the home's `/federation`,
/// authenticated with the node token (`control.token`, shared by every relay); `wss://` when
/// the home's listener speaks TLS (`http.tls_cert`), its certificate verified against
/// `federation.tls_ca`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct FederationSection {
    /// PEM file of the CA (one or more certificates) that home relays' HTTPS certificates must
    /// chain to, for `wss://` links; their name (host or IP of the home's URL) must match the
    /// certificate too. The cluster CA of `livecdn certs` works: node certificates name the node,
    /// `localhost` and the loopback addresses. Read at start (a bad file stops the relay).
    /// Default: unset: `wss://` homes cannot be reached (each dial fails, logged and counted in
    /// `livecdn_chat_federation_dial_failures_total{reason="tls"}`); `ws://` homes still can.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_ca: Option<std::path::PathBuf>,
    /// How long a client's frame forwarded to the home waits for its reply before the client
    /// gets `unavailable` (a gift then must be retried with the same idempotency key, which
    /// the ledger makes safe). Duration. Default: `"5s"`.
    #[serde(with = "humantime_serde")]
    pub forward_timeout: Duration,
    /// Longest wait between two attempts to (re)connect a link to a home relay; waits start at
    /// 100 ms and double up to this. Duration. Default: `"2s"`.
    #[serde(with = "humantime_serde")]
    pub reconnect_backoff_max: Duration,
    /// A link to a room's home down for this long makes the room ask the control plane for
    /// its home again (then again every this long), so a dead home is replaced once the
    /// control plane's failure detector declares it dead. Duration. Default: `"2s"`.
    #[serde(with = "humantime_serde")]
    pub home_grace: Duration,
}

impl Default for FederationSection {
    fn default() -> Self {
        Self {
            tls_ca: None,
            forward_timeout: Duration::from_secs(5),
            reconnect_backoff_max: Duration::from_secs(2),
            home_grace: Duration::from_secs(2),
        }
    }
}

/// `[database]`: where the chat log, wallets and gifts live (SQLite or PostgreSQL).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSection {
    /// `sqlite://PATH` (the file is created if missing) or `postgres://USER:PASS@HOST/DB`.
    /// Default: `"sqlite://livecdn-data/chat.db"`.
    pub url: Redacted<String>,
    /// Largest number of pooled database connections. Default: `8`.
    pub max_connections: u32,
}

impl Default for DatabaseSection {
    fn default() -> Self {
        Self {
            url: Redacted::new("sqlite://livecdn-data/chat.db".to_owned()),
            max_connections: 8,
        }
    }
}

/// `[gifts]`: the catalogue and demo money.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct GiftsSection {
    /// Allow `POST /v1/wallet/topup`, which credits the caller's wallet with demo money.
    /// Never enable it with real money. Default: `false`.
    pub demo_topup: bool,
    /// `[[gifts.catalog]]` entries added to (or replacing ones in) the database's catalogue at
    /// start. Default: none (the catalogue is whatever the database holds).
    pub catalog: Vec<GiftEntry>,
}

/// One `[[gifts.catalog]]` entry.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct GiftEntry {
    /// Stable id clients send as `gift_id`, e.g. `"rose"`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Price of one, in wallet units (non-negative).
    pub price: i64,
    /// Animation asset players render; may be empty.
    #[serde(default)]
    pub animation: String,
}

impl From<&GiftEntry> for store::GiftKind {
    fn from(entry: &GiftEntry) -> Self {
        Self {
            id: entry.id.clone(),
            name: entry.name.clone(),
            price: entry.price,
            animation: entry.animation.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_protocol_crate() {
        let chat = ChatSection::default();
        assert_eq!(chat.room_config(), chat_proto::RoomConfig::default());
        assert_eq!(chat.limits(), chat_proto::Limits::default());
        assert_eq!(chat.like_interval, Duration::from_millis(200));
        assert!(chat.token_secret.expose().is_empty());
    }

    #[test]
    fn parses_a_catalog_and_refuses_unknown_keys() {
        let text = r#"
            [chat]
            token_secret = "s"
            like_interval = "100ms"
            [gifts]
            demo_topup = true
            [[gifts.catalog]]
            id = "rose"
            name = "Rose"
            price = 1
        "#;
        let config: ChatRelayConfig = toml::from_str(text).unwrap();
        assert_eq!(config.gifts.catalog[0].price, 1);
        assert_eq!(config.chat.like_interval, Duration::from_millis(100));
        assert!(toml::from_str::<ChatRelayConfig>("[chat]\nbogus = 1").is_err());
    }
}
