//! The web pages hosted anywhere: `web/dist` copied to a plain static server on another origin
//! (its own port, no CORS, no rewrites), each page's `<meta name="livecdn-api">` naming the
//! `livecdn dev` control plane, driven in headless Chromium by
//! `tests/player/watch_page_static.mjs`: the home page lists `demo` and links to
//! `watch.html` on the static host; the watch page plays it (`currentTime` advances); chat,
//! wallet and a gift work across origins; the host and ops pages make their admin calls
//! (`Authorization`, a JSON `POST`: preflighted); every API call went to the control plane.
//! Then the moderation controls: a viewer sees none; after a moderator login (admin token →
//! moderator chat token) the moderator deletes a message, times a user out (who is then refused,
//! and whose message no one sees), lifts the timeout and sets slow mode, and the other pages
//! show each effect.
//!
//! Needs `node`, `tests/player/node_modules` and `/usr/bin/chromium` (see `watch_page.rs`);
//! skipped without them unless `LIVECDN_REQUIRE_TOOLS` is set.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use support::static_files::StaticFiles;
use support::{Process, STARTUP_TIMEOUT, free_dev_port_base};

const CHROMIUM: &str = "/usr/bin/chromium";
const ADMIN_TOKEN: &str = "dev-admin-token";
/// The whole browser run: every wait in the script is bounded at 15 s (playback start: 30 s).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);
/// The API base each built page carries: empty, the page's own origin.
const SAME_ORIGIN_META: &str = r#"<meta name="livecdn-api" content="">"#;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn player_dir() -> PathBuf {
    repo().join("tests/player")
}

/// Whether the browser tools are here; panics when they are required (CI) and missing.
fn tools_present() -> bool {
    let node = std::process::Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let playwright = player_dir()
        .join("node_modules/playwright-core/package.json")
        .exists();
    let chromium = Path::new(CHROMIUM).exists();
    if node && playwright && chromium {
        return true;
    }
    let missing = format!(
        "node: {node}, tests/player/node_modules (npm ci): {playwright}, {CHROMIUM}: {chromium}"
    );
    assert!(
        std::env::var_os("LIVECDN_REQUIRE_TOOLS").is_none(),
        "watch_page_static needs its tools ({missing}; LIVECDN_REQUIRE_TOOLS is set)"
    );
    eprintln!("skipping watch_page_static: {missing}");
    false
}

/// Copies `web/dist` to `to`, each page's API base set to `api`: what a deployment does before
/// uploading the directory to its static host (web/README.md).
fn deploy_pages(api: &str, to: &Path) {
    fn copy(from: &Path, to: &Path, api: &str, pages: &mut usize) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let path = entry.unwrap().path();
            let target = to.join(path.file_name().unwrap());
            if path.is_dir() {
                copy(&path, &target, api, pages);
            } else if path.extension().is_some_and(|e| e == "html") {
                let html = std::fs::read_to_string(&path).unwrap();
                assert!(
                    html.contains(SAME_ORIGIN_META),
                    "{} has no {SAME_ORIGIN_META}",
                    path.display()
                );
                let meta = format!(r#"<meta name="livecdn-api" content="{api}">"#);
                std::fs::write(&target, html.replace(SAME_ORIGIN_META, &meta)).unwrap();
                *pages += 1;
            } else {
                std::fs::copy(&path, &target).unwrap();
            }
        }
    }
    let mut pages = 0;
    copy(&repo().join("web/dist"), to, api, &mut pages);
    assert_eq!(pages, 4, "web/dist has index, watch, host and ops");
}

/// Polls `url` until `ready(status, body)` or [`STARTUP_TIMEOUT`].
async fn wait_until(
    client: &reqwest::Client,
    url: &str,
    dev: &Process,
    ready: impl Fn(u16, &str) -> bool,
) {
    let step = Duration::from_millis(200);
    let mut last = String::new();
    for _ in 0..STARTUP_TIMEOUT.as_millis() / step.as_millis() {
        if let Ok(response) = client.get(url).send().await {
            let status = response.status().as_u16();
            let body = response.text().await.unwrap_or_default();
            if ready(status, &body) {
                return;
            }
            last = format!("{status} {body}");
        }
        tokio::time::sleep(step).await;
    }
    panic!(
        "{url} not ready within {STARTUP_TIMEOUT:?} (last: {last})\n{}",
        dev.stderr()
    );
}

/// The value of check `name`, asserting it passed.
fn passed<'a>(report: &'a Value, name: &str) -> &'a Value {
    let check = &report["checks"][name];
    assert!(
        check["ok"].as_bool() == Some(true),
        "check {name} failed: {}\nreport: {report}",
        check["error"]
    );
    &check["value"]
}

