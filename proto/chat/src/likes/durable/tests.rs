use proptest::prelude::*;

use super::*;

const MS: Duration = Duration::from_millis(1);

fn drain(likes: &mut DurableLikeTotal) -> Vec<LikeOutput> {
    std::iter::from_fn(|| likes.poll_output()).collect()
}

fn shown(delta: u64, total: u64) -> LikeOutput {
    LikeOutput::Broadcast(LikeFlush { delta, total })
}

#[test]
fn broadcasts_only_what_was_written_and_merges_flushes_behind_a_write() {
    let t0 = epoch();
    let mut likes = DurableLikeTotal::new(200 * MS, 40);
    assert_eq!((likes.shown(), likes.poll_timeout()), (40, None));
    likes.handle_likes(3, t0);
    likes.handle_timeout(t0 + 200 * MS);
    assert_eq!(drain(&mut likes), [LikeOutput::Persist { total: 43 }]);
    assert!(likes.is_writing());
    // Two more flushes come due while the write is in flight: nothing is shown, nothing else
    // is written yet.
    likes.handle_likes(1, t0 + 250 * MS);
    likes.handle_timeout(t0 + 450 * MS);
    likes.handle_likes(2, t0 + 500 * MS);
    likes.handle_timeout(t0 + 700 * MS);
    assert_eq!(drain(&mut likes), []);
    assert_eq!((likes.total(), likes.shown()), (46, 40));
    // The write lands: 43 is shown, and one write carries both later flushes.
    likes.handle_persisted(43);
    assert_eq!(
        drain(&mut likes),
        [shown(3, 43), LikeOutput::Persist { total: 46 }]
    );
    likes.handle_persisted(46);
    assert_eq!(drain(&mut likes), [shown(3, 46)]);
    assert!(!likes.is_writing());
    assert_eq!(likes.poll_timeout(), None);
}

#[test]
fn a_failed_write_is_retried_an_interval_later_and_shows_nothing_meanwhile() {
    let t0 = epoch();
    let mut likes = DurableLikeTotal::new(200 * MS, 0);
    likes.handle_likes(5, t0);
    likes.handle_timeout(t0 + 200 * MS);
    assert_eq!(drain(&mut likes), [LikeOutput::Persist { total: 5 }]);
    likes.handle_persist_failed(5, t0 + 210 * MS);
    assert_eq!(drain(&mut likes), []);
    assert_eq!(likes.poll_timeout(), Some(t0 + 410 * MS));
    likes.handle_likes(1, t0 + 300 * MS);
    // The coalescer's flush (500 ms) is later than the retry (410 ms): the retry writes 5.
    likes.handle_timeout(t0 + 409 * MS);
    assert_eq!(drain(&mut likes), []);
    likes.handle_timeout(t0 + 410 * MS);
    assert_eq!(drain(&mut likes), [LikeOutput::Persist { total: 5 }]);
    likes.handle_persisted(5);
    assert_eq!(drain(&mut likes), [shown(5, 5)]);
    // Closing flushes and writes the rest at once.
    likes.flush();
    assert_eq!(drain(&mut likes), [LikeOutput::Persist { total: 6 }]);
    likes.handle_persisted(6);
    assert_eq!(drain(&mut likes), [shown(1, 6)]);
}

#[test]
fn a_late_smaller_write_does_not_move_the_total_back() {
    let t0 = epoch();
    let mut likes = DurableLikeTotal::new(200 * MS, 10);
    likes.handle_likes(1, t0);
    likes.flush();
    assert_eq!(drain(&mut likes), [LikeOutput::Persist { total: 11 }]);
    likes.handle_persisted(11);
    likes.handle_persisted(10);
    likes.handle_persist_failed(9, t0);
    assert_eq!(drain(&mut likes), [shown(1, 11)]);
    assert_eq!(likes.poll_timeout(), None);
}

