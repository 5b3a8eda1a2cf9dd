//! Gift catalog, wallets and the ledger.

use std::collections::BTreeSet;

use store::{ChatQuery, GiftKind, GiftQuery, GiftRecord, GiftRequest, Store, StoreError};

pub(crate) fn kind(id: &str, price: i64) -> GiftKind {
    GiftKind {
        id: id.into(),
        name: format!("{id} name"),
        price,
        animation: format!("{id}.json"),
    }
}

pub(crate) fn request(key: &str, sender: &str, host: &str, gift: &str, count: i64) -> GiftRequest {
    GiftRequest {
        idempotency_key: key.into(),
        room: "lobby".into(),
        sender_id: sender.into(),
        host_id: host.into(),
        gift_id: gift.into(),
        count,
        at_ms: 1_000,
    }
}

/// Every record the ledger holds, through pagination.
pub(crate) async fn ledger(store: &Store, query: GiftQuery) -> Vec<GiftRecord> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .query_gifts(&GiftQuery {
                cursor,
                ..query.clone()
            })
            .await
            .expect("page");
        out.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return out,
        }
    }
}

pub(crate) async fn catalog_and_wallets(store: &Store) {
    store
        .upsert_gift_kind(&kind("rose", 5))
        .await
        .expect("rose");
    store
        .upsert_gift_kind(&kind("car", 500))
        .await
        .expect("car");
    store
        .upsert_gift_kind(&kind("heart", 1))
        .await
        .expect("heart");
    store
        .upsert_gift_kind(&kind("rose", 6))
        .await
        .expect("reprice");
    let catalog = store.gift_catalog().await.expect("catalog");
    assert_eq!(
        catalog,
        [kind("heart", 1), kind("rose", 6), kind("car", 500)]
    );
    assert!(matches!(
        store.upsert_gift_kind(&kind("bad", -1)).await,
        Err(StoreError::InvalidArgument { .. })
    ));

    assert_eq!(store.balance("alice").await.expect("no wallet"), 0);
    assert_eq!(store.top_up("alice", 100, 1).await.expect("top up"), 100);
    assert_eq!(store.top_up("alice", 50, 2).await.expect("top up"), 150);
    assert_eq!(store.balance("alice").await.expect("balance"), 150);
    for bad in [0, -5] {
        assert!(matches!(
            store.top_up("alice", bad, 3).await,
            Err(StoreError::InvalidArgument { .. })
        ));
    }
}

pub(crate) async fn commit_debits_credits_and_records(store: &Store) {
    store
        .upsert_gift_kind(&kind("rose", 5))
        .await
        .expect("rose");
    store.top_up("alice", 100, 1).await.expect("top up");
    let outcome = store
        .commit_gift(&request("k1", "alice", "bob", "rose", 2))
        .await
        .expect("commit");
    assert!(!outcome.replayed);
    assert_eq!(outcome.sender_balance, 90);
    let expected = GiftRecord {
        idempotency_key: "k1".into(),
        room: "lobby".into(),
        sender_id: "alice".into(),
        host_id: "bob".into(),
        gift_id: "rose".into(),
        count: 2,
        value: 10,
        at_ms: 1_000,
    };
    assert_eq!(outcome.record, expected);
    assert_eq!(store.balance("alice").await.expect("alice"), 90);
    assert_eq!(store.balance("bob").await.expect("bob"), 10);
    assert_eq!(
        ledger(
            store,
            GiftQuery {
                limit: 10,
                ..GiftQuery::default()
            }
        )
        .await,
        [expected]
    );
    assert_eq!(store.gift_totals("lobby").await.expect("totals"), 10);
    assert_eq!(store.gift_totals("empty").await.expect("no gifts"), 0);

    // A self-gift moves nothing but is recorded.
    let own = store
        .commit_gift(&request("k2", "alice", "alice", "rose", 1))
        .await
        .expect("self");
    assert_eq!(own.sender_balance, 90);
    assert_eq!(store.balance("alice").await.expect("alice"), 90);
    // The key is scoped to the sender: bob may use "k1" too.
    store.top_up("bob", 5, 2).await.expect("top up bob");
    let bobs = store
        .commit_gift(&request("k1", "bob", "alice", "rose", 1))
        .await
        .expect("bob");
    assert!(!bobs.replayed);
    assert_eq!(
        (
            bobs.sender_balance,
            store.balance("alice").await.expect("a")
        ),
        (10, 95)
    );
}

