//! Golden playlists for a synthetic stream, and the delta/full consistency check on them.

#[path = "common/checker.rs"]
mod checker;

use std::time::Duration;

use bytes::Bytes;
use livecdn_hls::{
    Codecs, PartInput, PartPosition, PartWindow, PlaylistQuery, RenderOptions, RenditionName,
    RenditionReport, Resolution, SkipRequest, Variant, WindowConfig, WindowStart, render_media,
    render_multivariant,
};

/// 2025-11-25T08:56:00.000Z.
const START_MS: u64 = 1_764_060_960_000;

/// Drives a window the way the origin's packager does: 5 parts per 1 s segment, the last part
/// of each segment a little shorter, with a wall clock.
struct Stream {
    window: PartWindow,
    elapsed_ms: u64,
}

impl Stream {
    fn new(config: WindowConfig) -> Self {
        let mut window = PartWindow::new(config).expect("valid config");
        window
            .handle_init(0, Bytes::from_static(b"init0"))
            .expect("init");
        Self {
            window,
            elapsed_ms: 0,
        }
    }

    fn segments(&mut self, count: usize) {
        for _ in 0..count {
            self.parts(4);
            self.part(166, true);
        }
    }

    fn parts(&mut self, count: usize) {
        for _ in 0..count {
            self.part(200, false);
        }
    }

    fn part(&mut self, millis: u64, ends_segment: bool) {
        let next = self.window.next_part().expect("live");
        self.window
            .handle_part(PartInput {
                data: Bytes::from(format!("[{}.{}]", next.msn, next.index)),
                duration: Duration::from_millis(millis),
                independent: next.index == 0,
                ends_segment,
                program_date_time_ms: START_MS + self.elapsed_ms,
            })
            .expect("valid part");
        self.elapsed_ms += millis;
        while self.window.poll_output().is_some() {}
    }

    fn render(&self, skip: SkipRequest, reports: &[RenditionReport]) -> String {
        let query = PlaylistQuery {
            skip,
            ..Default::default()
        };
        render_media(
            &self.window,
            &query,
            &RenderOptions {
                rendition_reports: reports,
            },
        )
    }
}

fn report(name: &str, last_msn: u64, last_part: u64) -> RenditionReport {
    let name = RenditionName::new(name).expect("valid name");
    RenditionReport {
        name,
        last_msn,
        last_part: Some(last_part),
    }
}

#[test]
fn full_playlist() {
    let mut stream = Stream::new(WindowConfig::default());
    stream.segments(8);
    stream.parts(2);
    let text = stream.render(SkipRequest::Full, &[report("480p", 10, 1)]);
    insta::assert_snapshot!("full", text);
}

#[test]
fn delta_playlist_matches_full_playlist() {
    let mut stream = Stream::new(WindowConfig {
        window_segments: 12,
        ..Default::default()
    });
    stream.segments(14);
    stream.parts(3);
    let reports = [report("480p", 16, 2)];
    let full = stream.render(SkipRequest::Full, &reports);
    let delta = stream.render(SkipRequest::Segments, &reports);
    insta::assert_snapshot!("delta", delta);
    assert_eq!(
        checker::expand_delta(&delta, &full).as_deref(),
        Ok(full.as_str())
    );
    let delta_v2 = stream.render(SkipRequest::SegmentsAndDateRanges, &reports);
    assert_eq!(
        checker::expand_delta(&delta_v2, &full).as_deref(),
        Ok(full.as_str())
    );
}

#[test]
fn ended_playlist() {
    let mut stream = Stream::new(WindowConfig::default());
    stream.segments(3);
    stream.parts(2);
    stream.window.handle_end();
    insta::assert_snapshot!("ended", stream.render(SkipRequest::Full, &[]));
}

#[test]
fn discontinuity_playlist() {
    let mut stream = Stream::new(WindowConfig::default());
    stream.segments(2);
    stream.parts(2);
    // Publisher reconnects with new codec parameters: new init generation.
    stream.window.handle_discontinuity().expect("live");
    stream
        .window
        .handle_init(1, Bytes::from_static(b"init1"))
        .expect("newer generation");
    stream.elapsed_ms += 1_500; // wall-clock gap while the publisher was away
    stream.segments(2);
    stream.parts(1);
    insta::assert_snapshot!("discontinuity", stream.render(SkipRequest::Full, &[]));
}

