//! Room like totals: the home relay writes each room's total once per like flush and reads it
//! back when the room reopens, so a restarted home continues the count.

use sqlx::Row as _;

use crate::{Store, StoreError};

impl Store {
    /// Stores `total` as `room`'s like total unless the stored one is larger, and returns the
    /// stored total. Keeping the larger makes a retried or late write harmless: the total
    /// never goes down.
    pub async fn save_like_total(
        &self,
        room: &str,
        total: i64,
        now_ms: i64,
    ) -> Result<i64, StoreError> {
        if total < 0 {
            return Err(StoreError::invalid("like total", "negative"));
        }
        let mut tx = self.begin_write().await?;
        // CASE rather than MAX()/GREATEST(): the one spelling both backends accept.
        let row = sqlx::query(
            "INSERT INTO room_likes (room, total, updated_at_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (room) DO UPDATE SET \
             total = CASE WHEN excluded.total > room_likes.total \
                     THEN excluded.total ELSE room_likes.total END, \
             updated_at_ms = excluded.updated_at_ms \
             RETURNING total",
        )
        .bind(room)
        .bind(total)
        .bind(now_ms)
        .fetch_one(tx.conn())
        .await?;
        let stored: i64 = row.try_get("total")?;
        tx.commit().await?;
        Ok(stored)
    }

    /// `room`'s stored like total; 0 for a room that never had a like.
    pub async fn like_total(&self, room: &str) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT total FROM room_likes WHERE room = $1")
            .bind(room)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("total")).transpose()?.unwrap_or(0))
    }
}
