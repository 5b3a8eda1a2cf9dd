//! Real streams made with ffmpeg (see `tests/assets/README.md`) through the packager:
//! codec strings and init structure are snapshotted, and the output is checked with
//! ffprobe when it is installed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use livecdn_media as media;
use media::{Event, FlvReader, Packager, PackagerConfig, TagType};

struct Output {
    init: Bytes,
    codecs: String,
    video: Option<media::VideoInfo>,
    audio: Option<media::AudioInfo>,
    parts: Vec<(Bytes, Duration, bool, bool)>,
    video_frames: u64,
    audio_frames: u64,
}

fn asset(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

fn package(name: &str) -> Output {
    let file = Bytes::from(std::fs::read(asset(name)).expect("asset exists"));
    let mut p = Packager::new(PackagerConfig::default());
    let mut events = Vec::new();
    for tag in FlvReader::new(file).unwrap() {
        let tag = tag.unwrap();
        let ts = u64::from(tag.timestamp_ms);
        match tag.tag_type {
            TagType::Video => p.handle_video(ts, tag.body).unwrap(),
            TagType::Audio => p.handle_audio(ts, tag.body).unwrap(),
            _ => {}
        }
        events.extend(std::iter::from_fn(|| p.poll_output()));
    }
    p.flush();
    events.extend(std::iter::from_fn(|| p.poll_output()));
    let mut out = Output {
        init: Bytes::new(),
        codecs: String::new(),
        video: None,
        audio: None,
        parts: Vec::new(),
        video_frames: p.stats().video_frames,
        audio_frames: p.stats().audio_frames,
    };
    for e in events {
        match e {
            Event::Init {
                init,
                video,
                audio,
                codecs,
                generation,
            } => {
                assert_eq!(generation, 0, "one init per clip");
                (out.init, out.video, out.audio, out.codecs) = (init, video, audio, codecs);
            }
            Event::Part {
                data,
                duration,
                independent,
                ends_segment,
                ..
            } => out.parts.push((data, duration, independent, ends_segment)),
        }
    }
    out
}

/// An indented box tree: `type size`, descending into containers and sample entries.
fn box_tree(data: &[u8], depth: usize, out: &mut String) {
    let mut pos = 0;
    while pos + 8 <= data.len() {
        let size = u32::from_be_bytes(data[pos..pos + 4].try_into().unwrap()) as usize;
        let kind = String::from_utf8_lossy(&data[pos + 4..pos + 8]).to_string();
        assert!(size >= 8 && pos + size <= data.len(), "bad box {kind}");
        out.push_str(&format!("{}{kind} {size}\n", "  ".repeat(depth)));
        let body = &data[pos + 8..pos + size];
        // Bytes before the first child: full-box headers and sample-entry fields.
        let skip = match kind.as_str() {
            "moov" | "trak" | "mdia" | "minf" | "stbl" | "mvex" | "dinf" | "moof" | "traf" => {
                Some(0)
            }
            "stsd" | "dref" => Some(8),
            "avc1" => Some(78),
            "mp4a" => Some(28),
            _ => None,
        };
        if let Some(skip) = skip {
            box_tree(&body[skip..], depth + 1, out);
        }
        pos += size;
    }
    assert_eq!(pos, data.len());
}

fn summary(name: &str) -> String {
    let out = package(name);
    let mut s = format!(
        "codecs: {}\nvideo: {:?}\naudio: {:?}\n",
        out.codecs, out.video, out.audio
    );
    box_tree(&out.init, 0, &mut s);
    s.push_str("first part:\n");
    box_tree(&out.parts[0].0, 0, &mut s);
    s
}

#[test]
fn high_profile_with_b_frames() {
    insta::assert_snapshot!(summary("tests/assets/high_bframes_aac44k.flv"));
}

#[test]
fn baseline_mono() {
    insta::assert_snapshot!(summary("tests/assets/baseline_aac48k_mono.flv"));
}

#[test]
fn demo_clip_is_gop_aligned() {
    let out = package("assets/demo.flv");
    assert_eq!(out.codecs, "avc1.4d401e,mp4a.40.2");
    let segments: Vec<Duration> = out
        .parts
        .split_inclusive(|p| p.3)
        .map(|seg| {
            assert!(seg[0].2, "segment starts independent");
            seg.iter().map(|p| p.1).sum()
        })
        .collect();
    // 8 s at 30 fps with a 1 s GOP: eight 1 s segments of five 200 ms parts.
    assert_eq!(segments, vec![Duration::from_secs(1); 8]);
    assert_eq!(out.parts.len(), 40);
}

fn ffprobe(args: &[&str], file: &Path) -> Option<String> {
    let out = Command::new("ffprobe")
        .args(["-v", "error"])
        .args(args)
        .arg(file)
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "ffprobe failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

/// Writes init + every part as one fMP4 file and checks it with ffprobe.
fn probe(name: &str, width: u32, height: u32) {
    if Command::new("ffprobe").arg("-version").output().is_err() {
        // CI sets LIVECDN_REQUIRE_TOOLS=1 and installs ffmpeg, so there this check always runs.
        assert!(
            std::env::var_os("LIVECDN_REQUIRE_TOOLS").is_none(),
            "ffprobe is required (LIVECDN_REQUIRE_TOOLS is set) but not installed"
        );
        eprintln!("skipping ffprobe check of {name}: ffprobe not installed");
        return;
    }
    let out = package(name);
    let mut file = out.init.to_vec();
    for p in &out.parts {
        file.extend_from_slice(&p.0);
    }
    let stem = Path::new(name)
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .to_string();
    let path =
        std::env::temp_dir().join(format!("livecdn-media-{}-{stem}.mp4", std::process::id()));
    std::fs::write(&path, &file).unwrap();

    let streams = ffprobe(
        &[
            "-show_entries",
            "stream=index,codec_name,width,height,sample_rate",
            "-of",
            "csv=p=0",
        ],
        &path,
    )
    .unwrap();
    assert_eq!(
        streams.lines().next().unwrap(),
        format!("0,h264,{width},{height}"),
        "{streams}"
    );
    assert!(
        streams.lines().nth(1).unwrap().starts_with("1,aac,"),
        "{streams}"
    );

    let packets = ffprobe(
        &[
            "-show_entries",
            "packet=stream_index,pts,dts",
            "-of",
            "csv=p=0",
        ],
        &path,
    )
    .unwrap();
    let mut last_dts = [i64::MIN; 2];
    let mut counts = [0u64; 2];
    for line in packets.lines() {
        let f: Vec<&str> = line.split(',').collect();
        let (stream, pts, dts): (usize, i64, i64) = (
            f[0].parse().unwrap(),
            f[1].parse().unwrap(),
            f[2].parse().unwrap(),
        );
        assert!(
            dts > last_dts[stream],
            "dts monotonic in stream {stream}: {line}"
        );
        assert!(pts >= dts, "pts >= dts: {line}");
        last_dts[stream] = dts;
        counts[stream] += 1;
    }
    assert_eq!(counts[0], out.video_frames, "every video frame is a packet");
    assert!(
        counts[1] + 2 >= out.audio_frames,
        "audio frames kept: {} of {}",
        counts[1],
        out.audio_frames
    );
    std::fs::remove_file(&path).ok();
}

#[test]
fn ffprobe_reads_high_b_frames() {
    probe("tests/assets/high_bframes_aac44k.flv", 320, 240);
}

#[test]
fn ffprobe_reads_baseline() {
    probe("tests/assets/baseline_aac48k_mono.flv", 320, 240);
}

#[test]
fn ffprobe_reads_demo() {
    probe("assets/demo.flv", 640, 360);
}
