//! Real publishers and players against a real origin process: FFmpeg pushes 720p30 H.264+AAC
//! over RTMP (with and without B-frames), ffprobe reads our init and segments, ffmpeg plays the
//! HLS, and an independent parser (Python `m3u8`, `tools/check_llhls.py`) checks the playlists.
//! Then the publisher edge cases: wrong key, a second publisher, reconnect within and after
//! the grace period, garbage bytes, and oversized size claims in the chunk stream.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::{Process, Spawned, free_port, get_when_up};

/// Encoding 720p30 in real time takes most of a core: one FFmpeg-heavy test at a time.
static ENCODER_SLOT: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const STREAMS: [(&str, &str); 2] = [("alpha", "key-alpha"), ("beta", "key-beta")];

struct Origin {
    process: Process,
    http: String,
    rtmp: String,
    _dir: tempfile::TempDir,
}

/// Starts `livecdn origin` on free loopback ports with two streams and `grace`.
async fn start_origin(grace: &str) -> Origin {
    let dir = tempfile::tempdir().unwrap();
    let (http_port, rtmp_port) = (free_port(), free_port());
    let mut config = format!(
        "[http]\nlisten = \"127.0.0.1:{http_port}\"\n[rtmp]\nlisten = \"127.0.0.1:{rtmp_port}\"\n\
         reconnect_grace = \"{grace}\"\n[packaging]\nwindow_segments = 12\n[shutdown]\ndrain_deadline = \"1s\"\n"
    );
    for (name, key) in STREAMS {
        config.push_str(&format!(
            "[[streams]]\nname = \"{name}\"\nkey = \"{key}\"\n"
        ));
    }
    let path = dir.path().join("origin.toml");
    std::fs::write(&path, config).unwrap();
    let process = Process::start(&["origin", "--config", path.to_str().unwrap()], &[]);
    let http = format!("http://127.0.0.1:{http_port}");
    get_when_up(&reqwest::Client::new(), &format!("{http}/readyz")).await;
    Origin {
        process,
        http,
        rtmp: format!("rtmp://127.0.0.1:{rtmp_port}/live"),
        _dir: dir,
    }
}

impl Origin {
    fn media_playlist(&self, stream: &str) -> String {
        format!("{}/live/{stream}/source/index.m3u8", self.http)
    }

    /// Waits (bounded) until `stream` has closed segment `msn`, using blocking reload.
    async fn wait_for_segment(&self, stream: &str, msn: u64) -> String {
        let client = reqwest::Client::new();
        let url = format!("{}?_HLS_msn={msn}", self.media_playlist(stream));
        for _ in 0..100 {
            if let Ok(response) = client.get(&url).send().await
                && response.status() == 200
            {
                return response.text().await.unwrap();
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!(
            "{stream} never reached segment {msn}; origin log:\n{}",
            self.process.stderr()
        );
    }

    async fn metric(&self, name: &str, label: Option<(&str, &str)>) -> f64 {
        support::metric(&self.http, name, label).await
    }
}

fn require(tool: &str) -> bool {
    support::require_tool(tool)
}

/// `ffmpeg` publishing a synthetic 720p30 H.264 (1 s GOP) + AAC stream to `url`.
fn publish(url: &str, bframes: bool) -> Spawned {
    let mut args: Vec<&str> = vec![
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-re",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=1280x720:rate=30",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-profile:v",
        "high",
        "-g",
        "30",
        "-keyint_min",
        "30",
        "-sc_threshold",
        "0",
        "-pix_fmt",
        "yuv420p",
    ];
    if bframes {
        // CABAC and 8x8 transforms make it High profile (ultrafast alone signals Main).
        args.extend(["-bf", "2", "-x264-params", "cabac=1:8x8dct=1"]);
    } else {
        args.extend(["-tune", "zerolatency"]);
    }
    args.extend(["-c:a", "aac", "-b:a", "96k", "-f", "flv", url]);
    let child = Command::new("ffmpeg")
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn();
    Spawned(child.expect("spawn ffmpeg"))
}

fn tools_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tools")
}

#[tokio::test]
async fn ffmpeg_publish_is_packaged_probed_played_and_checked() {
    publish_and_verify(false).await;
}

#[tokio::test]
async fn ffmpeg_publish_with_bframes_is_packaged_probed_played_and_checked() {
    publish_and_verify(true).await;
}

async fn publish_and_verify(bframes: bool) {
    if !require("ffmpeg") || !require("ffprobe") {
        return;
    }
    let _slot = ENCODER_SLOT.lock().await;
    let origin = start_origin("10s").await;
    let _ffmpeg = publish(&format!("{}/key-alpha", origin.rtmp), bframes);
    origin.wait_for_segment("alpha", 3).await;

    // Multivariant attributes come from the real SPS and AudioSpecificConfig.
    let multivariant = reqwest::get(format!("{}/live/alpha/index.m3u8", origin.http))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        multivariant.contains("mp4a.40.2") && multivariant.contains("RESOLUTION=1280x720"),
        "{multivariant}"
    );
    assert!(multivariant.contains("FRAME-RATE=30.000"), "{multivariant}");

