//! Streams, keys and stats.

use store::{Backend, StatsRow, Store, StoreError};

use crate::sha256_hex;

pub(crate) async fn streams_round_trip(store: &Store) {
    let created = store.create_stream("lobby", 1_000).await.expect("create");
    assert_eq!(created.name, "lobby");
    assert_eq!(created.created_at_ms, 1_000);
    store
        .create_stream("arena", 2_000)
        .await
        .expect("create second");
    assert!(matches!(
        store.create_stream("lobby", 3_000).await,
        Err(StoreError::AlreadyExists { what: "stream", .. })
    ));
    let names: Vec<String> = store
        .list_streams()
        .await
        .expect("list")
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["arena", "lobby"]);
    assert_eq!(store.stream("lobby").await.expect("get"), Some(created));
    assert_eq!(store.stream("nope").await.expect("get missing"), None);
}

pub(crate) async fn keys_are_stored_hashed_only(store: &Store) {
    store.create_stream("lobby", 1).await.expect("create");
    let hash = sha256_hex("sk_live_secret");
    store
        .add_key("lobby", "k1", &hash, 10)
        .await
        .expect("add key");
    assert_eq!(
        store.stream_for_key_hash(&hash).await.expect("lookup"),
        Some(("lobby".to_owned(), "k1".to_owned()))
    );
    // The plaintext is rejected as a digest, and never finds anything.
    assert!(matches!(
        store.add_key("lobby", "k2", "sk_live_secret", 10).await,
        Err(StoreError::InvalidArgument { .. })
    ));
    assert_eq!(
        store
            .stream_for_key_hash("sk_live_secret")
            .await
            .expect("lookup"),
        None
    );
    let keys = store.list_keys("lobby").await.expect("list");
    assert_eq!(keys.len(), 1);
    assert_eq!(
        (
            keys[0].id.as_str(),
            keys[0].created_at_ms,
            keys[0].revoked_at_ms
        ),
        ("k1", 10, None)
    );
    // The listing type has no digest field at all; check its serialized form too.
    let json = serde_json::to_string(&keys).expect("json");
    assert!(!json.contains(&hash));
    // Duplicate id, duplicate active digest, missing stream.
    let other = sha256_hex("other");
    assert!(matches!(
        store.add_key("lobby", "k1", &other, 11).await,
        Err(StoreError::AlreadyExists { .. })
    ));
    assert!(matches!(
        store.add_key("lobby", "k9", &hash, 11).await,
        Err(StoreError::AlreadyExists { .. })
    ));
    assert!(matches!(
        store.add_key("ghost", "k3", &other, 11).await,
        Err(StoreError::NotFound { .. })
    ));
}

pub(crate) async fn rotate_revokes_old_keys(store: &Store) {
    store.create_stream("lobby", 1).await.expect("create");
    let (old_a, old_b, new) = (sha256_hex("a"), sha256_hex("b"), sha256_hex("c"));
    store
        .add_key("lobby", "a", &old_a, 10)
        .await
        .expect("add a");
    store
        .add_key("lobby", "b", &old_b, 11)
        .await
        .expect("add b");
    store
        .rotate_key("lobby", "c", &new, 20)
        .await
        .expect("rotate");
    assert_eq!(
        store.stream_for_key_hash(&old_a).await.expect("lookup"),
        None
    );
    assert_eq!(
        store.stream_for_key_hash(&old_b).await.expect("lookup"),
        None
    );
    assert_eq!(
        store.stream_for_key_hash(&new).await.expect("lookup"),
        Some(("lobby".into(), "c".into()))
    );
    let keys = store.list_keys("lobby").await.expect("list");
    let revoked: Vec<(&str, Option<i64>)> = keys
        .iter()
        .map(|k| (k.id.as_str(), k.revoked_at_ms))
        .collect();
    assert_eq!(revoked, [("a", Some(20)), ("b", Some(20)), ("c", None)]);
    // A failed rotation (missing stream) changes nothing.
    assert!(matches!(
        store.rotate_key("ghost", "d", &sha256_hex("d"), 30).await,
        Err(StoreError::NotFound { .. })
    ));
    // A revoked digest may be reused by a new key.
    store
        .rotate_key("lobby", "a2", &old_a, 40)
        .await
        .expect("rotate back");
    assert_eq!(
        store.stream_for_key_hash(&old_a).await.expect("lookup"),
        Some(("lobby".into(), "a2".into()))
    );
}

