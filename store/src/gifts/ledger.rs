//! `commit_gift`'s transaction: four statements between `BEGIN` and `COMMIT`.
//!
//! 1. Look up the price: unknown gift → `UnknownGift` (the catalog has no delete, so a retry
//!    of a committed gift always finds its kind).
//! 2. Debit the sender with a conditional `UPDATE … WHERE balance >= value RETURNING balance`
//!    and credit the host with an upsert. Under PostgreSQL's READ COMMITTED the condition is
//!    re-checked on the newest row version, so concurrent debits never lose an update or
//!    overdraw. Wallet rows are locked in user id order, so two opposite gifts cannot deadlock.
//! 3. Insert the record with the sender's new balance, `ON CONFLICT DO NOTHING` on
//!    `(sender_id, idempotency_key)`. Inserting nothing means the key was committed before:
//!    roll back (undoing this attempt's debit and credit) and return the first outcome.
//! 4. If the debit found too little money, the key may still have been committed, by a racing
//!    commit that spent the money: return that outcome, else `InsufficientFunds`.
//!
//! **Invariant:** keys are scoped to the sender, so two commits of one key always contend on
//! the sender's wallet row first: on PostgreSQL the second waits there until the first ends,
//! then reaches step 3 or 4 and sees the committed record. On SQLite the whole transaction
//! holds the write lock (`BEGIN IMMEDIATE` behind the write gate), so nothing interleaves.

use sqlx::AnyConnection;
use sqlx::Row as _;

use super::{GiftOutcome, GiftRecord, GiftRequest, gift_from_row};
use crate::wallets::credit;
use crate::{Store, StoreError};

/// One attempt; the caller retries retryable errors.
pub(super) async fn commit_once(
    store: &Store,
    req: &GiftRequest,
) -> Result<GiftOutcome, StoreError> {
    let mut tx = store.begin_write().await?;
    let price = price(tx.conn(), &req.gift_id)
        .await?
        .ok_or_else(|| StoreError::UnknownGift {
            gift_id: req.gift_id.clone(),
        })?;
    let value = price
        .checked_mul(req.count)
        .ok_or_else(|| StoreError::invalid("gift count", "value overflows"))?;

    let sender_balance = match move_money(tx.conn(), req, value).await {
        Ok(balance) => balance,
        Err(err @ StoreError::InsufficientFunds { .. }) => {
            let first = committed(tx.conn(), req).await?;
            tx.rollback().await?;
            return first.map_or(Err(err), |first| replay(req, first));
        }
        Err(err) => return Err(err),
    };

    let inserted = sqlx::query(
        "INSERT INTO gifts (sender_id, idempotency_key, room, host_id, gift_id, count, value, \
         at_ms, sender_balance_after) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (sender_id, idempotency_key) DO NOTHING",
    )
    .bind(&req.sender_id)
    .bind(&req.idempotency_key)
    .bind(&req.room)
    .bind(&req.host_id)
    .bind(&req.gift_id)
    .bind(req.count)
    .bind(value)
    .bind(req.at_ms)
    .bind(sender_balance)
    .execute(tx.conn())
    .await?
    .rows_affected();
    if inserted == 0 {
        // Committed before (a retry), or by a racing commit that has now ended: either way the
        // row is visible to this new statement.
        let first = committed(tx.conn(), req).await?;
        tx.rollback().await?;
        let first = first.ok_or(StoreError::Database(sqlx::Error::RowNotFound))?;
        return replay(req, first);
    }
    tx.commit().await?;
    tracing::debug!(room = %req.room, gift = %req.gift_id, value, "gift committed");
    let record = GiftRecord {
        idempotency_key: req.idempotency_key.clone(),
        room: req.room.clone(),
        sender_id: req.sender_id.clone(),
        host_id: req.host_id.clone(),
        gift_id: req.gift_id.clone(),
        count: req.count,
        value,
        at_ms: req.at_ms,
    };
    Ok(GiftOutcome {
        record,
        sender_balance,
        replayed: false,
    })
}

/// Debits the sender and credits the host, locking the two wallets in user id order; returns
/// the sender's new balance.
async fn move_money(
    conn: &mut AnyConnection,
    req: &GiftRequest,
    value: i64,
) -> Result<i64, StoreError> {
    if req.sender_id <= req.host_id {
        let after_debit = debit(conn, req, value).await?;
        let host_balance = credit(conn, &req.host_id, value, req.at_ms).await?;
        Ok(if req.sender_id == req.host_id {
            host_balance
        } else {
            after_debit
        })
    } else {
        credit(conn, &req.host_id, value, req.at_ms).await?;
        debit(conn, req, value).await
    }
}

/// The first outcome for this key, unless the retry asks for a different gift.
fn replay(
    req: &GiftRequest,
    (record, sender_balance): (GiftRecord, i64),
) -> Result<GiftOutcome, StoreError> {
    let same = record.room == req.room
        && record.host_id == req.host_id
        && record.gift_id == req.gift_id
        && record.count == req.count;
    if !same {
        return Err(StoreError::IdempotencyConflict {
            key: req.idempotency_key.clone(),
        });
    }
    Ok(GiftOutcome {
        record,
        sender_balance,
        replayed: true,
    })
}

async fn committed(
    conn: &mut AnyConnection,
    req: &GiftRequest,
) -> Result<Option<(GiftRecord, i64)>, StoreError> {
    let row = sqlx::query(
        "SELECT sender_id, idempotency_key, room, host_id, gift_id, count, value, at_ms, \
         sender_balance_after FROM gifts WHERE sender_id = $1 AND idempotency_key = $2",
    )
    .bind(&req.sender_id)
    .bind(&req.idempotency_key)
    .fetch_optional(conn)
    .await?;
    Ok(row.as_ref().map(gift_from_row).transpose()?)
}

async fn price(conn: &mut AnyConnection, gift_id: &str) -> Result<Option<i64>, StoreError> {
    let row = sqlx::query("SELECT price FROM gift_kinds WHERE id = $1")
        .bind(gift_id)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|r| r.try_get("price")).transpose()?)
}

/// Takes `value` from the sender if the balance covers it; returns the new balance.
async fn debit(conn: &mut AnyConnection, req: &GiftRequest, value: i64) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "UPDATE wallets SET balance = balance - $1, updated_at_ms = $2 \
         WHERE user_id = $3 AND balance >= $1 RETURNING balance",
    )
    .bind(value)
    .bind(req.at_ms)
    .bind(&req.sender_id)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(row) = row {
        return Ok(row.try_get("balance")?);
    }
    let balance = sqlx::query("SELECT balance FROM wallets WHERE user_id = $1")
        .bind(&req.sender_id)
        .fetch_optional(conn)
        .await?
        .map(|r| r.try_get::<i64, _>("balance"))
        .transpose()?
        .unwrap_or(0);
    // A free gift from a user without a wallet costs nothing and needs no wallet.
    if value == 0 {
        return Ok(balance);
    }
    Err(StoreError::InsufficientFunds {
        balance,
        needed: value,
    })
}