    // ffprobe reads init + two segments: codecs, size, monotonic DTS, PTS >= DTS.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("probe.mp4");
    let base = origin.media_playlist("alpha").replace("index.m3u8", "");
    let mut bytes = Vec::new();
    for object in ["init.mp4", "seg1.m4s", "seg2.m4s"] {
        let response = reqwest::get(format!("{base}{object}")).await.unwrap();
        assert_eq!(response.status(), 200, "{object}");
        assert!(
            response.headers()["cache-control"]
                .to_str()
                .unwrap()
                .contains("immutable")
        );
        bytes.extend_from_slice(&response.bytes().await.unwrap());
    }
    std::fs::write(&file, &bytes).unwrap();
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_streams",
            "-show_packets",
            "-of",
            "json",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        probe.status.success() && probe.stderr.is_empty(),
        "ffprobe: {}",
        String::from_utf8_lossy(&probe.stderr)
    );
    let probe: serde_json::Value = serde_json::from_slice(&probe.stdout).unwrap();
    let streams = probe["streams"].as_array().unwrap();
    let video = streams
        .iter()
        .find(|s| s["codec_type"] == "video")
        .expect("video stream");
    assert_eq!(
        (
            video["codec_name"].as_str(),
            video["width"].as_u64(),
            video["height"].as_u64()
        ),
        (Some("h264"), Some(1280), Some(720))
    );
    assert!(
        streams.iter().any(|s| s["codec_name"] == "aac"),
        "aac stream"
    );
    // CODECS must describe the SPS ffprobe reads: avc1.PPCCLL (RFC 6381).
    let profile_idc = match video["profile"].as_str().unwrap() {
        "Constrained Baseline" | "Baseline" => "42",
        "Main" => "4d",
        "High" => "64",
        other => panic!("unexpected profile {other}"),
    };
    let level = format!("{:02x}", video["level"].as_u64().unwrap());
    let codecs = multivariant
        .split("CODECS=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert!(
        codecs.starts_with(&format!("avc1.{profile_idc}")) && codecs[9..11] == level,
        "{codecs} vs ffprobe {video}"
    );
    if bframes {
        assert_eq!(
            profile_idc, "64",
            "the B-frame variant is encoded as High profile"
        );
    }
    for index in [0, 1] {
        support::assert_packet_timing(&probe, index, 10, bframes && index == 0);
    }

    // ffmpeg as an HLS client decodes 10 s without an error.
    let play = tokio::process::Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-hide_banner",
            "-v",
            "error",
            "-i",
            &format!("{}/live/alpha/index.m3u8", origin.http),
            "-t",
            "10",
            "-f",
            "null",
            "-",
        ])
        .output();
    let play = tokio::time::timeout(Duration::from_secs(60), play)
        .await
        .expect("ffmpeg playback finishes")
        .unwrap();
    assert!(
        play.status.success(),
        "ffmpeg playback failed: {}",
        String::from_utf8_lossy(&play.stderr)
    );
    assert!(
        play.stderr.is_empty(),
        "ffmpeg reported: {}",
        String::from_utf8_lossy(&play.stderr)
    );

    // An independent parser and checker agree with the playlists.
    origin.wait_for_segment("alpha", 9).await;
    let checker = tokio::process::Command::new("python3")
        .arg(tools_dir().join("check_llhls.py"))
        .arg(origin.media_playlist("alpha"))
        .output()
        .await
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&checker.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&checker.stderr)));
    println!("check_llhls: {report}");
    assert_eq!(report["ok"], true, "{report}");
    assert!(
        report["checked"]["concatenations"].as_u64().unwrap() >= 2,
        "{report}"
    );
    assert!(
        report["checked"]["delta_skipped_segments"]
            .as_u64()
            .unwrap()
            >= 1,
        "the delta update skipped segments: {report}"
    );

    // Bad playlist queries are refused with 400, counted, and the stream keeps going.
    let bad = reqwest::get(format!("{}?_HLS_part=2", origin.media_playlist("alpha")))
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let far = reqwest::get(format!(
        "{}?_HLS_msn=999999",
        origin.media_playlist("alpha")
    ))
    .await
    .unwrap();
    assert_eq!(far.status(), 400);
    assert!(origin.metric("livecdn_hls_bad_requests_total", None).await >= 2.0);
    assert!(
        origin
            .metric("livecdn_origin_parts_total", Some(("stream", "alpha")))
            .await
            > 40.0
    );
}

