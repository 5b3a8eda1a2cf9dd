use std::time::Duration;

use bytes::Bytes;
use mp4_atom::{Decode, Moof};
use proptest::prelude::*;

use super::*;
use crate::cmaf::{AUDIO_TRACK_ID, VIDEO_TRACK_ID};
use crate::testutil::{
    audio_frame, audio_seq_header, audio_seq_header_48k, video_frame, video_seq_header,
};

/// What one part's `moof` says about one track.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Run {
    tfdt: u64,
    duration: u64,
    count: usize,
    first_sync: bool,
}

#[derive(Debug)]
struct Part {
    data: Bytes,
    generation: u32,
    start_ms: u64,
    duration: Duration,
    independent: bool,
    ends_segment: bool,
    sequence: u32,
    video: Option<Run>,
    audio: Option<Run>,
}

#[derive(Debug, Default)]
struct Out {
    inits: Vec<(u32, String)>,
    parts: Vec<Part>,
}

fn runs(data: &[u8]) -> (Option<Run>, Option<Run>) {
    let moof = Moof::decode(&mut &data[..]).expect("moof parses");
    let mut out = (None, None);
    for traf in moof.traf {
        let trun = &traf.trun[0];
        let first = trun.samples.iter().next().expect("non-empty run");
        let run = Run {
            tfdt: traf.tfdt.expect("tfdt").base_media_decode_time,
            duration: trun
                .samples
                .iter()
                .map(|s| u64::from(s.duration.unwrap()))
                .sum(),
            count: trun.samples.len(),
            first_sync: first.flags.or(traf.tfhd.default_sample_flags)
                == Some(crate::cmaf::SYNC_SAMPLE_FLAGS),
        };
        match traf.tfhd.track_id {
            VIDEO_TRACK_ID => out.0 = Some(run),
            AUDIO_TRACK_ID => out.1 = Some(run),
            other => panic!("track {other}"),
        }
    }
    out
}

fn drain(p: &mut Packager, out: &mut Out) {
    while let Some(e) = p.poll_output() {
        match e {
            Event::Init {
                generation, codecs, ..
            } => out.inits.push((generation, codecs)),
            Event::Part {
                data,
                sequence,
                generation,
                start_ms,
                duration,
                independent,
                ends_segment,
            } => {
                let (video, audio) = runs(&data);
                out.parts.push(Part {
                    data,
                    generation,
                    start_ms,
                    duration,
                    independent,
                    ends_segment,
                    sequence,
                    video,
                    audio,
                });
            }
        }
    }
}

/// Input to a synthetic stream, in arrival order.
#[derive(Debug, Clone)]
enum In {
    V {
        ts: u64,
        key: bool,
        cts: i32,
        size: usize,
    },
    A {
        ts: u64,
    },
    VideoHeader,
    AudioHeader(Bytes),
}

fn run(config: PackagerConfig, input: &[In]) -> (Out, Stats) {
    let mut p = Packager::new(config);
    let mut out = Out::default();
    for i in input {
        let r = match i {
            In::V { ts, key, cts, size } => p.handle_video(*ts, video_frame(*key, *cts, *size)),
            In::A { ts } => p.handle_audio(*ts, audio_frame(200)),
            In::VideoHeader => p.handle_video(0, video_seq_header()),
            In::AudioHeader(h) => p.handle_audio(0, h.clone()),
        };
        r.unwrap();
        drain(&mut p, &mut out);
    }
    p.flush();
    drain(&mut p, &mut out);
    (out, *p.stats())
}

/// Interleaves 30 fps video (GOP `gop` frames) and 44.1 kHz AAC by timestamp.
fn av_stream(seconds: u64, gop: u64, audio: bool) -> Vec<In> {
    let mut v = vec![In::VideoHeader];
    if audio {
        v.push(In::AudioHeader(audio_seq_header()));
    }
    let frames = seconds * 30;
    let mut a = 0u64;
    for n in 0..frames {
        let ts = n * 1000 / 30;
        while audio && a * 1024 * 1000 / 44100 <= ts {
            v.push(In::A {
                ts: a * 1024 * 1000 / 44100,
            });
            a += 1;
        }
        v.push(In::V {
            ts,
            key: n % gop == 0,
            cts: 0,
            size: 1000,
        });
    }
    v
}

