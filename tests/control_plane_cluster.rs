//! The control plane with real nodes: an origin and two edges (separate processes) register and
//! heartbeat; the origin validates stream keys through the control plane; FFmpeg publishes with
//! a key the admin API issued; `/v1/play` sends a viewer to an edge, which finds its upstream
//! through the stream directory and serves the stream; a rotated key is refused by the origin
//! while the live stream plays on; an edge killed with SIGKILL leaves routing within seconds.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use support::{Process, Spawned, free_port, get_when_up};

const ADMIN: &str = "admin-secret";
const NODE: &str = "node-secret";

struct Node {
    process: Process,
    http: String,
    _dir: tempfile::TempDir,
}

async fn start(role: &str, http: u16, config: &str) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.toml");
    std::fs::write(&path, config).unwrap();
    let process = Process::start(&[role, "--config", path.to_str().unwrap()], &[]);
    let http = format!("http://127.0.0.1:{http}");
    get_when_up(&reqwest::Client::new(), &format!("{http}/readyz")).await;
    Node {
        process,
        http,
        _dir: dir,
    }
}

fn tls(certs: &Path, node: &str) -> String {
    let c = certs.display();
    format!("[tls]\nca = \"{c}/ca.pem\"\ncert = \"{c}/{node}.pem\"\nkey = \"{c}/{node}.key\"\n")
}

fn control(cp: u16, tier: u8) -> String {
    format!("[control]\nurl = \"http://127.0.0.1:{cp}\"\ntoken = \"{NODE}\"\ntier = {tier}\n")
}

