//! Room like totals.

use store::{Store, StoreError};

pub(crate) async fn like_totals_only_grow(store: &Store) {
    assert_eq!(store.like_total("lobby").await.expect("unknown room"), 0);
    assert_eq!(
        store
            .save_like_total("lobby", 12, 1_000)
            .await
            .expect("first"),
        12
    );
    assert_eq!(
        store
            .save_like_total("lobby", 40, 1_200)
            .await
            .expect("newer"),
        40
    );
    // A late or retried write of an older total leaves the newer one.
    assert_eq!(
        store
            .save_like_total("lobby", 30, 1_400)
            .await
            .expect("late"),
        40
    );
    assert_eq!(
        store
            .save_like_total("lobby", 40, 1_600)
            .await
            .expect("retry"),
        40
    );
    assert_eq!(store.like_total("lobby").await.expect("read"), 40);
    // Rooms are independent; the largest total a BIGINT holds round-trips.
    store
        .save_like_total("other", i64::MAX, 1_000)
        .await
        .expect("max");
    assert_eq!(store.like_total("other").await.expect("other"), i64::MAX);
    assert_eq!(store.like_total("lobby").await.expect("lobby"), 40);
    assert!(matches!(
        store.save_like_total("lobby", -1, 1_000).await,
        Err(StoreError::InvalidArgument { .. })
    ));
}
