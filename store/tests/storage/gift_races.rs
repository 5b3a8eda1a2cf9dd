//! Concurrent gift commits: money is conserved, nothing is charged twice, nothing deadlocks.

use std::collections::{BTreeMap, BTreeSet};

use store::{GiftQuery, GiftRecord, GiftRequest, Store, StoreError};

use crate::gifts::{kind, ledger, request};

pub(crate) async fn concurrent_commits_conserve_money(store: &Store) {
    const USERS: usize = 20;
    const TASKS: usize = 200;
    const START: i64 = 30;
    store
        .upsert_gift_kind(&kind("rose", 7))
        .await
        .expect("rose");
    for u in 0..USERS {
        store
            .top_up(&format!("u{u:02}"), START, 1)
            .await
            .expect("top up");
    }
    // Task i: sender i % 20, key (i / 20) % 7, so keys 0..=2 of every sender are sent twice,
    // concurrently. Hosts are other senders, so wallets are debited and credited at once.
    let gift = |i: usize| {
        let sender = i % USERS;
        let key = (i / USERS) % 7;
        let host = (sender + 1 + key) % USERS;
        GiftRequest {
            at_ms: 2_000 + key as i64,
            ..request(
                &format!("k{key}"),
                &format!("u{sender:02}"),
                &format!("u{host:02}"),
                "rose",
                1 + key as i64 % 3,
            )
        }
    };
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let store = store.clone();
            let req = gift(i);
            tokio::spawn(async move { (req.clone(), store.commit_gift(&req).await) })
        })
        .collect();
    let mut first_commits: BTreeMap<(String, String), GiftRecord> = BTreeMap::new();
    let mut committed_keys = BTreeSet::new();
    let mut rejected = 0;
    for task in tasks {
        let (req, result) = task.await.expect("task");
        let key = (req.sender_id.clone(), req.idempotency_key.clone());
        match result {
            Ok(outcome) => {
                assert_eq!(outcome.record.value, 7 * req.count);
                if !outcome.replayed {
                    let dup = first_commits.insert(key.clone(), outcome.record.clone());
                    assert!(dup.is_none(), "key {key:?} committed twice");
                }
                committed_keys.insert(key);
            }
            Err(StoreError::InsufficientFunds { .. }) => rejected += 1,
            Err(other) => panic!("unexpected error for {key:?}: {other:?}"),
        }
    }
    assert_eq!(
        committed_keys.len(),
        first_commits.len(),
        "every replay has a first commit"
    );

    let records = ledger(
        store,
        GiftQuery {
            limit: 17,
            ..GiftQuery::default()
        },
    )
    .await;
    let ledger_keys: BTreeSet<(String, String)> = records
        .iter()
        .map(|r| (r.sender_id.clone(), r.idempotency_key.clone()))
        .collect();
    assert_eq!(ledger_keys.len(), records.len(), "no duplicate records");
    assert_eq!(
        ledger_keys, committed_keys,
        "every acknowledged gift is recorded, nothing else"
    );

    // Each wallet equals its start, minus what the ledger says it sent, plus what it received.
    let mut total = 0;
    for u in 0..USERS {
        let user = format!("u{u:02}");
        let sent: i64 = records
            .iter()
            .filter(|r| r.sender_id == user)
            .map(|r| r.value)
            .sum();
        let received: i64 = records
            .iter()
            .filter(|r| r.host_id == user)
            .map(|r| r.value)
            .sum();
        let balance = store.balance(&user).await.expect("balance");
        assert!(balance >= 0);
        assert_eq!(balance, START - sent + received, "wallet of {user}");
        total += balance;
    }
    assert_eq!(total, START * USERS as i64, "money is conserved");
    let value: i64 = records.iter().map(|r| r.value).sum();
    assert_eq!(store.gift_totals("lobby").await.expect("totals"), value);
    eprintln!(
        "  {} committed, {rejected} rejected for funds",
        first_commits.len()
    );
}

pub(crate) async fn opposite_gifts_do_not_deadlock(store: &Store) {
    store
        .upsert_gift_kind(&kind("heart", 1))
        .await
        .expect("heart");
    store.top_up("a", 1_000, 1).await.expect("a");
    store.top_up("b", 1_000, 1).await.expect("b");
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let store = store.clone();
            let (from, to) = if i % 2 == 0 { ("a", "b") } else { ("b", "a") };
            tokio::spawn(async move {
                store
                    .commit_gift(&request(&format!("k{i}"), from, to, "heart", 3))
                    .await
            })
        })
        .collect();
    for task in tasks {
        assert!(!task.await.expect("task").expect("commit").replayed);
    }
    assert_eq!(store.balance("a").await.expect("a"), 1_000);
    assert_eq!(store.balance("b").await.expect("b"), 1_000);
}

pub(crate) async fn same_key_race_charges_once(store: &Store) {
    store
        .upsert_gift_kind(&kind("rose", 5))
        .await
        .expect("rose");
    store.top_up("alice", 1_000, 1).await.expect("top up");
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .commit_gift(&request("once", "alice", "bob", "rose", 4))
                    .await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.expect("task").expect("commit"));
    }
    assert_eq!(outcomes.iter().filter(|o| !o.replayed).count(), 1);
    assert!(
        outcomes
            .iter()
            .all(|o| o.sender_balance == 980 && o.record == outcomes[0].record)
    );
    assert_eq!(store.balance("alice").await.expect("alice"), 980);
    assert_eq!(store.balance("bob").await.expect("bob"), 20);
}
