use std::time::Duration;

use serde::Deserialize;

use super::sections::{LogSection, ShutdownSection};
use super::*;

#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
struct Sample {
    cache: Cache,
    log: LogSection,
    shutdown: ShutdownSection,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
struct Cache {
    max_bytes: bytesize::ByteSize,
    #[serde(with = "humantime_serde")]
    ttl: Duration,
    shards: u32,
}

impl Default for Cache {
    fn default() -> Self {
        Self {
            max_bytes: bytesize::ByteSize::mib(512),
            ttl: Duration::from_secs(30),
            shards: 4,
        }
    }
}

fn load(text: &str, env: &[(&str, &str)]) -> Result<Sample, ConfigError> {
    let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
    load_str(text, "test.toml", "LIVECDN_EDGE__", env)
}

#[test]
fn empty_file_gives_defaults() {
    assert_eq!(load("", &[]).unwrap(), Sample::default());
}

#[test]
fn sizes_and_durations_parse_from_human_text() {
    let cfg = load("[cache]\nmax_bytes = \"1GiB\"\nttl = \"200ms\"\n", &[]).unwrap();
    assert_eq!(cfg.cache.max_bytes, bytesize::ByteSize::gib(1));
    assert_eq!(cfg.cache.ttl, Duration::from_millis(200));
}

#[test]
fn env_overrides_file_and_parses_types() {
    let cfg = load(
        "[cache]\nmax_bytes = \"1GiB\"\n",
        &[
            ("LIVECDN_EDGE__CACHE__MAX_BYTES", "64MiB"),
            ("LIVECDN_EDGE__CACHE__SHARDS", "16"),
            ("LIVECDN_ORIGIN__CACHE__SHARDS", "99"),
            ("UNRELATED", "x"),
        ],
    )
    .unwrap();
    assert_eq!(cfg.cache.max_bytes, bytesize::ByteSize::mib(64));
    assert_eq!(cfg.cache.shards, 16);
}

#[test]
fn unknown_key_names_the_full_path() {
    let err = load("[cache]\nmax_byte = \"1GiB\"\n", &[]).unwrap_err();
    let line = err.to_string();
    assert!(
        matches!(&err, ConfigError::Invalid { key, .. } if key == "cache.max_byte"),
        "{line}"
    );
    assert!(!line.contains('\n'), "{line}");
}

#[test]
fn unknown_top_level_section_is_named() {
    let err = load("[cahce]\n", &[]).unwrap_err();
    assert!(
        matches!(&err, ConfigError::Invalid { key, .. } if key == "cahce"),
        "{err}"
    );
}

#[test]
fn wrong_type_names_the_key() {
    let err = load("[cache]\nshards = \"many\"\n", &[]).unwrap_err();
    assert!(
        matches!(&err, ConfigError::Invalid { key, .. } if key == "cache.shards"),
        "{err}"
    );
    assert!(err.to_string().contains("invalid type"), "{err}");
}

#[test]
fn bad_duration_names_the_key() {
    let err = load("[shutdown]\ndrain_deadline = \"10 parsecs\"\n", &[]).unwrap_err();
    assert!(
        matches!(&err, ConfigError::Invalid { key, .. } if key == "shutdown.drain_deadline"),
        "{err}"
    );
    assert!(!err.to_string().contains('\n'));
}

#[test]
fn bad_log_filter_names_the_key() {
    let err = load("[log]\nlevel = \"info,=[\"\n", &[]).unwrap_err();
    assert!(
        matches!(&err, ConfigError::Invalid { key, .. } if key == "log.level"),
        "{err}"
    );
}

#[test]
fn bad_env_value_names_the_key_and_the_environment() {
    let err = load("", &[("LIVECDN_EDGE__CACHE__SHARDS", "lots")]).unwrap_err();
    let line = err.to_string();
    assert!(
        matches!(&err, ConfigError::Invalid { key, .. } if key == "cache.shards"),
        "{line}"
    );
    assert!(line.contains("environment"), "{line}");
}

#[test]
fn env_into_a_scalar_is_refused() {
    let err = load(
        "[log]\nformat = \"json\"\n",
        &[("LIVECDN_EDGE__LOG__FORMAT__X", "1")],
    )
    .unwrap_err();
    assert!(matches!(err, ConfigError::Env { .. }), "{err}");
}

#[test]
fn syntax_error_gives_the_line() {
    let err = load("[cache]\nmax_bytes = = 3\n", &[]).unwrap_err();
    assert!(matches!(err, ConfigError::Syntax { line: 2, .. }), "{err}");
    assert!(!err.to_string().contains('\n'));
}

#[test]
fn env_prefix_of_dashed_role() {
    assert_eq!(env_prefix("control-plane"), "LIVECDN_CONTROL_PLANE__");
}
