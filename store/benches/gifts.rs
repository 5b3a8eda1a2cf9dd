//! Gift commits per second with N concurrent committers, on SQLite and PostgreSQL.
//!
//! `cargo bench -p livecdn-store --features testing --bench gifts`
//! (`LIVECDN_BENCH_COMMITS`, default 4000 per run). `sqlite` is the default
//! `synchronous = FULL` (one fsync per commit), `sqlite/normal` the `?synchronous=normal` URL
//! option. PostgreSQL is the throwaway `testing::PgServer` (fsync off), so its number is the
//! data layer's ceiling, not a disk's.

extern crate livecdn_store as store;

use std::time::{Duration, Instant};

use store::testing::PgServer;
use store::{GiftKind, GiftRequest, Store};

const USERS: usize = 1_000;
const HOSTS: usize = 20;
const COMMITTERS: [usize; 4] = [1, 4, 16, 64];

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let commits: usize = std::env::var("LIVECDN_BENCH_COMMITS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4_000);
    let dir = tempfile::tempdir().expect("temp dir");
    println!("backend        committers  commits/s  (commits per run: {commits})");
    for (sync, label) in [("full", "sqlite"), ("normal", "sqlite/normal")] {
        for (i, &n) in COMMITTERS.iter().enumerate() {
            let url = format!(
                "sqlite://{}/{sync}{i}.db?synchronous={sync}",
                dir.path().display()
            );
            let store = Store::connect(&url, 4).await.expect("sqlite");
            report(label, n, commits, run(&store, n, commits).await);
            store.close().await;
        }
    }
    let Some(pg) = PgServer::start().await.expect("start postgres") else {
        println!("postgres  (not installed, skipped)");
        return;
    };
    for (i, &n) in COMMITTERS.iter().enumerate() {
        let url = pg
            .create_database(&format!("bench{i}"))
            .await
            .expect("database");
        let store = Store::connect(&url, n.min(64) as u32)
            .await
            .expect("postgres");
        report("postgres", n, commits, run(&store, n, commits).await);
        store.close().await;
    }
}

fn report(backend: &str, committers: usize, commits: usize, elapsed: Duration) {
    let rate = commits as f64 / elapsed.as_secs_f64();
    println!("{backend:<14} {committers:>10}  {rate:>9.0}");
}

/// Funds the wallets, then times `commits` distinct gifts spread over `committers` tasks.
async fn run(store: &Store, committers: usize, commits: usize) -> Duration {
    let rose = GiftKind {
        id: "rose".into(),
        name: "Rose".into(),
        price: 1,
        animation: "r".into(),
    };
    store.upsert_gift_kind(&rose).await.expect("catalog");
    for u in 0..USERS {
        store
            .top_up(&format!("user{u}"), 1_000_000, 0)
            .await
            .expect("top up");
    }
    let start = clock();
    let tasks: Vec<_> = (0..committers)
        .map(|c| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in (c..commits).step_by(committers) {
                    let req = GiftRequest {
                        idempotency_key: format!("key-{i}"),
                        room: format!("room{}", i % HOSTS),
                        sender_id: format!("user{}", i % USERS),
                        host_id: format!("host{}", i % HOSTS),
                        gift_id: "rose".into(),
                        count: 1,
                        at_ms: i as i64,
                    };
                    store.commit_gift(&req).await.expect("commit");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("committer");
    }
    clock() - start
}

#[expect(
    clippy::disallowed_methods,
    reason = "a benchmark measures wall-clock throughput"
)]
fn clock() -> Instant {
    Instant::now()
}
