//! The chat-relay's metrics, registered into the node's registry under `livecdn_chat_`.
//!
//! Every label value comes from a closed set (`&'static str` from a frame kind, an error code
//! or a decode reason, or a close code): no room names, user ids or tokens.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// `{kind}` labels: a client or server frame kind.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    /// The frame's `"type"`.
    pub kind: &'static str,
}

/// `{reason}` labels.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// A closed-set reason (`DecodeError::reason`, an `ErrorCode`, a limiter scope).
    pub reason: &'static str,
}

/// `{code}` labels: a WebSocket close code.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabels {
    /// The close code sent.
    pub code: u16,
}

/// Every chat-relay metric.
#[derive(Debug, Clone)]
pub struct ChatMetrics {
    /// `livecdn_chat_connections`: WebSocket sessions open now.
    pub connections: Gauge,
    /// `livecdn_chat_rooms`: rooms this relay holds now.
    pub rooms: Gauge,
    /// `livecdn_chat_messages_in_total{kind}`: decoded client frames by kind.
    pub messages_in: Family<KindLabels, Counter>,
    /// `livecdn_chat_messages_out_total{kind}`: frames handed to clients by kind (a broadcast
    /// counts once per receiving client).
    pub messages_out: Family<KindLabels, Counter>,
    /// `livecdn_chat_fanout_delay_seconds`: from sequencing (or coalescing) an event to writing
    /// it to a client's socket, sampled on every 16th broadcast frame per connection.
    pub fanout_delay: Histogram,
    /// `livecdn_chat_durable_wait_seconds`: from sequencing an event to its release once the
    /// chat log has written it (§6.1: nothing is seen before); the part of the fan-out delay
    /// the database adds.
    pub durable_wait: Histogram,
    /// `livecdn_chat_slow_consumers_total{reason}`: clients that fell behind the room's
    /// buffer: `resync` (sent a new `welcome`) or `closed`.
    pub slow_consumers: Family<ReasonLabels, Counter>,
    /// `livecdn_chat_rate_limited_total{reason}`: frames refused by a rate limiter
    /// (`connection` or `user`).
    pub rate_limited: Family<ReasonLabels, Counter>,
    /// `livecdn_chat_rejected_total{reason}`: refused frames: decode reasons and moderation or
    /// ledger error codes.
    pub rejected: Family<ReasonLabels, Counter>,
    /// `livecdn_chat_gifts_committed_total`: gifts committed to the ledger (replays excluded).
    pub gifts_committed: Counter,
    /// `livecdn_chat_gift_value_total`: value of committed gifts, in wallet units.
    pub gift_value: Counter,
    /// `livecdn_chat_gift_errors_total{reason}`: gift commits that failed.
    pub gift_errors: Family<ReasonLabels, Counter>,
    /// `livecdn_chat_log_errors_total`: chat log batches the database refused after retries.
    pub log_errors: Counter,
    /// `livecdn_chat_like_write_errors_total`: room like totals the database refused (each is
    /// retried one like interval later; the total is not broadcast until it is written).
    pub like_write_errors: Counter,
    /// `livecdn_chat_ws_closes_total{code}`: WebSocket closes sent by the relay, by code.
    pub ws_closes: Family<CodeLabels, Counter>,
    /// `livecdn_chat_federation_*`: links, forwards, lag and gaps.
    pub federation: crate::federation::FederationMetrics,
}

impl ChatMetrics {
    /// Creates and registers every metric in `registry` (the node's root registry).
    pub fn register(registry: &mut Registry) -> Self {
        let buckets = [
            0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
        ];
        let r = registry.sub_registry_with_prefix("livecdn_chat");
        let metrics = Self {
            connections: Gauge::default(),
            rooms: Gauge::default(),
            messages_in: Family::default(),
            messages_out: Family::default(),
            fanout_delay: Histogram::new(buckets),
            durable_wait: Histogram::new(buckets),
            slow_consumers: Family::default(),
            rate_limited: Family::default(),
            rejected: Family::default(),
            gifts_committed: Counter::default(),
            gift_value: Counter::default(),
            gift_errors: Family::default(),
            log_errors: Counter::default(),
            like_write_errors: Counter::default(),
            ws_closes: Family::default(),
            federation: crate::federation::FederationMetrics::register(r),
        };
        let m = &metrics;
        r.register(
            "connections",
            "WebSocket sessions open now",
            m.connections.clone(),
        );
        r.register("rooms", "Rooms held by this relay", m.rooms.clone());
        r.register(
            "messages_in",
            "Decoded client frames",
            m.messages_in.clone(),
        );
        r.register(
            "messages_out",
            "Frames sent to clients",
            m.messages_out.clone(),
        );
        r.register_with_unit(
            "fanout_delay",
            "From sequencing an event to writing it to a client socket (sampled)",
            Unit::Seconds,
            m.fanout_delay.clone(),
        );
        r.register_with_unit(
            "durable_wait",
            "From sequencing an event to its release once the chat log wrote it",
            Unit::Seconds,
            m.durable_wait.clone(),
        );
        r.register(
            "slow_consumers",
            "Clients that fell behind",
            m.slow_consumers.clone(),
        );
        r.register(
            "rate_limited",
            "Frames refused by a rate limit",
            m.rate_limited.clone(),
        );
        r.register("rejected", "Refused client frames", m.rejected.clone());
        r.register(
            "gifts_committed",
            "Gifts committed",
            m.gifts_committed.clone(),
        );
        r.register(
            "gift_value",
            "Value of committed gifts",
            m.gift_value.clone(),
        );
        // Every reason `gifts::refusal` gives exists from start (alerts see zeros, not gaps).
        for reason in [
            "insufficient_funds",
            "unknown_gift",
            "idempotency_conflict",
            "invalid",
            "database_busy",
            "database",
        ] {
            let _ = m.gift_errors.get_or_create(&ReasonLabels { reason });
        }
        r.register(
            "gift_errors",
            "Gift commits refused or failed, by reason (database, database_busy: the ledger failed)",
            m.gift_errors.clone(),
        );
        r.register("log_errors", "Chat log batches lost", m.log_errors.clone());
        r.register(
            "like_write_errors",
            "Room like total writes that failed (retried)",
            m.like_write_errors.clone(),
        );
        r.register("ws_closes", "WebSocket closes by code", m.ws_closes.clone());
        metrics
    }

    /// Counts one refused frame.
    pub fn reject(&self, reason: &'static str) {
        self.rejected.get_or_create(&ReasonLabels { reason }).inc();
    }

    /// Counts `n` frames of `kind` sent.
    pub fn sent(&self, kind: &'static str, n: u64) {
        self.messages_out
            .get_or_create(&KindLabels { kind })
            .inc_by(n);
    }

    /// Counts a close sent with `code`.
    pub fn closed(&self, code: u16) {
        self.ws_closes.get_or_create(&CodeLabels { code }).inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_prefix_and_units() {
        let mut registry = Registry::default();
        let metrics = ChatMetrics::register(&mut registry);
        metrics.reject("bad_frame");
        metrics.closed(4008);
        metrics.fanout_delay.observe(0.001);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for name in [
            "livecdn_chat_connections ",
            "livecdn_chat_rejected_total{reason=\"bad_frame\"} 1",
            "livecdn_chat_ws_closes_total{code=\"4008\"} 1",
            "livecdn_chat_fanout_delay_seconds_count 1",
            "livecdn_chat_gift_value_total 0",
        ] {
            assert!(text.contains(name), "{name} missing in\n{text}");
        }
    }
}
