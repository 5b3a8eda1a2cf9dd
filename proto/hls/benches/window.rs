//! `PartWindow` part insert, media playlist rendering (full and delta) and blocking decisions.

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use livecdn_hls::{
    PartInput, PartWindow, PlaylistQuery, RenderOptions, RenditionName, RenditionReport,
    SkipRequest, WindowConfig, render_media,
};

/// One 200 ms part at about 2 Mbit/s.
static PART: [u8; 50_000] = [0x5a; 50_000];
const PARTS_PER_SEGMENT: u64 = 5;

struct Feeder {
    window: PartWindow,
    count: u64,
}

impl Feeder {
    fn new(window_segments: usize) -> Self {
        let config = WindowConfig {
            window_segments,
            ..Default::default()
        };
        let mut window = PartWindow::new(config).expect("valid config");
        window
            .handle_init(0, Bytes::from_static(b"init"))
            .expect("init");
        Self { window, count: 0 }
    }

    /// Steady state: the window is full and evicts as it goes.
    fn warmed(window_segments: usize) -> Self {
        let mut feeder = Self::new(window_segments);
        let parts = (window_segments as u64 + 10) * PARTS_PER_SEGMENT + 2;
        for _ in 0..parts {
            feeder.feed();
        }
        feeder
    }

    fn feed(&mut self) {
        let index = self.count % PARTS_PER_SEGMENT;
        let part = PartInput {
            data: Bytes::from_static(&PART),
            duration: Duration::from_millis(200),
            independent: index == 0,
            ends_segment: index == PARTS_PER_SEGMENT - 1,
            program_date_time_ms: 1_764_060_960_000 + self.count * 200,
        };
        self.window.handle_part(part).expect("valid part");
        while self.window.poll_output().is_some() {}
        self.count += 1;
    }
}

fn benches(c: &mut Criterion) {
    let mut feeder = Feeder::warmed(6);
    c.bench_function("part_insert_50k", |b| b.iter(|| feeder.feed()));

    let reports = [RenditionReport {
        name: RenditionName::new("480p").expect("valid"),
        last_msn: 100,
        last_part: Some(1),
    }];
    let options = RenderOptions {
        rendition_reports: &reports,
    };
    let feeder = Feeder::warmed(6);
    let full = PlaylistQuery::default();
    c.bench_function("render_full_6_segments", |b| {
        b.iter(|| render_media(black_box(&feeder.window), &full, &options))
    });

    let feeder = Feeder::warmed(30);
    let delta = PlaylistQuery {
        skip: SkipRequest::Segments,
        ..Default::default()
    };
    c.bench_function("render_full_30_segments", |b| {
        b.iter(|| render_media(black_box(&feeder.window), &full, &options))
    });
    c.bench_function("render_delta_30_segments", |b| {
        b.iter(|| render_media(black_box(&feeder.window), &delta, &options))
    });

    let window = &Feeder::warmed(6).window;
    let last = window.last_part().expect("has parts");
    let waiting = PlaylistQuery {
        msn: Some(last.msn),
        part: Some(last.index + 1),
        ..Default::default()
    };
    c.bench_function("blocking_decision", |b| {
        b.iter(|| window.blocking_decision(black_box(&waiting)))
    });
    c.bench_function("query_parse", |b| {
        b.iter(|| PlaylistQuery::parse(black_box("_HLS_msn=123456&_HLS_part=3&_HLS_skip=YES")))
    });
}

criterion_group!(window, benches);
criterion_main!(window);