/// Checks the invariants every stream must keep.
fn check(out: &Out, config: PackagerConfig) {
    let target = config.part_target;
    let mut next: [Option<u64>; 2] = [None, None];
    for (i, p) in out.parts.iter().enumerate() {
        assert!(
            p.duration <= target + Duration::from_millis(1),
            "part {i} is {:?}",
            p.duration
        );
        if i > 0 {
            assert_eq!(p.sequence, out.parts[i - 1].sequence + 1);
            if out.parts[i - 1].ends_segment {
                assert!(p.independent, "segment starts with a keyframe at part {i}");
            }
        } else {
            assert!(p.independent);
        }
        if let Some(v) = p.video {
            assert_eq!(v.first_sync, p.independent);
            if let Some(n) = next[0] {
                assert_eq!(v.tfdt, n, "video tfdt continuity at part {i}");
            }
            next[0] = Some(v.tfdt + v.duration);
            assert_eq!(
                Duration::from_micros(v.duration * 1000 / 90),
                p.duration,
                "part duration is video's"
            );
            assert_eq!(v.tfdt / 90, p.start_ms);
        }
        if let Some(a) = p.audio {
            if let Some(n) = next[1] {
                assert_eq!(a.tfdt, n, "audio tfdt continuity at part {i}");
            }
            next[1] = Some(a.tfdt + a.duration);
        }
        assert_eq!(&p.data[4..8], b"moof");
    }
    if let Some(last) = out.parts.last() {
        assert!(last.ends_segment, "flush ends the last segment");
    }
}

#[test]
fn video_only_30fps_cuts_200ms_parts_and_1s_segments() {
    let config = PackagerConfig::default();
    let mut input = vec![
        In::VideoHeader,
        In::V {
            ts: 0,
            key: false,
            cts: 0,
            size: 10,
        },
    ];
    input.extend(
        av_stream(3, 30, false)
            .into_iter()
            .skip(1)
            .map(|i| match i {
                In::V { ts, key, cts, size } => In::V {
                    ts: ts + 33,
                    key,
                    cts,
                    size,
                },
                other => other,
            }),
    );
    let (out, stats) = run(config, &input);
    assert_eq!(stats.dropped_before_keyframe, 1);
    assert_eq!(out.inits, vec![(0, "avc1.640028".to_string())]);
    check(&out, config);
    assert_eq!(out.parts.len(), 15);
    for (i, p) in out.parts.iter().enumerate() {
        assert_eq!(p.video.unwrap().count, 6);
        assert_eq!(p.ends_segment, i % 5 == 4, "part {i}");
        assert_eq!(p.independent, i % 5 == 0);
    }
    assert_eq!(stats.segments, 3);
}

#[test]
fn muxed_audio_follows_video_cuts() {
    let config = PackagerConfig::default();
    let (out, stats) = run(config, &av_stream(4, 30, true));
    check(&out, config);
    assert_eq!(out.inits, vec![(0, "avc1.640028,mp4a.40.2".to_string())]);
    assert_eq!(stats.dropped_audio, 0);
    assert_eq!(stats.audio_resyncs, 0);
    for p in &out.parts {
        let a = p.audio.expect("audio in every part");
        let v = p.video.unwrap();
        // Audio starts within one AAC frame of the video cut.
        let a_ms = a.tfdt as f64 * 1000.0 / 44100.0;
        assert!(
            (a_ms - (v.tfdt / 90) as f64).abs() < 23.3,
            "{a_ms} vs {}",
            v.tfdt / 90
        );
    }
}

#[test]
fn segments_follow_long_gops() {
    let config = PackagerConfig::default();
    // 2 s GOPs: segments are 2 s, still in 200 ms parts.
    let (out, _) = run(config, &av_stream(6, 60, true));
    check(&out, config);
    let segs = out.parts.iter().filter(|p| p.ends_segment).count();
    assert_eq!(segs, 3);
}

