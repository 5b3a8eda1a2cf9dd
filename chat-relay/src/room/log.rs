//! The room's chat log: sequenced events go to the database in batches from one writer task per
//! room, and come back as history when the room reopens.
//!
//! The room hands each event to the writer as it sequences it; the writer appends whatever has
//! queued up since its last write in one transaction and then publishes the highest seq written
//! ([`ChatLog::durable`]). The room acks and broadcasts an event only once it is durable, so a
//! crash (kill -9) can lose only events nobody saw: their seqs are reused after the restart
//! without any client holding the old ones, and their senders retry. A clean shutdown loses
//! nothing: closing the room closes the queue, and the writer drains it before it ends.
//!
//! Rows: `chat` keeps the text in `body`; `gift` and `system` keep a JSON body (the gift's
//! `gift_id`/`count`/`value`, or the `system` object), so they can be restored exactly.

use chat_proto::{ChatEvent, ChatMessage, EventKind, GiftEvent, SystemEvent};
use serde::{Deserialize, Serialize};
use store::{ChatRecord, Store, StoreError};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::metrics::ChatMetrics;

/// Events queued for the writer before the room waits for the database.
const LOG_QUEUE: usize = 4096;
/// Most operations written in one transaction.
const MAX_BATCH: usize = 512;
/// Attempts of one batch on retryable database errors.
const WRITE_ATTEMPTS: u32 = 5;

/// The writer of one room's log.
#[derive(Debug)]
pub(crate) struct ChatLog {
    /// `None` once closed.
    queue: Option<mpsc::Sender<LogOp>>,
    writer: Option<JoinHandle<()>>,
    durable: watch::Receiver<u64>,
}

#[derive(Debug)]
enum LogOp {
    Append(ChatRecord),
    /// A moderator deleted this seq; its row stays, marked.
    MarkDeleted(i64),
}

impl ChatLog {
    /// The writer of `room`, whose log already holds every seq up to `last_seq`.
    pub(crate) fn spawn(store: Store, room: String, metrics: ChatMetrics, last_seq: u64) -> Self {
        let (queue, ops) = mpsc::channel(LOG_QUEUE);
        let (written, durable) = watch::channel(last_seq);
        let writer = tokio::spawn(write_loop(store, room, ops, metrics, written));
        Self {
            queue: Some(queue),
            writer: Some(writer),
            durable,
        }
    }

    /// The highest seq the log has written (or given up on after its retries: a database that
    /// keeps failing must not stall the room; `livecdn_chat_log_errors_total` counts that).
    pub(crate) fn durable(&self) -> watch::Receiver<u64> {
        self.durable.clone()
    }

    /// Queues `event`; waits only when the database has fallen `LOG_QUEUE` events behind.
    pub(crate) async fn append(&self, room: &str, event: &ChatEvent) {
        if let Some(queue) = &self.queue {
            let _ = queue.send(LogOp::Append(record(room, event))).await;
        }
    }

    /// Queues marking `seq` deleted (after its append, so the row exists).
    pub(crate) async fn mark_deleted(&self, seq: u64) {
        let seq = i64::try_from(seq).unwrap_or(i64::MAX);
        if let Some(queue) = &self.queue {
            let _ = queue.send(LogOp::MarkDeleted(seq)).await;
        }
    }

    /// Closes the queue and waits until everything queued is written.
    pub(crate) async fn close(&mut self) {
        self.queue = None;
        if let Some(writer) = self.writer.take() {
            let _ = writer.await;
        }
    }
}

async fn write_loop(
    store: Store,
    room: String,
    mut ops: mpsc::Receiver<LogOp>,
    metrics: ChatMetrics,
    written: watch::Sender<u64>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while ops.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let newest = batch
            .iter()
            .filter_map(|op| match op {
                LogOp::Append(record) => u64::try_from(record.seq).ok(),
                LogOp::MarkDeleted(_) => None,
            })
            .max();
        let mut appends = Vec::new();
        for op in batch.drain(..) {
            match op {
                LogOp::Append(record) => appends.push(record),
                LogOp::MarkDeleted(seq) => {
                    write(&metrics, &room, || store.append_chat(&appends)).await;
                    appends.clear();
                    write(&metrics, &room, || async {
                        store.mark_chat_deleted(&room, seq).await.map(|_| ())
                    })
                    .await;
                }
            }
        }
        write(&metrics, &room, || store.append_chat(&appends)).await;
        if let Some(newest) = newest {
            written.send_if_modified(|durable| {
                let advanced = newest > *durable;
                *durable = (*durable).max(newest);
                advanced
            });
        }
    }
}

/// Runs one write, retrying retryable errors with a short back-off; a batch that still fails
/// is logged and counted (the events stay in the room's memory for live clients).
async fn write<F, Fut>(metrics: &ChatMetrics, room: &str, mut op: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), StoreError>>,
{
    let mut delay = std::time::Duration::from_millis(20);
    for attempt in 1..=WRITE_ATTEMPTS {
        match op().await {
            Ok(()) => return,
            Err(error) if error.is_retryable() && attempt < WRITE_ATTEMPTS => {
                tracing::debug!(%room, attempt, %error, "chat log write retried");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(error) => {
                metrics.log_errors.inc();
                tracing::error!(%room, %error, "chat log write failed; events not persisted");
                return;
            }
        }
    }
}

/// The JSON body of a `gift` row.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GiftBody {
    gift_id: String,
    count: u32,
    value: i64,
}

