//! Replication scenarios over the simulated link (`common/sim.rs`): no sockets, virtual time,
//! seeded randomness (`LIVECDN_SIM_SEED` overrides; the seed is printed on failure).

#[path = "common/sim.rs"]
mod sim;

use std::time::Duration;

use hls::{PlaylistQuery, RenderOptions, render_media};
use livecdn_relay_wire::GapReason;
use sim::{LinkParams, Seed, Sim, playlist};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// The edge's playlists equal the origin's for the full and the delta form, and every listed
/// part holds the origin's bytes.
fn assert_identical(sim: &Sim, hop: usize) {
    let origin = sim.origin.window.window();
    let edge = sim.hops[hop].window().expect("edge window");
    assert_eq!(
        playlist(origin),
        playlist(edge),
        "full playlist at hop {hop}"
    );
    let delta = PlaylistQuery::parse("_HLS_skip=YES").expect("query");
    let options = RenderOptions::default();
    assert_eq!(
        render_media(origin, &delta, &options),
        render_media(edge, &delta, &options),
        "delta playlist at hop {hop}"
    );
    let last = origin.last_part().expect("parts");
    for msn in origin.media_sequence()..=last.msn {
        for index in 0.. {
            let Some(bytes) = origin.part(msn, index) else {
                break;
            };
            assert_eq!(edge.part(msn, index), Some(bytes), "part {msn}.{index}");
        }
    }
}

#[test]
fn clean_replication_renders_identical_playlists() {
    let seed = Seed::new(1);
    let mut sim = Sim::new(&seed, &[LinkParams::default()]);
    sim.connect_all();
    sim.run_for(secs(8));
    sim.settle();
    assert_identical(&sim, 0);
    // A publisher reconnect and a codec change at the origin replicate as they are.
    sim.run_for(Duration::from_millis(2500));
    sim.origin.discontinuity();
    sim.run_for(Duration::from_millis(1400));
    sim.origin.new_generation();
    sim.run_for(secs(3));
    sim.settle();
    assert_identical(&sim, 0);
    let text = playlist(sim.origin.window.window());
    assert_eq!(text.matches("#EXT-X-DISCONTINUITY\n").count(), 2, "{text}");
    assert!(sim.hops[0].gaps.is_empty(), "{:?}", sim.hops[0].gaps);
}

#[test]
fn subscribe_mid_stream_backfills_from_a_segment_boundary() {
    let seed = Seed::new(2);
    let mut sim = Sim::new(&seed, &[LinkParams::default()]);
    // 37 parts: seven closed segments (one already evicted) and two parts of the open one.
    sim.run_for(Duration::from_millis(7400));
    let origin = sim.origin.window.window();
    assert_eq!(origin.last_part().map(|p| p.index), Some(1));
    let listed_from = origin.media_sequence();
    sim.connect_all();
    sim.run_for(Duration::from_millis(100));
    let edge = sim.hops[0].window().expect("edge window");
    assert_eq!(
        edge.media_sequence(),
        listed_from,
        "backfill starts at the oldest listed segment"
    );
    sim.settle();
    assert_identical(&sim, 0);
    sim.run_for(secs(3));
    sim.settle();
    assert_identical(&sim, 0);
}

#[test]
fn reordering_within_the_limit_leaves_no_gap() {
    let seed = Seed::new(3);
    let link = LinkParams {
        jitter: Duration::from_millis(350),
        ..LinkParams::default()
    };
    let mut sim = Sim::new(&seed, &[link]);
    sim.connect_all();
    sim.run_for(secs(12));
    sim.settle();
    assert!(sim.hops[0].gaps.is_empty(), "{:?}", sim.hops[0].gaps);
    assert_identical(&sim, 0);
}

#[test]
fn congestion_cancels_oldest_parts_and_the_edge_playlist_stays_valid() {
    let seed = Seed::new(4);
    // 8 kB parts and 30 kB keyframe parts every 200 ms (62 kB/s) over a 50 kB/s link.
    let link = LinkParams {
        latency: Duration::from_millis(50),
        rate: Some(50_000),
        ..LinkParams::default()
    };
    let mut sim = Sim::new(&seed, &[link]);
    sim.origin.part_size = 8_000;
    sim.origin.key_part_size = 30_000;
    sim.connect_all();
    sim.run_for(secs(20)); // invariants are checked on every tick
    let hop = &sim.hops[0];
    assert!(hop.cancelled > 0, "no stream was cancelled");
    assert!(!hop.gaps.is_empty(), "no gap was handled");
    let edge = hop.window().expect("edge window");
    let text = playlist(edge);
    assert!(text.contains("#EXT-X-DISCONTINUITY\n"), "{text}");
    let before = edge.last_part();
    assert!(
        before.is_some_and(|p| p.msn >= 15),
        "keyframe parts get through under congestion: {before:?}"
    );
    // Congestion ends: the edge keeps going with growing numbers.
    sim.hops[0].params.rate = None;
    sim.run_for(secs(8));
    sim.settle();
    let edge = sim.hops[0].window().expect("edge window");
    assert!(edge.last_part() > before);
    let text = playlist(edge);
    let tail = text
        .rsplit("#EXT-X-DISCONTINUITY\n")
        .next()
        .unwrap_or_default();
    assert!(
        tail.matches("#EXTINF").count() >= 5,
        "recovered without gaps:\n{text}"
    );
}