pub(crate) async fn retry_returns_first_result(store: &Store) {
    store
        .upsert_gift_kind(&kind("rose", 5))
        .await
        .expect("rose");
    store.top_up("alice", 100, 1).await.expect("top up");
    let first = store
        .commit_gift(&request("k1", "alice", "bob", "rose", 3))
        .await
        .expect("commit");
    store
        .commit_gift(&request("k2", "alice", "bob", "rose", 1))
        .await
        .expect("another");
    // A price change and a later retry time do not alter the replayed outcome.
    store
        .upsert_gift_kind(&kind("rose", 50))
        .await
        .expect("reprice");
    let retry = GiftRequest {
        at_ms: 9_999,
        ..request("k1", "alice", "bob", "rose", 3)
    };
    for _ in 0..3 {
        let again = store.commit_gift(&retry).await.expect("retry");
        assert!(again.replayed);
        assert_eq!(
            (again.record.clone(), again.sender_balance),
            (first.record.clone(), first.sender_balance)
        );
    }
    assert_eq!(store.balance("alice").await.expect("charged once"), 80);
    assert_eq!(store.balance("bob").await.expect("credited once"), 20);
    // The same key for a different gift is a client bug, not a replay.
    assert!(matches!(
        store
            .commit_gift(&request("k1", "alice", "bob", "rose", 4))
            .await,
        Err(StoreError::IdempotencyConflict { .. })
    ));
    assert_eq!(
        ledger(
            store,
            GiftQuery {
                limit: 1,
                ..GiftQuery::default()
            }
        )
        .await
        .len(),
        2
    );
}

pub(crate) async fn rejects_without_charging(store: &Store) {
    store
        .upsert_gift_kind(&kind("car", 500))
        .await
        .expect("car");
    store.top_up("alice", 100, 1).await.expect("top up");
    let err = store
        .commit_gift(&request("k1", "alice", "bob", "car", 1))
        .await;
    assert!(
        matches!(
            err,
            Err(StoreError::InsufficientFunds {
                balance: 100,
                needed: 500
            })
        ),
        "{err:?}"
    );
    let err = store
        .commit_gift(&request("k2", "nobody", "bob", "car", 1))
        .await;
    assert!(
        matches!(
            err,
            Err(StoreError::InsufficientFunds {
                balance: 0,
                needed: 500
            })
        ),
        "{err:?}"
    );
    let err = store
        .commit_gift(&request("k3", "alice", "bob", "unicorn", 1))
        .await;
    assert!(
        matches!(err, Err(StoreError::UnknownGift { ref gift_id }) if gift_id == "unicorn"),
        "{err:?}"
    );
    for bad in [
        request("k4", "alice", "bob", "car", 0),
        request("", "alice", "bob", "car", 1),
    ] {
        assert!(matches!(
            store.commit_gift(&bad).await,
            Err(StoreError::InvalidArgument { .. })
        ));
    }
    let long_key = "k".repeat(store::MAX_IDEMPOTENCY_KEY_LEN + 1);
    assert!(matches!(
        store
            .commit_gift(&request(&long_key, "alice", "bob", "car", 1))
            .await,
        Err(StoreError::InvalidArgument { .. })
    ));
    let overflow = request("k5", "alice", "bob", "car", i64::MAX);
    assert!(matches!(
        store.commit_gift(&overflow).await,
        Err(StoreError::InvalidArgument { .. })
    ));
    assert_eq!(store.balance("alice").await.expect("alice"), 100);
    assert_eq!(store.balance("bob").await.expect("bob"), 0);
    assert!(
        ledger(
            store,
            GiftQuery {
                limit: 10,
                ..GiftQuery::default()
            }
        )
        .await
        .is_empty()
    );
    // A rejected key was not consumed: after a top-up the same key commits.
    store.top_up("alice", 400, 2).await.expect("top up");
    let ok = store
        .commit_gift(&request("k1", "alice", "bob", "car", 1))
        .await
        .expect("commit");
    assert_eq!((ok.replayed, ok.sender_balance), (false, 0));
}