/// OBS 29 with x264 B-frames: dts shifted by the encoder's 2-frame delay and truncated to
/// milliseconds, so keyframes every 30 frames land at 0, 999, 1999 ms. Each GOP is still
/// one 1 s segment; a missed cut made the first one 2 s and raised the target duration.
#[test]
fn millisecond_rounding_short_of_the_target_still_cuts() {
    let config = PackagerConfig::default();
    let mut input = vec![In::VideoHeader];
    for n in 0..90i64 {
        // Integer division truncates toward zero, as OBS's conversion does.
        let ts = (n - 2) * 1000 / 30 - (-2 * 1000 / 30);
        input.push(In::V {
            ts: u64::try_from(ts).unwrap(),
            key: n % 30 == 0,
            cts: if n % 30 == 0 { 66 } else { 33 },
            size: 100,
        });
    }
    assert!(matches!(
        input[31],
        In::V {
            ts: 999,
            key: true,
            ..
        }
    ));
    let (out, stats) = run(config, &input);
    check(&out, config);
    let mut segments = Vec::new();
    let mut length = Duration::ZERO;
    for p in &out.parts {
        length += p.duration;
        if p.ends_segment {
            segments.push(length);
            length = Duration::ZERO;
        }
    }
    assert_eq!(stats.segments, 3, "{segments:?}");
    // Each is one GOP, give or take the stamps' rounding.
    assert!(
        segments
            .iter()
            .all(|s| s.abs_diff(config.segment_target) <= Duration::from_millis(2)),
        "{segments:?}"
    );
}

#[test]
fn b_frames_keep_signed_offsets() {
    let config = PackagerConfig::default();
    let mut input = vec![In::VideoHeader];
    for n in 0..60u64 {
        // I P B B pattern: cts 66, 100, 0, 0 ... and one negative offset.
        let cts = match n % 4 {
            0 => 66,
            1 => 100,
            2 => 0,
            _ => -33,
        };
        input.push(In::V {
            ts: n * 1000 / 30,
            key: n % 30 == 0,
            cts,
            size: 100,
        });
    }
    let (out, _) = run(config, &input);
    check(&out, config);
    let moof = Moof::decode(&mut &out.parts[0].data[..]).unwrap();
    let cts: Vec<_> = moof.traf[0].trun[0]
        .samples
        .iter()
        .map(|s| s.cts.unwrap())
        .collect();
    assert_eq!(cts[..4], [66 * 90, 100 * 90, 0, -33 * 90]);
}

#[test]
fn config_change_starts_new_generation_at_keyframe() {
    let config = PackagerConfig::default();
    let mut input = av_stream(2, 30, true);
    input.push(In::AudioHeader(audio_seq_header_48k()));
    let tail: Vec<In> = av_stream(2, 30, true)
        .into_iter()
        .filter_map(|i| match i {
            In::V { ts, key, cts, size } => Some(In::V {
                ts: ts + 2000,
                key,
                cts,
                size,
            }),
            In::A { ts } => Some(In::A { ts: ts + 2000 }),
            _ => None,
        })
        .collect();
    input.extend(tail);
    let (out, stats) = run(config, &input);
    assert_eq!(out.inits.len(), 2);
    assert_eq!(out.inits[1].0, 1);
    let switch = out.parts.iter().position(|p| p.generation == 1).unwrap();
    assert!(out.parts[switch - 1].ends_segment);
    assert!(out.parts[switch].independent);
    assert!(stats.dropped_audio > 0);
}

#[test]
fn timestamp_reset_is_rebased() {
    let config = PackagerConfig::default();
    let mut input = av_stream(2, 30, false);
    input.extend(av_stream(2, 30, false).into_iter().skip(1));
    let (out, stats) = run(config, &input);
    assert_eq!(stats.timestamp_rebases, 1);
    check(&out, config);
}

