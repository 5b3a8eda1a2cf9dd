//! [`Redacted`]: keeps secrets (stream keys, tokens, client IPs) out of logs and debug output.

use std::fmt;

/// Wraps a secret so `Debug` and `Display` print a placeholder instead of the value.
///
/// ```
/// use livecdn_node::redact::Redacted;
/// let key = Redacted::new("sk_live_123".to_owned());
/// assert_eq!(format!("{key} {key:?}"), "[redacted] [redacted]");
/// assert_eq!(key.expose(), "sk_live_123");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Redacted<T>(T);

impl<T> Redacted<T> {
    /// Wraps `value`.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret itself, for the code that must use it (comparison, hashing, sending).
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<T> fmt::Display for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Serializes the secret itself: serialization is for writing configuration back out, never for
/// logs (which use `Debug`/`Display`).
impl<T: serde::Serialize> serde::Serialize for Redacted<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Redacted<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::Redacted;

    #[derive(Debug)]
    #[expect(dead_code, reason = "only the Debug output is inspected")]
    struct Login {
        user: String,
        token: Redacted<String>,
    }

    #[test]
    fn secret_never_appears_in_debug_of_containing_struct() {
        let login = Login {
            user: "ana".into(),
            token: Redacted::new("hunter2".into()),
        };
        let text = format!("{login:?} {login:#?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("ana"));
    }

    #[test]
    fn deserializes_transparently() {
        let t: Redacted<String> = serde_json::from_str("\"abc\"").unwrap();
        assert_eq!(t.expose(), "abc");
    }
}
