//! Database URLs and per-connection SQLite settings.

use std::path::Path;

use sqlx::{AnyConnection, Executor as _};

use crate::{Backend, StoreError};

/// A parsed database URL, ready for sqlx.
#[derive(Debug)]
pub(crate) struct Target {
    pub(crate) backend: Backend,
    /// The URL without our own parameters, which sqlx would reject.
    pub(crate) url: String,
    pub(crate) sqlite_sync: SqliteSync,
}

/// SQLite's `synchronous` pragma, from the URL parameter `synchronous=full|normal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SqliteSync {
    /// fsync on every commit (the default): an acknowledged commit survives power loss.
    Full,
    /// fsync at checkpoints only: survives a process crash, not an OS crash.
    Normal,
}

impl Target {
    /// Splits off the backend; for SQLite, creates the file's directory, makes sqlx create the
    /// file if missing (`mode=rwc`) and takes out `synchronous`.
    pub(crate) fn parse(url: &str) -> Result<Target, StoreError> {
        let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
        match scheme {
            "postgres" | "postgresql" => Ok(Target {
                backend: Backend::Postgres,
                url: url.to_owned(),
                sqlite_sync: SqliteSync::Full,
            }),
            "sqlite" => {
                let (base, query) = url.split_once('?').unwrap_or((url, ""));
                let path = base["sqlite:".len()..].trim_start_matches("//");
                create_parent_dir(path)?;
                let mut sqlite_sync = SqliteSync::Full;
                let mut params = Vec::new();
                for param in query.split('&').filter(|p| !p.is_empty()) {
                    match param {
                        "synchronous=full" => sqlite_sync = SqliteSync::Full,
                        "synchronous=normal" => sqlite_sync = SqliteSync::Normal,
                        p if p.starts_with("synchronous=") => {
                            return Err(StoreError::invalid(
                                "database url",
                                "synchronous must be full or normal",
                            ));
                        }
                        p => params.push(p),
                    }
                }
                if !params.iter().any(|p| p.starts_with("mode=")) {
                    params.push("mode=rwc");
                }
                let url = format!("{base}?{}", params.join("&"));
                Ok(Target {
                    backend: Backend::Sqlite,
                    url,
                    sqlite_sync,
                })
            }
            _ => Err(StoreError::UnsupportedUrl {
                scheme: scheme.to_owned(),
            }),
        }
    }
}

fn create_parent_dir(path: &str) -> Result<(), StoreError> {
    let dir = Path::new(path).parent();
    if path != ":memory:"
        && let Some(dir) = dir.filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
            dir: dir.display().to_string(),
            source,
        })?;
    }
    Ok(())
}

/// Per-connection SQLite settings. sqlx's SQLite URL takes no pragmas, so they run here.
pub(crate) async fn configure_sqlite(
    conn: &mut AnyConnection,
    sync: SqliteSync,
) -> Result<(), sqlx::Error> {
    // WAL: readers never block the writer, and a commit is one append to the log.
    conn.execute("PRAGMA journal_mode = WAL").await?;
    conn.execute(match sync {
        SqliteSync::Full => "PRAGMA synchronous = FULL",
        SqliteSync::Normal => "PRAGMA synchronous = NORMAL",
    })
    .await?;
    conn.execute("PRAGMA busy_timeout = 5000").await?;
    conn.execute("PRAGMA foreign_keys = ON").await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Target {
        Target::parse(url).expect("valid url")
    }

    #[test]
    fn sqlite_urls_create_the_file_and_strip_our_params() {
        let t = parse("sqlite::memory:");
        assert_eq!(
            (t.backend, t.url.as_str()),
            (Backend::Sqlite, "sqlite::memory:?mode=rwc")
        );
        let t = parse("sqlite::memory:?synchronous=normal&cache=shared");
        assert_eq!(
            (t.url.as_str(), t.sqlite_sync),
            ("sqlite::memory:?cache=shared&mode=rwc", SqliteSync::Normal)
        );
        assert_eq!(
            parse("sqlite::memory:?mode=ro").url,
            "sqlite::memory:?mode=ro"
        );
        assert!(matches!(
            Target::parse("sqlite::memory:?synchronous=off"),
            Err(StoreError::InvalidArgument { .. })
        ));
    }

    #[test]
    fn other_schemes() {
        assert_eq!(parse("postgres://u@h/db").backend, Backend::Postgres);
        assert_eq!(parse("postgresql://u@h/db").url, "postgresql://u@h/db");
        assert!(matches!(
            Target::parse("mysql://h/db"),
            Err(StoreError::UnsupportedUrl { .. })
        ));
        assert!(matches!(
            Target::parse("nonsense"),
            Err(StoreError::UnsupportedUrl { .. })
        ));
    }
}
