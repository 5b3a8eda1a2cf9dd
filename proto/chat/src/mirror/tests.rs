use proptest::prelude::*;

use super::*;
use crate::history::Resume;
use crate::token::{ChatClaims, ChatRole};
use crate::{RoomSequencer, Submitted};

fn config(history_len: usize) -> RoomConfig {
    RoomConfig {
        history_len,
        welcome_len: 4,
        dedupe_window: 16,
    }
}

/// A home with `n` chat messages, every third one deleted.
fn home(history_len: usize, n: u64) -> (RoomSequencer, Vec<ChatEvent>) {
    let claims = ChatClaims {
        user_id: "u".into(),
        name: "U".into(),
        role: ChatRole::Viewer,
        room: None,
        exp: i64::MAX,
    };
    let mut room = RoomSequencer::new(config(history_len), 0);
    let mut events = Vec::new();
    for i in 0..n {
        let Submitted::New(event) = room.submit_chat(&claims, format!("m{i}"), None, i as i64)
        else {
            unreachable!()
        };
        let seq = event.seq;
        events.push(event);
        if i % 3 == 2
            && let Ok(tombstone) = room.apply_delete(seq - 1, "mod", i as i64)
        {
            events.push(tombstone);
        }
    }
    (room, events)
}

fn synced(history_len: usize) -> RoomMirror {
    let mut mirror = RoomMirror::new(config(history_len));
    assert_eq!(mirror.after_seq(), None);
    mirror.handle_subscribed(0, vec![], false);
    assert_eq!(mirror.poll_output(), Some(MirrorOutput::Reset));
    mirror
}

fn drained_seqs(mirror: &mut RoomMirror) -> Vec<u64> {
    std::iter::from_fn(|| mirror.poll_output())
        .map(|o| match o {
            MirrorOutput::Event(e) => e.seq,
            MirrorOutput::Reset => 0,
        })
        .collect()
}

fn catch_up(home: &RoomSequencer, mirror: &mut RoomMirror) -> MirrorOutcome {
    match home.subscribe(mirror.after_seq()) {
        Resume::Missed(events) => mirror.handle_subscribed(home.last_seq(), events, true),
        Resume::TooOld { history } => mirror.handle_subscribed(home.last_seq(), history, false),
    }
}

#[test]
fn applies_in_order_ignores_duplicates_and_reports_each_gap_once() {
    let (_, events) = home(100, 6); // 8 events
    let mut mirror = synced(100);
    assert_eq!(
        mirror.handle_sequenced(events[0].clone()),
        MirrorOutcome::Applied
    );
    assert_eq!(
        mirror.handle_sequenced(events[0].clone()),
        MirrorOutcome::Duplicate
    );
    assert_eq!(
        mirror.handle_sequenced(events[3].clone()),
        MirrorOutcome::Gap { from: 2, to: 3 }
    );
    assert_eq!(
        mirror.handle_sequenced(events[2].clone()),
        MirrorOutcome::Held
    );
    assert_eq!(
        mirror.handle_sequenced(events[4].clone()),
        MirrorOutcome::Held
    );
    assert_eq!(
        mirror.handle_sequenced(events[6].clone()),
        MirrorOutcome::Held
    );
    assert_eq!(drained_seqs(&mut mirror), vec![1]);
    assert_eq!(
        mirror.handle_sequenced(events[1].clone()),
        MirrorOutcome::Applied
    );
    assert_eq!(drained_seqs(&mut mirror), vec![2, 3, 4, 5]);
    assert_eq!(mirror.last_seq(), 5);
    // The gap's catch-up is answered: a later gap is reported again.
    assert_eq!(
        mirror.handle_subscribed(5, vec![], true),
        MirrorOutcome::Gap { from: 6, to: 6 }
    );
    assert_eq!(
        mirror.handle_sequenced(events[5].clone()),
        MirrorOutcome::Applied
    );
    assert_eq!(drained_seqs(&mut mirror), vec![6, 7]);
}

#[test]
fn too_old_catch_up_resets_and_clients_resume_like_at_home() {
    let (home, events) = home(5, 12);
    let mut mirror = synced(5);
    mirror.handle_sequenced(events[0].clone());
    mirror.handle_sequenced(events[events.len() - 1].clone());
    drained_seqs(&mut mirror);
    assert_eq!(catch_up(&home, &mut mirror), MirrorOutcome::Applied);
    assert_eq!(mirror.poll_output(), Some(MirrorOutput::Reset));
    assert_eq!(mirror.poll_output(), None);
    assert!(mirror.history().eq(home.history()));
    for after in 0..=home.last_seq() + 1 {
        assert_eq!(mirror.resume(after), home.resume(after), "after {after}");
    }
    assert_eq!(mirror.welcome_history(), home.welcome_history());
}

#[test]
fn events_before_the_first_subscribed_are_held() {
    let (home, events) = home(100, 3);
    let mut mirror = RoomMirror::new(config(100));
    assert_eq!(
        mirror.handle_sequenced(events[3].clone()),
        MirrorOutcome::Held
    );
    assert!(!mirror.is_synced());
    let Resume::Missed(first) = home.resume(0) else {
        panic!()
    };
    let first = first[..3].to_vec();
    // The answer covered up to 3; 4 was held and is applied after the reset.
    assert_eq!(
        mirror.handle_subscribed(3, first, true),
        MirrorOutcome::Applied
    );
    assert_eq!(drained_seqs(&mut mirror), vec![0, 4]);
    assert!(mirror.history().eq(home.history()));
}

#[derive(Debug, Clone)]
enum Delivery {
    Send(usize),
    Duplicate(usize),
    CatchUp,
}

proptest! {
    /// Any delivery of the home's events to a mirror (lost, duplicated, reordered, with catch-ups
    /// at random points) leaves the mirror identical to the home after one final catch-up, and
    /// its clients saw each event at most once per reset, in order.
    #[test]
    fn mirror_converges_to_home(
        history_len in 1usize..30,
        n in 0u64..60,
        plan in proptest::collection::vec(
            prop_oneof![
                (0usize..100).prop_map(Delivery::Send),
                (0usize..100).prop_map(Delivery::Duplicate),
                Just(Delivery::CatchUp),
            ],
            0..150,
        ),
    ) {
        let (home, events) = home(history_len, n);
        let mut mirror = RoomMirror::new(config(history_len));
        let mut seen: Vec<u64> = Vec::new();
        for step in plan {
            let outcome = match step {
                Delivery::Send(i) | Delivery::Duplicate(i) if events.is_empty() => {
                    let _ = i;
                    continue;
                }
                Delivery::Send(i) | Delivery::Duplicate(i) => {
                    mirror.handle_sequenced(events[i % events.len()].clone())
                }
                Delivery::CatchUp => catch_up(&home, &mut mirror),
            };
            if let MirrorOutcome::Gap { from, to } = outcome {
                prop_assert!(from <= to && from == mirror.last_seq() + 1);
            }
            for seq in drained_seqs(&mut mirror) {
                if seq == 0 {
                    seen.clear();
                } else {
                    prop_assert!(seen.last().is_none_or(|last| *last + 1 == seq));
                    seen.push(seq);
                }
            }
        }
        prop_assert_eq!(catch_up(&home, &mut mirror), MirrorOutcome::Applied);
        prop_assert_eq!(mirror.last_seq(), home.last_seq());
        prop_assert!(mirror.history().eq(home.history()));
        prop_assert_eq!(mirror.welcome_history(), home.welcome_history());
    }
}