#[tokio::test(flavor = "multi_thread")]
async fn static_pages_on_another_origin_play_chat_and_moderate() {
    if !tools_present() {
        return;
    }
    let base = free_dev_port_base();
    let data = tempfile::tempdir().expect("data dir");
    let (base_arg, data_arg) = (base.to_string(), data.path().to_str().unwrap().to_owned());
    let dev = Process::start(
        &["dev", "--port-base", &base_arg, "--data-dir", &data_arg],
        &[],
    );
    let cp = format!("http://127.0.0.1:{base}");
    let client = reqwest::Client::new();
    wait_until(&client, &format!("{cp}/v1/live"), &dev, |s, b| {
        s == 200 && b.contains("\"demo\"")
    })
    .await;
    for region in ["eu", "us"] {
        wait_until(
            &client,
            &format!("{cp}/v1/play/demo?region={region}"),
            &dev,
            |s, _| s == 200,
        )
        .await;
        wait_until(
            &client,
            &format!("{cp}/v1/chat/demo?region={region}"),
            &dev,
            |s, _| s == 200,
        )
        .await;
    }

    let site = tempfile::tempdir().expect("static site dir");
    deploy_pages(&cp, site.path());
    let pages = StaticFiles::start(site.path());
    let pages_url = pages.url();
    assert_ne!(pages_url, cp, "two origins");
    let home = client.get(format!("{pages_url}/")).send().await.unwrap();
    assert_eq!(home.status(), 200);
    assert!(
        home.headers().get("access-control-allow-origin").is_none(),
        "a plain static host"
    );

    let mut script = tokio::process::Command::new("node");
    script
        .arg(player_dir().join("watch_page_static.mjs"))
        .arg(&pages_url)
        .arg(&cp)
        .current_dir(player_dir())
        .env("LIVECDN_ADMIN_TOKEN", ADMIN_TOKEN)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = script
        .spawn()
        .expect("spawn node tests/player/watch_page_static.mjs");
    let output = tokio::time::timeout(SCRIPT_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| {
            panic!("watch_page_static.mjs did not finish within {SCRIPT_TIMEOUT:?}")
        })
        .expect("watch_page_static.mjs output");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    println!("watch_page_static.mjs stderr:\n{stderr}");
    assert!(
        output.status.success(),
        "watch_page_static.mjs failed ({})\nstdout:\n{stdout}\nlivecdn stderr:\n{}",
        output.status,
        dev.stderr()
    );
    let report: Value = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("watch_page_static.mjs printed no JSON\n{stdout}"));
    println!("report: {report}");

    // Pages from the static origin, API calls to the control plane.
    let live = passed(&report, "home_lists_demo");
    assert!(
        live.as_array()
            .is_some_and(|s| s.iter().any(|n| n == "demo")),
        "home lists {live}"
    );
    assert!(
        passed(&report, "home_links_to_watch")
            .as_str()
            .is_some_and(|p| p.starts_with("/watch.html?stream=demo")),
        "the home page links to watch.html"
    );
    let play = passed(&report, "plays");
    assert!(
        play["advanced_s"].as_f64().is_some_and(|a| a > 3.0),
        "currentTime did not advance: {play}"
    );
    passed(&report, "nav_links_relative");
    passed(&report, "chat_across_origins");
    passed(&report, "wallet_and_gift_across_origins");
    passed(&report, "host_page_admin_calls");
    passed(&report, "ops_page_admin_calls");
    let by_host = report["api_requests"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let (cp_host, pages_host) = (
        cp.trim_start_matches("http://").to_owned(),
        pages_url.trim_start_matches("http://").to_owned(),
    );
    assert!(
        by_host.get(&cp_host).and_then(Value::as_u64).unwrap_or(0) > 5,
        "API calls by host: {by_host:?}"
    );
    assert!(
        !by_host.contains_key(&pages_host),
        "API calls went to the static host: {by_host:?}"
    );

    // Moderation.
    passed(&report, "viewer_has_no_moderation_controls");
    passed(&report, "moderator_login");
    passed(&report, "moderator_deletes_a_message");
    let timeout = passed(&report, "moderator_times_out_a_user");
    assert!(
        timeout["hint"]
            .as_str()
            .is_some_and(|h| h.contains("timed out")),
        "the muted user is told: {timeout}"
    );
    passed(&report, "moderator_lifts_the_timeout");
    let slow = passed(&report, "moderator_sets_slow_mode");
    assert_eq!(slow["slow_mode_s_in_viewer"], 30, "{slow}");
    let sent = passed(&report, "moderation_frames_sent");
    for frame in ["delete", "ban", "unban", "slow_mode"] {
        assert!(
            sent.as_array()
                .is_some_and(|s| s.iter().any(|t| t == frame)),
            "no {frame} sent: {sent}"
        );
    }

    for key in ["page_errors", "cors_errors", "failed_requests"] {
        let list = report[key].as_array().cloned().unwrap_or_default();
        assert!(list.is_empty(), "{key}: {list:?}");
    }
    drop(pages);
    drop(dev);
}
