//! A role process from start to stop: health, readiness, valid metrics, JSON logs, graceful
//! stop on SIGTERM/SIGINT, and clean failures for ports in use and missing certificates.

use std::io::Write;
use std::time::Duration;

use nix::sys::signal::Signal;
use support::{Process, assert_no_panic, free_port, get_when_up, parse_metrics, run};

const ROLES: [(&str, &str); 4] = [
    ("origin", "LIVECDN_ORIGIN__"),
    ("edge", "LIVECDN_EDGE__"),
    ("control-plane", "LIVECDN_CONTROL_PLANE__"),
    ("chat-relay", "LIVECDN_CHAT_RELAY__"),
];

/// Starts `role` on a free port; its databases live in the returned directory, removed when
/// it is dropped (keep it until the process has stopped).
fn start_role(
    role: &str,
    prefix: &str,
    extra: &[(String, String)],
) -> (Process, String, tempfile::TempDir) {
    let port = free_port();
    let data = tempfile::tempdir().unwrap();
    let mut env = vec![
        (format!("{prefix}HTTP__LISTEN"), format!("127.0.0.1:{port}")),
        // Only the origin has this section; the others ignore another role's prefix.
        (
            "LIVECDN_ORIGIN__RTMP__LISTEN".to_owned(),
            "127.0.0.1:0".to_owned(),
        ),
        (format!("{prefix}SHUTDOWN__DRAIN_DEADLINE"), "1s".to_owned()),
        // The chat relay needs its token secret; databases go to temporary files, not the
        // working directory.
        (
            "LIVECDN_CHAT_RELAY__CHAT__TOKEN_SECRET".to_owned(),
            "test-secret".to_owned(),
        ),
        (
            "LIVECDN_CHAT_RELAY__DATABASE__URL".to_owned(),
            format!("sqlite://{}", data.path().join("chat.db").display()),
        ),
        (
            "LIVECDN_CONTROL_PLANE__DATABASE__URL".to_owned(),
            format!(
                "sqlite://{}",
                data.path().join("control-plane.db").display()
            ),
        ),
    ];
    env.extend(extra.iter().cloned());
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    (
        Process::start(&[role], &env),
        format!("http://127.0.0.1:{port}"),
        data,
    )
}

#[tokio::test]
async fn every_role_answers_health_readiness_and_valid_metrics_then_stops_on_sigterm() {
    let client = reqwest::Client::new();
    for (role, prefix) in ROLES {
        let (mut process, base, _data) = start_role(role, prefix, &[]);
        let (status, body) = get_when_up(&client, &format!("{base}/healthz")).await;
        assert_eq!((status, body.trim()), (200, "ok"), "{role} /healthz");

        let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 200, "{role} /readyz");
        let report: serde_json::Value = ready.json().await.unwrap();
        assert_eq!(report["ready"], true);
        assert_eq!(report["conditions"]["http"], true, "{report}");

        let metrics = client.get(format!("{base}/metrics")).send().await.unwrap();
        let content_type = metrics.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            content_type.starts_with("text/plain; version=0.0.4"),
            "{content_type}"
        );
        let scrape = parse_metrics(&metrics.text().await.unwrap());
        let build = scrape
            .samples
            .iter()
            .find(|s| s.metric == "livecdn_build_info")
            .expect("build info");
        assert_eq!(build.labels.get("role"), Some(role));
        assert!(
            scrape
                .samples
                .iter()
                .any(|s| s.metric == "process_cpu_seconds_total")
        );
        assert!(
            scrape
                .samples
                .iter()
                .any(|s| s.metric == "process_resident_memory_bytes")
        );
        let ok_responses = scrape
            .samples
            .iter()
            .find(|s| {
                s.metric == "livecdn_http_responses_total" && s.labels.get("status") == Some("200")
            })
            .expect("responses by status");
        assert!(matches!(ok_responses.value, prometheus_parse::Value::Counter(n) if n >= 2.0));

        process.signal(Signal::SIGTERM);
        let status = process
            .wait_timeout(Duration::from_secs(5))
            .expect("exits after SIGTERM");
        assert_eq!(
            status.code(),
            Some(0),
            "{role} stderr:\n{}",
            process.stderr()
        );
        assert_no_panic(&process.stderr());
    }
}