#[test]
fn audio_only_stream() {
    let config = PackagerConfig::default();
    let mut input = vec![In::AudioHeader(audio_seq_header())];
    input.extend((0..200u64).map(|a| In::A {
        ts: a * 1024 * 1000 / 44100,
    }));
    let (out, _) = run(config, &input);
    assert_eq!(out.inits, vec![(0, "mp4a.40.2".to_string())]);
    let mut next = None;
    for p in &out.parts {
        assert!(p.video.is_none() && p.independent);
        assert!(p.duration <= config.part_target);
        let a = p.audio.unwrap();
        assert_eq!(a.count, 8, "8 frames of 23.2 ms fit 200 ms");
        if let Some(n) = next {
            assert_eq!(a.tfdt, n);
        }
        next = Some(a.tfdt + a.duration);
    }
    assert_eq!(
        out.parts
            .iter()
            .map(|p| p.audio.unwrap().count)
            .sum::<usize>(),
        200
    );
}

#[test]
fn hostile_inputs_are_refused() {
    let mut p = Packager::new(PackagerConfig::default());
    let e = p.handle_video(0, video_frame(true, 0, 10)).unwrap_err();
    assert_eq!(e.reason(), "missing_decoder_config");
    assert_eq!(
        p.handle_audio(0, audio_frame(10)).unwrap_err().reason(),
        "missing_decoder_config"
    );
    p.handle_video(0, video_seq_header()).unwrap();
    // A length prefix that runs past the frame.
    let bad = Bytes::from_static(&[0x17, 1, 0, 0, 0, 0, 0, 0, 9, 0x65]);
    assert_eq!(p.handle_video(0, bad).unwrap_err().reason(), "truncated");
    assert_eq!(
        p.handle_video(0, Bytes::from_static(&[0x1c, 0]))
            .unwrap_err()
            .reason(),
        "unsupported_video_codec"
    );
    // Audio piling up without video to cut it is bounded.
    let mut p = Packager::new(PackagerConfig::default());
    p.handle_video(0, video_seq_header()).unwrap();
    p.handle_audio(0, audio_seq_header()).unwrap();
    p.handle_video(0, video_frame(true, 0, 10)).unwrap();
    let mut refused = None;
    for n in 0..(2 * MAX_PENDING_FRAMES as u64) {
        if let Err(e) = p.handle_audio(n * 1024 * 1000 / 44100, audio_frame(10)) {
            refused = Some(e);
            break;
        }
    }
    assert_eq!(refused.map(|e| e.reason()), Some("too_many_pending_frames"));
}

#[test]
fn audio_waits_for_video_cut_then_stall_releases() {
    let config = PackagerConfig::default();
    // Video only after the audio header: parts wait for audio, then give up after
    // MAX_AV_WAIT_MS of video.
    let input = av_stream(3, 30, false);
    let mut with_header = vec![In::AudioHeader(audio_seq_header())];
    with_header.extend(input);
    let (out, _) = run(config, &with_header);
    check(&out, config);
    assert_eq!(out.parts.len(), 15);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_streams_keep_invariants(
        fps in prop::sample::select(vec![24u64, 25, 30, 50, 60]),
        gop_frames in 10u64..90,
        seconds in 1u64..5,
        part_ms in prop::sample::select(vec![100u64, 200, 250, 333, 500]),
        seg_ms in prop::sample::select(vec![500u64, 1000, 2000]),
        audio in any::<bool>(),
        b_frames in any::<bool>(),
        jitter in prop::collection::vec(0u64..3, 300),
    ) {
        let config = PackagerConfig { part_target: Duration::from_millis(part_ms), segment_target: Duration::from_millis(seg_ms) };
        let mut input = vec![In::VideoHeader];
        if audio {
            input.push(In::AudioHeader(audio_seq_header()));
        }
        let mut a = 0u64;
        for n in 0..seconds * fps {
            let ts = n * 1000 / fps;
            while audio && a * 1024 * 1000 / 44100 <= ts {
                let j = jitter[(a as usize) % jitter.len()];
                input.push(In::A { ts: a * 1024 * 1000 / 44100 + j });
                a += 1;
            }
            let cts = if b_frames && n % 3 != 0 { 40 } else { 0 };
            input.push(In::V { ts, key: n % gop_frames == 0, cts, size: 50 + (n as usize % 7) * 100 });
        }
        let (out, _) = run(config, &input);
        check(&out, config);
        // Every non-final part of a segment is full: the next frame would not fit.
        let frame = Duration::from_millis(1000 / fps + 1);
        for p in out.parts.iter().filter(|p| !p.ends_segment) {
            prop_assert!(p.duration + frame > config.part_target, "{:?}", p.duration);
        }
        // A segment (concatenated parts) is a run of moof+mdat boxes starting with a keyframe.
        let mut seg = Vec::new();
        for p in &out.parts {
            seg.extend_from_slice(&p.data);
            if p.ends_segment {
                let mut pos = 0;
                while pos < seg.len() {
                    let size = u32::from_be_bytes(seg[pos..pos + 4].try_into().unwrap()) as usize;
                    prop_assert!(&seg[pos + 4..pos + 8] == b"moof" || &seg[pos + 4..pos + 8] == b"mdat");
                    pos += size;
                }
                prop_assert_eq!(pos, seg.len());
                seg.clear();
            }
        }
    }
}

