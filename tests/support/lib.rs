//! Helpers for black-box tests: start the real `livecdn` binary, talk to it over loopback,
//! stop it by PID. Every process a test starts is killed when its [`Process`] drops.

pub mod obs;
pub mod static_files;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

/// How long a test waits for a node to come up before failing.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// The `livecdn` binary under test: `$LIVECDN_BIN`, else the one cargo built next to this
/// test executable (`target/<profile>/livecdn`).
pub fn livecdn_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("LIVECDN_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>");
    let bin = profile_dir.join("livecdn");
    assert!(
        bin.exists(),
        "{} is missing: run the tests with `cargo test --workspace` (which builds it) or set LIVECDN_BIN",
        bin.display()
    );
    bin
}

/// Runs `livecdn ARGS` to completion with `env` added, returning (status, stdout, stderr).
pub fn run(args: &[&str], env: &[(&str, &str)]) -> (ExitStatus, String, String) {
    let output = Command::new(livecdn_bin())
        .args(args)
        .envs(env.iter().copied())
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("run livecdn");
    (
        output.status,
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A `livecdn` process started by a test; killed (SIGKILL, by its PID) on drop.
pub struct Process {
    child: Option<Child>,
    logs: tempfile::TempDir,
}

impl Process {
    /// Starts `livecdn ARGS` with `env`, stdout and stderr captured to files.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        let logs = tempfile::tempdir().expect("log dir");
        let stdout = std::fs::File::create(logs.path().join("stdout")).expect("stdout file");
        let stderr = std::fs::File::create(logs.path().join("stderr")).expect("stderr file");
        let child = Command::new(livecdn_bin())
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .expect("spawn livecdn");
        Self {
            child: Some(child),
            logs,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// What the process wrote to stdout so far.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(self.logs.path().join("stdout")).unwrap_or_default()
    }

    /// What the process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.logs.path().join("stderr")).unwrap_or_default()
    }

    /// Sends `signal` to this process (only this PID).
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.pid()).expect("pid fits i32"));
        nix::sys::signal::kill(pid, signal).expect("signal livecdn");
    }

    /// Waits up to `timeout` for the process to exit; `None` if it is still running.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        let step = Duration::from_millis(20);
        let attempts = timeout.as_millis() / step.as_millis() + 1;
        for _ in 0..attempts {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(step);
        }
        None
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if matches!(child.try_wait(), Ok(None)) {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A `port_base` for `livecdn dev` whose every shifted TCP port (base+0, +80, +81, +82, +91,
/// +92 and the RTMP port base-6065) is free right now.
pub fn free_dev_port_base() -> u16 {
    let offsets: [i32; 7] = [0, 80, 81, 82, 91, 92, -6065];
    for _ in 0..200 {
        let base = 20_000 + (free_port() % 30_000);
        let all_free = offsets.iter().all(|off| {
            u16::try_from(i32::from(base) + off)
                .is_ok_and(|p| TcpListener::bind(("127.0.0.1", p)).is_ok())
        });
        if all_free {
            return base;
        }
    }
    panic!("no free port range for livecdn dev");
}

/// GETs `url` until it answers (any status) or [`STARTUP_TIMEOUT`] passes; the status and body.
pub async fn get_when_up(client: &reqwest::Client, url: &str) -> (u16, String) {
    let step = Duration::from_millis(50);
    let attempts = STARTUP_TIMEOUT.as_millis() / step.as_millis();
    for _ in 0..attempts {
        if let Ok(response) = client.get(url).send().await {
            let status = response.status().as_u16();
            return (status, response.text().await.unwrap_or_default());
        }
        tokio::time::sleep(step).await;
    }
    panic!("{url} did not answer within {STARTUP_TIMEOUT:?}");
}

/// Parses Prometheus text exposition with an independent parser (`prometheus-parse`) and
/// returns the samples; panics if the text is not valid.
///
/// `prometheus-parse` skips lines it does not understand, so this also checks that every
/// sample line of the text became a sample.
pub fn parse_metrics(text: &str) -> prometheus_parse::Scrape {
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("valid Prometheus text");
    let sample_lines = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .count();
    // Histogram buckets and summary quantiles fold into one sample each; `_sum` and `_count`
    // lines are samples of their own.
    let parsed_lines: usize = scrape
        .samples
        .iter()
        .map(|s| match &s.value {
            prometheus_parse::Value::Histogram(buckets) => buckets.len(),
            prometheus_parse::Value::Summary(quantiles) => quantiles.len(),
            _ => 1,
        })
        .sum();
    assert_eq!(
        parsed_lines, sample_lines,
        "some lines did not parse as samples:\n{text}"
    );
    for line in text.lines().filter(|l| l.starts_with("# ")) {
        let kind = line.split_whitespace().nth(1).unwrap_or_default();
        assert!(
            matches!(kind, "HELP" | "TYPE" | "UNIT"),
            "unexpected comment line {line:?}"
        );
    }
    scrape
}

/// `http://addr`.
pub fn http(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

/// Asserts `stderr` is a clean failure: no panic, no backtrace.
pub fn assert_no_panic(stderr: &str) {
    assert!(!stderr.contains("panicked"), "panic in stderr:\n{stderr}");
    assert!(
        !stderr.contains("stack backtrace"),
        "backtrace in stderr:\n{stderr}"
    );
}

/// A UDP relay between one client and one server that drops and delays datagrams, for QUIC
/// under loss. Deterministic for a seed (`LIVECDN_SIM_SEED` overrides it; the seed is printed).
pub struct LossyUdpRelay {
    /// The address clients send to.
    pub addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl LossyUdpRelay {
    /// Relays to `server`, dropping each datagram with probability `loss` (0..1) and delaying
    /// each one by `one_way` in each direction.
    pub async fn start(server: std::net::SocketAddr, loss: f64, one_way: Duration) -> Self {
        let seed = std::env::var("LIVECDN_SIM_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0x5eed_u64);
        println!("lossy relay: loss {loss}, one-way delay {one_way:?}, LIVECDN_SIM_SEED={seed}");
        let front = std::sync::Arc::new(
            tokio::net::UdpSocket::bind("127.0.0.1:0")
                .await
                .expect("bind relay"),
        );
        let back = std::sync::Arc::new(
            tokio::net::UdpSocket::bind("127.0.0.1:0")
                .await
                .expect("bind relay"),
        );
        back.connect(server).await.expect("connect relay");
        let addr = front.local_addr().expect("relay address");
        // One FIFO delay line per direction: packets keep their order, as on a real path
        // (a task per packet would reorder those sent in the same millisecond).
        let (to_server, mut server_line) =
            tokio::sync::mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
        let (to_client, mut client_line) = tokio::sync::mpsc::unbounded_channel::<(
            tokio::time::Instant,
            Vec<u8>,
            std::net::SocketAddr,
        )>();
        let (back_tx, front_tx) = (back.clone(), front.clone());
        let lines = tokio::spawn(async move {
            let server = async {
                while let Some((due, data)) = server_line.recv().await {
                    tokio::time::sleep_until(due).await;
                    let _ = back_tx.send(&data).await;
                }
            };
            let client = async {
                while let Some((due, data, to)) = client_line.recv().await {
                    tokio::time::sleep_until(due).await;
                    let _ = front_tx.send_to(&data, to).await;
                }
            };
            tokio::join!(server, client);
        });
        let task = tokio::spawn(async move {
            let _lines = AbortOnDrop(lines);
            let mut rng = seed | 1;
            let mut next = move || {
                // xorshift64*: a few lines of deterministic noise, no crate needed.
                rng ^= rng >> 12;
                rng ^= rng << 25;
                rng ^= rng >> 27;
                (rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
            };
            let mut client = None;
            let (mut up, mut down) = (vec![0u8; 65_536], vec![0u8; 65_536]);
            loop {
                // The relay's own clock: tokio's, read through the project's clock boundary.
                let due = tokio::time::Instant::from_std(livecdn_clock_now()) + one_way;
                tokio::select! {
                    Ok((n, from)) = front.recv_from(&mut up) => {
                        client = Some(from);
                        if next() >= loss {
                            let _ = to_server.send((due, up[..n].to_vec()));
                        }
                    }
                    Ok(n) = back.recv(&mut down) => {
                        if let Some(client) = client && next() >= loss {
                            let _ = to_client.send((due, down[..n].to_vec(), client));
                        }
                    }
                }
            }
        });
        Self { addr, task }
    }
}

impl Drop for LossyUdpRelay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Monotonic now for test helpers: tokio's clock, as `node::clock` reads it.
#[expect(
    clippy::disallowed_methods,
    reason = "test helper clock, mirrors node::clock::now"
)]
fn livecdn_clock_now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

/// A child process that is not `livecdn` (ffmpeg, gst-launch), killed by its PID on drop.
pub struct Spawned(pub Child);

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Whether `tool` (run as `tool -version`) is installed; without it the calling test skips
/// (prints why), unless `LIVECDN_REQUIRE_TOOLS` is set (CI), where it fails instead.
pub fn require_tool(tool: &str) -> bool {
    require_tool_with(tool, &["-version"])
}

/// [`require_tool`] for a tool whose version flag is not `-version` (run as `tool ARGS`,
/// which must print something and exit).
pub fn require_tool_with(tool: &str, args: &[&str]) -> bool {
    let found = Command::new(tool).args(args).output().is_ok();
    if !found {
        assert!(
            std::env::var_os("LIVECDN_REQUIRE_TOOLS").is_none(),
            "{tool} is required but not installed"
        );
        eprintln!("skipping: {tool} not installed");
    }
    found
}

/// The sum of the samples named `name` (with `label`, when given) that `base` serves at
/// `/metrics`: counter, gauge and untyped values, and a histogram's count of observations.
pub async fn metric(base: &str, name: &str, label: Option<(&str, &str)>) -> f64 {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("/metrics body");
    parse_metrics(&text)
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| label.is_none_or(|(k, v)| s.labels.get(k) == Some(v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            prometheus_parse::Value::Histogram(ref h) => h.last().map_or(0.0, |b| b.count),
            _ => 0.0,
        })
        .sum()
}

/// Checks the packets of stream `index` in ffprobe's `-show_packets` JSON: more than `min`
/// of them, DTS strictly increasing, PTS never before DTS, and with `reordered` (B-frames) the
/// presentation order reversed somewhere.
pub fn assert_packet_timing(probe: &serde_json::Value, index: u64, min: usize, reordered: bool) {
    let packets: Vec<(i64, i64)> = probe["packets"]
        .as_array()
        .expect("ffprobe packets")
        .iter()
        .filter(|p| p["stream_index"] == index)
        .map(|p| (p["dts"].as_i64().unwrap(), p["pts"].as_i64().unwrap()))
        .collect();
    assert!(
        packets.len() > min,
        "stream {index}: {} packets",
        packets.len()
    );
    assert!(
        packets.windows(2).all(|w| w[1].0 > w[0].0),
        "stream {index}: DTS not increasing"
    );
    assert!(
        packets.iter().all(|(dts, pts)| pts >= dts),
        "stream {index}: PTS < DTS"
    );
    if reordered {
        assert!(
            packets.windows(2).any(|w| w[1].1 < w[0].1),
            "stream {index}: B-frames reorder presentation"
        );
    }
}

/// A throwaway PostgreSQL server for a test (`store::testing::PgServer`), or `None` when
/// PostgreSQL is not installed or does not start: the test then skips, unless
/// `LIVECDN_REQUIRE_TOOLS=1` (CI), where it fails.
pub async fn postgres() -> Option<store::testing::PgServer> {
    let required = std::env::var(store::testing::ENV_REQUIRE_TOOLS).is_ok_and(|v| v == "1");
    match store::testing::PgServer::start().await {
        Ok(Some(pg)) => Some(pg),
        Ok(None) => {
            assert!(!required, "PostgreSQL is required but not installed");
            eprintln!("skipping: PostgreSQL is not installed");
            None
        }
        Err(error) => {
            assert!(!required, "PostgreSQL did not start: {error}");
            eprintln!("skipping: PostgreSQL did not start: {error}");
            None
        }
    }
}

/// A temp dir holding a development CA and a certificate per node of `nodes`
/// (`livecdn certs --out DIR --node N…`: `ca.pem`, `N.pem`, `N.key`).
pub fn node_certs(nodes: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut args = vec!["certs", "--out", dir.path().to_str().expect("utf-8 path")];
    for node in nodes {
        args.extend(["--node", node]);
    }
    let (status, _, stderr) = run(&args, &[]);
    assert!(status.success(), "livecdn certs: {stderr}");
    dir
}
