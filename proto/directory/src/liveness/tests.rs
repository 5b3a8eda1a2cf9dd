use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;
use crate::testing::{epoch, ms};

/// The requirement: with 1 s beats, a dead node leaves routing within this of its last beat.
const REMOVAL_BOUND: Duration = Duration::from_secs(3);
const BEAT: Duration = Duration::from_secs(1);
const MAX_JITTER_MS: u64 = 300;

/// Tiny seeded LCG (Knuth MMIX constants), so a failing seed replays exactly.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn drain(d: &mut FailureDetector<u32>) -> Vec<DetectorEvent<u32>> {
    std::iter::from_fn(|| d.poll_output()).collect()
}

fn transition(from: Liveness, to: Liveness) -> DetectorEvent<u32> {
    DetectorEvent::Transitioned { key: 1, from, to }
}

/// Arrival times of `beats` heartbeats sent every second with up to 300 ms of delay, losing
/// beats at random but never two in a row.
fn arrivals(seed: u64, beats: u64) -> Vec<Instant> {
    let (t0, mut rng, mut lost_last) = (epoch(), Lcg(seed), false);
    let mut out = Vec::new();
    for k in 0..beats {
        let lose = k > 0 && k + 1 < beats && !lost_last && rng.below(4) == 0;
        lost_last = lose;
        if !lose {
            out.push(t0 + BEAT * k as u32 + ms(rng.below(MAX_JITTER_MS + 1)));
        }
    }
    out
}

/// Feeds arrivals to a detector while a 10 ms ticker calls `handle_timeout`; returns every
/// event with its time, and checks the state at each tick.
fn simulate(arrivals: &[Instant], until: Instant) -> Vec<(Instant, DetectorEvent<u32>)> {
    let mut d = FailureDetector::new(DetectorConfig::default());
    let (mut events, mut next) = (Vec::new(), 0);
    let mut now = arrivals[0];
    while now <= until {
        while next < arrivals.len() && arrivals[next] <= now {
            d.handle_beat(1, arrivals[next]);
            next += 1;
        }
        d.handle_timeout(now);
        events.extend(drain(&mut d).into_iter().map(|e| (now, e)));
        now += ms(10);
    }
    events
}

#[test]
fn late_beat_goes_suspect_then_alive_again() {
    let (t0, mut d) = (epoch(), FailureDetector::new(DetectorConfig::default()));
    assert_eq!(d.handle_beat(1, t0), None);
    assert_eq!(d.poll_timeout(), Some(t0 + DEFAULT_SUSPECT_AFTER));
    d.handle_timeout(t0 + ms(1499));
    assert!(drain(&mut d).is_empty());
    d.handle_timeout(t0 + ms(1500));
    assert_eq!(
        drain(&mut d),
        [transition(Liveness::Alive, Liveness::Suspect)]
    );
    assert_eq!(d.poll_timeout(), Some(t0 + DEFAULT_DEAD_AFTER));
    assert_eq!(d.handle_beat(1, t0 + ms(2000)), Some(Liveness::Suspect));
    assert_eq!(
        drain(&mut d),
        [transition(Liveness::Suspect, Liveness::Alive)]
    );
    assert_eq!(d.state(&1), Some((Liveness::Alive, t0 + ms(2000))));
}

#[test]
fn silence_goes_dead_then_forgotten_and_a_beat_revives() {
    let (t0, mut d) = (epoch(), FailureDetector::new(DetectorConfig::default()));
    d.handle_beat(1, t0);
    d.handle_timeout(t0 + DEFAULT_DEAD_AFTER);
    // A timer that fires late skips Suspect in one event.
    assert_eq!(drain(&mut d), [transition(Liveness::Alive, Liveness::Dead)]);
    assert_eq!(d.poll_timeout(), Some(t0 + DEFAULT_FORGET_AFTER));
    assert_eq!(d.handle_beat(1, t0 + ms(10_000)), Some(Liveness::Dead));
    assert_eq!(drain(&mut d), [transition(Liveness::Dead, Liveness::Alive)]);
    let t1 = t0 + ms(10_000);
    d.handle_timeout(t1 + DEFAULT_FORGET_AFTER);
    assert_eq!(
        drain(&mut d),
        [
            transition(Liveness::Alive, Liveness::Dead),
            DetectorEvent::Forgot { key: 1 }
        ]
    );
    assert!(d.is_empty());
    assert_eq!(d.poll_timeout(), None);
}

#[test]
fn remove_stops_tracking_without_events() {
    let (t0, mut d) = (epoch(), FailureDetector::new(DetectorConfig::default()));
    d.handle_beat(1, t0);
    d.handle_beat(2, t0 + ms(100));
    drain(&mut d);
    assert!(d.remove(&1));
    assert!(!d.remove(&1));
    assert_eq!(d.poll_timeout(), Some(t0 + ms(100) + DEFAULT_SUSPECT_AFTER));
    d.handle_timeout(t0 + ms(60_000));
    assert!(
        drain(&mut d)
            .iter()
            .all(|e| *e != transition(Liveness::Alive, Liveness::Dead))
    );
}

#[test]
fn config_validation() {
    assert_eq!(DetectorConfig::default().validate(), Ok(()));
    let bad = DetectorConfig {
        dead_after: ms(1000),
        ..Default::default()
    };
    assert_eq!(bad.validate(), Err(DetectorConfigError));
    // Unchecked, it still never returns to Alive by silence alone.
    assert_eq!(bad.classify(ms(1200)), Liveness::Dead);
}

proptest! {
    /// ≤ 1 lost beat in a row and ≤ 300 ms jitter: never a false Dead.
    #[test]
    fn no_false_dead_under_single_loss_and_jitter(seed in any::<u64>()) {
        let arrivals = arrivals(seed, 60);
        let last = *arrivals.last().expect("beats");
        let events = simulate(&arrivals, last);
        prop_assert!(
            events.iter().all(|(_, e)| !matches!(e, DetectorEvent::Transitioned { to: Liveness::Dead, .. })),
            "seed {seed}: false Dead: {events:?}"
        );
    }

    /// A node that stops is Dead within 3 s of its last beat, whatever came before.
    #[test]
    fn dead_within_bound_of_last_beat(seed in any::<u64>(), beats in 1u64..30) {
        let arrivals = arrivals(seed, beats);
        let last = *arrivals.last().expect("beats");
        let events = simulate(&arrivals, last + ms(4000));
        let dead_at = events.iter().find_map(|(t, e)| {
            matches!(e, DetectorEvent::Transitioned { to: Liveness::Dead, .. }).then_some(*t)
        });
        prop_assert!(dead_at.is_some_and(|t| t > last && t - last <= REMOVAL_BOUND),
            "seed {seed}: dead at {:?} after last beat", dead_at.map(|t| t - last));
    }
}
