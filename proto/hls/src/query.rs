//! [`PlaylistQuery`]: the Delivery Directives of a media playlist request (`_HLS_msn`,
//! `_HLS_part`, `_HLS_skip`), RFC 8216bis §6.2.5.

#[cfg(test)]
mod tests;

use std::fmt;

/// Longest query string parsed; longer ones are refused (a playlist URL needs a few dozen bytes).
pub const MAX_QUERY_LEN: usize = 2048;
/// Most digits accepted in a directive's decimal-integer (RFC 8216bis §4.2: 0 to 2^64-1).
pub const MAX_DIRECTIVE_DIGITS: usize = 20;

/// The Delivery Directives of one media playlist request. Other query parameters (cache
/// busters, tokens) are ignored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlaylistQuery {
    /// `_HLS_msn`: block until the playlist holds this segment (or a later one).
    pub msn: Option<u64>,
    /// `_HLS_part`: with `msn`, block until the playlist holds this part of it (or a later one).
    pub part: Option<u64>,
    /// `_HLS_skip`: the client asks for a Playlist Delta Update.
    pub skip: SkipRequest,
}

/// The `_HLS_skip` directive (RFC 8216bis §6.2.5.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SkipRequest {
    /// No directive: the full playlist.
    #[default]
    Full,
    /// `_HLS_skip=YES`: skip segments older than the Skip Boundary.
    Segments,
    /// `_HLS_skip=v2`: also skip old `EXT-X-DATERANGE` tags. We never emit date ranges, so this
    /// differs from `Segments` only by an empty `RECENTLY-REMOVED-DATERANGES` attribute.
    SegmentsAndDateRanges,
}

/// A query the server answers with 400 Bad Request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// Longer than [`MAX_QUERY_LEN`].
    #[error("query longer than {MAX_QUERY_LEN} bytes")]
    TooLong,
    /// A directive appears more than once.
    #[error("directive {0} given more than once")]
    Duplicate(&'static str),
    /// A directive without `=value`, or with an empty value.
    #[error("directive {0} has no value")]
    MissingValue(&'static str),
    /// `_HLS_msn` or `_HLS_part` is not a decimal-integer.
    #[error("directive {0} is not a decimal integer")]
    NotANumber(&'static str),
    /// `_HLS_msn` or `_HLS_part` is above 2^64-1.
    #[error("directive {0} is too large")]
    TooLarge(&'static str),
    /// `_HLS_skip` is neither `YES` nor `v2`.
    #[error("directive _HLS_skip must be YES or v2")]
    InvalidSkip,
    /// `_HLS_part` without `_HLS_msn`: RFC 8216bis §6.2.5.2 says the server MUST return 400.
    #[error("_HLS_part given without _HLS_msn")]
    PartWithoutMsn,
}

impl QueryError {
    /// A closed snake_case label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooLong => "too_long",
            Self::Duplicate(_) => "duplicate",
            Self::MissingValue(_) => "missing_value",
            Self::NotANumber(_) => "not_a_number",
            Self::TooLarge(_) => "too_large",
            Self::InvalidSkip => "invalid_skip",
            Self::PartWithoutMsn => "part_without_msn",
        }
    }
}

const MSN: &str = "_HLS_msn";
const PART: &str = "_HLS_part";
const SKIP: &str = "_HLS_skip";

impl PlaylistQuery {
    /// Parses the query string of a media playlist URL (with or without the leading `?`).
    ///
    /// Directive names and values are matched exactly as RFC 8216bis §6.2.5 writes them; a
    /// percent-encoded directive is treated as an unknown parameter. Unknown parameters,
    /// including other `_HLS_` names, are ignored.
    pub fn parse(query: &str) -> Result<Self, QueryError> {
        if query.len() > MAX_QUERY_LEN {
            return Err(QueryError::TooLong);
        }
        let query = query.strip_prefix('?').unwrap_or(query);
        let mut parsed = Self::default();
        let mut seen_skip = false;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = match pair.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (pair, None),
            };
            match name {
                MSN => set_once(&mut parsed.msn, MSN, parse_number(MSN, value)?)?,
                PART => set_once(&mut parsed.part, PART, parse_number(PART, value)?)?,
                SKIP => {
                    if std::mem::replace(&mut seen_skip, true) {
                        return Err(QueryError::Duplicate(SKIP));
                    }
                    parsed.skip = match value {
                        None | Some("") => return Err(QueryError::MissingValue(SKIP)),
                        Some("YES") => SkipRequest::Segments,
                        Some("v2") => SkipRequest::SegmentsAndDateRanges,
                        Some(_) => return Err(QueryError::InvalidSkip),
                    };
                }
                _ => {}
            }
        }
        if parsed.part.is_some() && parsed.msn.is_none() {
            return Err(QueryError::PartWithoutMsn);
        }
        Ok(parsed)
    }

    /// Whether the request asks the server to hold the response (`_HLS_msn` present).
    pub fn is_blocking(&self) -> bool {
        self.msn.is_some()
    }
}

/// The canonical query string (`_HLS_msn=…&_HLS_part=…&_HLS_skip=…`, empty for none), which
/// [`PlaylistQuery::parse`] reads back to the same value.
impl fmt::Display for PlaylistQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        if let Some(msn) = self.msn {
            write!(f, "{MSN}={msn}")?;
            sep = "&";
        }
        if let Some(part) = self.part {
            write!(f, "{sep}{PART}={part}")?;
            sep = "&";
        }
        match self.skip {
            SkipRequest::Full => Ok(()),
            SkipRequest::Segments => write!(f, "{sep}{SKIP}=YES"),
            SkipRequest::SegmentsAndDateRanges => write!(f, "{sep}{SKIP}=v2"),
        }
    }
}

fn set_once(slot: &mut Option<u64>, name: &'static str, value: u64) -> Result<(), QueryError> {
    if slot.replace(value).is_some() {
        return Err(QueryError::Duplicate(name));
    }
    Ok(())
}

/// RFC 8216bis §4.2: decimal-integer is `[0-9]+` in the range 0 to 2^64-1.
fn parse_number(name: &'static str, value: Option<&str>) -> Result<u64, QueryError> {
    let value = value
        .filter(|v| !v.is_empty())
        .ok_or(QueryError::MissingValue(name))?;
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(QueryError::NotANumber(name));
    }
    if value.len() > MAX_DIRECTIVE_DIGITS {
        return Err(QueryError::TooLarge(name));
    }
    value.parse().map_err(|_| QueryError::TooLarge(name))
}