#[tokio::test]
async fn wrong_key_is_refused_with_a_reason_metric() {
    if !require("ffmpeg") {
        return;
    }
    let origin = start_origin("10s").await;
    let mut ffmpeg = Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-re",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=30",
        ])
        .args(["-c:v", "libx264", "-preset", "ultrafast", "-f", "flv"])
        .arg(format!("{}/not-a-key", origin.rtmp))
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map(Spawned)
        .unwrap();
    let status = wait_exit(&mut ffmpeg.0, Duration::from_secs(20))
        .expect("ffmpeg gives up on a refused publish");
    assert!(!status.success());
    assert_eq!(
        origin
            .metric(
                "livecdn_origin_publish_rejected_total",
                Some(("reason", "unknown_key"))
            )
            .await,
        1.0
    );
    let log = origin.process.stderr();
    assert!(
        log.contains("publish refused") && log.contains("unknown_key"),
        "{log}"
    );
    assert!(
        !log.contains("not-a-key"),
        "stream keys must never be logged:\n{log}"
    );
}

#[tokio::test]
async fn a_second_publisher_is_refused_and_the_first_keeps_going() {
    if !require("ffmpeg") {
        return;
    }
    let _slot = ENCODER_SLOT.lock().await;
    let origin = start_origin("10s").await;
    let _first = publish(&format!("{}/key-beta", origin.rtmp), false);
    origin.wait_for_segment("beta", 1).await;
    let mut second = publish(&format!("{}/key-beta", origin.rtmp), false);
    let status =
        wait_exit(&mut second.0, Duration::from_secs(20)).expect("the second publisher is refused");
    assert!(!status.success());
    assert_eq!(
        origin
            .metric(
                "livecdn_origin_publish_rejected_total",
                Some(("reason", "already_live"))
            )
            .await,
        1.0
    );
    origin.wait_for_segment("beta", 4).await;
}

