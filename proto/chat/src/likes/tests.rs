use proptest::prelude::*;

use super::*;

const MS: Duration = Duration::from_millis(1);

#[test]
fn flushes_once_per_interval_and_idles() {
    let t0 = epoch();
    let mut likes = LikeCoalescer::new(200 * MS, 1000);
    assert_eq!(likes.poll_timeout(), None);
    likes.handle_likes(1, t0);
    likes.handle_likes(0, t0 + 10 * MS);
    likes.handle_likes(4, t0 + 150 * MS);
    likes.handle_timeout(t0 + 199 * MS);
    assert_eq!(likes.poll_output(), None);
    likes.handle_timeout(t0 + 200 * MS);
    assert_eq!(
        likes.poll_output(),
        Some(LikeFlush {
            delta: 5,
            total: 1005
        })
    );
    assert_eq!(likes.poll_output(), None);
    assert_eq!(likes.poll_timeout(), None);
    // The next like re-arms from its own arrival.
    likes.handle_likes(2, t0 + 500 * MS);
    assert_eq!(likes.poll_timeout(), Some(t0 + 700 * MS));
    likes.flush();
    assert_eq!(
        likes.poll_output(),
        Some(LikeFlush {
            delta: 2,
            total: 1007
        })
    );
    assert_eq!(likes.total(), 1007);
}

#[test]
fn saturates_instead_of_wrapping() {
    let t0 = epoch();
    let mut likes = LikeCoalescer::new(MS, u64::MAX - 1);
    likes.handle_likes(5, t0);
    likes.flush();
    assert_eq!(likes.poll_output().map(|f| f.total), Some(u64::MAX));
}

#[derive(Debug, Clone)]
enum Step {
    Like {
        relay: usize,
        count: u64,
    },
    Tick {
        relay: Option<usize>,
        advance_ms: u64,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0usize..3, 0u64..200).prop_map(|(relay, count)| Step::Like { relay, count }),
        (proptest::option::of(0usize..4), 0u64..400)
            .prop_map(|(relay, advance_ms)| Step::Tick { relay, advance_ms }),
    ]
}

proptest! {
    /// Three relays (relay 0 is the home's own clients) coalesce on a virtual clock; the home
    /// sums their deltas. Whatever the interleaving of likes, ticks and delivery, once everyone
    /// has flushed the home's total is exact.
    #[test]
    fn home_total_is_exact(start in 0u64..1_000_000, steps in proptest::collection::vec(step(), 0..200)) {
        let t0 = epoch();
        let mut now = t0;
        let mut relays: Vec<LikeCoalescer> = (0..3).map(|_| LikeCoalescer::new(200 * MS, 0)).collect();
        let mut home = LikeCoalescer::new(200 * MS, start);
        let mut sent = 0u64;
        let mut last_total = start;
        let drain = |relays: &mut Vec<LikeCoalescer>, home: &mut LikeCoalescer, now: Instant, last_total: &mut u64| {
            for relay in relays.iter_mut() {
                while let Some(flush) = relay.poll_output() {
                    home.handle_likes(flush.delta, now);
                }
            }
            while let Some(flush) = home.poll_output() {
                assert!(flush.delta > 0);
                assert_eq!(flush.total, *last_total + flush.delta);
                *last_total = flush.total;
            }
        };
        for step in steps {
            match step {
                Step::Like { relay, count } => {
                    relays[relay].handle_likes(count, now);
                    sent += count;
                }
                Step::Tick { relay, advance_ms } => {
                    now += Duration::from_millis(advance_ms);
                    match relay {
                        Some(r) if r < 3 => relays[r].handle_timeout(now),
                        _ => home.handle_timeout(now),
                    }
                }
            }
            drain(&mut relays, &mut home, now, &mut last_total);
        }
        for relay in &mut relays {
            relay.flush();
        }
        drain(&mut relays, &mut home, now, &mut last_total);
        home.flush();
        drain(&mut relays, &mut home, now, &mut last_total);
        prop_assert_eq!(home.total(), start + sent);
        prop_assert_eq!(last_total, start + sent);
    }
}

/// The virtual clock's origin; only durations from it matter.
fn epoch() -> Instant {
    #[expect(clippy::disallowed_methods, reason = "test epoch")]
    Instant::now()
}