/// The row of a sequenced event.
pub(crate) fn record(room: &str, event: &ChatEvent) -> ChatRecord {
    let (kind, user_id, display_name, text, client_msg_id) = match &event.kind {
        EventKind::Chat(m) => (
            "chat",
            m.user_id.clone(),
            m.name.clone(),
            m.text.clone(),
            m.client_id.clone(),
        ),
        EventKind::Gift(g) => {
            let body = GiftBody {
                gift_id: g.gift_id.clone(),
                count: g.count,
                value: g.value,
            };
            let body = serde_json::to_string(&body).unwrap_or_default();
            (
                "gift",
                g.user_id.clone(),
                g.name.clone(),
                body,
                Some(g.idempotency_key.clone()),
            )
        }
        EventKind::System(s) => {
            let by = match s {
                SystemEvent::Deleted { by, .. }
                | SystemEvent::Banned { by, .. }
                | SystemEvent::Unbanned { by, .. }
                | SystemEvent::SlowMode { by, .. } => by.clone(),
                SystemEvent::Presence { .. } => String::new(),
            };
            (
                "system",
                by,
                String::new(),
                serde_json::to_string(s).unwrap_or_default(),
                None,
            )
        }
    };
    ChatRecord {
        room: room.to_owned(),
        seq: i64::try_from(event.seq).unwrap_or(i64::MAX),
        kind: kind.to_owned(),
        user_id,
        display_name,
        text,
        client_msg_id,
        at_ms: event.at_ms,
        deleted: false,
    }
}

/// Events from stored rows (in seq order). A row marked deleted comes back as its tombstone,
/// as the ring holds it; rows that do not parse (written by a newer relay) are skipped.
pub(crate) fn events(records: Vec<ChatRecord>) -> Vec<ChatEvent> {
    let parsed: Vec<(ChatEvent, bool)> = records
        .iter()
        .filter_map(|r| Some((event(r)?, r.deleted)))
        .collect();
    let deleters: std::collections::HashMap<u64, String> = parsed
        .iter()
        .filter_map(|(e, _)| match &e.kind {
            EventKind::System(SystemEvent::Deleted { seq, by }) => Some((*seq, by.clone())),
            _ => None,
        })
        .collect();
    parsed
        .into_iter()
        .map(|(mut event, deleted)| {
            if deleted && matches!(event.kind, EventKind::Chat(_)) {
                let by = deleters.get(&event.seq).cloned().unwrap_or_default();
                event.kind = EventKind::System(SystemEvent::Deleted { seq: event.seq, by });
            }
            event
        })
        .collect()
}

fn event(record: &ChatRecord) -> Option<ChatEvent> {
    let kind = match record.kind.as_str() {
        "chat" => EventKind::Chat(ChatMessage {
            user_id: record.user_id.clone(),
            name: record.display_name.clone(),
            text: record.text.clone(),
            client_id: record.client_msg_id.clone(),
        }),
        "gift" => {
            let body: GiftBody = serde_json::from_str(&record.text).ok()?;
            EventKind::Gift(GiftEvent {
                user_id: record.user_id.clone(),
                name: record.display_name.clone(),
                gift_id: body.gift_id,
                count: body.count,
                value: body.value,
                idempotency_key: record.client_msg_id.clone()?,
            })
        }
        "system" => EventKind::System(serde_json::from_str(&record.text).ok()?),
        _ => return None,
    };
    Some(ChatEvent {
        seq: u64::try_from(record.seq).ok()?,
        at_ms: record.at_ms,
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(seq: u64, text: &str) -> ChatEvent {
        ChatEvent {
            seq,
            at_ms: 1000 + i64::try_from(seq).unwrap(),
            kind: EventKind::Chat(ChatMessage {
                user_id: "u1".into(),
                name: "Ada".into(),
                text: text.into(),
                client_id: Some(format!("c{seq}")),
            }),
        }
    }

    #[test]
    fn every_kind_round_trips_through_a_row() {
        let gift = ChatEvent {
            seq: 2,
            at_ms: 5,
            kind: EventKind::Gift(GiftEvent {
                user_id: "u1".into(),
                name: "Ada".into(),
                gift_id: "rose".into(),
                count: 3,
                value: 30,
                idempotency_key: "k1".into(),
            }),
        };
        let ban = ChatEvent {
            seq: 3,
            at_ms: 6,
            kind: EventKind::System(SystemEvent::Banned {
                user_id: "u9".into(),
                until_ms: Some(99),
                by: "m1".into(),
            }),
        };
        let all = vec![chat(1, "hi"), gift, ban];
        let rows = all.iter().map(|e| record("demo", e)).collect();
        assert_eq!(events(rows), all);
    }

    #[test]
    fn deleted_rows_come_back_as_tombstones() {
        let tombstone = ChatEvent {
            seq: 2,
            at_ms: 7,
            kind: EventKind::System(SystemEvent::Deleted {
                seq: 1,
                by: "m1".into(),
            }),
        };
        let mut rows: Vec<ChatRecord> = [chat(1, "secret"), tombstone.clone()]
            .iter()
            .map(|e| record("demo", e))
            .collect();
        rows[0].deleted = true;
        let mut junk = record("demo", &chat(3, "x"));
        junk.kind = "future".into();
        rows.push(junk);
        let restored = events(rows);
        assert_eq!(restored.len(), 2);
        assert_eq!(
            restored[0].kind,
            EventKind::System(SystemEvent::Deleted {
                seq: 1,
                by: "m1".into()
            })
        );
        assert_eq!(restored[1], tombstone);
    }
}