/// One step of a home's life on a virtual clock.
#[derive(Debug, Clone)]
enum Step {
    Like(u64),
    Advance(u64),
    /// The write in flight finishes: written, or failed.
    Finish {
        written: bool,
    },
    /// `kill -9`: the write in flight may or may not have reached storage; a new home starts
    /// from whatever storage holds.
    Crash {
        write_landed: bool,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (1u64..150).prop_map(Step::Like),
        4 => (0u64..450).prop_map(Step::Advance),
        4 => any::<bool>().prop_map(|written| Step::Finish { written }),
        1 => any::<bool>().prop_map(|write_landed| Step::Crash { write_landed }),
    ]
}

proptest! {
    /// Whatever the interleaving of likes, ticks, slow or failed writes and crashes: every
    /// broadcast total is in storage when it is shown, broadcasts only grow, a home restarted
    /// from storage starts at or above everything ever shown, and without a crash the final
    /// total is exact.
    #[test]
    fn a_shown_total_never_goes_backwards(
        stored in 0u64..1_000_000,
        steps in proptest::collection::vec(step(), 0..300),
    ) {
        let t0 = epoch();
        let mut now = t0;
        // Storage keeps the larger total, as `LikeOutput::Persist` asks.
        let mut storage = stored;
        let mut home = DurableLikeTotal::new(200 * MS, storage);
        let mut in_flight: Option<u64> = None;
        let mut highest_shown = stored;
        let mut counted_since_start = 0u64;
        let mut crashed = false;
        for step in steps {
            match step {
                Step::Like(count) => {
                    home.handle_likes(count, now);
                    counted_since_start += count;
                }
                Step::Advance(ms) => {
                    now += Duration::from_millis(ms);
                    if home.poll_timeout().is_some_and(|due| due <= now) {
                        home.handle_timeout(now);
                    }
                }
                Step::Finish { written } => {
                    if let Some(total) = in_flight.take() {
                        if written {
                            storage = storage.max(total);
                            home.handle_persisted(total);
                        } else {
                            home.handle_persist_failed(total, now);
                        }
                    }
                }
                Step::Crash { write_landed } => {
                    if let (Some(total), true) = (in_flight.take(), write_landed) {
                        storage = storage.max(total);
                    }
                    in_flight = None;
                    home = DurableLikeTotal::new(200 * MS, storage);
                    prop_assert!(home.shown() >= highest_shown, "restarted below a shown total");
                    // Clients of the new home may be shown anything from storage on.
                    highest_shown = home.shown();
                    crashed = true;
                }
            }
            pump(&mut home, storage, &mut in_flight, &mut highest_shown)?;
        }
        // Drain: flush, and let every write succeed.
        home.flush();
        pump(&mut home, storage, &mut in_flight, &mut highest_shown)?;
        while let Some(total) = in_flight.take() {
            storage = storage.max(total);
            home.handle_persisted(total);
            pump(&mut home, storage, &mut in_flight, &mut highest_shown)?;
        }
        prop_assert_eq!(highest_shown, home.total());
        prop_assert_eq!(storage, home.total());
        if !crashed {
            prop_assert_eq!(home.total(), stored + counted_since_start);
        }
    }
}

/// Drains `home`: records a `Persist` as the write in flight, checks each `Broadcast` against
/// storage and everything shown before.
fn pump(
    home: &mut DurableLikeTotal,
    storage: u64,
    in_flight: &mut Option<u64>,
    highest_shown: &mut u64,
) -> Result<(), TestCaseError> {
    while let Some(output) = home.poll_output() {
        match output {
            LikeOutput::Persist { total } => {
                prop_assert!(in_flight.is_none(), "one write in flight at most");
                *in_flight = Some(total);
            }
            LikeOutput::Broadcast(flush) => {
                prop_assert!(
                    flush.total <= storage,
                    "shown {} > stored {storage}",
                    flush.total
                );
                prop_assert!(flush.total > *highest_shown, "a shown total went backwards");
                prop_assert_eq!(flush.delta, flush.total - *highest_shown);
                *highest_shown = flush.total;
            }
        }
    }
    Ok(())
}

/// The virtual clock's origin; only durations from it matter.
fn epoch() -> Instant {
    #[expect(clippy::disallowed_methods, reason = "test epoch")]
    Instant::now()
}
