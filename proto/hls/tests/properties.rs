//! Properties of the window and its playlists over random streams.

#[path = "common/checker.rs"]
mod checker;

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use livecdn_hls::{
    PartInput, PartPosition, PartWindow, PlaylistQuery, RenderOptions, SkipRequest, WindowConfig,
    WindowEvent, render_media,
};
use proptest::prelude::*;

/// One input to the window.
#[derive(Debug, Clone)]
enum Step {
    Part {
        millis: u64,
        keyframe: bool,
        ends_segment: bool,
        len: usize,
    },
    Discontinuity,
    NewInit,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        40 => (1..=200u64, any::<bool>(), prop::bool::weighted(0.2), 1..64usize).prop_map(
            |(millis, keyframe, ends_segment, len)| Step::Part { millis, keyframe, ends_segment, len }
        ),
        1 => Just(Step::Discontinuity),
        1 => Just(Step::NewInit),
    ]
}

fn config() -> impl Strategy<Value = WindowConfig> {
    (3..=8usize, 1..=2u64, any::<bool>()).prop_map(|(window_segments, secs, delta_updates)| {
        WindowConfig {
            window_segments,
            segment_target: Duration::from_secs(secs),
            delta_updates,
            ..Default::default()
        }
    })
}

/// Feeds `steps`, checking the invariants after each one.
fn run(config: WindowConfig, steps: &[Step]) -> Result<(), TestCaseError> {
    let window_segments = config.window_segments;
    let mut w = PartWindow::new(config).expect("valid config");
    let mut generation = 0;
    w.handle_init(generation, Bytes::from_static(b"init"))
        .expect("init");
    let mut fed: BTreeMap<PartPosition, Bytes> = BTreeMap::new();
    let mut last_ready: Option<PartPosition> = None;
    let mut last_closed: Option<u64> = None;
    let mut last_evicted: Option<u64> = None;
    let mut last_sequences = (0, 0);
    let mut closed_total = 0usize;
    let mut wall_ms = 1_764_060_960_000u64;

    for step in steps {
        match *step {
            Step::Part {
                millis,
                keyframe,
                ends_segment,
                len,
            } => {
                let Some(next) = w.next_part() else { break };
                let data = Bytes::from(vec![(next.msn % 251) as u8; len]);
                let input = PartInput {
                    data: data.clone(),
                    duration: Duration::from_millis(millis),
                    independent: keyframe || next.index == 0,
                    ends_segment,
                    program_date_time_ms: wall_ms,
                };
                w.handle_part(input).expect("valid part");
                fed.insert(next, data);
                wall_ms += millis;
            }
            Step::Discontinuity => w.handle_discontinuity().expect("live"),
            Step::NewInit => {
                generation += 1;
                w.handle_init(generation, Bytes::from(vec![1; 8]))
                    .expect("newer generation");
            }
        }

        // Numbering only grows.
        while let Some(event) = w.poll_output() {
            match event {
                WindowEvent::PartReady { msn, part } => {
                    let position = PartPosition { msn, index: part };
                    prop_assert!(
                        last_ready < Some(position),
                        "{last_ready:?} then {position:?}"
                    );
                    last_ready = Some(position);
                }
                WindowEvent::SegmentClosed { msn } => {
                    prop_assert!(last_closed < Some(msn));
                    last_closed = Some(msn);
                    closed_total += 1;
                    // A segment is its parts, concatenated.
                    let mut expected = BytesMut::new();
                    for (_, data) in fed.range(
                        PartPosition { msn, index: 0 }..=PartPosition {
                            msn,
                            index: u64::MAX,
                        },
                    ) {
                        expected.extend_from_slice(data);
                    }
                    prop_assert_eq!(w.segment(msn), Some(expected.freeze()));
                }
                WindowEvent::Evicted { msn } => {
                    prop_assert!(last_evicted.is_none_or(|e| msn == e + 1));
                    last_evicted = Some(msn);
                }
                _ => {}
            }
        }

        let full = render_media(&w, &PlaylistQuery::default(), &RenderOptions::default());
        let sequences = (w.media_sequence(), w.discontinuity_sequence());
        prop_assert!(sequences.0 >= last_sequences.0 && sequences.1 >= last_sequences.1);
        last_sequences = sequences;

        // Every listed part fits PART-TARGET.
        let part_target = checker::units(
            checker::tag_value(&full, "#EXT-X-PART-INF")
                .and_then(|v| v.strip_prefix("PART-TARGET="))
                .expect("PART-INF"),
        );
        for line in full.lines().filter(|l| l.starts_with("#EXT-X-PART:")) {
            let duration = checker::units(checker::attribute(line, "DURATION").expect("DURATION"));
            prop_assert!(duration <= part_target, "{line}");
        }

        // TARGETDURATION >= every EXTINF rounded to the nearest integer.
        let target: u64 = checker::tag_value(&full, "#EXT-X-TARGETDURATION")
            .expect("TD")
            .parse()
            .expect("int");
        let extinfs = checker::extinf_units(&full);
        for units in &extinfs {
            prop_assert!(
                (units + 50_000) / 100_000 <= target,
                "EXTINF {units} > TD {target}"
            );
        }

        // Exactly N closed segments once N exist, unless fewer would be under 3 target durations.
        let listed = extinfs.len();
        if listed > window_segments {
            let without_oldest: u64 = extinfs[1..].iter().sum();
            prop_assert!(
                without_oldest < target * 300_000,
                "kept {listed} > {window_segments}"
            );
        } else {
            prop_assert_eq!(listed, closed_total.min(window_segments));
        }

        // The delta, merged with the full playlist, is the full playlist.
        let skip = PlaylistQuery {
            skip: SkipRequest::Segments,
            ..Default::default()
        };
        let delta = render_media(&w, &skip, &RenderOptions::default());
        prop_assert_eq!(
            checker::expand_delta(&delta, &full).map_err(TestCaseError::fail)?,
            full
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn window_invariants_hold(config in config(), steps in prop::collection::vec(step(), 1..400)) {
        run(config, &steps)?;
    }
}
