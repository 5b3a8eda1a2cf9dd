//! The deploy kit (`deploy/`) against the real binary: every metric the Prometheus alert rules
//! and the Grafana dashboards name exists in the scrape of a `livecdn dev` cluster; promtool
//! accepts the rules, their unit tests, the scrape config and every dashboard query; the
//! systemd units carry the settings the deploy guide promises and `systemd-analyze verify`
//! accepts them.
//!
//! promtool (Debian: the `prometheus` package) is required when `LIVECDN_REQUIRE_TOOLS` is
//! set, skipped otherwise. `systemd-analyze` is always optional: containers often lack it.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::{Process, free_dev_port_base, parse_metrics};

/// Offsets from `--port-base` of every dev node's HTTP listener: control plane, origin, edge A,
/// edge B, chat relay A, chat relay B.
const NODE_OFFSETS: [u16; 6] = [0, 80, 81, 82, 91, 92];
/// The RTMP port of the dev origin is `port_base - 6065` (1935 for the default 8000).
const RTMP_OFFSET: u16 = 6065;
/// The roles that have a systemd unit and an example config.
const ROLES: [&str; 4] = ["origin", "edge", "control-plane", "chat-relay"];

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Files in `dir` whose names end with `suffix`, sorted.
fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.to_str().is_some_and(|s| s.ends_with(suffix)))
        .collect();
    found.sort();
    found
}

/// The alert rule files (not their promtool unit tests).
fn rule_files() -> Vec<PathBuf> {
    let files: Vec<PathBuf> = files(&deploy_dir().join("prometheus/rules"), ".yml")
        .into_iter()
        .filter(|p| !p.to_str().unwrap().ends_with(".test.yml"))
        .collect();
    assert!(
        !files.is_empty(),
        "no rule files in deploy/prometheus/rules"
    );
    files
}

fn dashboards() -> Vec<PathBuf> {
    let files = files(&deploy_dir().join("grafana"), ".json");
    assert!(!files.is_empty(), "no dashboards in deploy/grafana");
    files
}

/// The `expr` values of a Prometheus rule file: inline (`expr: up == 0`, quoted or not) or
/// block scalars (`expr: |` and the more-indented lines after it). Comment lines are skipped,
/// so commented-out rules do not count.
fn rule_exprs(yaml: &str) -> Vec<String> {
    let lines: Vec<&str> = yaml.lines().collect();
    let mut exprs = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        let trimmed = line.trim_start();
        let Some(rest) = trimmed.strip_prefix("expr:") else {
            continue;
        };
        let rest = rest.trim();
        if rest.starts_with('|') || rest.starts_with('>') {
            let indent = line.len() - trimmed.len();
            let mut block = String::new();
            while i < lines.len() {
                let next = lines[i];
                let next_trimmed = next.trim_start();
                if !next_trimmed.is_empty() && next.len() - next_trimmed.len() <= indent {
                    break;
                }
                block.push_str(next_trimmed);
                block.push('\n');
                i += 1;
            }
            exprs.push(block);
        } else {
            let unquoted = rest
                .strip_prefix('"')
                .and_then(|r| r.strip_suffix('"'))
                .or_else(|| rest.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')))
                .unwrap_or(rest);
            exprs.push(unquoted.to_owned());
        }
    }
    exprs
}

/// Every PromQL text of a dashboard: panel targets' `expr`, and the template variables'
/// queries (`label_values(metric, label)`) under `query` and `definition`.
fn dashboard_queries(json: &serde_json::Value, out: &mut Vec<(String, bool)>) {
    match json {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("expr", serde_json::Value::String(s)) => out.push((s.clone(), true)),
                    ("query" | "definition", serde_json::Value::String(s)) => {
                        out.push((s.clone(), false));
                    }
                    _ => dashboard_queries(value, out),
                }
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                dashboard_queries(item, out);
            }
        }
        _ => {}
    }
}

/// The metric names a PromQL expression selects: identifiers `livecdn_…`, `process_…` and
/// `up`, outside string literals (label values such as `job="livecdn-edge"`). Recording-rule
/// names (with `:`) are not metrics of a node.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let chars: Vec<char> = expr.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i += 1;
            while i < chars.len() && chars[i] != c {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
        } else if c.is_ascii_digit() {
            // Numbers and durations: 0.9, 1e10, 5m.
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "_:".contains(chars[i])) {
                i += 1;
            }
            let ident: String = chars[start..i].iter().collect();
            let is_metric =
                ident.starts_with("livecdn_") || ident.starts_with("process_") || ident == "up";
            if is_metric && !ident.contains(':') {
                names.insert(ident);
            }
        } else {
            i += 1;
        }
    }
    names
}

