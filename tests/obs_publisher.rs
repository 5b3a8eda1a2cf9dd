//! OBS Studio, the publisher most hosts use, against a real origin: OBS 29 runs headless
//! (Xvfb, software OpenGL, a generated profile and scene collection; `support::obs`) and
//! streams a color source with x264 + AAC over RTMP. The stream goes live, ffprobe reads our
//! init and segments, the playlists pass the independent checker, and quitting OBS
//! unpublishes. A wrong key is refused with a reason, and OBS is told why (its dialog does
//! not hold the test: OBS is killed by its PID).
//!
//! Needs `obs` and `Xvfb` (Debian: `obs-studio xvfb`; Mesa's `libgl1-mesa-dri` for llvmpipe),
//! plus `ffprobe` and Python's `m3u8`; skips without them unless `LIVECDN_REQUIRE_TOOLS=1`.

use std::process::Command;
use std::time::Duration;

use support::obs::{Obs, Xvfb};
use support::{Process, free_port, get_when_up};

/// One OBS at a time: each renders (llvmpipe) and encodes on the same two cores.
static OBS_SLOT: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// OBS's first segment waits on Xvfb, OBS's own startup and its first keyframe.
const LIVE_TIMEOUT: Duration = Duration::from_secs(60);

struct Origin {
    process: Process,
    http: String,
    rtmp: String,
    _dir: tempfile::TempDir,
}

/// `livecdn origin` on free loopback ports with stream `alpha` (key `key-alpha`); the
/// ingest logs at debug level, so the publish flow shows in a failure's log.
async fn start_origin() -> Origin {
    let dir = tempfile::tempdir().unwrap();
    let (http_port, rtmp_port) = (free_port(), free_port());
    let config = format!(
        "[http]\nlisten = \"127.0.0.1:{http_port}\"\n[rtmp]\nlisten = \"127.0.0.1:{rtmp_port}\"\n\
         reconnect_grace = \"10s\"\n[packaging]\nwindow_segments = 12\n[shutdown]\n\
         drain_deadline = \"1s\"\n[log]\nlevel = \"info,livecdn_origin::ingest=debug\"\n\
         [[streams]]\nname = \"alpha\"\nkey = \"key-alpha\"\n"
    );
    let path = dir.path().join("origin.toml");
    std::fs::write(&path, config).unwrap();
    // Plain text, so that the log assertions below can match field=value pairs.
    let process = Process::start(
        &["origin", "--config", path.to_str().unwrap()],
        &[("NO_COLOR", "1")],
    );
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
    fn media_playlist(&self) -> String {
        format!("{}/live/alpha/source/index.m3u8", self.http)
    }

    /// Waits (bounded by `timeout`) until segment `msn` is closed, using blocking reload.
    async fn wait_for_segment(&self, msn: u64, timeout: Duration, obs: &Obs) -> String {
        let client = reqwest::Client::new();
        let url = format!("{}?_HLS_msn={msn}", self.media_playlist());
        let step = Duration::from_millis(200);
        for _ in 0..(timeout.as_millis() / step.as_millis()) {
            if let Ok(response) = client.get(&url).send().await
                && response.status() == 200
            {
                return response.text().await.unwrap();
            }
            tokio::time::sleep(step).await;
        }
        panic!(
            "never reached segment {msn}; origin log:\n{}\nOBS log:\n{}",
            self.process.stderr(),
            obs.log()
        );
    }

    async fn metric(&self, name: &str, label: Option<(&str, &str)>) -> f64 {
        support::metric(&self.http, name, label).await
    }

    /// Polls (bounded) until the origin's log contains `needle`.
    async fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        let step = Duration::from_millis(100);
        for _ in 0..(timeout.as_millis() / step.as_millis()) {
            if self.process.stderr().contains(needle) {
                return true;
            }
            tokio::time::sleep(step).await;
        }
        false
    }
}

fn require_tools() -> bool {
    support::obs::require() && support::require_tool("ffprobe")
}