#[tokio::test]
async fn a_reconnect_within_the_grace_continues_with_a_discontinuity() {
    if !require("ffmpeg") {
        return;
    }
    let _slot = ENCODER_SLOT.lock().await;
    let origin = start_origin("20s").await;
    let first = publish(&format!("{}/key-alpha", origin.rtmp), false);
    origin.wait_for_segment("alpha", 2).await;
    drop(first); // SIGKILL: the publisher vanishes without unpublishing

    // With no publisher, the hinted part never comes: the held request ends in 503 after the
    // blocking timeout (3 target durations), not in a hang.
    let playlist = reqwest::get(origin.media_playlist("alpha"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let hinted = playlist
        .split("PRELOAD-HINT:TYPE=PART,URI=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let held = reqwest::get(origin.media_playlist("alpha").replace("index.m3u8", hinted))
        .await
        .unwrap();
    assert_eq!(held.status(), 503, "{hinted}");

    let _second = publish(&format!("{}/key-alpha", origin.rtmp), false);
    let playlist = origin.wait_for_segment("alpha", 6).await;
    assert!(playlist.contains("#EXT-X-DISCONTINUITY\n"), "{playlist}");
    assert!(
        playlist.contains("#EXT-X-MAP:URI=\"init-1.mp4\""),
        "{playlist}"
    );
    assert!(
        playlist.contains("seg0.m4s") || playlist.contains("#EXT-X-DISCONTINUITY-SEQUENCE:1"),
        "{playlist}"
    );
    assert!(!playlist.contains("#EXT-X-ENDLIST"));
    let init = reqwest::get(
        origin
            .media_playlist("alpha")
            .replace("index.m3u8", "init-1.mp4"),
    )
    .await
    .unwrap();
    assert_eq!(init.status(), 200);
}

#[tokio::test]
async fn after_the_grace_period_the_playlist_ends() {
    if !require("ffmpeg") {
        return;
    }
    let _slot = ENCODER_SLOT.lock().await;
    let origin = start_origin("1s").await;
    let publisher = publish(&format!("{}/key-alpha", origin.rtmp), false);
    origin.wait_for_segment("alpha", 2).await;
    drop(publisher);
    let url = origin.media_playlist("alpha");
    let mut ended = String::new();
    for _ in 0..50 {
        ended = reqwest::get(&url).await.unwrap().text().await.unwrap();
        if ended.contains("#EXT-X-ENDLIST") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(ended.trim_end().ends_with("#EXT-X-ENDLIST"), "{ended}");
    assert!(!ended.contains("PRELOAD-HINT"), "{ended}");
    assert_eq!(
        origin.metric("livecdn_origin_live_streams", None).await,
        0.0
    );
}

#[tokio::test]
async fn garbage_bytes_are_dropped_and_the_origin_stays_healthy() {
    let origin = start_origin("10s").await;
    let mut socket = TcpStream::connect(
        origin
            .rtmp
            .trim_start_matches("rtmp://")
            .trim_end_matches("/live"),
    )
    .unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = socket.write_all(&[
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ]);
    let _ = socket.write_all(&[0xAB; 4096]);
    let mut sink = Vec::new();
    let _ = socket.read_to_end(&mut sink); // the server closes the connection
    assert_eq!(
        origin
            .metric(
                "livecdn_origin_rtmp_errors_total",
                Some(("reason", "bad_handshake"))
            )
            .await,
        1.0
    );
    let health = reqwest::get(format!("{}/healthz", origin.http))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn oversized_size_claims_are_refused_before_any_buffering() {
    let origin = start_origin("10s").await;
    let rtmp = origin
        .rtmp
        .trim_start_matches("rtmp://")
        .trim_end_matches("/live")
        .to_owned();
    let rss_before = rss_kib(origin.process.pid());

    // A message header announcing the largest length RTMP can express (24 bits: 16 MiB; a
    // "100 MB" message cannot be encoded), above MAX_MESSAGE_SIZE.
    let mut socket = handshaken(&rtmp);
    let mut header = vec![0x03, 0, 0, 0, 0xFF, 0xFF, 0xFF, 20, 0, 0, 0, 0];
    header.extend_from_slice(&[0u8; 64]);
    let _ = socket.write_all(&header);
    let mut sink = Vec::new();
    let _ = socket.read_to_end(&mut sink);
    assert_eq!(
        origin
            .metric(
                "livecdn_origin_rtmp_errors_total",
                Some(("reason", "message_too_large"))
            )
            .await,
        1.0
    );

    // A Set Chunk Size of 100 MB (RFC-style control message on csid 2, type 1).
    let mut socket = handshaken(&rtmp);
    let mut control = vec![0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0];
    control.extend_from_slice(&100_000_000u32.to_be_bytes());
    let _ = socket.write_all(&control);
    let mut sink = Vec::new();
    let _ = socket.read_to_end(&mut sink);
    assert_eq!(
        origin
            .metric(
                "livecdn_origin_rtmp_errors_total",
                Some(("reason", "chunk_size_too_large"))
            )
            .await,
        1.0
    );

    let rss_after = rss_kib(origin.process.pid());
    assert!(
        rss_after < rss_before + 8 * 1024,
        "RSS grew from {rss_before} KiB to {rss_after} KiB"
    );
    assert_eq!(
        reqwest::get(format!("{}/healthz", origin.http))
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn an_unsupported_codec_is_refused_with_a_clear_message() {
    if !require("ffmpeg") {
        return;
    }
    let _slot = ENCODER_SLOT.lock().await;
    let origin = start_origin("10s").await;
    let mut ffmpeg = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-re"])
        .args([
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=30",
            "-f",
            "lavfi",
            "-i",
            "sine",
        ])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "30",
            "-c:a",
            "libmp3lame",
            "-f",
            "flv",
        ])
        .arg(format!("{}/key-alpha", origin.rtmp))
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map(Spawned)
        .unwrap();
    let status =
        wait_exit(&mut ffmpeg.0, Duration::from_secs(20)).expect("the publisher is dropped");
    assert!(!status.success());
    let reason = ("reason", "unsupported_audio_codec");
    assert!(
        origin
            .metric("livecdn_origin_media_rejected_total", Some(reason))
            .await
            >= 1.0
    );
    let log = origin.process.stderr();
    assert!(
        log.contains("unsupported audio codec mp3"),
        "the log names the codec:\n{log}"
    );
}

/// librtmp, the library behind many RTMP publishers, through GStreamer's `rtmpsink` (FFmpeg
/// on Debian uses its native RTMP client, not librtmp).
#[tokio::test]
async fn a_librtmp_publisher_is_accepted_and_packaged() {
    if !require_gst_element("rtmpsink")
        || !require_gst_element("x264enc")
        || !require_gst_element("voaacenc")
    {
        return;
    }
    let _slot = ENCODER_SLOT.lock().await;
    let origin = start_origin("10s").await;
    let pipeline = format!(
        "videotestsrc is-live=true ! video/x-raw,format=I420,width=640,height=360,framerate=30/1 \
         ! x264enc tune=zerolatency key-int-max=30 speed-preset=ultrafast ! h264parse \
         ! flvmux name=mux streamable=true ! rtmpsink location=\"{}/key-beta live=1\" \
         audiotestsrc is-live=true ! audioconvert ! voaacenc ! aacparse ! mux.",
        origin.rtmp
    );
    let child = Command::new("gst-launch-1.0")
        .arg("-q")
        .args(pipeline.split_whitespace())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(Spawned)
        .unwrap();
    origin.wait_for_segment("beta", 3).await;
    drop(child);
    let multivariant = reqwest::get(format!("{}/live/beta/index.m3u8", origin.http))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        multivariant.contains("mp4a.40.2") && multivariant.contains("RESOLUTION=640x360"),
        "{multivariant}"
    );
    let log = origin.process.stderr();
    assert!(
        log.contains("GStreamer"),
        "the encoder named itself in onMetaData:\n{log}"
    );
}

fn require_gst_element(element: &str) -> bool {
    let found = Command::new("gst-inspect-1.0")
        .arg(element)
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("LIVECDN_REQUIRE_TOOLS").is_none(),
            "GStreamer element {element} is required but not installed"
        );
        eprintln!("skipping: GStreamer element {element} not installed");
    }
    found
}

/// A TCP connection that completed the plain RTMP handshake as a client.
fn handshaken(addr: &str) -> TcpStream {
    let mut socket = TcpStream::connect(addr).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut c0c1 = vec![3u8];
    c0c1.extend_from_slice(&[0u8; 8]);
    c0c1.extend((0..1528).map(|i| (i % 251) as u8));
    socket.write_all(&c0c1).unwrap();
    let mut s0s1s2 = vec![0u8; 1 + 1536 + 1536];
    socket.read_exact(&mut s0s1s2).unwrap();
    socket.write_all(&s0s1s2[1..1537]).unwrap(); // C2 echoes S1
    socket
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn wait_exit(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let step = Duration::from_millis(50);
    for _ in 0..(timeout.as_millis() / step.as_millis()) {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(step);
    }
    None
}