#[test]
fn metric_names_are_extracted_from_promql() {
    let names = metric_names(
        r#"sum by (job, le) (rate(livecdn_relay_part_arrival_delay_seconds_bucket{job="livecdn-edge", region=~"$region"}[5m])) * 8 / 1e10
           or up{job=~"livecdn-.*"} == 0 or livecdn:recorded:rate5m and process_open_fds / 20000"#,
    );
    let expected = [
        "livecdn_relay_part_arrival_delay_seconds_bucket",
        "process_open_fds",
        "up",
    ];
    assert_eq!(names, expected.iter().map(|s| (*s).to_owned()).collect());
    let yaml = "rules:\n  # - alert: Old\n  #   expr: livecdn_gone_total > 0\n  - alert: A\n    expr: up == 0\n    for: 1m\n  - alert: B\n    expr: |\n      rate(livecdn_x_total[1m])\n        > 0\n    for: 5m\n  - alert: C\n    expr: \"livecdn_y > 1\"\n";
    assert_eq!(
        rule_exprs(yaml),
        [
            "up == 0",
            "rate(livecdn_x_total[1m])\n> 0\n",
            "livecdn_y > 1"
        ]
    );
}

/// Every metric the active rules and the dashboards use, with the files that use it.
fn used_metrics() -> BTreeMap<String, BTreeSet<String>> {
    let mut used: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in rule_files() {
        let text = read(&path);
        let exprs = rule_exprs(&text);
        let rules = text
            .lines()
            .map(str::trim_start)
            .filter(|l| l.starts_with("- alert:") || l.starts_with("- record:"))
            .count();
        assert_eq!(
            exprs.len(),
            rules,
            "{}: every active rule should have one expr",
            path.display()
        );
        for expr in exprs {
            for name in metric_names(&expr) {
                used.entry(name).or_default().insert(file_name(&path));
            }
        }
    }
    for path in dashboards() {
        let json: serde_json::Value = serde_json::from_str(&read(&path))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut queries = Vec::new();
        dashboard_queries(&json, &mut queries);
        assert!(
            queries.iter().any(|(_, is_expr)| *is_expr),
            "{}: no panel queries",
            path.display()
        );
        for (query, _) in queries {
            for name in metric_names(&query) {
                used.entry(name).or_default().insert(file_name(&path));
            }
        }
    }
    used
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// GETs `url` until it answers 200 or `timeout` passes.
async fn wait_for_200(client: &reqwest::Client, url: &str, timeout: Duration, cluster: &Process) {
    let step = Duration::from_millis(200);
    let mut last = String::from("no answer");
    for _ in 0..(timeout.as_millis() / step.as_millis()) {
        match client.get(url).send().await {
            Ok(response) if response.status() == 200 => return,
            Ok(response) => last = format!("status {}", response.status()),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(step).await;
    }
    panic!(
        "{url} did not answer 200 within {timeout:?} (last: {last}); cluster stderr:\n{}",
        cluster.stderr()
    );
}

/// Sends a non-RTMP greeting to the RTMP port and waits for the origin to close it, so
/// `livecdn_origin_rtmp_errors_total{reason}` has a series.
fn bad_rtmp_handshake(port: u16) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect RTMP");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut greeting = b"GET / HTTP/1.1\r\n\r\n".to_vec();
    greeting.resize(1600, b'x');
    // The origin may close before reading everything; what matters is that it refuses.
    let _ = stream.write_all(&greeting);
    let mut sink = [0u8; 4096];
    while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
}

/// Every sample name in one node's scrape; a histogram appears as `<name>_bucket` (and its
/// `_sum` and `_count` samples under their own names).
fn sample_names(text: &str) -> BTreeSet<String> {
    parse_metrics(text)
        .samples
        .into_iter()
        .map(|s| match s.value {
            prometheus_parse::Value::Histogram(_) => format!("{}_bucket", s.metric),
            _ => s.metric,
        })
        .collect()
}

#[tokio::test]
async fn every_metric_the_rules_and_dashboards_use_exists() {
    let used = used_metrics();
    assert!(
        used.len() >= 20,
        "suspiciously few metrics found in deploy/: {used:?}"
    );

    let base = free_dev_port_base();
    let data = tempfile::tempdir().unwrap();
    let cluster = Process::start(
        &[
            "dev",
            "--port-base",
            &base.to_string(),
            "--data-dir",
            data.path().to_str().unwrap(),
        ],
        &[],
    );
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = |offset: u16, path: &str| format!("http://127.0.0.1:{}{path}", base + offset);

    // The demo stream plays from edge B (origin → edge A → edge B).
    wait_for_200(
        &client,
        &url(82, "/live/demo/source/index.m3u8"),
        Duration::from_secs(40),
        &cluster,
    )
    .await;
    // Requests that create label sets which only exist once something happened: routing,
    // a refused admin call, a 404, 400s for bad LL-HLS queries, a broken RTMP handshake.
    let touches = [
        (0, "/v1/play/demo", 302),
        (0, "/v1/streams", 401),
        (81, "/no/such/route", 404),
        (80, "/live/demo/source/index.m3u8", 200),
        (80, "/live/demo/source/index.m3u8?_HLS_part=1", 400),
        (82, "/live/demo/source/index.m3u8?_HLS_msn=abc", 400),
        (91, "/healthz", 200),
        (92, "/healthz", 200),
    ];
    for (offset, path, expected) in touches {
        let response = client.get(url(offset, path)).send().await.unwrap();
        assert_eq!(
            response.status().as_u16(),
            expected,
            "GET {path} on port base+{offset}"
        );
    }
    bad_rtmp_handshake(base - RTMP_OFFSET);

    // Some series appear a moment later (replication, heartbeats): scrape until every used
    // metric is found or the deadline passes.
    let mut missing: Vec<String> = Vec::new();
    for _ in 0..40 {
        let mut exported = BTreeSet::new();
        for offset in NODE_OFFSETS {
            let text = client
                .get(url(offset, "/metrics"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            exported.extend(sample_names(&text));
        }
        missing = used
            .keys()
            // `up` is made by Prometheus for every target, not exported by a node.
            .filter(|name| name.as_str() != "up" && !exported.contains(name.as_str()))
            .cloned()
            .collect();
        if missing.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let report: Vec<String> = missing
        .iter()
        .map(|name| format!("{name} (used in {:?})", used[name]))
        .collect();
    assert!(
        missing.is_empty(),
        "metrics used in deploy/ but exported by no node of `livecdn dev`:\n{}",
        report.join("\n")
    );
}

/// True when `tool` runs; otherwise skips (returns false), or fails when `required` and
/// `LIVECDN_REQUIRE_TOOLS` is set.
fn have_tool(tool: &str, version_arg: &str, required: bool) -> bool {
    if Command::new(tool).arg(version_arg).output().is_ok() {
        return true;
    }
    assert!(
        !required || std::env::var_os("LIVECDN_REQUIRE_TOOLS").is_none(),
        "{tool} is required (LIVECDN_REQUIRE_TOOLS is set); Debian: apt-get install prometheus"
    );
    eprintln!("skipping: {tool} not installed");
    false
}

fn run_tool(tool: &str, args: &[&str], dir: &Path) -> (bool, String) {
    let output = Command::new(tool)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn promtool_accepts_rules_tests_config_and_dashboard_queries() {
    if !have_tool("promtool", "--version", true) {
        return;
    }
    let prometheus = deploy_dir().join("prometheus");
    let rules = rule_files();
    let tests = files(&prometheus.join("rules"), ".test.yml");
    assert!(
        !tests.is_empty(),
        "no promtool unit tests in deploy/prometheus/rules"
    );
    let mut checks: Vec<Vec<String>> = vec![
        ["check", "config", "prometheus.yml"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for path in &rules {
        checks.push(vec![
            "check".into(),
            "rules".into(),
            path.to_str().unwrap().into(),
        ]);
    }
    for path in &tests {
        checks.push(vec![
            "test".into(),
            "rules".into(),
            path.to_str().unwrap().into(),
        ]);
    }

    // Every dashboard query must be valid PromQL: check them as recording rules, with
    // Grafana's variables replaced by values.
    let dir = tempfile::tempdir().unwrap();
    let mut yaml = String::from("groups:\n  - name: dashboards\n    rules:\n");
    let mut count = 0;
    for path in dashboards() {
        let json: serde_json::Value = serde_json::from_str(&read(&path)).unwrap();
        let mut queries = Vec::new();
        dashboard_queries(&json, &mut queries);
        for (query, _) in queries.into_iter().filter(|(_, is_expr)| *is_expr) {
            let promql = query
                .replace("$__rate_interval", "5m")
                .replace("$region", ".*")
                .replace("$instance", ".*")
                .replace("$stream", ".*");
            assert!(
                !promql.contains('$'),
                "{}: unknown variable in {query}",
                path.display()
            );
            count += 1;
            // A JSON string is a valid YAML double-quoted scalar.
            yaml.push_str(&format!(
                "      - record: dashboard:query:{count}\n        expr: {}\n",
                serde_json::Value::String(promql)
            ));
        }
    }
    let dashboard_rules = dir.path().join("dashboards.rules.yml");
    std::fs::write(&dashboard_rules, yaml).unwrap();
    checks.push(vec![
        "check".into(),
        "rules".into(),
        dashboard_rules.to_str().unwrap().into(),
    ]);

    for args in checks {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (ok, output) = run_tool("promtool", &args, &prometheus);
        assert!(ok, "promtool {} failed:\n{output}", args.join(" "));
    }
}

/// A systemd or livecdn duration: `30s`, `500ms`, `1m`, `1min`.
fn seconds(text: &str) -> f64 {
    let text = text.trim().trim_matches('"');
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .unwrap_or_else(|_| panic!("duration {text:?}"));
    number
        * match unit {
            "ms" => 0.001,
            "" | "s" | "sec" => 1.0,
            "m" | "min" => 60.0,
            other => panic!("unit {other:?} in {text:?}"),
        }
}

/// The values of `key=` lines in a unit file (a key may repeat).
fn unit_values<'a>(unit: &'a str, key: &str) -> Vec<&'a str> {
    unit.lines()
        .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .collect()
}

#[test]
fn systemd_units_are_hardened_and_outlast_the_drain() {
    let systemd = deploy_dir().join("systemd");
    for role in ROLES {
        let path = systemd.join(format!("livecdn-{role}.service"));
        let unit = read(&path);
        let one = |key: &str| -> &str {
            let values = unit_values(&unit, key);
            assert_eq!(values.len(), 1, "{}: one {key}= expected", path.display());
            values[0]
        };
        let config = format!("/etc/livecdn/{role}.toml");
        assert_eq!(
            one("ExecStart"),
            format!("/usr/local/bin/livecdn {role} --config {config}")
        );
        assert_eq!(
            one("ExecStartPre"),
            format!("/usr/local/bin/livecdn check-config --role {role} {config}")
        );
        assert_eq!(one("EnvironmentFile"), format!("-/etc/livecdn/{role}.env"));
        for (key, value) in [
            ("KillSignal", "SIGTERM"),
            ("Restart", "on-failure"),
            ("ProtectSystem", "strict"),
            ("ProtectHome", "yes"),
            ("NoNewPrivileges", "yes"),
            ("PrivateTmp", "yes"),
            ("PrivateDevices", "yes"),
            ("MemoryDenyWriteExecute", "yes"),
            ("CapabilityBoundingSet", ""),
            ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
            ("User", "livecdn"),
            ("StateDirectory", &format!("livecdn/{role}")),
        ] {
            assert_eq!(one(key), value, "{}: {key}", path.display());
        }
        assert!(
            unit_values(&unit, "SystemCallFilter").contains(&"@system-service"),
            "{}: SystemCallFilter=@system-service",
            path.display()
        );
        let nofile: u64 = one("LimitNOFILE").parse().unwrap();
        let least = if role == "edge" { 1_048_576 } else { 65_536 };
        assert!(nofile >= least, "{}: LimitNOFILE {nofile}", path.display());

        // systemd's stop timeout must outlast the node's drain, or SIGKILL cuts it short.
        let example = read(&deploy_dir().join(format!("config/{role}.toml")));
        let drain = example
            .lines()
            .find_map(|l| l.strip_prefix("drain_deadline = "))
            .map_or(10.0, seconds);
        let stop = seconds(one("TimeoutStopSec"));
        assert!(
            stop >= drain + 5.0,
            "{}: TimeoutStopSec {stop}s vs drain_deadline {drain}s",
            path.display()
        );
    }

    if !have_tool("systemd-analyze", "--version", false) {
        return;
    }
    // Verify copies whose ExecStart points at the binary under test (verify checks that the
    // command exists and is executable).
    let dir = tempfile::tempdir().unwrap();
    let bin = support::livecdn_bin();
    let mut copies = Vec::new();
    for role in ROLES {
        let name = format!("livecdn-{role}.service");
        let unit =
            read(&systemd.join(&name)).replace("/usr/local/bin/livecdn", bin.to_str().unwrap());
        let copy = dir.path().join(&name);
        std::fs::write(&copy, unit).unwrap();
        copies.push(copy.to_str().unwrap().to_owned());
    }
    let mut args = vec!["verify"];
    args.extend(copies.iter().map(String::as_str));
    let (ok, output) = run_tool("systemd-analyze", &args, dir.path());
    // Unknown keys and bad values are warnings (exit 0) that name the file: none allowed.
    let warnings: Vec<&str> = output.lines().filter(|l| l.contains("livecdn-")).collect();
    assert!(
        ok && warnings.is_empty(),
        "systemd-analyze verify:\n{output}"
    );
}
