//! Replication across three real processes: origin → edge A → edge B over QUIC with mutual
//! TLS. FFmpeg publishes to the origin; edge B (two hops away) serves byte-identical playlists
//! and media; killing edge A with SIGKILL and starting it again, edge B reconnects and keeps
//! serving valid playlists; a node without the cluster's certificate is refused.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{Process, Spawned, free_port, get_when_up, run};

struct Node {
    process: Process,
    http: String,
    _config: tempfile::TempDir,
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

fn tls(certs: &Path, node: &str) -> String {
    let c = certs.display();
    format!("[tls]\nca = \"{c}/ca.pem\"\ncert = \"{c}/{node}.pem\"\nkey = \"{c}/{node}.key\"\n")
}

async fn start(role: &str, config: String) -> Node {
    // Every config here starts with [http]: its first `listen` is the HTTP listener.
    let http = config
        .lines()
        .find_map(|l| l.strip_prefix("listen = \"127.0.0.1:"))
        .map(|rest| format!("http://127.0.0.1:{}", rest.trim_end_matches('"')))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "node.toml", &config);
    let process = Process::start(&[role, "--config", &path], &[]);
    get_when_up(&reqwest::Client::new(), &format!("{http}/readyz")).await;
    Node {
        process,
        http,
        _config: dir,
    }
}

fn edge_config(
    http: u16,
    relay: u16,
    upstream: u16,
    upstream_name: &str,
    certs: &Path,
    node: &str,
) -> String {
    format!(
        "[node]\nid = \"{node}\"\n[http]\nlisten = \"127.0.0.1:{http}\"\n[relay]\nupstream = \"127.0.0.1:{upstream}\"\n\
         upstream_name = \"{upstream_name}\"\nlisten = \"127.0.0.1:{relay}\"\nidle_unsubscribe = \"4s\"\n[shutdown]\ndrain_deadline = \"1s\"\n{}",
        tls(certs, node)
    )
}

/// An origin with stream `tier` (key `tier-key`), RTMP and a relay listener on free ports;
/// returns the node, its RTMP port and its relay port.
async fn start_tier_origin(certs: &Path) -> (Node, u16, u16) {
    let (http, rtmp, relay) = (free_port(), free_port(), free_port());
    let config = format!(
        "[http]\nlisten = \"127.0.0.1:{http}\"\n[node]\nid = \"origin\"\n[rtmp]\nlisten = \"127.0.0.1:{rtmp}\"\n\
         [relay]\nlisten = \"127.0.0.1:{relay}\"\n[[streams]]\nname = \"tier\"\nkey = \"tier-key\"\n{}",
        tls(certs, "origin")
    );
    (start("origin", config).await, rtmp, relay)
}