fn publish(rtmp: u16, key: &str) -> Spawned {
    let child = Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-re",
            "-f",
            "lavfi",
        ])
        .args(["-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i"])
        .args([
            "sine=sample_rate=48000",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
        ])
        .args([
            "-tune",
            "zerolatency",
            "-g",
            "25",
            "-c:a",
            "aac",
            "-f",
            "flv",
        ])
        .arg(format!("rtmp://127.0.0.1:{rtmp}/live/{key}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    Spawned(child.expect("spawn ffmpeg"))
}

async fn json_call(method: reqwest::Method, url: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, url)
        .header("accept", "application/json");
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn metric(node: &Node, name: &str, label: (&str, &str)) -> f64 {
    support::metric(&node.http, name, Some(label)).await
}

/// Polls `check` every 100 ms for up to `limit`; returns how long it took.
#[expect(clippy::disallowed_methods, reason = "the test measures real time")]
async fn within<F, Fut>(limit: Duration, mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = tokio::time::Instant::now();
    while started.elapsed() < limit {
        if check().await {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

#[tokio::test]
#[expect(clippy::disallowed_methods, reason = "the test measures real time")]
async fn nodes_register_route_rotate_keys_and_fail_over() {
    if !support::require_tool("ffmpeg") {
        return;
    }
    let certs_dir = support::node_certs(&["origin", "edge-eu", "edge-us"]);
    let certs = certs_dir.path();

    let data = tempfile::tempdir().unwrap();
    let cp_port = free_port();
    let cp = start(
        "control-plane",
        cp_port,
        &format!(
            "[http]\nlisten = \"127.0.0.1:{cp_port}\"\n[database]\nurl = \"sqlite://{}/cp.db\"\n\
             [auth]\nadmin_tokens = [\"{ADMIN}\"]\nnode_tokens = [\"{NODE}\"]\n\
             [[routing.distances]]\na = \"eu\"\nb = \"us\"\ndistance = 100\n\
             [stats]\ninterval = \"1s\"\n",
            data.path().display()
        ),
    )
    .await;
    let (o_http, o_rtmp, o_relay) = (free_port(), free_port(), free_port());
    let origin = start(
        "origin",
        o_http,
        &format!(
            "[http]\nlisten = \"127.0.0.1:{o_http}\"\n[node]\nid = \"origin\"\nregion = \"eu\"\n\
             [rtmp]\nlisten = \"127.0.0.1:{o_rtmp}\"\nkey_cache_ttl = \"1s\"\n\
             [relay]\nlisten = \"127.0.0.1:{o_relay}\"\n{}{}",
            control(cp_port, 0),
            tls(certs, "origin")
        ),
    )
    .await;
    let mut edges = Vec::new();
    for (id, region) in [("edge-eu", "eu"), ("edge-us", "us")] {
        let http = free_port();
        edges.push(
            start(
                "edge",
                http,
                &format!(
                    "[http]\nlisten = \"127.0.0.1:{http}\"\n[node]\nid = \"{id}\"\nregion = \"{region}\"\n\
                     [shutdown]\ndrain_deadline = \"1s\"\n{}{}",
                    control(cp_port, 1),
                    tls(certs, id)
                ),
            )
            .await,
        );
    }
    let base = cp.http.clone();
    let registered = within(Duration::from_secs(10), || async {
        let (_, nodes) = json_call(
            reqwest::Method::GET,
            &format!("{base}/v1/nodes"),
            Some(ADMIN),
        )
        .await;
        nodes
            .as_array()
            .is_some_and(|n| n.len() == 3 && n.iter().all(|n| n["state"] == "alive"))
    })
    .await;
    assert!(registered.is_some(), "the three nodes did not register");

    // The admin creates a stream; the host publishes with the issued key.
    let created: Value = reqwest::Client::new()
        .post(format!("{base}/v1/streams"))
        .bearer_auth(ADMIN)
        .json(&json!({"name": "show"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = created["key"]["key"].as_str().unwrap().to_owned();
    let (_, ingest) = json_call(
        reqwest::Method::GET,
        &format!("{base}/v1/ingest/show?region=eu"),
        None,
    )
    .await;
    assert_eq!(
        ingest["rtmp_url"],
        format!("rtmp://127.0.0.1:{o_rtmp}/live")
    );
    let _publisher = publish(o_rtmp, &key);
    let live = within(Duration::from_secs(15), || async {
        let (_, live) = json_call(reqwest::Method::GET, &format!("{base}/v1/live"), None).await;
        live.as_array()
            .is_some_and(|l| l.iter().any(|s| s["stream"] == "show"))
    })
    .await;
    assert!(live.is_some(), "the stream never showed as live");

    // A viewer in us is sent to edge-us, which pulls the stream through the directory.
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = no_redirect
        .get(format!("{base}/v1/play/show?region=us"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 302);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, format!("{}/live/show/index.m3u8", edges[1].http));
    let media = format!("{}/live/show/source/index.m3u8", edges[1].http);
    let playing = within(Duration::from_secs(15), || async {
        let response = reqwest::get(&media).await.unwrap();
        response.status() == 200 && response.text().await.unwrap().contains("#EXT-X-PART:")
    })
    .await;
    assert!(playing.is_some(), "edge-us did not serve the stream");
    let (_, upstream) = json_call(
        reqwest::Method::GET,
        &format!("{base}/v1/directory/show?edge=edge-us"),
        Some(NODE),
    )
    .await;
    assert_eq!(upstream["node_id"], "origin");

    // Rotation: the old key is refused by the origin (after its 1 s cache), the live stream
    // keeps going.
    // The media sequence number of the hinted (next) part.
    let sequence = |text: &str| -> u64 {
        text.split("PRELOAD-HINT:TYPE=PART,URI=\"part")
            .nth(1)
            .and_then(|rest| rest.split('.').next())
            .and_then(|msn| msn.parse().ok())
            .unwrap_or(0)
    };
    let before = sequence(&reqwest::get(&media).await.unwrap().text().await.unwrap());
    let (status, _) = json_call(
        reqwest::Method::POST,
        &format!("{base}/v1/streams/show/keys/rotate"),
        Some(ADMIN),
    )
    .await;
    assert_eq!(status, 201);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut stale = publish(o_rtmp, &key);
    let refused = within(Duration::from_secs(10), || async {
        metric(
            &origin,
            "livecdn_origin_publish_rejected_total",
            ("reason", "unknown_key"),
        )
        .await
            >= 1.0
    })
    .await;
    assert!(refused.is_some(), "the rotated key was not refused");
    let _ = stale.0.kill();
    let advanced = within(Duration::from_secs(10), || async {
        let text = reqwest::get(&media).await.unwrap().text().await.unwrap();
        sequence(&text) > before + 2
    })
    .await;
    assert!(
        advanced.is_some(),
        "the live stream stopped after the rotation"
    );

    // The per-region time series counts the viewer the edge saw (this test's playlist
    // requests), reported in the edge's heartbeats.
    let counted = within(Duration::from_secs(10), || async {
        let (_, rows) = json_call(
            reqwest::Method::GET,
            &format!("{base}/v1/streams/show/stats"),
            Some(ADMIN),
        )
        .await;
        rows.as_array().is_some_and(|rows| {
            rows.iter()
                .any(|r| r["region"] == "us" && r["viewers"].as_i64() >= Some(1))
        })
    })
    .await;
    assert!(counted.is_some(), "no stats row counted the us viewer");

    // kill -9 the us edge: viewers in us go to eu within the failure detector's bound.
    let killed_at = tokio::time::Instant::now();
    edges[1].process.signal(nix::sys::signal::Signal::SIGKILL);
    let eu = edges[0].http.clone();
    let rerouted = within(Duration::from_secs(8), || async {
        let (_, body) = json_call(
            reqwest::Method::GET,
            &format!("{base}/v1/play/show?region=us"),
            None,
        )
        .await;
        body["url"].as_str().is_some_and(|u| u.starts_with(&eu))
    })
    .await;
    let rerouted = rerouted.expect("the killed edge kept receiving viewers");
    eprintln!(
        "killed edge left routing {:?} after the kill (bound: 3 s after its last beat)",
        killed_at.elapsed().min(rerouted)
    );
    // Suspect nodes are only a fallback, so it left routing already; dead follows.
    let dead = within(Duration::from_secs(5), || async {
        let (_, nodes) = json_call(
            reqwest::Method::GET,
            &format!("{base}/v1/nodes"),
            Some(ADMIN),
        )
        .await;
        nodes.as_array().is_some_and(|n| {
            n.iter()
                .any(|n| n["id"] == "edge-us" && n["state"] == "dead")
        })
    })
    .await;
    assert!(dead.is_some(), "the killed edge was never declared dead");

    // SIGTERM the eu edge: it deregisters as it drains, so no viewer is sent to it.
    edges[0].process.signal(nix::sys::signal::Signal::SIGTERM);
    let drained = within(Duration::from_secs(5), || async {
        let (status, _) = json_call(
            reqwest::Method::GET,
            &format!("{base}/v1/play/show?region=eu"),
            None,
        )
        .await;
        status == 503
    })
    .await;
    assert!(drained.is_some(), "a draining edge still got viewers");
    assert!(metric(&cp, "livecdn_cp_heartbeats_total", ("outcome", "updated")).await > 5.0);
}

/// A tier-2 edge whose parent is killed moves its playing stream to the parent the directory
/// names next (here the origin) and keeps serving valid, advancing playlists.
#[tokio::test]
#[expect(clippy::disallowed_methods, reason = "the test measures real time")]
async fn a_tier_two_edge_moves_its_stream_to_a_new_parent_when_the_parent_dies() {
    if !support::require_tool("ffmpeg") {
        return;
    }
    let certs_dir = support::node_certs(&["origin", "edge-a", "edge-b"]);
    let certs = certs_dir.path();
    let data = tempfile::tempdir().unwrap();
    let cp_port = free_port();
    let cp = start(
        "control-plane",
        cp_port,
        &format!(
            "[http]\nlisten = \"127.0.0.1:{cp_port}\"\n[database]\nurl = \"sqlite://{}/cp.db\"\n\
             [auth]\nadmin_tokens = [\"{ADMIN}\"]\nnode_tokens = [\"{NODE}\"]\n",
            data.path().display()
        ),
    )
    .await;
    let (o_http, o_rtmp, o_relay) = (free_port(), free_port(), free_port());
    let _origin = start(
        "origin",
        o_http,
        &format!(
            "[http]\nlisten = \"127.0.0.1:{o_http}\"\n[node]\nid = \"origin\"\nregion = \"eu\"\n\
             [rtmp]\nlisten = \"127.0.0.1:{o_rtmp}\"\n\
             [relay]\nlisten = \"127.0.0.1:{o_relay}\"\n{}{}",
            control(cp_port, 0),
            tls(certs, "origin")
        ),
    )
    .await;
    let edge = |id: &str, http: u16, relay: u16, tier: u8| {
        format!(
            "[http]\nlisten = \"127.0.0.1:{http}\"\n[node]\nid = \"{id}\"\nregion = \"eu\"\n\
             [relay]\nlisten = \"127.0.0.1:{relay}\"\n{}{}",
            control(cp_port, tier),
            tls(certs, id)
        )
    };
    let (a_http, b_http) = (free_port(), free_port());
    let edge_a = start("edge", a_http, &edge("edge-a", a_http, free_port(), 1)).await;
    let edge_b = start("edge", b_http, &edge("edge-b", b_http, free_port(), 2)).await;
    let base = cp.http.clone();
    let registered = within(Duration::from_secs(10), || async {
        let (_, nodes) = json_call(
            reqwest::Method::GET,
            &format!("{base}/v1/nodes"),
            Some(ADMIN),
        )
        .await;
        nodes.as_array().is_some_and(|n| n.len() == 3)
    })
    .await;
    assert!(registered.is_some(), "the three nodes did not register");
    let created: Value = reqwest::Client::new()
        .post(format!("{base}/v1/streams"))
        .bearer_auth(ADMIN)
        .json(&json!({"name": "tiered"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = created["key"]["key"].as_str().unwrap().to_owned();
    let _publisher = publish(o_rtmp, &key);

    // Edge B (tier 2) pulls through edge A (tier 1), as the directory says.
    let media = format!("{}/live/tiered/source/index.m3u8", edge_b.http);
    let playing = within(Duration::from_secs(20), || async {
        let response = reqwest::get(&media).await.unwrap();
        response.status() == 200 && response.text().await.unwrap().contains("#EXT-X-PART:")
    })
    .await;
    assert!(
        playing.is_some(),
        "edge B did not serve the stream\n{}",
        edge_b.process.stderr()
    );
    let (_, upstream) = json_call(
        reqwest::Method::GET,
        &format!("{base}/v1/directory/tiered?edge=edge-b"),
        Some(NODE),
    )
    .await;
    assert_eq!(upstream["node_id"], "edge-a");

    let hinted = |text: &str| -> u64 {
        text.split("PRELOAD-HINT:TYPE=PART,URI=\"part")
            .nth(1)
            .and_then(|rest| rest.split('.').next())
            .and_then(|msn| msn.parse().ok())
            .unwrap_or(0)
    };
    let first = reqwest::get(&media).await.unwrap().text().await.unwrap();
    let before = hinted(&first);
    assert!(before > 0, "{first}");
    let killed_at = tokio::time::Instant::now();
    edge_a.process.signal(nix::sys::signal::Signal::SIGKILL);
    // Viewers on B keep getting new segments: B moved to the origin.
    let advanced = within(Duration::from_secs(20), || async {
        let text = reqwest::get(&media).await.unwrap().text().await.unwrap();
        hinted(&text) >= before + 4
    })
    .await;
    assert!(
        advanced.is_some(),
        "edge B's playlist stopped after its parent died\n{}",
        edge_b.process.stderr()
    );
    eprintln!(
        "edge B's playlist moved on {:?} after its parent was killed",
        killed_at.elapsed()
    );
    assert!(
        edge_b
            .process
            .stderr()
            .contains("moving its streams to the directory's new parent"),
        "{}",
        edge_b.process.stderr()
    );
    // What B serves after the move is a valid LL-HLS playlist (a discontinuity at most).
    let checker = tokio::process::Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tools/check_llhls.py"))
        .arg(&media)
        .output()
        .await
        .unwrap();
    let report: Value = serde_json::from_slice(&checker.stdout).unwrap();
    assert_eq!(report["ok"], true, "{report}");
}
