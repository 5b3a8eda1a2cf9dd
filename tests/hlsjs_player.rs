//! A real player plays LL-HLS through the edges: hls.js (`lowLatencyMode`, defaults otherwise)
//! in headless Chromium, driven by `tests/player/play.mjs`, plays the `livecdn dev` demo stream
//! for 30 s from edge B, the tier-2 edge (origin → QUIC → edge A → QUIC → edge B). Playback must advance without stalls or fatal errors; the latency (hls.js's own
//! estimate and wall clock minus EXT-X-PROGRAM-DATE-TIME at the playhead) is printed, not
//! asserted beyond a sanity bound: latency targets belong to benchmarks, not timed assertions.
//! Run with `-- --nocapture` to see the numbers.
//!
//! Needs `node`, `tests/player/node_modules` (`cd tests/player && npm ci`) and Debian's
//! `/usr/bin/chromium`; without them the test is skipped, unless `LIVECDN_REQUIRE_TOOLS` is set
//! (CI), where it fails.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::{Process, STARTUP_TIMEOUT, free_dev_port_base, get_when_up};

/// How long hls.js plays.
const PLAY_SECONDS: u64 = 30;
/// The least `currentTime` must advance in those [`PLAY_SECONDS`] (startup included).
const MIN_ADVANCE_S: f64 = 25.0;
/// Sanity bound on the PROGRAM-DATE-TIME latency: far above any target, so never flaky, but it
/// catches a player stuck far behind live or a PROGRAM-DATE-TIME that is not the wall clock.
const PDT_LATENCY_SANITY_S: f64 = 10.0;
/// How long the player script may take beyond [`PLAY_SECONDS`] (browser start and stop).
const PLAYER_SLACK: Duration = Duration::from_secs(90);
const CHROMIUM: &str = "/usr/bin/chromium";

fn player_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("player")
}

/// What is missing to run the browser test, if anything.
fn missing_tools() -> Vec<String> {
    let mut missing = Vec::new();
    let node_ok = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !node_ok {
        missing.push("`node` on PATH".to_owned());
    }
    for package in ["hls.js", "playwright-core"] {
        let dir = player_dir().join("node_modules").join(package);
        if !dir.join("package.json").exists() {
            missing.push(format!(
                "{} (run `cd tests/player && npm ci`)",
                dir.display()
            ));
        }
    }
    if !Path::new(CHROMIUM).exists() {
        missing.push(format!("{CHROMIUM} (apt-get install chromium)"));
    }
    missing
}

/// The player script's process; killed by its PID if the test ends before it does.
struct Player {
    child: Child,
    logs: tempfile::TempDir,
}

impl Player {
    fn start(url: &str, seconds: u64) -> Self {
        let logs = tempfile::tempdir().expect("player log dir");
        let stdout = File::create(logs.path().join("stdout")).expect("stdout file");
        let stderr = File::create(logs.path().join("stderr")).expect("stderr file");
        let child = Command::new("node")
            .arg(player_dir().join("play.mjs"))
            .arg(url)
            .arg(seconds.to_string())
            .current_dir(player_dir())
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .expect("spawn node tests/player/play.mjs");
        Self { child, logs }
    }

    fn stdout(&self) -> String {
        std::fs::read_to_string(self.logs.path().join("stdout")).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.logs.path().join("stderr")).unwrap_or_default()
    }

    /// Waits up to `timeout` for the script to exit; `None` if it is still running.
    async fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let step = Duration::from_millis(100);
        let attempts = timeout.as_millis() / step.as_millis() + 1;
        for _ in 0..attempts {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            tokio::time::sleep(step).await;
        }
        None
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            // SIGTERM first: playwright then closes the browser it launched.
            if let Ok(pid) = i32::try_from(self.child.id()) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGTERM,
                );
            }
            for _ in 0..50 {
                if !matches!(self.child.try_wait(), Ok(None)) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Polls `url` until it answers 200 or [`STARTUP_TIMEOUT`] passes.
async fn wait_for_200(client: &reqwest::Client, url: &str, dev: &Process) {
    let (mut status, mut body) = get_when_up(client, url).await;
    let step = Duration::from_millis(100);
    for _ in 0..STARTUP_TIMEOUT.as_millis() / step.as_millis() {
        if status == 200 {
            return;
        }
        tokio::time::sleep(step).await;
        if let Ok(response) = client.get(url).send().await {
            status = response.status().as_u16();
            body = response.text().await.unwrap_or_default();
        }
    }
    panic!(
        "{url} did not answer 200 within {STARTUP_TIMEOUT:?}: last {status} {body}\n{}",
        dev.stderr()
    );
}

fn number(report: &Value, key: &str) -> Option<f64> {
    report.get(key).and_then(Value::as_f64)
}

fn show(x: Option<f64>) -> String {
    x.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.3} s"))
}