#[test]
fn delta_across_a_new_generation_stays_consistent() {
    let mut stream = Stream::new(WindowConfig {
        window_segments: 14,
        ..Default::default()
    });
    stream.segments(3);
    stream
        .window
        .handle_init(1, Bytes::from_static(b"init1"))
        .expect("newer generation");
    stream.segments(3);
    stream.window.handle_discontinuity().expect("live");
    stream.segments(10);
    let full = stream.render(SkipRequest::Full, &[]);
    let delta = stream.render(SkipRequest::Segments, &[]);
    assert!(delta.contains("#EXT-X-SKIP:SKIPPED-SEGMENTS=7\n#EXT-X-MAP:URI=\"init-1.mp4\"\n"));
    assert_eq!(
        checker::expand_delta(&delta, &full).as_deref(),
        Ok(full.as_str())
    );
}

#[test]
fn multivariant_playlist() {
    let variants = [
        Variant {
            name: RenditionName::new("720p").expect("valid"),
            bandwidth: 3_200_000,
            average_bandwidth: Some(2_800_000),
            codecs: Codecs::new("avc1.64001f,mp4a.40.2").expect("valid"),
            resolution: Some(Resolution {
                width: 1280,
                height: 720,
            }),
            frame_rate: Some(30.0),
        },
        Variant {
            name: RenditionName::new("480p").expect("valid"),
            bandwidth: 1_400_000,
            average_bandwidth: Some(1_200_000),
            codecs: Codecs::new("avc1.4d401e,mp4a.40.2").expect("valid"),
            resolution: Some(Resolution {
                width: 854,
                height: 480,
            }),
            frame_rate: Some(29.97),
        },
    ];
    insta::assert_snapshot!("multivariant", render_multivariant(&variants));
}

/// An edge that rebuilds the window from replicated state renders the origin's exact text.
#[test]
fn an_edge_rebuilt_from_replicated_parts_renders_identically() {
    let mut origin = Stream::new(WindowConfig::default());
    origin.segments(9);
    origin.window.handle_discontinuity().expect("live");
    origin
        .window
        .handle_init(1, Bytes::from_static(b"init1"))
        .expect("newer generation");
    origin.segments(2);
    origin.parts(3);

    let w = &origin.window;
    let first = w.media_sequence();
    let start = WindowStart {
        msn: first,
        discontinuity_sequence: w.discontinuity_sequence(),
        target_duration: Some(w.target_duration()),
        discontinuity: false,
    };
    let mut edge = PartWindow::starting_at(w.config().clone(), start).expect("valid");
    let last = w.last_part().expect("has parts");
    let mut generation = None;
    for msn in first..=last.msn {
        let mut index = 0;
        while let Some(data) = w.part(msn, index) {
            // Replication carries each part's metadata; here it is rebuilt from the origin's
            // playlist (5 parts a segment, the last 166 ms, wall clock from the PDT).
            let g = if msn >= 9 { 1 } else { 0 };
            if generation != Some(g) {
                let init = w.init(g).expect("served init");
                if generation.is_some() {
                    edge.handle_discontinuity().expect("live");
                }
                edge.handle_init(g, init).expect("init");
                generation = Some(g);
            }
            let ends_segment = msn < last.msn && index == 4;
            let millis = if index == 4 { 166 } else { 200 };
            let part = PartInput {
                data,
                duration: Duration::from_millis(millis),
                independent: index == 0,
                ends_segment,
                program_date_time_ms: START_MS + msn * 966 + index * 200,
            };
            edge.handle_part_at(PartPosition { msn, index }, part)
                .expect("in order");
            index += 1;
        }
    }
    for skip in [SkipRequest::Full, SkipRequest::Segments] {
        assert_eq!(origin.render(skip, &[]), {
            let query = PlaylistQuery {
                skip,
                ..Default::default()
            };
            render_media(&edge, &query, &RenderOptions::default())
        });
    }
}
