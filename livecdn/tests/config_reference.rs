//! `deploy/config/*.toml` parse with the real loader, contain every key of their role's config
//! type, and `docs/config.md` lists exactly those keys.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::Serialize;
use serde::de::DeserializeOwned;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Parses `deploy/config/<file>` with the loader the binary uses (no environment) and returns
/// the dotted key paths of the parsed config serialized back: every key the type has.
fn keys_of<T: DeserializeOwned + Serialize>(file: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let path = repo().join("deploy/config").join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let config: T = node::config::load_str(&text, file, "LIVECDN_TEST_NONE__", std::iter::empty())
        .unwrap_or_else(|e| panic!("{e}"));
    let typed = toml::Value::try_from(&config).unwrap();
    let in_file: toml::Value = toml::from_str(&text).unwrap();
    (leaf_paths(&typed, ""), leaf_paths(&in_file, ""))
}

fn leaf_paths(value: &toml::Value, prefix: &str) -> BTreeSet<String> {
    match value {
        toml::Value::Table(table) => table
            .iter()
            .flat_map(|(k, v)| {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaf_paths(v, &path)
            })
            .collect(),
        _ => BTreeSet::from([prefix.to_owned()]),
    }
}

/// The backticked keys in the first column of the table under `## <role>` in docs/config.md.
fn documented_keys(role: &str) -> BTreeSet<String> {
    let docs = std::fs::read_to_string(repo().join("docs/config.md")).unwrap();
    let section = docs
        .split("\n## ")
        .find(|s| s.starts_with(&format!("{role}\n")))
        .unwrap_or_else(|| panic!("docs/config.md has no section for {role}"));
    section
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split('`').next())
        .map(str::to_owned)
        .collect()
}

fn check<T: DeserializeOwned + Serialize>(role: &str, file: &str) {
    let (typed, in_file) = keys_of::<T>(file);
    let missing_in_file: Vec<_> = typed.difference(&in_file).collect();
    assert!(
        missing_in_file.is_empty(),
        "{file} lacks keys {missing_in_file:?}"
    );
    let documented = documented_keys(role);
    let undocumented: Vec<_> = typed.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "docs/config.md ({role}) lacks {undocumented:?}"
    );
    let stale: Vec<_> = documented.difference(&typed).collect();
    assert!(
        stale.is_empty(),
        "docs/config.md ({role}) lists keys the config does not have: {stale:?}"
    );
}

#[test]
fn origin_example_and_docs_cover_every_key() {
    check::<origin::OriginConfig>("origin", "origin.toml");
}

#[test]
fn edge_example_and_docs_cover_every_key() {
    check::<edge::EdgeConfig>("edge", "edge.toml");
}

#[test]
fn control_plane_example_and_docs_cover_every_key() {
    check::<control_plane::ControlPlaneConfig>("control-plane", "control-plane.toml");
}

#[test]
fn chat_relay_example_and_docs_cover_every_key() {
    check::<chat_relay::ChatRelayConfig>("chat-relay", "chat-relay.toml");
}

#[test]
fn dev_example_and_docs_cover_every_key() {
    check::<livecdn::dev::DevConfig>("dev", "dev.toml");
}

#[test]
fn every_key_in_an_example_has_a_comment_above_it() {
    for file in [
        "origin.toml",
        "edge.toml",
        "control-plane.toml",
        "chat-relay.toml",
        "dev.toml",
    ] {
        let text = std::fs::read_to_string(repo().join("deploy/config").join(file)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let is_key =
                !line.trim().is_empty() && !line.starts_with('#') && !line.starts_with('[');
            if is_key {
                assert!(
                    i > 0 && lines[i - 1].starts_with('#'),
                    "{file}: `{line}` has no comment above it"
                );
            }
        }
    }
}
