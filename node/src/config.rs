//! Configuration loading: TOML file, then environment overrides, then typed deserialization.
//!
//! Role configs are plain serde structs with `#[serde(deny_unknown_fields)]` whose `///`
//! comments are the user documentation (meaning, unit, default). This module turns a file plus
//! the environment into such a struct, or into a [`ConfigError`] whose `Display` is one line
//! naming the key path, e.g. `edge.toml: key `cache.max_bytes`: invalid type: ...`.
//!
//! Environment overrides: `LIVECDN_<ROLE>__<SECTION>__<KEY>=value` sets `section.key` (the
//! role prefix is given by the caller, e.g. [`env_prefix`]`("edge")` = `LIVECDN_EDGE__`). The
//! value is read as a TOML value when it parses as one (`8081`, `true`, `["a"]`, `"quoted"`)
//! and as a string otherwise (`10s`, `512MiB`, `127.0.0.1:8081`).

mod env;
pub mod sections;

use std::path::Path;

use serde::de::DeserializeOwned;

pub use env::{apply_env_overrides, env_prefix};

/// Process exit status for an invalid configuration (`EX_USAGE` from sysexits.h).
pub const EXIT_INVALID_CONFIG: i32 = 64;

/// Why a configuration could not be loaded. `Display` is always a single line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {error}")]
    Read {
        /// The file.
        path: String,
        /// The IO error.
        error: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("{origin}: invalid TOML at line {line}: {message}")]
    Syntax {
        /// The file (or `<string>`).
        origin: String,
        /// 1-based line of the error.
        line: usize,
        /// The parser's message.
        message: String,
    },
    /// A key has a wrong type or value, is unknown, or is missing.
    #[error("{origin}: key `{key}`: {message}")]
    Invalid {
        /// The file (or `<string>`), with `+ environment` when overrides applied.
        origin: String,
        /// Dotted key path, e.g. `cache.max_bytes`.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// An environment override could not be applied.
    #[error("environment variable {var}: {message}")]
    Env {
        /// The variable name.
        var: String,
        /// What is wrong.
        message: String,
    },
}

/// Loads `path`, applies the process environment's overrides under `prefix`, and
/// deserializes the result.
pub fn load_file<T: DeserializeOwned>(path: &Path, prefix: &str) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
        path: path.display().to_string(),
        error,
    })?;
    load_str(&text, &path.display().to_string(), prefix, std::env::vars())
}

/// Loads the defaults (an empty file) with the process environment's overrides applied.
pub fn load_defaults<T: DeserializeOwned>(prefix: &str) -> Result<T, ConfigError> {
    load_str("", "<defaults>", prefix, std::env::vars())
}

/// Parses `text` (named `origin` in errors), applies overrides from `env` whose names start
/// with `prefix`, and deserializes into `T`.
pub fn load_str<T: DeserializeOwned>(
    text: &str,
    origin: &str,
    prefix: &str,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<T, ConfigError> {
    let mut table: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Syntax {
        origin: origin.to_owned(),
        line: e.span().map_or(1, |s| line_of(text, s.start)),
        message: first_line(e.message()),
    })?;
    let applied = apply_env_overrides(&mut table, prefix, env)?;
    let origin = if applied > 0 {
        format!("{origin} + environment")
    } else {
        origin.to_owned()
    };
    serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
        let message = first_line(&e.inner().to_string());
        let key = key_path(&e.path().to_string(), &message);
        ConfigError::Invalid {
            origin,
            key,
            message,
        }
    })
}

/// The dotted key an error is about. For an unknown field serde reports the enclosing table's
/// path, so the field's own name (quoted in the message) is appended.
fn key_path(path: &str, message: &str) -> String {
    let parent = if path == "." { "" } else { path };
    let unknown = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next());
    match (parent, unknown) {
        (parent, Some(field)) if parent == field || parent.ends_with(&format!(".{field}")) => {
            parent.to_owned()
        }
        ("", Some(field)) => field.to_owned(),
        (parent, Some(field)) => format!("{parent}.{field}"),
        ("", None) => "(root)".to_owned(),
        (parent, None) => parent.to_owned(),
    }
}

fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or_default().trim().to_owned()
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(1, |before| before.matches('\n').count() + 1)
}

#[cfg(test)]
mod tests;
