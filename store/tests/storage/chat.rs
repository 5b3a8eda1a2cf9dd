//! The chat log.

use std::collections::BTreeSet;

use store::{ChatQuery, ChatRecord, MAX_PAGE_LIMIT, Store, StoreError};

fn message(room: &str, seq: i64, user: &str, kind: &str, at_ms: i64) -> ChatRecord {
    ChatRecord {
        room: room.into(),
        seq,
        kind: kind.into(),
        user_id: user.into(),
        display_name: format!("{user} ✨"),
        text: format!("hello #{seq} 'quoted' \"and\" ünïcode"),
        client_msg_id: (seq % 2 == 0).then(|| format!("c-{seq}")),
        at_ms,
        deleted: false,
    }
}

pub(crate) async fn append_is_idempotent_and_resumable(store: &Store) {
    assert_eq!(store.last_chat_seq("lobby").await.expect("empty"), None);
    let batch: Vec<ChatRecord> = (1..=250)
        .map(|s| message("lobby", s, "u1", "chat", 1_000 + s))
        .collect();
    store.append_chat(&batch).await.expect("append");
    store.append_chat(&[]).await.expect("empty batch");
    // A resent batch (overlapping, with changed text) is ignored where (room, seq) exists.
    let mut resent = batch[200..].to_vec();
    resent[0].text = "changed".into();
    resent.push(message("lobby", 251, "u2", "like", 2_000));
    store.append_chat(&resent).await.expect("resend");
    assert_eq!(store.last_chat_seq("lobby").await.expect("last"), Some(251));
    assert_eq!(
        store.last_chat_seq("other").await.expect("other room"),
        None
    );

    let after = store.chat_after("lobby", 200, 10).await.expect("after");
    assert_eq!(
        after.iter().map(|m| m.seq).collect::<Vec<_>>(),
        (201..=210).collect::<Vec<_>>()
    );
    assert_eq!(after[0], batch[200], "the first write wins");
    assert_eq!(after[1].client_msg_id, Some("c-202".into()));
    assert_eq!(after[0].client_msg_id, None);
    let tail = store.chat_after("lobby", 249, 100).await.expect("tail");
    assert_eq!(tail.iter().map(|m| m.seq).collect::<Vec<_>>(), [250, 251]);
    assert!(
        store
            .chat_after("lobby", 251, 10)
            .await
            .expect("none")
            .is_empty()
    );
    // Limits are clamped, never unbounded.
    assert_eq!(
        store
            .chat_after("lobby", 0, 0)
            .await
            .expect("clamped low")
            .len(),
        1
    );
    assert_eq!(
        store
            .chat_after("lobby", 0, u32::MAX)
            .await
            .expect("clamped")
            .len(),
        251
    );
}

pub(crate) async fn pagination_returns_every_record_once(store: &Store) {
    // 3 rooms × 400 messages, 4 users, mixed kinds, many equal timestamps (ties across rooms).
    let kinds = ["chat", "like", "gift", "system"];
    let mut all = Vec::new();
    for room in ["a", "b", "c"] {
        for seq in 1..=400_i64 {
            let user = format!("u{}", seq % 4);
            all.push(message(
                room,
                seq,
                &user,
                kinds[(seq % 7 % 4) as usize],
                10_000 + seq / 3,
            ));
        }
    }
    store.append_chat(&all).await.expect("append");

    let queries = [
        ChatQuery {
            limit: 37,
            ..ChatQuery::default()
        },
        ChatQuery {
            room: Some("b".into()),
            limit: 50,
            ..ChatQuery::default()
        },
        ChatQuery {
            user_id: Some("u1".into()),
            kind: Some("chat".into()),
            limit: 9,
            ..ChatQuery::default()
        },
        ChatQuery {
            from_ms: Some(10_020),
            to_ms: Some(10_100),
            limit: 13,
            ..ChatQuery::default()
        },
        ChatQuery {
            room: Some("c".into()),
            user_id: Some("u3".into()),
            from_ms: Some(10_050),
            limit: 1,
            ..ChatQuery::default()
        },
        ChatQuery {
            room: Some("nobody".into()),
            limit: 10,
            ..ChatQuery::default()
        },
    ];
    for query in queries {
        let expected: BTreeSet<(String, i64)> = all
            .iter()
            .filter(|m| query.room.as_ref().is_none_or(|r| &m.room == r))
            .filter(|m| query.user_id.as_ref().is_none_or(|u| &m.user_id == u))
            .filter(|m| query.kind.as_ref().is_none_or(|k| &m.kind == k))
            .filter(|m| query.from_ms.is_none_or(|f| m.at_ms >= f))
            .filter(|m| query.to_ms.is_none_or(|t| m.at_ms < t))
            .map(|m| (m.room.clone(), m.seq))
            .collect();
        let mut seen = Vec::new();
        let mut cursor = None;
        let mut pages = 0;
        loop {
            let page = store
                .query_chat(&ChatQuery {
                    cursor,
                    ..query.clone()
                })
                .await
                .expect("page");
            assert!(page.items.len() <= query.limit as usize);
            pages += 1;
            seen.extend(page.items.iter().map(|m| (m.at_ms, m.room.clone(), m.seq)));
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
            assert!(pages < 10_000, "pagination does not terminate");
        }
        // Strictly increasing sort keys: stable order, no repeats.
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "order for {query:?}");
        let got: BTreeSet<(String, i64)> = seen.into_iter().map(|(_, r, s)| (r, s)).collect();
        assert_eq!(got, expected, "records for {query:?}");
    }

    // A page limit above the cap is clamped.
    let big = store
        .query_chat(&ChatQuery {
            limit: u32::MAX,
            ..ChatQuery::default()
        })
        .await
        .expect("big");
    assert_eq!(big.items.len(), MAX_PAGE_LIMIT as usize);
    assert!(big.next_cursor.is_some());
}

pub(crate) async fn deleted_flag_and_bad_cursor(store: &Store) {
    store
        .append_chat(&[
            message("lobby", 1, "u1", "chat", 5),
            message("lobby", 2, "u2", "chat", 6),
        ])
        .await
        .expect("append");
    assert!(store.mark_chat_deleted("lobby", 2).await.expect("delete"));
    assert!(!store.mark_chat_deleted("lobby", 3).await.expect("missing"));
    let after = store.chat_after("lobby", 0, 10).await.expect("after");
    assert_eq!(
        after.iter().map(|m| m.deleted).collect::<Vec<_>>(),
        [false, true]
    );
    // Stored flagged messages keep their flag.
    let flagged = ChatRecord {
        deleted: true,
        ..message("lobby", 3, "u3", "system", 7)
    };
    store
        .append_chat(std::slice::from_ref(&flagged))
        .await
        .expect("append flagged");
    assert_eq!(
        store.chat_after("lobby", 2, 10).await.expect("after"),
        [flagged]
    );

    for bad in ["", "garbage", "Y1s=", "eyJhIjoxfQ", &"x".repeat(10_000)] {
        let query = ChatQuery {
            cursor: Some(bad.to_owned()),
            limit: 10,
            ..ChatQuery::default()
        };
        assert!(
            matches!(store.query_chat(&query).await, Err(StoreError::BadCursor)),
            "cursor {bad:?}"
        );
    }
}
