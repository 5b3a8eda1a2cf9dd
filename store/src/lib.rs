//! The data layer: streams, publish keys, stats samples, the chat log, room like totals and the
//! gift ledger, on SQLite (the default, one file) or PostgreSQL (production), through **one
//! code path**.
//!
//! Every query is plain SQL run through sqlx's runtime-selected `Any` driver, with `$N`
//! placeholders (both backends accept them) and only portable types (`BIGINT`, `TEXT`). Ids are
//! chosen by the caller, and time is always an argument (`now_ms`, `at_ms`: Unix milliseconds),
//! so this crate never reads a clock.
//!
//! ```no_run
//! # async fn demo() -> Result<(), livecdn_store::StoreError> {
//! let store = livecdn_store::Store::connect("sqlite://data/livecdn.db", 8).await?;
//! store.create_stream("lobby", 1_700_000_000_000).await?;
//! store.upsert_gift_kind(&livecdn_store::GiftKind {
//!     id: "rose".into(), name: "Rose".into(), price: 5, animation: "rose.json".into(),
//! }).await?;
//! store.top_up("alice", 100, 1_700_000_000_000).await?;
//! let outcome = store.commit_gift(&livecdn_store::GiftRequest {
//!     idempotency_key: "client-42".into(), room: "lobby".into(), sender_id: "alice".into(),
//!     host_id: "bob".into(), gift_id: "rose".into(), count: 2, at_ms: 1_700_000_000_500,
//! }).await?;
//! assert_eq!(outcome.sender_balance, 90);
//! # Ok(()) }
//! ```
//!
//! **Invariant:** a gift is debited, credited and recorded in one transaction, and a sender's
//! idempotency key is committed at most once (`gifts` primary key), so a retry is never charged
//! twice and always returns the first outcome.
//!
//! **Boundary:** this is the only crate that knows SQL. Key plaintext never reaches it: callers
//! pass the SHA-256 hex digest.
#![warn(missing_docs)]

mod chat;
mod connect;
mod error;
mod gifts;
mod keys;
mod likes;
mod migrate;
mod page;
mod stats;
mod streams;
#[cfg(feature = "testing")]
pub mod testing;
mod wallets;

use std::sync::Arc;

use sqlx::any::AnyPoolOptions;
use sqlx::{Any, AnyConnection, AnyPool, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

pub use chat::{ChatQuery, ChatRecord};
pub use error::StoreError;
pub use gifts::{GiftOutcome, GiftQuery, GiftRecord, GiftRequest, MAX_IDEMPOTENCY_KEY_LEN};
pub use keys::KeyRecord;
pub use page::{MAX_PAGE_LIMIT, Page};
pub use stats::StatsRow;
pub use streams::StreamRecord;
pub use wallets::GiftKind;

/// A handle to the database. Cloning is cheap: clones share one connection pool.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// SQLite allows one writer at a time. Writers queue here instead of in SQLite's busy
    /// handler, which sleeps up to 100 ms between retries and collapses throughput under
    /// contention. `None` on PostgreSQL, which has row locks.
    write_gate: Option<Arc<Mutex<()>>>,
}

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file (`sqlite://PATH`).
    Sqlite,
    /// A PostgreSQL server (`postgres://…`).
    Postgres,
}

/// Connection pool occupancy, for a gauge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Open connections, idle or in use.
    pub size: u32,
    /// Open connections not in use.
    pub idle: u32,
}

impl Store {
    /// Connects to `url` (`sqlite://PATH`, created if missing, or `postgres://…`) with at most
    /// `max_connections` connections, and applies pending migrations (embedded in the binary).
    ///
    /// SQLite runs in WAL mode with foreign keys on, a 5 s busy timeout and
    /// `synchronous = FULL` (an acknowledged commit survives power loss). Append
    /// `?synchronous=normal` to trade that for about 1.5× the commit rate: commits then survive
    /// a process crash but not an OS crash.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let target = connect::Target::parse(url)?;
        let (backend, sync) = (target.backend, target.sqlite_sync);
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections.max(1))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        connect::configure_sqlite(conn, sync).await?;
                    }
                    Ok(())
                })
            })
            .connect(&target.url)
            .await?;
        migrate::run(&pool).await?;
        let write_gate = (backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(())));
        tracing::debug!(?backend, max_connections, "store connected");
        Ok(Store {
            pool,
            backend,
            write_gate,
        })
    }

    /// The database behind this store.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Current pool occupancy.
    pub fn pool_stats(&self) -> PoolStats {
        let size = self.pool.size();
        let idle = u32::try_from(self.pool.num_idle())
            .unwrap_or(u32::MAX)
            .min(size);
        PoolStats { size, idle }
    }

    /// Closes the pool, waiting for checked-out connections to come back.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Starts a write transaction. On SQLite it takes the write gate first (so a waiting
    /// writer holds no connection) and then `BEGIN IMMEDIATE`, so the transaction owns the write
    /// lock from its first read and can never fail to upgrade with `SQLITE_BUSY`.
    pub(crate) async fn begin_write(&self) -> Result<WriteTx, StoreError> {
        let gate = match &self.write_gate {
            Some(gate) => Some(Arc::clone(gate).lock_owned().await),
            None => None,
        };
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(WriteTx { tx, _gate: gate })
    }
}

/// A write transaction plus, on SQLite, the write gate it holds until commit or drop.
pub(crate) struct WriteTx {
    tx: Transaction<'static, Any>,
    _gate: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
    /// The connection to run statements on.
    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    /// Commits, then releases the gate.
    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        Ok(self.tx.commit().await?)
    }

    /// Rolls back, then releases the gate.
    pub(crate) async fn rollback(self) -> Result<(), StoreError> {
        Ok(self.tx.rollback().await?)
    }
}
