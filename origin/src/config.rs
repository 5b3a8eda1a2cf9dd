//! `livecdn origin --config FILE`: the origin's configuration. Every key is documented here
//! (meaning, unit, default) and in `docs/config.md`; `deploy/config/origin.toml` is the
//! commented example. Environment overrides: `LIVECDN_ORIGIN__SECTION__KEY`.

use std::net::SocketAddr;
use std::time::Duration;

use node::config::sections::{LogSection, NodeSection, ShutdownSection, TlsSection};
use node::redact::Redacted;
use serde::{Deserialize, Serialize};

/// The origin's whole configuration.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OriginConfig {
    /// `[node]`: identity and region.
    pub node: NodeSection,
    /// `[http]`: the HTTP listener (playlists, media, admin endpoints).
    pub http: HttpSection,
    /// `[rtmp]`: the RTMP ingest listener.
    pub rtmp: RtmpSection,
    /// `[packaging]`: parts, segments and the playlist window.
    pub packaging: PackagingSection,
    /// `[relay]`: QUIC replication to edges.
    pub relay: RelaySection,
    /// `[[streams]]`: the streams hosts may publish and their stream keys. Until the control
    /// plane serves keys, this list is the source of truth. Names and keys must be unique.
    /// Default: none.
    #[serde(deserialize_with = "unique_streams")]
    pub streams: Vec<StreamEntry>,
    /// `[control]`: the control plane this origin registers with and validates stream keys
    /// against (after `[[streams]]`). Unset `control.url`: standalone.
    pub control: control_client::ControlSection,
    /// `[tls]`: this node's certificate for mutual TLS with other nodes. Optional; when set,
    /// the files are loaded and checked at start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsSection>,
    /// `[log]`: logging.
    pub log: LogSection,
    /// `[shutdown]`: graceful shutdown.
    pub shutdown: ShutdownSection,
}

/// `[http]`: the HTTP listener (default port 8080).
pub type HttpSection = node::config::sections::HttpSection<8080>;

/// `[rtmp]`: the RTMP ingest listener.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RtmpSection {
    /// Address and port of the RTMP listener. Default: `"0.0.0.0:1935"`.
    pub listen: SocketAddr,
    /// RTMP application name hosts publish to (`rtmp://HOST/{app}/{stream_key}`).
    /// Default: `"live"`.
    pub app: String,
    /// A connection that has not completed the handshake and `publish` within this time is
    /// closed. Duration. Default: `"10s"`.
    #[serde(with = "humantime_serde")]
    pub handshake_timeout: Duration,
    /// A publisher that sends nothing for this long is disconnected. Duration.
    /// Default: `"10s"`.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// After a publisher disconnects, the stream waits this long for it to come back: a
    /// reconnect within it continues the same stream (with `EXT-X-DISCONTINUITY`); after it the
    /// playlists end with `EXT-X-ENDLIST`. Duration. Default: `"15s"`.
    #[serde(with = "humantime_serde")]
    pub reconnect_grace: Duration,
    /// With a control plane: how long a key's validation is reused before asking again, so a
    /// rotated or revoked key stops working within this time. Duration. Default: `"5s"`.
    #[serde(with = "humantime_serde")]
    pub key_cache_ttl: Duration,
}

impl Default for RtmpSection {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 1935)),
            app: "live".to_owned(),
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(10),
            reconnect_grace: Duration::from_secs(15),
            key_cache_ttl: Duration::from_secs(5),
        }
    }
}

/// `[relay]`: where edges subscribe to this origin's streams (QUIC, mutual TLS with `[tls]`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RelaySection {
    /// UDP address of the replication listener; needs `[tls]`. Unset: no replication.
    /// Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
}

/// `[packaging]`: how media is cut into parts and segments and how long the window is.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct PackagingSection {
    /// Target duration of an LL-HLS part (`EXT-X-PART-INF:PART-TARGET`), 100ms to 1s.
    /// Duration. Default: `"200ms"`.
    #[serde(
        serialize_with = "humantime_serde::serialize",
        deserialize_with = "part_target"
    )]
    pub part_target: Duration,
    /// A segment closes at the first keyframe at or after this much media (within half a
    /// frame: millisecond stamps can put a 1 s GOP at 999 ms). Duration. Default: `"1s"`.
    #[serde(with = "humantime_serde")]
    pub segment_target: Duration,
    /// Closed segments kept in the sliding window (and listed in media playlists), 3 to 60.
    /// More than 6 target durations makes delta updates (`_HLS_skip`) worth it. Default: `12`.
    #[serde(deserialize_with = "window_segments")]
    pub window_segments: usize,
}

impl Default for PackagingSection {
    fn default() -> Self {
        Self {
            part_target: Duration::from_millis(200),
            segment_target: Duration::from_secs(1),
            window_segments: 12,
        }
    }
}

/// One `[[streams]]` entry: a stream and the key that publishes it.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StreamEntry {
    /// Stream name, as in `/live/{name}/index.m3u8`: 1 to 64 letters, digits, `-` and `_`.
    #[serde(deserialize_with = "stream_name")]
    pub name: String,
    /// Stream key the host puts in the RTMP URL (`rtmp://HOST/live/{key}`). A secret: never
    /// logged.
    pub key: Redacted<String>,
}

fn part_target<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let value: Duration = humantime_serde::deserialize(deserializer)?;
    if value < Duration::from_millis(100) || value > Duration::from_secs(1) {
        return Err(serde::de::Error::custom(format!(
            "{} is outside 100ms..=1s",
            humantime::format_duration(value)
        )));
    }
    Ok(value)
}

fn window_segments<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<usize, D::Error> {
    let value = usize::deserialize(deserializer)?;
    if !(3..=60).contains(&value) {
        return Err(serde::de::Error::custom(format!(
            "{value} is outside 3..=60"
        )));
    }
    Ok(value)
}

fn stream_name<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let name = String::deserialize(deserializer)?;
    if !serve::is_valid_stream_name(&name) {
        return Err(serde::de::Error::custom(format!(
            "invalid stream name {name:?}: use 1 to 64 letters, digits, '-' and '_'"
        )));
    }
    Ok(name)
}

fn unique_streams<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<StreamEntry>, D::Error> {
    let streams = Vec::<StreamEntry>::deserialize(deserializer)?;
    for (i, entry) in streams.iter().enumerate() {
        for earlier in &streams[..i] {
            if earlier.name == entry.name {
                return Err(serde::de::Error::custom(format!(
                    "stream {:?} is listed twice",
                    entry.name
                )));
            }
            if earlier.key == entry.key {
                return Err(serde::de::Error::custom(format!(
                    "streams {:?} and {:?} share a key",
                    earlier.name, entry.name
                )));
            }
        }
    }
    Ok(streams)
}