#[test]
fn flush_then_new_stream_gets_new_generation() {
    let config = PackagerConfig::default();
    let mut p = Packager::new(config);
    let mut out = Out::default();
    for round in 0..2u64 {
        p.handle_video(0, video_seq_header()).unwrap();
        for n in 0..40u64 {
            p.handle_video(round * 100_000 + n * 33, video_frame(n % 30 == 0, 0, 10))
                .unwrap();
            drain(&mut p, &mut out);
        }
        p.flush();
        drain(&mut p, &mut out);
    }
    let gens: Vec<u32> = out.inits.iter().map(|i| i.0).collect();
    assert_eq!(gens, vec![0, 1]);
    assert_eq!(out.parts.last().unwrap().generation, 1);
    assert_eq!(
        out.parts.last().unwrap().start_ms,
        1188,
        "timeline restarts at 0"
    );
}

#[test]
fn audio_only_then_video_arrives() {
    let config = PackagerConfig::default();
    let mut input = vec![In::AudioHeader(audio_seq_header())];
    input.extend((0..100u64).map(|a| In::A {
        ts: a * 1024 * 1000 / 44100,
    }));
    input.push(In::VideoHeader);
    let tail: Vec<In> = av_stream(2, 30, true)
        .into_iter()
        .filter_map(|i| match i {
            In::V { ts, key, cts, size } => Some(In::V {
                ts: ts + 2400,
                key,
                cts,
                size,
            }),
            In::A { ts } => Some(In::A { ts: ts + 2400 }),
            _ => None,
        })
        .collect();
    input.extend(tail);
    let (out, _) = run(config, &input);
    assert_eq!(out.inits.len(), 2);
    assert_eq!(out.inits[1].1, "avc1.640028,mp4a.40.2");
    let switch = out.parts.iter().position(|p| p.generation == 1).unwrap();
    assert!(out.parts[switch - 1].ends_segment);
    assert!(out.parts[switch].video.is_some() && out.parts[switch].independent);
}

proptest! {
    #[test]
    fn arbitrary_tags_never_panic(tags in prop::collection::vec((any::<bool>(), 0u64..2000, prop::collection::vec(any::<u8>(), 0..40)), 0..60)) {
        let mut p = Packager::new(PackagerConfig::default());
        p.handle_video(0, video_seq_header()).unwrap();
        p.handle_audio(0, audio_seq_header()).unwrap();
        let mut ts = 0;
        for (video, step, body) in tags {
            ts += step;
            let body = Bytes::from(body);
            let _ = if video { p.handle_video(ts, body) } else { p.handle_audio(ts, body) };
            while p.poll_output().is_some() {}
        }
        p.flush();
        while p.poll_output().is_some() {}
    }
}