#[tokio::test]
async fn openmetrics_is_served_when_asked_for() {
    let (_process, base, _data) = start_role("edge", "LIVECDN_EDGE__", &[]);
    get_when_up(&reqwest::Client::new(), &format!("{base}/healthz")).await;
    let response = reqwest::Client::new()
        .get(format!("{base}/metrics"))
        .header("accept", "application/openmetrics-text; version=1.0.0")
        .send()
        .await
        .unwrap();
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    assert!(response.text().await.unwrap().trim_end().ends_with("# EOF"));
}

#[tokio::test]
async fn sigint_with_a_request_in_flight_drains_within_the_deadline_and_exits_0() {
    let (mut process, base, _data) = start_role("control-plane", "LIVECDN_CONTROL_PLANE__", &[]);
    get_when_up(&reqwest::Client::new(), &format!("{base}/healthz")).await;
    // A request whose headers never finish keeps a connection busy, so shutdown has to wait
    // for the drain deadline (1s) before closing it.
    let mut stalled = std::net::TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    stalled
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    process.signal(Signal::SIGINT);
    let status = process
        .wait_timeout(Duration::from_secs(5))
        .expect("exits after the drain deadline");
    assert_eq!(status.code(), Some(0), "stderr:\n{}", process.stderr());
    assert!(
        process.stderr().contains("stop signal received"),
        "{}",
        process.stderr()
    );
}

#[tokio::test]
async fn json_logs_are_one_object_per_line() {
    let extra = [(
        "LIVECDN_CHAT_RELAY__LOG__FORMAT".to_owned(),
        "json".to_owned(),
    )];
    let (mut process, base, _data) = start_role("chat-relay", "LIVECDN_CHAT_RELAY__", &extra);
    get_when_up(&reqwest::Client::new(), &format!("{base}/healthz")).await;
    process.signal(Signal::SIGTERM);
    process.wait_timeout(Duration::from_secs(5)).expect("exits");
    let stderr = process.stderr();
    assert!(stderr.lines().count() >= 2, "{stderr}");
    for line in stderr.lines() {
        let event: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            event["level"].is_string() && event["message"].is_string(),
            "{line}"
        );
    }
}

#[test]
fn port_in_use_fails_in_one_line_naming_address_and_key() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (status, _, stderr) = run(&["edge"], &[("LIVECDN_EDGE__HTTP__LISTEN", &addr)]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    let last = stderr.trim_end().lines().last().unwrap_or_default();
    assert_eq!(
        last,
        format!(
            "livecdn: error: edge: cannot listen on {addr} (http.listen): address already in use"
        )
    );
    assert_no_panic(&stderr);
}

#[test]
fn missing_certificates_fail_in_one_line_naming_the_key() {
    let env = [
        ("LIVECDN_ORIGIN__HTTP__LISTEN", "127.0.0.1:0"),
        ("LIVECDN_ORIGIN__RTMP__LISTEN", "127.0.0.1:0"),
        ("LIVECDN_ORIGIN__TLS__CA", "/nonexistent/ca.pem"),
        ("LIVECDN_ORIGIN__TLS__CERT", "/nonexistent/origin.pem"),
        ("LIVECDN_ORIGIN__TLS__KEY", "/nonexistent/origin.key"),
    ];
    let (status, _, stderr) = run(&["origin"], &env);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("tls.ca = /nonexistent/ca.pem: No such file"),
        "{stderr}"
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert_no_panic(&stderr);
}

#[tokio::test]
async fn a_node_with_generated_certificates_starts_ready() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().to_str().unwrap();
    let (status, _, stderr) = run(&["certs", "--out", certs, "--node", "edge-9"], &[]);
    assert!(status.success(), "{stderr}");
    let extra = [
        (
            "LIVECDN_EDGE__TLS__CA".to_owned(),
            format!("{certs}/ca.pem"),
        ),
        (
            "LIVECDN_EDGE__TLS__CERT".to_owned(),
            format!("{certs}/edge-9.pem"),
        ),
        (
            "LIVECDN_EDGE__TLS__KEY".to_owned(),
            format!("{certs}/edge-9.key"),
        ),
    ];
    let (_process, base, _data) = start_role("edge", "LIVECDN_EDGE__", &extra);
    let (status, _) = get_when_up(&reqwest::Client::new(), &format!("{base}/readyz")).await;
    assert_eq!(status, 200);
}
