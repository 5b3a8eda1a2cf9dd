//! Publish keys. Only the SHA-256 hex digest of a key is stored; lookups go by digest.

use serde::{Deserialize, Serialize};
use sqlx::Row as _;

use crate::{Store, StoreError, WriteTx};

/// A stream key as listed: never the digest, never the plaintext.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// The caller-chosen key id (shown to operators, used to revoke).
    pub id: String,
    /// When the key was added, in Unix milliseconds.
    pub created_at_ms: i64,
    /// When it was revoked; `None` while active.
    pub revoked_at_ms: Option<i64>,
}

impl Store {
    /// Adds an active key to `stream`. `key_hash_hex` is the SHA-256 hex digest of the key.
    /// [`StoreError::NotFound`] if the stream does not exist, [`StoreError::AlreadyExists`] if the
    /// id is taken or an active key has the same digest.
    pub async fn add_key(
        &self,
        stream: &str,
        key_id: &str,
        key_hash_hex: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        insert_key(&mut tx, stream, key_id, key_hash_hex, now_ms).await?;
        tx.commit().await
    }

    /// Revokes every active key of `stream` and adds the new one, in one transaction, so there is
    /// never a moment with zero or two generations of keys.
    pub async fn rotate_key(
        &self,
        stream: &str,
        new_key_id: &str,
        new_key_hash_hex: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE stream_keys SET revoked_at_ms = $1 WHERE stream = $2 AND revoked_at_ms IS NULL",
        )
        .bind(now_ms)
        .bind(stream)
        .execute(tx.conn())
        .await?;
        insert_key(&mut tx, stream, new_key_id, new_key_hash_hex, now_ms).await?;
        tx.commit().await
    }

    /// Revokes one active key; `false` if `stream` has no active key with that id.
    pub async fn revoke_key(
        &self,
        stream: &str,
        key_id: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let revoked = sqlx::query(
            "UPDATE stream_keys SET revoked_at_ms = $1 \
             WHERE stream = $2 AND id = $3 AND revoked_at_ms IS NULL",
        )
        .bind(now_ms)
        .bind(stream)
        .bind(key_id)
        .execute(tx.conn())
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(revoked > 0)
    }

    /// The keys of `stream`, active and revoked, oldest first.
    pub async fn list_keys(&self, stream: &str) -> Result<Vec<KeyRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, created_at_ms, revoked_at_ms FROM stream_keys \
             WHERE stream = $1 ORDER BY created_at_ms, id",
        )
        .bind(stream)
        .fetch_all(&self.pool)
        .await?;
        let keys = rows
            .iter()
            .map(|row| {
                Ok(KeyRecord {
                    id: row.try_get("id")?,
                    created_at_ms: row.try_get("created_at_ms")?,
                    revoked_at_ms: row.try_get("revoked_at_ms")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        Ok(keys)
    }

    /// The stream and key id an **active** key digest publishes to (an index lookup).
    pub async fn stream_for_key_hash(
        &self,
        key_hash_hex: &str,
    ) -> Result<Option<(String, String)>, StoreError> {
        let row = sqlx::query(
            "SELECT stream, id FROM stream_keys WHERE key_hash = $1 AND revoked_at_ms IS NULL",
        )
        .bind(key_hash_hex)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row
            .map(|row| Ok::<_, sqlx::Error>((row.try_get("stream")?, row.try_get("id")?)))
            .transpose()?)
    }
}

async fn insert_key(
    tx: &mut WriteTx,
    stream: &str,
    key_id: &str,
    key_hash_hex: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    if !is_sha256_hex(key_hash_hex) {
        return Err(StoreError::invalid(
            "key hash",
            "expected 64 lowercase hex digits (SHA-256)",
        ));
    }
    let exists = sqlx::query("SELECT 1 FROM streams WHERE name = $1")
        .bind(stream)
        .fetch_optional(tx.conn())
        .await?;
    if exists.is_none() {
        return Err(StoreError::NotFound {
            what: "stream",
            id: stream.to_owned(),
        });
    }
    // No conflict target: covers both the id primary key and the active-digest unique index.
    let inserted = sqlx::query(
        "INSERT INTO stream_keys (id, stream, key_hash, created_at_ms, revoked_at_ms) \
         VALUES ($1, $2, $3, $4, NULL) ON CONFLICT DO NOTHING",
    )
    .bind(key_id)
    .bind(stream)
    .bind(key_hash_hex)
    .bind(now_ms)
    .execute(tx.conn())
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(StoreError::AlreadyExists {
            what: "key",
            id: key_id.to_owned(),
        });
    }
    Ok(())
}

/// Rejects plaintext keys passed by mistake: a digest is exactly 64 lowercase hex digits.
fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
