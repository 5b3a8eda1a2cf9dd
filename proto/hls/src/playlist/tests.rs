use std::time::Duration;

use bytes::Bytes;

use super::*;
use crate::config::WindowConfig;
use crate::query::{PlaylistQuery, SkipRequest};
use crate::testing::{Feed, window, window_with};

fn full(w: &PartWindow) -> String {
    render_media(w, &PlaylistQuery::default(), &RenderOptions::default())
}

fn delta(w: &PartWindow) -> String {
    let query = PlaylistQuery {
        skip: SkipRequest::Segments,
        ..Default::default()
    };
    render_media(w, &query, &RenderOptions::default())
}

#[test]
fn parts_are_listed_only_near_the_live_edge() {
    let mut w = window();
    let mut feed = Feed::default();
    feed.segments(&mut w, 6, 5);
    feed.parts(&mut w, 2);
    let text = full(&w);
    // Live edge at 6.4 s; 3 target durations = 3 s: segments ending at >= 3.4 s keep parts.
    assert!(!text.contains("part2."), "{text}");
    assert!(
        text.contains("URI=\"part3.0.m4s\",INDEPENDENT=YES"),
        "{text}"
    );
    assert!(text.contains("part6.1.m4s"));
    assert!(text.contains("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part6.2.m4s\""));
}

#[test]
fn header_reflects_config() {
    let w = window();
    let text = full(&w);
    assert!(text.starts_with("#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:1\n"));
    assert!(text.contains(
        "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.60000,\
         CAN-SKIP-UNTIL=6.00000,HOLD-BACK=3.00000\n"
    ));
    assert!(text.contains("#EXT-X-PART-INF:PART-TARGET=0.20000\n"));

    let w = window_with(WindowConfig {
        delta_updates: false,
        ..Default::default()
    });
    let text = full(&w);
    assert!(text.contains("#EXT-X-VERSION:6\n"));
    assert!(!text.contains("CAN-SKIP-UNTIL"));
    assert!(
        !delta(&w).contains("EXT-X-SKIP"),
        "skip is ignored when not offered"
    );
}

#[test]
fn delta_skips_old_segments_and_repeats_the_map() {
    let mut w = window_with(WindowConfig {
        window_segments: 12,
        ..Default::default()
    });
    Feed::default().segments(&mut w, 12, 5);
    let text = delta(&w);
    // 12 s listed, boundary 6 s: segments ending more than 6 s before the end (0..=4) skipped.
    assert!(
        text.contains("#EXT-X-SKIP:SKIPPED-SEGMENTS=5\n#EXT-X-MAP:URI=\"init.mp4\"\n"),
        "{text}"
    );
    assert!(!text.contains("seg4.m4s"));
    assert!(text.contains("seg5.m4s"));
    let v2 = PlaylistQuery {
        skip: SkipRequest::SegmentsAndDateRanges,
        ..Default::default()
    };
    let text = render_media(&w, &v2, &RenderOptions::default());
    assert!(text.contains("#EXT-X-SKIP:SKIPPED-SEGMENTS=5,RECENTLY-REMOVED-DATERANGES=\"\"\n"));
}

#[test]
fn ended_playlists_drop_hints_and_ignore_skip() {
    let mut w = window();
    Feed::default().segments(&mut w, 2, 5);
    w.handle_end();
    let text = delta(&w);
    assert!(text.ends_with("seg1.m4s\n#EXT-X-ENDLIST\n"), "{text}");
    assert!(!text.contains("PRELOAD-HINT"));
    assert!(!text.contains("EXT-X-SKIP"));
}

#[test]
fn new_generation_gets_a_map_after_the_discontinuity() {
    let mut w = window();
    let mut feed = Feed::default();
    feed.segments(&mut w, 1, 5);
    w.handle_init(1, Bytes::from_static(b"init1"))
        .expect("newer generation");
    feed.segments(&mut w, 1, 5);
    let text = full(&w);
    assert!(text.contains("seg0.m4s\n#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"init-1.mp4\"\n"));
}

#[test]
fn rendition_reports_are_relative() {
    let mut w = window();
    Feed::default().parts(&mut w, 3);
    let name = RenditionName::new("480p").expect("valid");
    let reports = [
        w.rendition_report(name).expect("has parts"),
        RenditionReport {
            name: RenditionName::new("audio").expect("valid"),
            last_msn: 9,
            last_part: None,
        },
    ];
    let text = render_media(
        &w,
        &PlaylistQuery::default(),
        &RenderOptions {
            rendition_reports: &reports,
        },
    );
    assert!(text.ends_with(
        "#EXT-X-RENDITION-REPORT:URI=\"../480p/index.m3u8\",LAST-MSN=0,LAST-PART=2\n\
         #EXT-X-RENDITION-REPORT:URI=\"../audio/index.m3u8\",LAST-MSN=9\n"
    ));
}

#[test]
fn multivariant_omits_unusable_frame_rates() {
    let variant = Variant {
        name: RenditionName::new("src").expect("valid"),
        bandwidth: 1,
        average_bandwidth: None,
        codecs: crate::names::Codecs::new("mp4a.40.2").expect("valid"),
        resolution: None,
        frame_rate: Some(f64::NAN),
    };
    let text = render_multivariant(&[variant]);
    assert_eq!(
        text,
        "#EXTM3U\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"mp4a.40.2\"\nsrc/index.m3u8\n"
    );
}

#[test]
fn extreme_replicated_values_render_without_panic() {
    let start = crate::config::WindowStart {
        msn: u64::MAX - 1,
        discontinuity_sequence: u64::MAX,
        target_duration: Some(u64::MAX),
        discontinuity: true,
    };
    let mut w = PartWindow::starting_at(WindowConfig::default(), start).expect("valid config");
    w.handle_init(u32::MAX, Bytes::from_static(b"init"))
        .expect("init");
    let part = crate::window::PartInput {
        data: Bytes::from_static(b"p"),
        duration: Duration::from_millis(200),
        independent: true,
        ends_segment: true,
        program_date_time_ms: u64::MAX,
    };
    w.handle_part(part).expect("last msn");
    let text = delta(&w);
    assert!(text.contains(&format!("#EXT-X-TARGETDURATION:{}\n", u64::MAX)));
    assert!(text.contains(&format!("#EXT-X-MAP:URI=\"init-{}.mp4\"\n", u32::MAX)));
    assert!(text.contains(&format!("seg{}.m4s\n", u64::MAX - 1)));
    let query = PlaylistQuery {
        msn: Some(u64::MAX),
        part: Some(u64::MAX),
        ..Default::default()
    };
    let _ = w.blocking_decision(&query);
    let _ = w.blocking_timeout();
}