/// FFmpeg publishing a 640x360 test pattern and a tone to the `tier` stream of the origin
/// whose RTMP port is `rtmp`.
fn publish_tier(rtmp: u16) -> Spawned {
    let child = Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-re",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x360:rate=30",
        ])
        .args([
            "-f",
            "lavfi",
            "-i",
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
            "30",
            "-c:a",
            "aac",
            "-f",
            "flv",
        ])
        .arg(format!("rtmp://127.0.0.1:{rtmp}/live/tier-key"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    Spawned(child.expect("spawn ffmpeg"))
}

async fn text(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn bytes(url: &str) -> Vec<u8> {
    reqwest::get(url)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec()
}

async fn metric(node: &Node, name: &str) -> f64 {
    support::metric(&node.http, name, None).await
}

/// The hinted part of `node`'s media playlist, as `_HLS_msn=M&_HLS_part=P`.
async fn next_part_query(node: &Node) -> String {
    let playlist = text(&format!("{}/live/tier/source/index.m3u8", node.http))
        .await
        .1;
    let hint = playlist
        .split("PRELOAD-HINT:TYPE=PART,URI=\"part")
        .nth(1)
        .unwrap()
        .split(".m4s")
        .next()
        .unwrap();
    let (msn, part) = hint.split_once('.').unwrap();
    format!("_HLS_msn={msn}&_HLS_part={part}")
}

#[tokio::test]
async fn three_processes_replicate_identically_and_survive_an_edge_restart() {
    if !support::require_tool("ffmpeg") {
        return;
    }
    let certs_dir = support::node_certs(&["origin", "edge-a", "edge-b"]);
    let certs = certs_dir.path();

    let (origin, origin_rtmp, origin_relay) = start_tier_origin(certs).await;
    let (a_http, a_relay, b_http) = (free_port(), free_port(), free_port());
    let edge_a_config = edge_config(a_http, a_relay, origin_relay, "origin", certs, "edge-a");
    let mut edge_a = start("edge", edge_a_config.clone()).await;
    let edge_b = start(
        "edge",
        edge_config(b_http, free_port(), a_relay, "edge-a", certs, "edge-b"),
    )
    .await;

    let _ffmpeg = publish_tier(origin_rtmp);

    // Edge B is asked first: it pulls through edge A, which pulls from the origin.
    let b_playlist = format!("{}/live/tier/source/index.m3u8", edge_b.http);
    let mut ready = false;
    for _ in 0..100 {
        if text(&format!("{b_playlist}?_HLS_msn=3")).await.0 == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        ready,
        "edge B never reached segment 3\nedge B log:\n{}",
        edge_b.process.stderr()
    );

    // The same blocking request gives byte-identical playlists on all three nodes, and the
    // objects they list are byte-identical too.
    let pin = next_part_query(&origin).await;
    let nodes = [&origin, &edge_a, &edge_b];
    let mut playlists = Vec::new();
    for node in nodes {
        playlists.push(text(&format!("{}/live/tier/source/index.m3u8?{pin}", node.http)).await);
    }
    assert!(playlists.iter().all(|p| p.0 == 200), "{playlists:?}");
    assert_eq!(playlists[0].1, playlists[1].1, "origin vs edge A");
    if playlists[0].1 != playlists[2].1 {
        let gaps = text(&format!("{}/metrics", edge_b.http)).await.1;
        let gaps: Vec<&str> = gaps
            .lines()
            .filter(|l| l.starts_with("livecdn_relay_gaps"))
            .collect();
        panic!(
            "origin vs edge B differ; edge B gaps: {gaps:?}\n{}\n---\n{}",
            playlists[0].1, playlists[2].1
        );
    }
    let listed: Vec<&str> = playlists[0]
        .1
        .lines()
        .filter_map(|line| match line.split("URI=\"").nth(1) {
            Some(rest) => rest.split('"').next(),
            None => Some(line).filter(|l| !l.starts_with('#') && l.ends_with(".m4s")),
        })
        .filter(|uri| !uri.contains("index.m3u8"))
        .collect();
    assert!(listed.len() > 5, "{listed:?}");
    for object in listed.iter().take(12) {
        let from_origin = bytes(&format!("{}/live/tier/source/{object}", origin.http)).await;
        let from_b = bytes(&format!("{}/live/tier/source/{object}", edge_b.http)).await;
        assert!(
            !from_origin.is_empty() && from_origin == from_b,
            "{object} differs"
        );
    }
    // Edge B answered those from its object cache (filled as the parts arrived), which holds
    // bytes within its budget.
    assert!(metric(&edge_b, "livecdn_edge_cache_hits_total").await >= 6.0);
    let cached = metric(&edge_b, "livecdn_edge_cache_inserted_bytes_total").await;
    assert!(cached > 10_000.0, "inserted into edge B's cache: {cached}");
    assert_eq!(
        metric(&edge_b, "livecdn_edge_cache_capacity_bytes").await,
        512.0 * 1024.0 * 1024.0
    );
    // Live parts (made after edge B subscribed) feed the arrival-delay histogram; the window
    // sent on subscribe is counted as backfill, apart.
    assert!(metric(&edge_b, "livecdn_relay_backfill_parts_total").await > 0.0);
    let mut live = 0.0;
    for _ in 0..100 {
        live = metric(&edge_b, "livecdn_relay_part_arrival_delay_seconds").await;
        if live > 10.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(live > 10.0, "live arrival delays recorded: {live}");

    // Kill edge A; edge B loses its upstream and reconnects once edge A is back.
    drop(edge_a);
    tokio::time::sleep(Duration::from_secs(2)).await;
    edge_a = start("edge", edge_a_config).await;
    let mut reconnected = false;
    for _ in 0..100 {
        if metric(&edge_b, "livecdn_relay_upstream_connects_total").await >= 2.0 {
            reconnected = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        reconnected,
        "edge B did not reconnect\n{}",
        edge_b.process.stderr()
    );
    let before = next_part_query(&edge_b).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = next_part_query(&edge_b).await;
    assert_ne!(
        before, after,
        "edge B's playlist moves on after the restart"
    );

    // Edge B's playlists stay valid for an independent checker.
    let checker = tokio::process::Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tools/check_llhls.py"))
        .arg(&b_playlist)
        .output()
        .await
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&checker.stdout).unwrap();
    println!("check_llhls on edge B after the restart: {report}");
    assert_eq!(report["ok"], true, "{report}");

    // Nobody watches any more: edge B unsubscribes, then edge A (whose only child left) too.
    let mut dropped = false;
    for _ in 0..100 {
        if metric(&edge_b, "livecdn_relay_subscriptions").await == 0.0
            && metric(&edge_a, "livecdn_relay_subscriptions").await == 0.0
        {
            dropped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        dropped,
        "idle subscriptions were not dropped\n{}",
        edge_b.process.stderr()
    );
    // A new viewer pulls it again, and its first playlist is the whole window (the edges
    // publish a pulled stream once its backfill is in, not from its first part).
    let (status, first) = text(&format!("{}/live/tier/source/index.m3u8", edge_b.http)).await;
    assert_eq!(status, 200, "a new viewer pulls it again");
    assert!(
        first.matches("#EXTINF:").count() >= 3,
        "the first playlist after a pull lists the window:\n{first}"
    );
    drop(edge_a);
}

#[tokio::test]
async fn a_node_without_the_cluster_certificate_is_refused() {
    let certs_dir = tempfile::tempdir().unwrap();
    let rogue_dir = tempfile::tempdir().unwrap();
    for (dir, node) in [(certs_dir.path(), "origin"), (rogue_dir.path(), "edge-x")] {
        let (status, _, stderr) = run(
            &["certs", "--out", dir.to_str().unwrap(), "--node", node],
            &[],
        );
        assert!(status.success(), "{stderr}");
    }
    let (origin_http, origin_relay) = (free_port(), free_port());
    let origin = start(
        "origin",
        format!(
            "[http]\nlisten = \"127.0.0.1:{origin_http}\"\n[rtmp]\nlisten = \"127.0.0.1:0\"\n[relay]\nlisten = \"127.0.0.1:{origin_relay}\"\n{}",
            tls(certs_dir.path(), "origin")
        ),
    )
    .await;
    // The rogue edge trusts nobody we know and presents a certificate of another CA.
    let rogue = start(
        "edge",
        edge_config(
            free_port(),
            free_port(),
            origin_relay,
            "origin",
            rogue_dir.path(),
            "edge-x",
        ),
    )
    .await;
    let (status, _) = text(&format!("{}/live/anything/source/index.m3u8", rogue.http)).await;
    assert_eq!(status, 404, "the rogue edge has no stream");
    let mut refused = 0.0;
    for _ in 0..50 {
        refused = metric(&origin, "livecdn_relay_errors_total").await;
        if refused >= 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(refused >= 1.0, "the origin counts the refused handshake");
    assert_eq!(
        metric(&rogue, "livecdn_relay_upstream_connected").await,
        0.0
    );
}

#[tokio::test]
async fn replication_across_a_lossy_link_keeps_playlists_valid() {
    if !support::require_tool("ffmpeg") {
        return;
    }
    let certs_dir = support::node_certs(&["origin", "edge-a"]);
    let certs = certs_dir.path();
    let (_origin, origin_rtmp, origin_relay) = start_tier_origin(certs).await;
    // 2 % loss each way and 20 ms each way: a 40 ms RTT path between regions.
    let lossy = support::LossyUdpRelay::start(
        format!("127.0.0.1:{origin_relay}").parse().unwrap(),
        0.02,
        Duration::from_millis(20),
    )
    .await;
    let edge = start(
        "edge",
        edge_config(
            free_port(),
            free_port(),
            lossy.addr.port(),
            "origin",
            certs,
            "edge-a",
        ),
    )
    .await;
    let _ffmpeg = publish_tier(origin_rtmp);
    let playlist = format!("{}/live/tier/source/index.m3u8", edge.http);
    let mut ready = false;
    for _ in 0..100 {
        if text(&format!("{playlist}?_HLS_msn=10")).await.0 == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        ready,
        "the edge never reached segment 10 across the lossy link\n{}",
        edge.process.stderr()
    );

    // Playback through the lossy link decodes cleanly, and the playlists stay valid.
    let play = tokio::process::Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-hide_banner",
            "-v",
            "error",
            "-i",
            &playlist,
            "-t",
            "5",
            "-f",
            "null",
            "-",
        ])
        .output()
        .await
        .unwrap();
    assert!(
        play.status.success() && play.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&play.stderr)
    );
    let checker = tokio::process::Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tools/check_llhls.py"))
        .arg(&playlist)
        .output()
        .await
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&checker.stdout).unwrap();
    assert_eq!(report["ok"], true, "{report}");

    // Report (not assert) the arrival delay behind the origin across the lossy link.
    let metrics = text(&format!("{}/metrics", edge.http)).await.1;
    let buckets: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("livecdn_relay_part_arrival_delay_seconds_bucket"))
        .collect();
    let gaps: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("livecdn_relay_gaps_total"))
        .collect();
    println!("part arrival delay across 2% loss, 40 ms RTT: {buckets:#?}\ngaps: {gaps:?}");
}