#[tokio::test]
async fn obs_publish_is_packaged_probed_checked_and_unpublished() {
    if !require_tools() {
        return;
    }
    let _slot = OBS_SLOT.lock().await;
    let origin = start_origin().await;
    let xvfb = Xvfb::start();
    let mut obs = Obs::start(&xvfb, &origin.rtmp, "key-alpha");
    origin.wait_for_segment(3, LIVE_TIMEOUT, &obs).await;

    // What OBS announced reaches the multivariant playlist through the SPS and
    // AudioSpecificConfig: 640x360 at 30 fps, AAC-LC.
    let multivariant = reqwest::get(format!("{}/live/alpha/index.m3u8", origin.http))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for expected in [
        "mp4a.40.2",
        "avc1.",
        "RESOLUTION=640x360",
        "FRAME-RATE=30.000",
    ] {
        assert!(
            multivariant.contains(expected),
            "{expected}:\n{multivariant}"
        );
    }
    // A keyframe every 30 frames makes every segment 1 s of media, cut into parts. OBS
    // stamps these GOPs 999 ms apart: the first segment once ran to 2 s, which raised the
    // target duration for the whole stream.
    let media = reqwest::get(origin.media_playlist())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(media.contains("#EXT-X-TARGETDURATION:1\n"), "{media}");
    let durations: Vec<f64> = media
        .lines()
        .filter_map(|l| l.strip_prefix("#EXTINF:"))
        .map(|d| d.trim_end_matches(',').parse().unwrap())
        .collect();
    assert!(
        durations.len() >= 3 && durations.iter().all(|d| (0.99..=1.01).contains(d)),
        "{media}"
    );
    assert!(media.contains(",INDEPENDENT=YES"), "{media}");
    assert!(media.contains("#EXT-X-PRELOAD-HINT:TYPE=PART"), "{media}");

    // ffprobe reads init + two segments: H.264 High 640x360 and AAC, monotonic DTS,
    // PTS >= DTS, and B-frames reordering presentation.
    let probe = probe_segments(&origin, &["init.mp4", "seg1.m4s", "seg2.m4s"]).await;
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
        (Some("h264"), Some(640), Some(360)),
        "{video}"
    );
    assert_eq!(video["profile"], "High", "{video}");
    let audio = streams
        .iter()
        .find(|s| s["codec_type"] == "audio")
        .expect("audio stream: OBS encodes its (silent) mix");
    assert_eq!(
        (
            audio["codec_name"].as_str(),
            audio["sample_rate"].as_str(),
            audio["channels"].as_u64()
        ),
        (Some("aac"), Some("48000"), Some(2)),
        "{audio}"
    );
    for index in [0, 1] {
        support::assert_packet_timing(&probe, index, 30, index == 0);
    }

    // The independent checker (Python m3u8) agrees with the playlists.
    origin.wait_for_segment(9, LIVE_TIMEOUT, &obs).await;
    let checker = tokio::process::Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tools/check_llhls.py"))
        .arg(origin.media_playlist())
        .output();
    let checker = tokio::time::timeout(Duration::from_secs(60), checker)
        .await
        .expect("check_llhls.py finishes")
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&checker.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&checker.stderr)));
    println!("check_llhls: {report}");
    assert_eq!(report["ok"], true, "{report}");

    // Nothing OBS sent was refused or dropped, and it named itself in onMetaData.
    for (name, reason) in [
        ("livecdn_origin_publish_rejected_total", None),
        ("livecdn_origin_rtmp_errors_total", None),
        ("livecdn_origin_media_rejected_total", None),
    ] {
        assert_eq!(origin.metric(name, reason).await, 0.0, "{name}");
    }
    assert_eq!(
        origin.metric("livecdn_origin_live_streams", None).await,
        1.0
    );
    let log = origin.process.stderr();
    assert!(!log.contains("outgrew EXT-X-TARGETDURATION"), "{log}");
    assert!(log.contains("rtmp connect app=live"), "{log}");
    assert!(
        log.contains("encoder=\"obs-output module (libobs version"),
        "OBS names itself in onMetaData:\n{log}"
    );

    // Quitting OBS (SIGINT) stops the stream: FCUnpublish, deleteStream, then it exits.
    obs.interrupt();
    assert!(
        origin
            .wait_for_log(
                "publisher unpublished stream=\"alpha\"",
                Duration::from_secs(30)
            )
            .await,
        "OBS did not unpublish; origin log:\n{}\nOBS log:\n{}",
        origin.process.stderr(),
        obs.log()
    );
    let status = obs.wait_timeout(Duration::from_secs(30));
    assert!(status.is_some(), "OBS did not quit:\n{}", obs.log());
    assert!(
        obs.log().contains("User stopped the stream"),
        "{}",
        obs.log()
    );
    drop(xvfb);
}

#[tokio::test]
async fn obs_with_a_wrong_key_is_refused_and_told_why() {
    if !support::obs::require() {
        return;
    }
    let _slot = OBS_SLOT.lock().await;
    let origin = start_origin().await;
    let xvfb = Xvfb::start();
    let obs = Obs::start(&xvfb, &origin.rtmp, "not-a-key");

    let rejected = ("reason", "unknown_key");
    let step = Duration::from_millis(200);
    let mut count = 0.0;
    for _ in 0..(LIVE_TIMEOUT.as_millis() / step.as_millis()) {
        count = origin
            .metric("livecdn_origin_publish_rejected_total", Some(rejected))
            .await;
        if count > 0.0 {
            break;
        }
        tokio::time::sleep(step).await;
    }
    assert_eq!(
        count,
        1.0,
        "origin log:\n{}\nOBS log:\n{}",
        origin.process.stderr(),
        obs.log()
    );
    // OBS's RTMP client logs the onStatus code and description we sent, and gives up (it
    // then shows its "could not access the stream key" dialog, which nobody closes).
    let mut told = false;
    for _ in 0..100 {
        let log = obs.log();
        if log.contains("NetStream.Publish.BadName (unknown stream key)")
            && log.contains("==== Streaming Stop")
        {
            told = true;
            break;
        }
        tokio::time::sleep(step).await;
    }
    assert!(told, "OBS log:\n{}", obs.log());
    assert_eq!(
        origin.metric("livecdn_origin_live_streams", None).await,
        0.0
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
    drop(obs);
    drop(xvfb);
}

/// Concatenates `objects` of the media playlist into one file and runs ffprobe on it.
async fn probe_segments(origin: &Origin, objects: &[&str]) -> serde_json::Value {
    let base = origin.media_playlist().replace("index.m3u8", "");
    let mut bytes = Vec::new();
    for object in objects {
        let response = reqwest::get(format!("{base}{object}")).await.unwrap();
        assert_eq!(response.status(), 200, "{object}");
        bytes.extend_from_slice(&response.bytes().await.unwrap());
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("probe.mp4");
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
    serde_json::from_slice(&probe.stdout).unwrap()
}
