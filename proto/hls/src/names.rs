//! Validated strings that end up inside playlist attributes, so that a bad name can never break
//! a quoted-string or inject a line (RFC 8216bis §4.2: a quoted-string cannot contain `"`, CR
//! or LF).

use std::fmt;

/// Whether `name` is usable as a stream (or chat room) name, and so as a URL path segment and
/// a subscription: 1 to 64 ASCII letters, digits, `-` and `_`. Origin, edge, control plane and
/// chat relays all check names with this one rule.
pub fn is_valid_stream_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Longest rendition name.
pub const MAX_RENDITION_NAME_LEN: usize = 64;
/// Longest `CODECS` value.
pub const MAX_CODECS_LEN: usize = 256;

/// A rendition's directory name (`720p`, `audio_en`): 1 to 64 of `A-Z a-z 0-9 _ - .`, not `.`
/// or `..`. Used in `{rendition}/index.m3u8` and `../{rendition}/index.m3u8`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RenditionName(String);

impl RenditionName {
    /// Validates `name`.
    pub fn new(name: &str) -> Result<Self, NameError> {
        let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.');
        if name.is_empty() || name.len() > MAX_RENDITION_NAME_LEN {
            return Err(NameError::RenditionLength);
        }
        if !name.bytes().all(allowed) || name == "." || name == ".." {
            return Err(NameError::RenditionCharacters);
        }
        Ok(Self(name.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RenditionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A `CODECS` attribute value (RFC 6381 list, e.g. `avc1.64001f,mp4a.40.2`): 1 to 256 of
/// `A-Z a-z 0-9 . , _ - +`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Codecs(String);

impl Codecs {
    /// Validates `codecs`.
    pub fn new(codecs: &str) -> Result<Self, NameError> {
        let allowed =
            |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b',' | b'_' | b'-' | b'+');
        if codecs.is_empty() || codecs.len() > MAX_CODECS_LEN || !codecs.bytes().all(allowed) {
            return Err(NameError::Codecs);
        }
        Ok(Self(codecs.to_owned()))
    }

    /// The value as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A name or attribute value that cannot be written into a playlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Rendition name empty or longer than [`MAX_RENDITION_NAME_LEN`].
    #[error("rendition name must be 1 to 64 bytes")]
    RenditionLength,
    /// Rendition name with a character outside `A-Z a-z 0-9 _ - .`, or a dot path.
    #[error("rendition name has a character outside A-Z a-z 0-9 _ - .")]
    RenditionCharacters,
    /// Codecs value empty, too long or with a forbidden character.
    #[error("codecs must be 1 to 256 of A-Z a-z 0-9 . , _ - +")]
    Codecs,
}

impl NameError {
    /// A closed snake_case label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::RenditionLength => "rendition_length",
            Self::RenditionCharacters => "rendition_characters",
            Self::Codecs => "codecs",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendition_names() {
        assert!(RenditionName::new("720p").is_ok());
        assert!(RenditionName::new("audio_en-1.v2").is_ok());
        for bad in ["", ".", "..", "a/b", "a\"b", "a\nb", "é", &"a".repeat(65)] {
            assert!(RenditionName::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn codecs() {
        assert!(Codecs::new("avc1.64001f,mp4a.40.2").is_ok());
        assert!(Codecs::new("hvc1.1.6.L93.B0").is_ok());
        for bad in ["", "avc1\"", "a b", "x\r\n#EXT-X-ENDLIST"] {
            assert_eq!(
                Codecs::new(bad).map_err(|e| e.reason()),
                Err("codecs"),
                "{bad:?}"
            );
        }
    }
}