/// The origin restarts (kill -9, then the host publishes again): the edge, whose subscription
/// the fresh origin refuses until the host is back, keeps asking and continues its window with
/// the new publication after an EXT-X-DISCONTINUITY (not the old window forever, not a
/// playlist whose numbering starts over).
#[tokio::test]
async fn after_an_origin_restart_the_edge_serves_the_new_publication() {
    if !support::require_tool("ffmpeg") {
        return;
    }
    let certs_dir = support::node_certs(&["origin", "edge-a"]);
    let certs = certs_dir.path();
    // The restarted origin keeps its relay address (the edge's upstream) and takes fresh HTTP
    // and RTMP ports: tests running beside this one may have taken the old ones meanwhile.
    let o_relay = free_port();
    let origin_config = |http: u16, rtmp: u16| {
        format!(
            "[http]\nlisten = \"127.0.0.1:{http}\"\n[node]\nid = \"origin\"\n[rtmp]\nlisten = \"127.0.0.1:{rtmp}\"\n\
             [relay]\nlisten = \"127.0.0.1:{o_relay}\"\n[[streams]]\nname = \"tier\"\nkey = \"tier-key\"\n{}",
            tls(certs, "origin")
        )
    };
    let o_rtmp = free_port();
    let origin = start("origin", origin_config(free_port(), o_rtmp)).await;
    let a_http = free_port();
    let edge = start(
        "edge",
        edge_config(a_http, free_port(), o_relay, "origin", certs, "edge-a"),
    )
    .await;
    let publisher = publish_tier(o_rtmp);
    let playlist = format!("{}/live/tier/source/index.m3u8", edge.http);
    let mut served = false;
    for _ in 0..100 {
        let (status, body) = text(&playlist).await;
        if status == 200 && body.contains("#EXT-X-PART:") {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(served, "the edge never served the stream");
    // The newest EXT-X-PROGRAM-DATE-TIME of a playlist (one format, so text order is time order).
    let newest_pdt = |body: &str| -> String {
        body.lines()
            .filter_map(|l| l.strip_prefix("#EXT-X-PROGRAM-DATE-TIME:"))
            .max()
            .unwrap_or_default()
            .to_owned()
    };
    let before = text(&playlist).await.1;
    let old = newest_pdt(&before);
    assert!(!old.is_empty());

    // The origin dies with its publisher; it comes back, and the host publishes again later.
    drop(publisher);
    drop(origin);
    let o_rtmp = free_port();
    let _origin = start("origin", origin_config(free_port(), o_rtmp)).await;
    // The edge reconnects before the host is back, and the fresh origin refuses its
    // subscription (no such stream yet); a viewer asks meanwhile.
    let mut reconnected = false;
    for _ in 0..100 {
        if metric(&edge, "livecdn_relay_upstream_connects_total").await >= 2.0 {
            reconnected = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reconnected, "{}", edge.process.stderr());
    let _ = text(&playlist).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let refusals = edge
        .process
        .stderr()
        .matches("upstream refused the subscription")
        .count();
    assert!(refusals >= 1, "{}", edge.process.stderr());
    let _publisher = publish_tier(o_rtmp);
    // The edge serves the new publication: segments made after the old window's newest.
    let mut fresh = None;
    for _ in 0..150 {
        let (status, body) = text(&playlist).await;
        if status == 200 && newest_pdt(&body) > old {
            fresh = Some(body);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let fresh = fresh.unwrap_or_else(|| {
        panic!(
            "the edge never served the new publication\n{}",
            edge.process.stderr()
        )
    });
    assert!(
        fresh.contains("#EXT-X-PART:") && !fresh.contains("#EXT-X-ENDLIST"),
        "{fresh}"
    );
    if std::env::var_os("DUMP_EDGE").is_some() {
        eprintln!("{}", edge.process.stderr());
    }
}