pub(crate) async fn revoke_and_delete(store: &Store) {
    store.create_stream("lobby", 1).await.expect("create");
    let hash = sha256_hex("k");
    store.add_key("lobby", "k", &hash, 10).await.expect("add");
    assert!(
        !store
            .revoke_key("other", "k", 20)
            .await
            .expect("wrong stream")
    );
    assert!(store.revoke_key("lobby", "k", 20).await.expect("revoke"));
    assert!(
        !store
            .revoke_key("lobby", "k", 21)
            .await
            .expect("already revoked")
    );
    assert_eq!(
        store.stream_for_key_hash(&hash).await.expect("lookup"),
        None
    );
    assert_eq!(
        store.list_keys("lobby").await.expect("list")[0].revoked_at_ms,
        Some(20)
    );

    store
        .add_key("lobby", "k2", &sha256_hex("k2"), 30)
        .await
        .expect("add");
    assert!(store.delete_stream("lobby").await.expect("delete"));
    assert!(!store.delete_stream("lobby").await.expect("delete again"));
    assert_eq!(store.stream("lobby").await.expect("get"), None);
    assert!(store.list_keys("lobby").await.expect("keys").is_empty());
    assert_eq!(
        store
            .stream_for_key_hash(&sha256_hex("k2"))
            .await
            .expect("lookup"),
        None
    );
    // The name and the key ids are free again.
    store.create_stream("lobby", 40).await.expect("recreate");
    store
        .add_key("lobby", "k2", &sha256_hex("k2"), 41)
        .await
        .expect("re-add");
}

pub(crate) async fn stats_are_ordered_and_upserted(store: &Store) {
    let row = |region: &str, at_ms: i64, viewers: i64| StatsRow {
        stream: "lobby".into(),
        region: region.into(),
        at_ms,
        viewers,
        chat_messages: viewers * 2,
        likes: 3,
        gift_value: 4,
    };
    // 3 regions × 300 samples, written out of order, in one call (several insert chunks).
    let mut rows: Vec<StatsRow> = (0..300)
        .rev()
        .flat_map(|i| ["us", "eu", "ap"].map(|r| row(r, i * 10_000, i)))
        .collect();
    rows.push(StatsRow {
        stream: "other".into(),
        ..row("eu", 0, 1)
    });
    store.record_stats(&rows).await.expect("record");
    store.record_stats(&[]).await.expect("empty batch");
    // A retried sample replaces the first; a duplicate inside one batch keeps the last.
    store
        .record_stats(&[row("eu", 0, 7), row("eu", 0, 9)])
        .await
        .expect("upsert");

    let all = store.stats("lobby", 0, i64::MAX).await.expect("read");
    assert_eq!(all.len(), 900);
    assert!(
        all.windows(2)
            .all(|w| (w[0].at_ms, &w[0].region) < (w[1].at_ms, &w[1].region))
    );
    assert_eq!(
        all[..3]
            .iter()
            .map(|r| r.region.as_str())
            .collect::<Vec<_>>(),
        ["ap", "eu", "us"]
    );
    assert_eq!(all[1].viewers, 9);
    assert_eq!(all[1].chat_messages, 18);
    // Half-open range.
    let window = store.stats("lobby", 10_000, 30_000).await.expect("range");
    assert_eq!(window.len(), 6);
    assert!(window.iter().all(|r| (10_000..30_000).contains(&r.at_ms)));
    assert!(
        store
            .stats("nobody", 0, i64::MAX)
            .await
            .expect("empty")
            .is_empty()
    );
}

pub(crate) async fn pool_stats_and_backend(store: &Store) {
    let stats = store.pool_stats();
    assert!(stats.size >= 1 && stats.size <= crate::POOL);
    assert!(stats.idle <= stats.size);
    let clone = store.clone();
    assert_eq!(clone.backend(), store.backend());
    assert!(matches!(
        store.backend(),
        Backend::Sqlite | Backend::Postgres
    ));
}
