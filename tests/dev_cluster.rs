//! `livecdn dev`: every node of the cluster answers on its documented port (moved by
//! `--port-base`), a second instance on the same ports fails naming the port, Ctrl-C exits 0.

use std::time::Duration;

use nix::sys::signal::Signal;
use support::{Process, assert_no_panic, free_dev_port_base, get_when_up};

#[tokio::test]
async fn dev_cluster_serves_every_node_and_refuses_a_second_instance() {
    let base = free_dev_port_base();
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap();
    let base_arg = base.to_string();
    let mut dev = Process::start(
        &["dev", "--port-base", &base_arg, "--data-dir", data_dir],
        &[],
    );
    let client = reqwest::Client::new();
    for offset in [0u16, 80, 81, 82, 91, 92] {
        let url = format!("http://127.0.0.1:{}/readyz", base + offset);
        let (status, body) = get_when_up(&client, &url).await;
        assert_eq!(status, 200, "{url}: {body}\n{}", dev.stderr());
    }
    // Every media node registered with the control plane, which routes demo viewers by
    // region; edge B (tier 2) got the stream through the directory (via edge A).
    let control = format!("http://127.0.0.1:{base}");
    for (region, edge, port) in [("us", "edge-b", base + 82), ("eu", "edge-a", base + 81)] {
        let mut chosen = serde_json::Value::Null;
        for _ in 0..100 {
            let answer: serde_json::Value = client
                .get(format!("{control}/v1/play/demo?region={region}"))
                .header("accept", "application/json")
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap_or_default();
            chosen = answer["chosen"]["id"].clone();
            if chosen == edge {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(chosen, edge, "viewers in {region}\n{}", dev.stderr());
        let media = format!("http://127.0.0.1:{port}/live/demo/source/index.m3u8");
        let (status, body) = get_when_up(&client, &media).await;
        assert_eq!(status, 200, "{media}: {body}");
        assert!(body.contains("#EXT-X-PART:"), "{body}");
    }
    let banner = dev.stdout();
    assert!(
        banner.contains(&format!("http://127.0.0.1:{}", base + 81)),
        "{banner}"
    );
    assert!(
        banner.contains("federated: one room, one order on both relays"),
        "the banner must be honest:\n{banner}"
    );
    assert!(data.path().join("certs/ca.pem").exists());

    let mut second = Process::start(
        &["dev", "--port-base", &base_arg, "--data-dir", data_dir],
        &[],
    );
    let status = second
        .wait_timeout(Duration::from_secs(10))
        .expect("second instance exits");
    assert_eq!(status.code(), Some(1));
    let stderr = second.stderr();
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{base}")),
        "{stderr}"
    );
    assert!(stderr.contains("address already in use"), "{stderr}");
    assert_no_panic(&stderr);

    dev.signal(Signal::SIGINT);
    let status = dev
        .wait_timeout(Duration::from_secs(15))
        .expect("dev exits on Ctrl-C");
    assert_eq!(status.code(), Some(0), "{}", dev.stderr());
}
