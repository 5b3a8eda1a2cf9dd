//! The store's one error type. Callers match variants, never `Display` text.

use std::borrow::Cow;

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A row with this identity exists already (a stream name, a key id or an active key hash).
    #[error("{what} {id:?} already exists")]
    AlreadyExists {
        /// The kind of row: `"stream"` or `"key"`.
        what: &'static str,
        /// The identity that clashed.
        id: String,
    },
    /// The row the call refers to does not exist.
    #[error("{what} {id:?} not found")]
    NotFound {
        /// The kind of row, e.g. `"stream"`.
        what: &'static str,
        /// The identity that was looked up.
        id: String,
    },
    /// The gift id is not in the catalog.
    #[error("unknown gift {gift_id:?}")]
    UnknownGift {
        /// The gift id from the request.
        gift_id: String,
    },
    /// The sender's wallet holds less than the gift costs; nothing was charged.
    #[error("insufficient funds: balance {balance}, needed {needed}")]
    InsufficientFunds {
        /// The sender's balance at the time of the attempt.
        balance: i64,
        /// The value of the gift.
        needed: i64,
    },
    /// The idempotency key was committed before with a different gift; nothing was charged.
    #[error("idempotency key {key:?} was already used for a different gift")]
    IdempotencyConflict {
        /// The reused key.
        key: String,
    },
    /// An argument is out of range (a non-positive amount, an overflowing value, an empty key).
    #[error("invalid {what}: {reason}")]
    InvalidArgument {
        /// The argument's name.
        what: &'static str,
        /// What is wrong with it.
        reason: Cow<'static, str>,
    },
    /// A pagination cursor that this store did not issue for this kind of query.
    #[error("malformed pagination cursor")]
    BadCursor,
    /// The database URL names a scheme other than `sqlite` or `postgres`.
    #[error("unsupported database url scheme {scheme:?} (expected sqlite or postgres)")]
    UnsupportedUrl {
        /// The scheme found in the URL.
        scheme: String,
    },
    /// The directory for a SQLite file could not be created.
    #[error("create database directory {dir}: {source}")]
    CreateDir {
        /// The directory.
        dir: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// Applying the embedded migrations failed.
    #[error("migrate: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database or the connection to it failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl StoreError {
    /// Whether the same call may succeed if repeated: lost connections, pool timeouts, lock
    /// conflicts (PostgreSQL serialization failure or deadlock, SQLite busy). Every write in
    /// this crate is idempotent or transactional, so repeating it is safe.
    pub fn is_retryable(&self) -> bool {
        let StoreError::Database(err) = self else {
            return false;
        };
        match err {
            sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut => true,
            sqlx::Error::Database(db) => {
                let code = db.code();
                // PostgreSQL SQLSTATE 40001 serialization_failure, 40P01 deadlock_detected;
                // SQLite primary codes 5 SQLITE_BUSY and 6 SQLITE_LOCKED (low byte of the
                // extended code).
                matches!(code.as_deref(), Some("40001" | "40P01"))
                    || code
                        .as_deref()
                        .and_then(|c| c.parse::<i64>().ok())
                        .is_some_and(|c| matches!(c & 0xff, 5 | 6))
            }
            _ => false,
        }
    }

    pub(crate) fn invalid(what: &'static str, reason: impl Into<Cow<'static, str>>) -> Self {
        StoreError::InvalidArgument {
            what,
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_errors_are_not_retryable() {
        assert!(!StoreError::BadCursor.is_retryable());
        assert!(
            !StoreError::InsufficientFunds {
                balance: 1,
                needed: 2
            }
            .is_retryable()
        );
        assert!(StoreError::Database(sqlx::Error::PoolTimedOut).is_retryable());
        assert!(!StoreError::Database(sqlx::Error::PoolClosed).is_retryable());
    }

    #[test]
    fn messages_are_lowercase_without_period() {
        let msg = StoreError::UnknownGift {
            gift_id: "rose".into(),
        }
        .to_string();
        assert_eq!(msg, "unknown gift \"rose\"");
    }
}
