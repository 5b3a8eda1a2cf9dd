//! The chat log: every sequenced room message, appended in batches by the room's home relay,
//! replayed to reconnecting clients (`chat_after`) and searched by moderators (`query_chat`).

use serde::{Deserialize, Serialize};
use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::page::{self, Bind, Filter, Page};
use crate::{Store, StoreError};

/// Rows per multi-row `INSERT`: 9 binds each.
const CHAT_ROWS_PER_INSERT: usize = 100;

/// Cursor tag for [`Store::query_chat`].
const CHAT_CURSOR: char = 'c';

const CHAT_COLUMNS: &str =
    "room, seq, kind, user_id, display_name, body, client_msg_id, at_ms, deleted";

/// One sequenced message in a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatRecord {
    /// The room (stream name).
    pub room: String,
    /// The room sequence number assigned by the home relay.
    pub seq: i64,
    /// `chat`, `like`, `gift` or `system`.
    pub kind: String,
    /// The author's user id.
    pub user_id: String,
    /// The author's display name at send time.
    pub display_name: String,
    /// The message text.
    pub text: String,
    /// The client's dedupe id, if it sent one.
    pub client_msg_id: Option<String>,
    /// When the home relay sequenced it, in Unix milliseconds.
    pub at_ms: i64,
    /// Deleted by a moderator (kept for the record, hidden from replay by the relay).
    pub deleted: bool,
}

/// A moderator search over the chat log. Every filter is optional; results come in
/// `(at_ms, room, seq)` order, `from_ms <= at_ms < to_ms`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatQuery {
    /// Only this room.
    pub room: Option<String>,
    /// Only this author.
    pub user_id: Option<String>,
    /// Only this kind.
    pub kind: Option<String>,
    /// Only messages at or after this time.
    pub from_ms: Option<i64>,
    /// Only messages before this time.
    pub to_ms: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, clamped to `1..=MAX_PAGE_LIMIT`.
    pub limit: u32,
}

impl Store {
    /// Appends messages in one transaction. Idempotent on `(room, seq)`: a message already
    /// stored is left as it is, so a relay may resend a batch after an ambiguous failure.
    pub async fn append_chat(&self, records: &[ChatRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for chunk in records.chunks(CHAT_ROWS_PER_INSERT) {
            let mut params = Filter::default();
            let values: Vec<String> = chunk
                .iter()
                .map(|r| {
                    let mut p = vec![
                        params.placeholder(Bind::Text(r.room.clone())),
                        params.placeholder(Bind::Int(r.seq)),
                        params.placeholder(Bind::Text(r.kind.clone())),
                        params.placeholder(Bind::Text(r.user_id.clone())),
                        params.placeholder(Bind::Text(r.display_name.clone())),
                        params.placeholder(Bind::Text(r.text.clone())),
                    ];
                    // NULL is spelled out: a bound NULL needs a type, which `Bind` avoids.
                    p.push(match &r.client_msg_id {
                        Some(id) => params.placeholder(Bind::Text(id.clone())),
                        None => "NULL".to_owned(),
                    });
                    p.push(params.placeholder(Bind::Int(r.at_ms)));
                    p.push(params.placeholder(Bind::Int(i64::from(r.deleted))));
                    format!("({})", p.join(", "))
                })
                .collect();
            let sql = format!(
                "INSERT INTO chat_messages ({CHAT_COLUMNS}) VALUES {} \
                 ON CONFLICT (room, seq) DO NOTHING",
                values.join(", ")
            );
            params.into_query(sql).execute(tx.conn()).await?;
        }
        tx.commit().await
    }

    /// Marks a message deleted; `false` if it is not in the log.
    pub async fn mark_chat_deleted(&self, room: &str, seq: i64) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let updated =
            sqlx::query("UPDATE chat_messages SET deleted = 1 WHERE room = $1 AND seq = $2")
                .bind(room)
                .bind(seq)
                .execute(tx.conn())
                .await?
                .rows_affected();
        tx.commit().await?;
        Ok(updated > 0)
    }

    /// The highest stored sequence number of `room`: where a restarted home relay resumes.
    pub async fn last_chat_seq(&self, room: &str) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT MAX(seq) AS seq FROM chat_messages WHERE room = $1")
            .bind(room)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("seq")?)
    }

    /// Up to `limit` (clamped to `1..=MAX_PAGE_LIMIT`) messages of `room` with `seq > after_seq`,
    /// in sequence order, deleted ones included: the resume path after a client reconnects.
    pub async fn chat_after(
        &self,
        room: &str,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<ChatRecord>, StoreError> {
        let limit = page::clamp_limit(limit) as i64;
        let rows = sqlx::query(
            "SELECT room, seq, kind, user_id, display_name, body, client_msg_id, at_ms, deleted \
             FROM chat_messages WHERE room = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(room)
        .bind(after_seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(chat_from_row).collect::<Result<_, _>>()?)
    }

    /// One page of a chat log search; follow `next_cursor` to get every match exactly once.
    /// [`StoreError::BadCursor`] if the cursor was not issued by this method.
    pub async fn query_chat(&self, query: &ChatQuery) -> Result<Page<ChatRecord>, StoreError> {
        let limit = page::clamp_limit(query.limit);
        let mut filter = Filter::default();
        if let Some(room) = &query.room {
            filter.push("room = ?", [Bind::Text(room.clone())]);
        }
        if let Some(user_id) = &query.user_id {
            filter.push("user_id = ?", [Bind::Text(user_id.clone())]);
        }
        if let Some(kind) = &query.kind {
            filter.push("kind = ?", [Bind::Text(kind.clone())]);
        }
        if let Some(from_ms) = query.from_ms {
            filter.push("at_ms >= ?", [Bind::Int(from_ms)]);
        }
        if let Some(to_ms) = query.to_ms {
            filter.push("at_ms < ?", [Bind::Int(to_ms)]);
        }
        if let Some(cursor) = &query.cursor {
            let (at_ms, room, seq): (i64, String, i64) = page::decode_cursor(CHAT_CURSOR, cursor)?;
            filter.push(
                "(at_ms, room, seq) > (?, ?, ?)",
                [Bind::Int(at_ms), Bind::Text(room), Bind::Int(seq)],
            );
        }
        let limit_param = filter.placeholder(Bind::Int(limit as i64 + 1));
        let sql = format!(
            "SELECT {CHAT_COLUMNS} FROM chat_messages{} ORDER BY at_ms, room, seq LIMIT {limit_param}",
            filter.where_sql()
        );
        let rows = filter.into_query(sql).fetch_all(&self.pool).await?;
        let items = rows
            .iter()
            .map(chat_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(page::finish(items, limit, |r| {
            page::encode_cursor(CHAT_CURSOR, &(r.at_ms, &r.room, r.seq))
        }))
    }
}

fn chat_from_row(row: &AnyRow) -> Result<ChatRecord, sqlx::Error> {
    Ok(ChatRecord {
        room: row.try_get("room")?,
        seq: row.try_get("seq")?,
        kind: row.try_get("kind")?,
        user_id: row.try_get("user_id")?,
        display_name: row.try_get("display_name")?,
        text: row.try_get("body")?,
        client_msg_id: row.try_get("client_msg_id")?,
        at_ms: row.try_get("at_ms")?,
        deleted: row.try_get::<i64, _>("deleted")? != 0,
    })
}
