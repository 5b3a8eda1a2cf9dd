//! AMF0 values: the typed [`Amf0Value`], its encoder, and a bounded decoder.
//!
//! Implements the AMF0 specification (Adobe, 2007), section 2. Markers we
//! never see from publishers (movieclip, reference, recordset, typed object,
//! AVM+ switch) are refused with [`Amf0Error::UnsupportedMarker`] rather than
//! half-parsed.

use bytes::BufMut;

mod decode;

pub use decode::{decode, decode_all};

/// Deepest nesting of objects/arrays the decoder accepts. Real metadata and
/// command objects nest two or three levels; the limit stops stack bombs.
pub const MAX_AMF_DEPTH: usize = 32;

/// Most values (scalars and containers, counted together) one decode call
/// accepts. Each value costs at least one input byte, so this bounds work and
/// allocation even when a declared array count lies.
pub const MAX_AMF_ITEMS: usize = 16_384;

/// A decoded AMF0 value.
///
/// Strings and long strings share [`Amf0Value::String`]: the encoder picks the
/// long-string marker only when the UTF-8 length exceeds `u16::MAX`, so
/// `decode(encode(v)) == v` holds. Object-like values keep property order
/// (some encoders and players care), hence `Vec` rather than a map.
#[derive(Debug, Clone, PartialEq)]
pub enum Amf0Value {
    /// `0x00` IEEE-754 double.
    Number(f64),
    /// `0x01` boolean.
    Boolean(bool),
    /// `0x02` string or `0x0C` long string.
    String(String),
    /// `0x03` anonymous object, properties in wire order.
    Object(Vec<(String, Amf0Value)>),
    /// `0x05` null.
    Null,
    /// `0x06` undefined.
    Undefined,
    /// `0x08` ECMA array (associative); the wire count is advisory and ignored.
    EcmaArray(Vec<(String, Amf0Value)>),
    /// `0x0A` strict (dense) array.
    StrictArray(Vec<Amf0Value>),
    /// `0x0B` date: milliseconds since the Unix epoch plus a (deprecated) time zone.
    Date {
        /// Milliseconds since 1970-01-01 UTC.
        millis: f64,
        /// Time-zone offset in minutes; the spec says to send 0.
        timezone: i16,
    },
    /// `0x0F` XML document, kept as text.
    XmlDocument(String),
}

/// Why AMF0 bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Amf0Error {
    /// The input ended inside a value.
    #[error("amf0 input truncated")]
    Truncated,
    /// A type marker outside the AMF0 table.
    #[error("unknown amf0 marker {0:#04x}")]
    UnknownMarker(u8),
    /// A valid marker this implementation deliberately does not decode.
    #[error("unsupported amf0 marker {0:#04x}")]
    UnsupportedMarker(u8),
    /// An object-end marker where a value was expected.
    #[error("unexpected amf0 object end")]
    UnexpectedObjectEnd,
    /// A string that is not UTF-8.
    #[error("amf0 string is not utf-8")]
    InvalidUtf8,
    /// Nesting deeper than [`MAX_AMF_DEPTH`].
    #[error("amf0 nesting deeper than {MAX_AMF_DEPTH}")]
    TooDeep,
    /// More values than [`MAX_AMF_ITEMS`].
    #[error("more than {MAX_AMF_ITEMS} amf0 values")]
    TooManyItems,
}

impl Amf0Error {
    /// Short, closed-set label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooDeep => "amf_too_deep",
            Self::TooManyItems => "amf_too_many_items",
            Self::Truncated
            | Self::UnknownMarker(_)
            | Self::UnsupportedMarker(_)
            | Self::UnexpectedObjectEnd
            | Self::InvalidUtf8 => "amf_decode",
        }
    }
}

impl Amf0Value {
    /// Append the AMF0 encoding of `self` to `out`. Encoding cannot fail:
    /// strings longer than `u32::MAX` bytes cannot exist in practice and are
    /// truncated to that length rather than panicking.
    pub fn encode(&self, out: &mut impl BufMut) {
        match self {
            Self::Number(n) => {
                out.put_u8(0x00);
                out.put_f64(*n);
            }
            Self::Boolean(b) => {
                out.put_u8(0x01);
                out.put_u8(u8::from(*b));
            }
            Self::String(s) => match u16::try_from(s.len()) {
                Ok(len) => {
                    out.put_u8(0x02);
                    out.put_u16(len);
                    out.put_slice(s.as_bytes());
                }
                Err(_) => {
                    out.put_u8(0x0C);
                    put_long_utf8(out, s);
                }
            },
            Self::Object(props) => {
                out.put_u8(0x03);
                encode_props(props, out);
            }
            Self::Null => out.put_u8(0x05),
            Self::Undefined => out.put_u8(0x06),
            Self::EcmaArray(props) => {
                out.put_u8(0x08);
                out.put_u32(u32::try_from(props.len()).unwrap_or(u32::MAX));
                encode_props(props, out);
            }
            Self::StrictArray(items) => {
                out.put_u8(0x0A);
                out.put_u32(u32::try_from(items.len()).unwrap_or(u32::MAX));
                for item in items {
                    item.encode(out);
                }
            }
            Self::Date { millis, timezone } => {
                out.put_u8(0x0B);
                out.put_f64(*millis);
                out.put_i16(*timezone);
            }
            Self::XmlDocument(s) => {
                out.put_u8(0x0F);
                put_long_utf8(out, s);
            }
        }
    }

    /// Encode a sequence of values back to back, as command messages carry them.
    pub fn encode_all(values: &[Amf0Value]) -> Vec<u8> {
        let mut out = Vec::new();
        for v in values {
            v.encode(&mut out);
        }
        out
    }

    /// The string, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number, if this is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Self::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// Look up a property of an object or ECMA array (first match wins).
    pub fn get(&self, key: &str) -> Option<&Amf0Value> {
        match self {
            Self::Object(props) | Self::EcmaArray(props) => {
                props.iter().find(|(k, _)| k == key).map(|(_, v)| v)
            }
            _ => None,
        }
    }

    /// Build an object from `(&str, value)` pairs; handy for command replies.
    pub fn object<'a>(props: impl IntoIterator<Item = (&'a str, Amf0Value)>) -> Self {
        Self::Object(props.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }
}

impl From<&str> for Amf0Value {
    fn from(s: &str) -> Self {
        Self::String(s.to_owned())
    }
}

impl From<f64> for Amf0Value {
    fn from(n: f64) -> Self {
        Self::Number(n)
    }
}

fn put_long_utf8(out: &mut impl BufMut, s: &str) {
    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
    out.put_u32(len);
    // `len` only differs from `s.len()` beyond 4 GiB; never slice past it.
    out.put_slice(s.as_bytes().get(..len as usize).unwrap_or_default());
}

/// Properties are `u16`-length UTF-8 keys (no marker) followed by values,
/// closed by an empty key and the object-end marker (AMF0 spec 2.5).
fn encode_props(props: &[(String, Amf0Value)], out: &mut impl BufMut) {
    for (key, value) in props {
        // Keys longer than 64 KiB are not representable; truncate on a char boundary.
        let mut end = key.len().min(usize::from(u16::MAX));
        while !key.is_char_boundary(end) {
            end -= 1;
        }
        out.put_u16(end as u16);
        out.put_slice(&key.as_bytes()[..end]);
        value.encode(out);
    }
    out.put_slice(&[0x00, 0x00, 0x09]);
}

#[cfg(test)]
mod tests;