#[test]
fn lost_streams_become_gaps_at_segment_starts() {
    let seed = Seed::new(5);
    let link = LinkParams {
        loss: 0.05,
        jitter: Duration::from_millis(50),
        ..LinkParams::default()
    };
    let mut sim = Sim::new(&seed, &[link]);
    sim.connect_all();
    sim.run_for(secs(30));
    let hop = &sim.hops[0];
    assert!(hop.gaps.contains(&GapReason::Timeout), "{:?}", hop.gaps);
    let edge = hop.window().expect("edge window");
    assert!(edge.last_part().is_some_and(|p| p.msn >= 20));
}

#[test]
fn reconnect_within_the_window_resumes_without_discontinuity() {
    let seed = Seed::new(6);
    let mut sim = Sim::new(&seed, &[LinkParams::default()]);
    sim.connect_all();
    sim.run_for(Duration::from_millis(5300));
    let now = sim.now;
    sim.hops[0].disconnect(now);
    sim.run_for(Duration::from_millis(1500));
    let now = sim.now;
    sim.hops[0].connect(now);
    sim.run_for(secs(3));
    sim.settle();
    assert!(sim.hops[0].gaps.is_empty(), "{:?}", sim.hops[0].gaps);
    assert_identical(&sim, 0);
    assert!(!playlist(sim.hops[0].window().expect("edge")).contains("DISCONTINUITY\n"));
}

#[test]
fn reconnect_after_the_window_moved_on_continues_with_a_discontinuity() {
    let seed = Seed::new(7);
    let mut sim = Sim::new(&seed, &[LinkParams::default()]);
    sim.connect_all();
    sim.run_for(Duration::from_millis(5300));
    let now = sim.now;
    let before = sim.hops[0].window().and_then(|w| w.last_part());
    sim.hops[0].disconnect(now);
    sim.run_for(secs(30));
    let now = sim.now;
    sim.hops[0].connect(now);
    sim.run_for(secs(4));
    sim.settle();
    let hop = &sim.hops[0];
    assert_eq!(hop.gaps, vec![GapReason::UpstreamMovedOn]);
    let edge = hop.window().expect("edge window");
    assert!(edge.last_part() > before, "msn keeps growing");
    let text = playlist(edge);
    assert!(text.contains("#EXT-X-DISCONTINUITY\n"), "{text}");
    // After the discontinuity the edge carries the origin's latest parts, renumbered.
    let origin = sim.origin.window.window();
    let (o, e) = (origin.last_part().expect("o"), edge.last_part().expect("e"));
    assert_eq!(o.index, e.index);
    assert_eq!(origin.part(o.msn, o.index), edge.part(e.msn, e.index));
}

#[test]
fn stream_end_propagates_endlist() {
    let seed = Seed::new(8);
    let mut sim = Sim::new(&seed, &[LinkParams::default()]);
    sim.connect_all();
    sim.run_for(Duration::from_millis(3300));
    sim.origin.end();
    sim.producing = false;
    sim.settle();
    assert_identical(&sim, 0);
    let text = playlist(sim.hops[0].window().expect("edge"));
    assert!(text.ends_with("#EXT-X-ENDLIST\n"), "{text}");
}

#[test]
fn tiers_render_identical_playlists() {
    let seed = Seed::new(9);
    let jittery = LinkParams {
        jitter: Duration::from_millis(150),
        ..LinkParams::default()
    };
    let mut sim = Sim::new(&seed, &[jittery, jittery]);
    sim.connect_all();
    sim.run_for(secs(6));
    sim.origin.discontinuity();
    sim.run_for(secs(2));
    sim.origin.new_generation();
    sim.run_for(secs(3));
    sim.settle();
    assert_identical(&sim, 0);
    assert_identical(&sim, 1);
    sim.origin.end();
    sim.settle();
    assert_identical(&sim, 1);
    assert!(sim.hops.iter().all(|h| h.gaps.is_empty()));
}

#[test]
fn a_second_tier_joining_late_backfills_from_the_first() {
    let seed = Seed::new(10);
    let mut sim = Sim::new(&seed, &[LinkParams::default(), LinkParams::default()]);
    let now = sim.now;
    sim.hops[0].connect(now);
    sim.run_for(secs(9));
    let now = sim.now;
    sim.hops[1].connect(now);
    sim.run_for(secs(2));
    sim.settle();
    assert_identical(&sim, 1);
}
