//! Stats time series: one sample per stream, region and time, written by the control plane
//! every 10 s and read back for dashboards and forecasts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::page::{Bind, Filter};
use crate::{Store, StoreError};

/// Rows per multi-row `INSERT`: 7 binds each, well under SQLite's 32 766 bind limit.
const STATS_ROWS_PER_INSERT: usize = 200;

/// One sample of a stream in one region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsRow {
    /// The stream name.
    pub stream: String,
    /// The region the sample covers.
    pub region: String,
    /// Sample time, in Unix milliseconds.
    pub at_ms: i64,
    /// Concurrent viewers.
    pub viewers: i64,
    /// Chat messages since the previous sample.
    pub chat_messages: i64,
    /// Likes since the previous sample.
    pub likes: i64,
    /// Gift value (in wallet units) since the previous sample.
    pub gift_value: i64,
}

impl Store {
    /// Writes samples in one transaction, batched into multi-row inserts. A sample for an
    /// existing `(stream, region, at_ms)` replaces it, so a retried batch is harmless.
    pub async fn record_stats(&self, rows: &[StatsRow]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        // PostgreSQL rejects an upsert that touches one row twice; the last sample wins.
        let unique: BTreeMap<(&str, &str, i64), &StatsRow> = rows
            .iter()
            .map(|r| ((r.stream.as_str(), r.region.as_str(), r.at_ms), r))
            .collect();
        let unique: Vec<&StatsRow> = unique.into_values().collect();
        let mut tx = self.begin_write().await?;
        for chunk in unique.chunks(STATS_ROWS_PER_INSERT) {
            let mut filter = Filter::default();
            let values: Vec<String> = chunk
                .iter()
                .map(|r| {
                    let p: Vec<String> = [
                        Bind::Text(r.stream.clone()),
                        Bind::Text(r.region.clone()),
                        Bind::Int(r.at_ms),
                        Bind::Int(r.viewers),
                        Bind::Int(r.chat_messages),
                        Bind::Int(r.likes),
                        Bind::Int(r.gift_value),
                    ]
                    .into_iter()
                    .map(|b| filter.placeholder(b))
                    .collect();
                    format!("({})", p.join(", "))
                })
                .collect();
            let sql = format!(
                "INSERT INTO stream_stats \
                 (stream, region, at_ms, viewers, chat_messages, likes, gift_value) VALUES {} \
                 ON CONFLICT (stream, at_ms, region) DO UPDATE SET viewers = excluded.viewers, \
                 chat_messages = excluded.chat_messages, likes = excluded.likes, \
                 gift_value = excluded.gift_value",
                values.join(", ")
            );
            filter.into_query(sql).execute(tx.conn()).await?;
        }
        tx.commit().await
    }

    /// Samples of `stream` with `from_ms <= at_ms < to_ms`, by time then region.
    pub async fn stats(
        &self,
        stream: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<StatsRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT stream, region, at_ms, viewers, chat_messages, likes, gift_value \
             FROM stream_stats WHERE stream = $1 AND at_ms >= $2 AND at_ms < $3 \
             ORDER BY at_ms, region",
        )
        .bind(stream)
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(stats_from_row).collect::<Result<_, _>>()?)
    }
}

fn stats_from_row(row: &AnyRow) -> Result<StatsRow, sqlx::Error> {
    Ok(StatsRow {
        stream: row.try_get("stream")?,
        region: row.try_get("region")?,
        at_ms: row.try_get("at_ms")?,
        viewers: row.try_get("viewers")?,
        chat_messages: row.try_get("chat_messages")?,
        likes: row.try_get("likes")?,
        gift_value: row.try_get("gift_value")?,
    })
}
