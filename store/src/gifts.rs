//! The gift ledger: `commit_gift`, which debits the sender, credits the
//! host and records the gift in one transaction, at most once per idempotency key.

use serde::{Deserialize, Serialize};
use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::page::{self, Bind, Filter, Page};
use crate::{Store, StoreError};

mod ledger;

/// Attempts of one `commit_gift` on lock conflicts (deadlock, serialization failure, busy).
/// Safe because the idempotency key makes a repeated commit a replay.
const COMMIT_ATTEMPTS: u32 = 3;

/// Longest idempotency key accepted, in bytes.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 128;

/// Cursor tag for [`Store::query_gifts`].
const GIFT_CURSOR: char = 'g';

const GIFT_COLUMNS: &str =
    "sender_id, idempotency_key, room, host_id, gift_id, count, value, at_ms, sender_balance_after";

/// A gift as the home relay received it from the sender's client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GiftRequest {
    /// The client's key for this gift; scoped to the sender, at most
    /// [`MAX_IDEMPOTENCY_KEY_LEN`] bytes.
    pub idempotency_key: String,
    /// The room (stream name).
    pub room: String,
    /// Who pays.
    pub sender_id: String,
    /// Who is credited (the room's host).
    pub host_id: String,
    /// Catalog id.
    pub gift_id: String,
    /// How many, at least 1.
    pub count: i64,
    /// When the home relay accepted it, in Unix milliseconds.
    pub at_ms: i64,
}

/// A committed gift.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GiftRecord {
    /// The sender's idempotency key; with `sender_id`, the record's identity.
    pub idempotency_key: String,
    /// The room.
    pub room: String,
    /// Who paid.
    pub sender_id: String,
    /// Who was credited.
    pub host_id: String,
    /// Catalog id.
    pub gift_id: String,
    /// How many.
    pub count: i64,
    /// `count × price` at commit time, in wallet units.
    pub value: i64,
    /// Commit time, in Unix milliseconds.
    pub at_ms: i64,
}

/// What `commit_gift` returns, identical for the first commit and every replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GiftOutcome {
    /// The committed gift.
    pub record: GiftRecord,
    /// The sender's balance right after the first commit.
    pub sender_balance: i64,
    /// `true` when the key had been committed before and nothing was charged now.
    pub replayed: bool,
}

/// A search over the gift ledger, in `(at_ms, sender_id, idempotency_key)` order,
/// `from_ms <= at_ms < to_ms`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GiftQuery {
    /// Only this room.
    pub room: Option<String>,
    /// Only gifts this user sent or received.
    pub user_id: Option<String>,
    /// Only gifts at or after this time.
    pub from_ms: Option<i64>,
    /// Only gifts before this time.
    pub to_ms: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, clamped to `1..=MAX_PAGE_LIMIT`.
    pub limit: u32,
}

impl Store {
    /// Commits a gift exactly once, in one transaction: if the sender's idempotency key was
    /// committed, returns that first outcome with `replayed = true` and charges nothing (also
    /// when two commits of one key race); otherwise prices the gift, debits the sender only if
    /// the balance covers it, credits the host and records the gift. Lock conflicts are retried
    /// up to 3 times.
    ///
    /// Errors: [`StoreError::UnknownGift`], [`StoreError::InsufficientFunds`],
    /// [`StoreError::IdempotencyConflict`] (key reused for a different gift),
    /// [`StoreError::InvalidArgument`]; none of them charges anything.
    pub async fn commit_gift(&self, req: &GiftRequest) -> Result<GiftOutcome, StoreError> {
        validate(req)?;
        let mut attempt = 1;
        loop {
            match ledger::commit_once(self, req).await {
                Err(err) if err.is_retryable() && attempt < COMMIT_ATTEMPTS => {
                    tracing::debug!(room = %req.room, attempt, error = %err, "gift commit retried");
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    /// One page of a gift ledger search; follow `next_cursor` to get every match exactly once.
    pub async fn query_gifts(&self, query: &GiftQuery) -> Result<Page<GiftRecord>, StoreError> {
        let limit = page::clamp_limit(query.limit);
        let mut filter = Filter::default();
        if let Some(room) = &query.room {
            filter.push("room = ?", [Bind::Text(room.clone())]);
        }
        if let Some(user) = &query.user_id {
            filter.push(
                "(sender_id = ? OR host_id = ?)",
                [Bind::Text(user.clone()), Bind::Text(user.clone())],
            );
        }
        if let Some(from_ms) = query.from_ms {
            filter.push("at_ms >= ?", [Bind::Int(from_ms)]);
        }
        if let Some(to_ms) = query.to_ms {
            filter.push("at_ms < ?", [Bind::Int(to_ms)]);
        }
        if let Some(cursor) = &query.cursor {
            let (at_ms, sender, key): (i64, String, String) =
                page::decode_cursor(GIFT_CURSOR, cursor)?;
            filter.push(
                "(at_ms, sender_id, idempotency_key) > (?, ?, ?)",
                [Bind::Int(at_ms), Bind::Text(sender), Bind::Text(key)],
            );
        }
        let limit_param = filter.placeholder(Bind::Int(limit as i64 + 1));
        let sql = format!(
            "SELECT {GIFT_COLUMNS} FROM gifts{} ORDER BY at_ms, sender_id, idempotency_key LIMIT {limit_param}",
            filter.where_sql()
        );
        let rows = filter.into_query(sql).fetch_all(&self.pool).await?;
        let items = rows
            .iter()
            .map(|r| gift_from_row(r).map(|(g, _)| g))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(page::finish(items, limit, |g| {
            page::encode_cursor(GIFT_CURSOR, &(g.at_ms, &g.sender_id, &g.idempotency_key))
        }))
    }

    /// Total value of the gifts committed in `room`.
    pub async fn gift_totals(&self, room: &str) -> Result<i64, StoreError> {
        // SUM(BIGINT) is NUMERIC on PostgreSQL, which the Any driver cannot decode.
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(value), 0) AS BIGINT) AS total FROM gifts WHERE room = $1",
        )
        .bind(room)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("total")?)
    }
}

fn validate(req: &GiftRequest) -> Result<(), StoreError> {
    if req.idempotency_key.is_empty() || req.idempotency_key.len() > MAX_IDEMPOTENCY_KEY_LEN {
        return Err(StoreError::invalid(
            "idempotency key",
            "must be 1 to 128 bytes",
        ));
    }
    if req.count <= 0 {
        return Err(StoreError::invalid("gift count", "must be positive"));
    }
    Ok(())
}

/// A gift row and its `sender_balance_after`.
fn gift_from_row(row: &AnyRow) -> Result<(GiftRecord, i64), sqlx::Error> {
    let record = GiftRecord {
        idempotency_key: row.try_get("idempotency_key")?,
        room: row.try_get("room")?,
        sender_id: row.try_get("sender_id")?,
        host_id: row.try_get("host_id")?,
        gift_id: row.try_get("gift_id")?,
        count: row.try_get("count")?,
        value: row.try_get("value")?,
        at_ms: row.try_get("at_ms")?,
    };
    Ok((record, row.try_get("sender_balance_after")?))
}