#[tokio::test(flavor = "multi_thread")]
async fn hlsjs_plays_the_demo_stream_in_chromium_without_stalls() {
    let missing = missing_tools();
    if !missing.is_empty() {
        let list = missing.join("; ");
        assert!(
            std::env::var_os("LIVECDN_REQUIRE_TOOLS").is_none(),
            "the hls.js browser test needs {list} (LIVECDN_REQUIRE_TOOLS is set)"
        );
        eprintln!("skipping hlsjs_player: missing {list}");
        return;
    }

    let base = free_dev_port_base();
    let data = tempfile::tempdir().expect("data dir");
    let data_dir = data.path().to_str().expect("utf-8 temp path");
    let base_arg = base.to_string();
    let dev = Process::start(
        &["dev", "--port-base", &base_arg, "--data-dir", data_dir],
        &[],
    );
    // Edge B: the tier-2 edge, two QUIC hops from the origin (origin -> edge A -> edge B).
    let edge_b = format!("http://127.0.0.1:{}", base + 82);
    let client = reqwest::Client::new();
    wait_for_200(
        &client,
        &format!("{edge_b}/live/demo/source/index.m3u8"),
        &dev,
    )
    .await;

    let url = format!("{edge_b}/live/demo/index.m3u8");
    let mut player = Player::start(&url, PLAY_SECONDS);
    let timeout = Duration::from_secs(PLAY_SECONDS) + PLAYER_SLACK;
    let Some(status) = player.wait(timeout).await else {
        panic!(
            "play.mjs did not finish within {timeout:?}\nstderr:\n{}",
            player.stderr()
        );
    };
    let stdout = player.stdout();
    let stderr = player.stderr();
    assert!(
        status.success(),
        "play.mjs failed ({status})\nstdout:\n{stdout}\nstderr:\n{stderr}\nlivecdn stderr:\n{}",
        dev.stderr()
    );
    let line = stdout.lines().rev().find(|l| l.starts_with('{'));
    let report: Value = line
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| {
            panic!("play.mjs printed no JSON line\nstdout:\n{stdout}\nstderr:\n{stderr}")
        });

    let advanced = number(&report, "current_time_advanced_s");
    let stalls = report.get("stalls").and_then(Value::as_u64);
    let latency_hls = number(&report, "latency_hls_median_s");
    let latency_pdt = number(&report, "latency_pdt_median_s");
    let latency_pdt_p90 = number(&report, "latency_pdt_p90_s");
    let fatal = report
        .get("fatal_errors")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let nonfatal = report
        .get("nonfatal_errors")
        .cloned()
        .unwrap_or(Value::Null);

    let version = report["hls_version"].as_str().unwrap_or("?");
    println!("hls.js {version} playing {url} for {PLAY_SECONDS} s:");
    println!(
        "  startup {}, played {}, currentTime advanced {}",
        show(number(&report, "startup_s")),
        show(number(&report, "played_s")),
        show(advanced)
    );
    println!(
        "  stalls {} (waiting after start {}, BUFFER_STALLED_ERROR {}), seeks after start {}",
        report["stalls"],
        report["waiting_after_start"],
        report["buffer_stalled_errors"],
        report["seeks_after_start"]
    );
    println!(
        "  latency: hls.latency median {} p90 {}; PROGRAM-DATE-TIME median {} p90 {} max {}; target {}",
        show(latency_hls),
        show(number(&report, "latency_hls_p90_s")),
        show(latency_pdt),
        show(latency_pdt_p90),
        show(number(&report, "latency_pdt_max_s")),
        show(number(&report, "target_latency_s"))
    );
    println!(
        "  frames {} (dropped {}), requests {}",
        report["total_frames"], report["dropped_frames"], report["requests"]
    );
    println!("  fatal errors {fatal:?}, non-fatal errors {nonfatal}");
    println!("  report: {}", line.unwrap_or_default());

    let context = format!(
        "\nplayer report: {}\nplayer stderr:\n{stderr}",
        line.unwrap_or_default()
    );
    assert!(fatal.is_empty(), "hls.js fatal errors: {fatal:?}{context}");
    assert_eq!(stalls, Some(0), "playback stalled after startup{context}");
    assert!(
        advanced.is_some_and(|a| a >= MIN_ADVANCE_S),
        "currentTime advanced {advanced:?} s in {PLAY_SECONDS} s, want at least {MIN_ADVANCE_S}{context}"
    );
    assert!(
        latency_hls.is_some_and(f64::is_finite),
        "no hls.js latency measured{context}"
    );
    for (what, value) in [("median", latency_pdt), ("p90", latency_pdt_p90)] {
        assert!(
            value.is_some_and(|v| v.is_finite() && v > 0.0 && v < PDT_LATENCY_SANITY_S),
            "PROGRAM-DATE-TIME latency {what} {value:?} s is missing or not in (0, {PDT_LATENCY_SANITY_S}) s{context}"
        );
    }

    // The media came from edge B, not from the origin: its own egress counted the parts.
    let metrics = client
        .get(format!("{edge_b}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let part_bytes: f64 = support::parse_metrics(&metrics)
        .samples
        .iter()
        .filter(|s| {
            s.metric == "livecdn_hls_egress_bytes_total" && s.labels.get("kind") == Some("part")
        })
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v) => v,
            _ => 0.0,
        })
        .sum();
    println!("  edge B served {part_bytes} bytes of parts");
    assert!(
        part_bytes > 500_000.0,
        "edge B served only {part_bytes} bytes of parts"
    );
    drop(dev);
}
