//! The command line: help of every subcommand, config errors (exit 64, one line naming the
//! key), check-config on the shipped examples, and certs.

use support::{assert_no_panic, run};

const SUBCOMMANDS: [&str; 7] = [
    "origin",
    "edge",
    "control-plane",
    "chat-relay",
    "dev",
    "check-config",
    "certs",
];

#[test]
fn help_of_the_binary_lists_every_subcommand() {
    let (status, stdout, _) = run(&["--help"], &[]);
    assert!(status.success());
    for sub in SUBCOMMANDS {
        assert!(stdout.contains(sub), "--help lacks {sub}:\n{stdout}");
    }
}

#[test]
fn help_of_every_subcommand_succeeds_and_roles_say_what_is_not_implemented() {
    for sub in SUBCOMMANDS {
        let (status, stdout, stderr) = run(&[sub, "--help"], &[]);
        assert!(status.success(), "{sub} --help failed: {stderr}");
        assert!(stdout.contains("Usage: livecdn"), "{sub} --help:\n{stdout}");
        if ["origin", "edge", "control-plane", "chat-relay"].contains(&sub) {
            assert!(stdout.contains("--config"), "{sub} --help lacks --config");
        }
        if ["chat-relay"].contains(&sub) {
            assert!(
                stdout.contains("/ws?room=ROOM&token=TOKEN") && stdout.contains("federation links"),
                "{sub} --help must say what it serves and what is missing:\n{stdout}"
            );
        }
    }
    let (_, origin_help, _) = run(&["origin", "--help"], &[]);
    assert!(
        origin_help.contains("rtmp://HOST:1935/live/{stream_key}"),
        "{origin_help}"
    );
    let (_, dev_help, _) = run(&["dev", "--help"], &[]);
    for flag in ["--port-base", "--data-dir", "--no-demo", "--config"] {
        assert!(dev_help.contains(flag), "dev --help lacks {flag}");
    }
}

#[test]
fn shipped_examples_pass_check_config() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/config");
    for role in ["origin", "edge", "control-plane", "chat-relay", "dev"] {
        let file = format!("{dir}/{role}.toml");
        let (status, stdout, stderr) = run(&["check-config", "--role", role, &file], &[]);
        assert!(status.success(), "{role}: {stderr}");
        assert!(
            stdout.contains(&format!("valid {role} configuration")),
            "{stdout}"
        );
    }
}

/// Writes `text` to a temp file and runs `check-config --role ROLE` and the role itself on it.
fn assert_invalid(role: &str, text: &str, env: &[(&str, &str)], key: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, text).unwrap();
    let file = file.to_str().unwrap();
    for args in [
        vec!["check-config", "--role", role, file],
        vec![role, "--config", file],
    ] {
        let (status, _, stderr) = run(&args, env);
        assert_eq!(status.code(), Some(64), "{args:?}: {stderr}");
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "{args:?}: not one line:\n{stderr}"
        );
        assert!(stderr.starts_with("Invalid configuration: "), "{stderr}");
        assert!(
            stderr.contains(&format!("key `{key}`")),
            "{args:?}: key {key} not named:\n{stderr}"
        );
        assert_no_panic(&stderr);
    }
}

#[test]
fn unknown_key_exits_64_naming_it() {
    assert_invalid(
        "edge",
        "[cache]\nmax_byte = \"1GiB\"\n",
        &[],
        "cache.max_byte",
    );
}

#[test]
fn wrong_type_exits_64_naming_the_key() {
    assert_invalid("origin", "[http]\nlisten = 8080\n", &[], "http.listen");
}

#[test]
fn bad_duration_exits_64_naming_the_key() {
    assert_invalid(
        "chat-relay",
        "[shutdown]\ndrain_deadline = \"soon\"\n",
        &[],
        "shutdown.drain_deadline",
    );
}

#[test]
fn bad_size_exits_64_naming_the_key() {
    assert_invalid(
        "edge",
        "[cache]\nmax_bytes = \"lots\"\n",
        &[],
        "cache.max_bytes",
    );
}

#[test]
fn bad_environment_override_exits_64_naming_the_key() {
    assert_invalid(
        "edge",
        "",
        &[("LIVECDN_EDGE__CACHE__MAX_BYTES", "-5 apples")],
        "cache.max_bytes",
    );
}

#[test]
fn unreadable_and_malformed_files_fail_in_one_line() {
    let (status, _, stderr) = run(&["edge", "--config", "/nonexistent/edge.toml"], &[]);
    assert_eq!(status.code(), Some(64));
    assert!(
        stderr.contains("/nonexistent/edge.toml") && stderr.trim_end().lines().count() == 1,
        "{stderr}"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.toml");
    std::fs::write(&file, "[http\nlisten = ").unwrap();
    let (status, _, stderr) = run(
        &["check-config", "--role", "edge", file.to_str().unwrap()],
        &[],
    );
    assert_eq!(status.code(), Some(64));
    assert!(stderr.contains("invalid TOML at line 1"), "{stderr}");
    assert_no_panic(&stderr);
}

#[test]
fn certs_writes_a_ca_and_the_dev_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("certs");
    let (status, stdout, stderr) = run(&["certs", "--out", out.to_str().unwrap()], &[]);
    assert!(status.success(), "{stderr}");
    for name in [
        "ca",
        "origin",
        "edge-a",
        "edge-b",
        "control-plane",
        "chat-relay-a",
        "chat-relay-b",
    ] {
        assert!(
            out.join(format!("{name}.pem")).exists(),
            "{name}.pem missing:\n{stdout}"
        );
        assert!(
            out.join(format!("{name}.key")).exists(),
            "{name}.key missing"
        );
    }
    let (status, _, stderr) = run(
        &[
            "certs",
            "--out",
            out.to_str().unwrap(),
            "--node",
            "bad name",
        ],
        &[],
    );
    assert!(!status.success());
    assert!(stderr.contains("invalid node name"), "{stderr}");
    assert_no_panic(&stderr);
}
