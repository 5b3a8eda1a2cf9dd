use proptest::prelude::*;

use super::*;
use crate::token::ChatRole;

fn claims(user: &str) -> ChatClaims {
    ChatClaims {
        user_id: user.into(),
        name: user.to_uppercase(),
        role: ChatRole::Viewer,
        room: None,
        exp: i64::MAX,
    }
}

fn config(history_len: usize) -> RoomConfig {
    RoomConfig {
        history_len,
        welcome_len: 3,
        dedupe_window: 4,
    }
}

fn chat(room: &mut RoomSequencer, user: &str, id: Option<&str>, now_ms: i64) -> Submitted {
    room.submit_chat(
        &claims(user),
        format!("from {user}"),
        id.map(str::to_owned),
        now_ms,
    )
}

fn seqs(events: &[ChatEvent]) -> Vec<u64> {
    events.iter().map(|e| e.seq).collect()
}

#[test]
fn seq_continues_after_restored_last_seq_and_time_never_goes_back() {
    let mut room = RoomSequencer::new(config(10), 41);
    let Submitted::New(a) = chat(&mut room, "u1", None, 1000) else {
        panic!()
    };
    let Submitted::New(b) = chat(&mut room, "u1", None, 900) else {
        panic!()
    };
    assert_eq!((a.seq, b.seq), (42, 43));
    assert_eq!((a.at_ms, b.at_ms), (1000, 1000));
    assert_eq!(room.last_seq(), 43);
    // History restored from nothing: 41 and before cannot be resumed exactly.
    assert!(matches!(room.resume(40), Resume::TooOld { .. }));
    assert_eq!(room.resume(41), Resume::Missed(vec![a, b]));
}

#[test]
fn retries_are_deduped_per_user_within_the_window() {
    let mut room = RoomSequencer::new(config(10), 0);
    assert!(matches!(
        chat(&mut room, "u1", Some("c1"), 0),
        Submitted::New(_)
    ));
    assert_eq!(
        chat(&mut room, "u1", Some("c1"), 0),
        Submitted::Duplicate { seq: 1 }
    );
    // Same client id from another user is another message.
    assert!(matches!(
        chat(&mut room, "u2", Some("c1"), 0),
        Submitted::New(_)
    ));
    for i in 0..4 {
        chat(&mut room, "u3", Some(&format!("x{i}")), 0);
    }
    // The window (4) has moved past ("u1", "c1").
    assert_eq!(room.duplicate_of("u1", "c1"), None);
    assert_eq!(room.duplicate_of("u3", "x3"), Some(6));
}

#[test]
fn ring_is_bounded_and_resume_is_exact_inside_it() {
    let mut room = RoomSequencer::new(config(5), 0);
    for i in 0..12 {
        chat(&mut room, "u", None, i);
    }
    assert_eq!(
        room.history().map(|e| e.seq).collect::<Vec<_>>(),
        vec![8, 9, 10, 11, 12]
    );
    let Resume::Missed(missed) = room.resume(7) else {
        panic!()
    };
    assert_eq!(seqs(&missed), vec![8, 9, 10, 11, 12]);
    assert_eq!(room.resume(12), Resume::Missed(vec![]));
    let Resume::TooOld { history } = room.resume(6) else {
        panic!()
    };
    assert_eq!(seqs(&history), vec![10, 11, 12]); // welcome_len
    // A client ahead of the room (another epoch) is reset too.
    assert!(matches!(room.resume(13), Resume::TooOld { .. }));
    // A mirror gets the whole ring.
    let Resume::TooOld { history } = room.subscribe(None) else {
        panic!()
    };
    assert_eq!(seqs(&history), vec![8, 9, 10, 11, 12]);
    assert_eq!(seqs(&room.welcome_history()), vec![10, 11, 12]);
}

#[test]
fn delete_emits_a_tombstone_and_redacts_the_ring() {
    let mut room = RoomSequencer::new(config(3), 0);
    chat(&mut room, "u", None, 0);
    let gift = crate::wire::GiftEvent {
        user_id: "u".into(),
        name: "U".into(),
        gift_id: "rose".into(),
        count: 1,
        value: 10,
        idempotency_key: "k".into(),
    };
    room.sequence(EventKind::Gift(gift), 0);
    let tombstone = room.apply_delete(1, "m1", 5).unwrap();
    let deleted = EventKind::System(SystemEvent::Deleted {
        seq: 1,
        by: "m1".into(),
    });
    assert_eq!(
        tombstone,
        ChatEvent {
            seq: 3,
            at_ms: 5,
            kind: deleted.clone()
        }
    );
    let Resume::Missed(missed) = room.resume(0) else {
        panic!()
    };
    assert_eq!(missed[0].kind, deleted);
    assert!(!format!("{missed:?}").contains("from u"));

    assert_eq!(
        room.apply_delete(1, "m1", 5),
        Err(DeleteError::AlreadyDeleted(1))
    );
    assert_eq!(room.apply_delete(2, "m1", 5), Err(DeleteError::NotChat(2)));
    assert_eq!(room.apply_delete(3, "m1", 5), Err(DeleteError::NotChat(3)));
    assert_eq!(room.apply_delete(0, "m1", 5), Err(DeleteError::NotFound(0)));
    assert_eq!(
        room.apply_delete(99, "m1", 5),
        Err(DeleteError::NotFound(99))
    );
    chat(&mut room, "u", None, 6);
    chat(&mut room, "u", None, 6);
    assert_eq!(
        room.apply_delete(1, "m1", 7).map_err(DeleteError::code),
        Err(ErrorCode::TooOld)
    );
}

#[test]
fn restore_keeps_the_consecutive_tail_and_seeds_dedupe() {
    let mut home = RoomSequencer::new(config(10), 0);
    for i in 0..6 {
        chat(&mut home, "u", Some(&format!("c{i}")), i);
    }
    let mut stored: Vec<ChatEvent> = home.history().cloned().collect();
    stored.remove(1); // seq 2 lost: only 3..=6 are a consecutive tail
    stored.reverse();
    let room = RoomSequencer::restore(config(10), 6, stored);
    assert_eq!(
        room.history().map(|e| e.seq).collect::<Vec<_>>(),
        vec![3, 4, 5, 6]
    );
    assert_eq!(room.duplicate_of("u", "c5"), Some(6));
    assert!(matches!(room.resume(1), Resume::TooOld { .. }));
    assert!(matches!(room.resume(2), Resume::Missed(m) if m.len() == 4));
}

proptest! {
    #[test]
    fn resume_is_exact_or_too_old(
        start in 0u64..1000,
        count in 0usize..60,
        history_len in 0usize..20,
        after in 0u64..1100,
    ) {
        let mut room = RoomSequencer::new(RoomConfig { history_len, ..RoomConfig::default() }, start);
        for i in 0..count {
            chat(&mut room, "u", None, i as i64);
        }
        let last = room.last_seq();
        // The ring holds only what was sequenced since the restore.
        let oldest = last - history_len.min(count) as u64;
        match room.resume(after) {
            Resume::Missed(events) => {
                prop_assert!(after <= last && after >= oldest);
                prop_assert_eq!(seqs(&events), (after + 1..=last).collect::<Vec<_>>());
            }
            Resume::TooOld { .. } => prop_assert!(after > last || after < oldest),
        }
    }
}