pub(crate) async fn gift_pagination(store: &Store) {
    store
        .upsert_gift_kind(&kind("heart", 1))
        .await
        .expect("heart");
    for u in 0..5 {
        store
            .top_up(&format!("u{u}"), 1_000, 1)
            .await
            .expect("top up");
    }
    let mut all = Vec::new();
    for i in 0..150_i64 {
        let req = GiftRequest {
            room: if i % 3 == 0 { "a".into() } else { "b".into() },
            at_ms: 5_000 + i / 4,
            ..request(
                &format!("key-{i}"),
                &format!("u{}", i % 5),
                &format!("u{}", (i + 2) % 5),
                "heart",
                1,
            )
        };
        all.push(store.commit_gift(&req).await.expect("commit").record);
    }
    let queries = [
        GiftQuery {
            limit: 7,
            ..GiftQuery::default()
        },
        GiftQuery {
            room: Some("a".into()),
            limit: 4,
            ..GiftQuery::default()
        },
        GiftQuery {
            user_id: Some("u1".into()),
            limit: 6,
            ..GiftQuery::default()
        },
        GiftQuery {
            room: Some("b".into()),
            user_id: Some("u2".into()),
            from_ms: Some(5_010),
            to_ms: Some(5_030),
            limit: 3,
            ..GiftQuery::default()
        },
    ];
    for query in queries {
        let expected: BTreeSet<String> = all
            .iter()
            .filter(|g| query.room.as_ref().is_none_or(|r| &g.room == r))
            .filter(|g| {
                query
                    .user_id
                    .as_ref()
                    .is_none_or(|u| &g.sender_id == u || &g.host_id == u)
            })
            .filter(|g| {
                query.from_ms.is_none_or(|f| g.at_ms >= f)
                    && query.to_ms.is_none_or(|t| g.at_ms < t)
            })
            .map(|g| g.idempotency_key.clone())
            .collect();
        let got = ledger(store, query.clone()).await;
        let keys: Vec<(i64, &str, &str)> = got
            .iter()
            .map(|g| (g.at_ms, g.sender_id.as_str(), g.idempotency_key.as_str()))
            .collect();
        assert!(
            keys.windows(2).all(|w| w[0] < w[1]),
            "stable order for {query:?}"
        );
        assert_eq!(
            got.iter()
                .map(|g| g.idempotency_key.clone())
                .collect::<BTreeSet<_>>(),
            expected
        );
        assert_eq!(got.len(), expected.len(), "each record once for {query:?}");
    }
    // Cursors are typed by query: a gift cursor is not a chat cursor, and the reverse.
    let gift_cursor = store
        .query_gifts(&GiftQuery {
            limit: 1,
            ..GiftQuery::default()
        })
        .await
        .expect("page");
    let gift_cursor = gift_cursor.next_cursor.expect("more pages");
    let chat = ChatQuery {
        cursor: Some(gift_cursor),
        limit: 5,
        ..ChatQuery::default()
    };
    assert!(matches!(
        store.query_chat(&chat).await,
        Err(StoreError::BadCursor)
    ));
    let bad = GiftQuery {
        cursor: Some("not a cursor".into()),
        limit: 5,
        ..GiftQuery::default()
    };
    assert!(matches!(
        store.query_gifts(&bad).await,
        Err(StoreError::BadCursor)
    ));
}
