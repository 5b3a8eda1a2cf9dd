//! The gift catalog and user wallets (demo money, in integer wallet units).

use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use sqlx::Row as _;

use crate::{Store, StoreError};

/// A catalog entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GiftKind {
    /// Stable id used in gift requests, e.g. `rose`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Price of one, in wallet units.
    pub price: i64,
    /// Animation asset the players render.
    pub animation: String,
}

impl Store {
    /// Adds or replaces a catalog entry. A new price applies to later commits only.
    pub async fn upsert_gift_kind(&self, kind: &GiftKind) -> Result<(), StoreError> {
        if kind.price < 0 {
            return Err(StoreError::invalid("gift price", "negative"));
        }
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO gift_kinds (id, name, price, animation) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, price = excluded.price, \
             animation = excluded.animation",
        )
        .bind(&kind.id)
        .bind(&kind.name)
        .bind(kind.price)
        .bind(&kind.animation)
        .execute(tx.conn())
        .await?;
        tx.commit().await
    }

    /// The catalog, by price then id.
    pub async fn gift_catalog(&self) -> Result<Vec<GiftKind>, StoreError> {
        let rows =
            sqlx::query("SELECT id, name, price, animation FROM gift_kinds ORDER BY price, id")
                .fetch_all(&self.pool)
                .await?;
        let kinds = rows
            .iter()
            .map(|row| {
                Ok(GiftKind {
                    id: row.try_get("id")?,
                    name: row.try_get("name")?,
                    price: row.try_get("price")?,
                    animation: row.try_get("animation")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        Ok(kinds)
    }

    /// Adds `amount` (> 0) to a wallet, creating it, and returns the new balance.
    pub async fn top_up(&self, user_id: &str, amount: i64, now_ms: i64) -> Result<i64, StoreError> {
        if amount <= 0 {
            return Err(StoreError::invalid("top-up amount", "must be positive"));
        }
        let mut tx = self.begin_write().await?;
        let balance = credit(tx.conn(), user_id, amount, now_ms).await?;
        tx.commit().await?;
        Ok(balance)
    }

    /// A wallet's balance; 0 for a user without a wallet.
    pub async fn balance(&self, user_id: &str) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT balance FROM wallets WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("balance")).transpose()?.unwrap_or(0))
    }
}

/// Adds `amount` to a wallet, creating it, and returns the new balance.
pub(crate) async fn credit(
    conn: &mut AnyConnection,
    user_id: &str,
    amount: i64,
    now_ms: i64,
) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "INSERT INTO wallets (user_id, balance, updated_at_ms) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id) DO UPDATE SET balance = wallets.balance + excluded.balance, \
         updated_at_ms = excluded.updated_at_ms RETURNING balance",
    )
    .bind(user_id)
    .bind(amount)
    .bind(now_ms)
    .fetch_one(conn)
    .await?;
    Ok(row.try_get("balance")?)
}
