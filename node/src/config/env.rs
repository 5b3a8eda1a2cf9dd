//! `LIVECDN_<ROLE>__A__B=value` environment overrides.

use super::ConfigError;

/// The environment prefix of a role: `env_prefix("control-plane")` = `LIVECDN_CONTROL_PLANE__`.
pub fn env_prefix(role: &str) -> String {
    format!("LIVECDN_{}__", role.to_ascii_uppercase().replace('-', "_"))
}

/// Applies every variable of `env` that starts with `prefix` to `table`, returning how many
/// applied. `LIVECDN_EDGE__CACHE__MAX_BYTES=1GiB` with prefix `LIVECDN_EDGE__` sets
/// `cache.max_bytes = "1GiB"`.
pub fn apply_env_overrides(
    table: &mut toml::Table,
    prefix: &str,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<usize, ConfigError> {
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(name, _)| name.starts_with(prefix))
        .collect();
    // Deterministic order, so a conflict always reports the same variable.
    vars.sort();
    for (var, raw) in &vars {
        let path: Vec<String> = var[prefix.len()..]
            .split("__")
            .map(str::to_ascii_lowercase)
            .collect();
        if path.iter().any(String::is_empty) {
            return Err(ConfigError::Env {
                var: var.clone(),
                message: "empty key segment (use `__` between keys)".to_owned(),
            });
        }
        set_path(table, &path, parse_value(raw)).map_err(|message| ConfigError::Env {
            var: var.clone(),
            message,
        })?;
    }
    Ok(vars.len())
}

/// A TOML literal when the text is one (`8081`, `true`, `"x"`, `[1, 2]`), else the text itself.
fn parse_value(raw: &str) -> toml::Value {
    let doc = format!("v = {raw}");
    match toml::from_str::<toml::Table>(&doc) {
        Ok(mut table) => table
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(raw.to_owned())),
        Err(_) => toml::Value::String(raw.to_owned()),
    }
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    let Some((last, parents)) = path.split_last() else {
        return Err("no key after the prefix".to_owned());
    };
    let mut current = table;
    for (depth, key) in parents.iter().enumerate() {
        let entry = current
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = match entry {
            toml::Value::Table(inner) => inner,
            _ => {
                return Err(format!(
                    "`{}` is not a table, so `{}` cannot be set",
                    path[..=depth].join("."),
                    path.join(".")
                ));
            }
        };
    }
    current.insert(last.clone(), value);
    Ok(())
}
