//! Streams: a name the origin accepts publishes for, created by an operator.

use serde::{Deserialize, Serialize};
use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::{Store, StoreError};

/// A stream as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamRecord {
    /// The stream name (also the chat room name).
    pub name: String,
    /// When it was created, in Unix milliseconds.
    pub created_at_ms: i64,
}

impl Store {
    /// Creates a stream; [`StoreError::AlreadyExists`] if the name is taken.
    pub async fn create_stream(&self, name: &str, now_ms: i64) -> Result<StreamRecord, StoreError> {
        if name.is_empty() {
            return Err(StoreError::invalid("stream name", "empty"));
        }
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO streams (name, created_at_ms) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(now_ms)
        .execute(tx.conn())
        .await?
        .rows_affected();
        tx.commit().await?;
        if inserted == 0 {
            return Err(StoreError::AlreadyExists {
                what: "stream",
                id: name.to_owned(),
            });
        }
        Ok(StreamRecord {
            name: name.to_owned(),
            created_at_ms: now_ms,
        })
    }

    /// Every stream, by name.
    pub async fn list_streams(&self) -> Result<Vec<StreamRecord>, StoreError> {
        let rows = sqlx::query("SELECT name, created_at_ms FROM streams ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(stream_from_row).collect::<Result<_, _>>()?)
    }

    /// One stream, if it exists.
    pub async fn stream(&self, name: &str) -> Result<Option<StreamRecord>, StoreError> {
        let row = sqlx::query("SELECT name, created_at_ms FROM streams WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(stream_from_row).transpose()?)
    }

    /// Deletes a stream and its keys in one transaction; `false` if it did not exist.
    /// Its stats, chat log and gift records stay: they are history, not configuration.
    pub async fn delete_stream(&self, name: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        // Explicit rather than relying on ON DELETE CASCADE, which SQLite only honours with
        // `foreign_keys` on.
        sqlx::query("DELETE FROM stream_keys WHERE stream = $1")
            .bind(name)
            .execute(tx.conn())
            .await?;
        let deleted = sqlx::query("DELETE FROM streams WHERE name = $1")
            .bind(name)
            .execute(tx.conn())
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(deleted > 0)
    }
}

fn stream_from_row(row: &AnyRow) -> Result<StreamRecord, sqlx::Error> {
    Ok(StreamRecord {
        name: row.try_get("name")?,
        created_at_ms: row.try_get("created_at_ms")?,
    })
}
