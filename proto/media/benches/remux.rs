//! Remux + package throughput: FLV tag bodies in, `moof`+`mdat` parts out, one core.
//!
//! Two inputs: the demo clip's tags (~300 kb/s, small frames, so per-frame overhead
//! dominates) and a synthetic 4 Mb/s stream of realistic frame sizes (30 fps, 1 s GOP,
//! keyframes ~8x inter frames, 128 kb/s AAC). Throughput is bytes of *input*.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use livecdn_media::{FlvReader, Packager, PackagerConfig, TagType};

#[derive(Clone)]
struct Tag {
    video: bool,
    ts: u64,
    body: Bytes,
}

fn demo_tags() -> Vec<Tag> {
    let file = Bytes::from_static(include_bytes!("../assets/demo.flv"));
    FlvReader::new(file)
        .unwrap()
        .map(Result::unwrap)
        .filter(|t| matches!(t.tag_type, TagType::Video | TagType::Audio))
        .map(|t| Tag {
            video: t.tag_type == TagType::Video,
            ts: u64::from(t.timestamp_ms),
            body: t.body,
        })
        .collect()
}

/// 10 s at 4 Mb/s video: per GOP of 30 frames, 500 kB; keyframe 8 shares, others 1.
fn synthetic_tags() -> Vec<Tag> {
    let demo = demo_tags();
    // Reuse the demo's real sequence headers so the packager accepts the stream.
    let headers: Vec<Tag> = demo
        .iter()
        .filter(|t| t.body.get(1) == Some(&0))
        .cloned()
        .collect();
    let mut tags = headers;
    let gop_bytes = 4_000_000 / 8;
    let inter = gop_bytes / (29 + 8);
    let mut audio_n = 0u64;
    for n in 0..300u64 {
        let ts = n * 1000 / 30;
        while audio_n * 1024 * 1000 / 48000 <= ts {
            let mut body = vec![0xaf, 1];
            body.resize(2 + 341, 0x21); // 128 kb/s at 48 kHz
            tags.push(Tag {
                video: false,
                ts: audio_n * 1024 * 1000 / 48000,
                body: Bytes::from(body),
            });
            audio_n += 1;
        }
        let key = n % 30 == 0;
        let size = if key { inter * 8 } else { inter };
        let mut body = vec![if key { 0x17 } else { 0x27 }, 1, 0, 0, 0];
        body.extend_from_slice(&(size as u32).to_be_bytes());
        body.push(if key { 0x65 } else { 0x41 });
        body.resize(body.len() + size - 1, 0x5a);
        tags.push(Tag {
            video: true,
            ts,
            body: Bytes::from(body),
        });
    }
    tags
}

fn run(tags: &[Tag]) -> usize {
    let mut p = Packager::new(PackagerConfig::default());
    let mut out = 0;
    for t in tags {
        let r = if t.video {
            p.handle_video(t.ts, t.body.clone())
        } else {
            p.handle_audio(t.ts, t.body.clone())
        };
        r.unwrap();
        while let Some(e) = p.poll_output() {
            out += black_box(matches!(e, livecdn_media::Event::Part { .. })) as usize;
        }
    }
    p.flush();
    while p.poll_output().is_some() {
        out += 1;
    }
    out
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("remux");
    for (name, tags) in [
        ("demo_clip", demo_tags()),
        ("synthetic_4mbps", synthetic_tags()),
    ] {
        let bytes: usize = tags.iter().map(|t| t.body.len()).sum();
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_function(name, |b| b.iter(|| run(black_box(&tags))));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
