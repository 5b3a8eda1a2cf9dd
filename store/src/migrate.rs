//! Schema migrations, embedded in the binary and applied by [`crate::Store::connect`].
//!
//! `sqlx::migrate!` needs the `macros` feature, which the workspace keeps off, so the list is
//! built here from `include_str!`. Migrations are forward-only and each runs in a transaction;
//! the SQL is portable, so one list serves SQLite and PostgreSQL. sqlx records each applied
//! version with a checksum in `_sqlx_migrations` and refuses to start if an applied file
//! changed: never edit a released migration, add a new one.

use std::borrow::Cow;

use sqlx::AnyPool;
use sqlx::migrate::{Migration, MigrationType, Migrator};

use crate::StoreError;

/// `(version, description, sql)`, in order.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "streams and keys",
        include_str!("../migrations/0001_streams_and_keys.sql"),
    ),
    (
        2,
        "stream stats",
        include_str!("../migrations/0002_stream_stats.sql"),
    ),
    (
        3,
        "chat log",
        include_str!("../migrations/0003_chat_log.sql"),
    ),
    (
        4,
        "gift ledger",
        include_str!("../migrations/0004_gift_ledger.sql"),
    ),
    (
        5,
        "room likes",
        include_str!("../migrations/0005_room_likes.sql"),
    ),
];

/// Applies every migration not yet recorded in the database. On PostgreSQL sqlx takes an
/// advisory lock, so several nodes starting at once apply each migration once.
pub(crate) async fn run(pool: &AnyPool) -> Result<(), StoreError> {
    migrator().run(pool).await?;
    Ok(())
}

fn migrator() -> Migrator {
    let migrations = MIGRATIONS
        .iter()
        .map(|&(version, description, sql)| {
            Migration::new(
                version,
                Cow::Borrowed(description),
                MigrationType::Simple,
                sqlx::SqlStr::from_static(sql),
                false,
            )
        })
        .collect();
    Migrator::with_migrations(migrations)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_dense_and_ordered() {
        for (i, (version, _, sql)) in MIGRATIONS.iter().enumerate() {
            assert_eq!(*version, i as i64 + 1);
            assert!(!sql.trim().is_empty());
            // Portable SQL only: these differ between SQLite and PostgreSQL.
            let code: String = sql
                .lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n");
            for banned in ["AUTOINCREMENT", "SERIAL", "BOOLEAN", "TIMESTAMP", "JSONB"] {
                assert!(
                    !code.to_uppercase().contains(banned),
                    "migration {version} uses {banned}"
                );
            }
        }
    }
}
