//! Responses with the headers each kind of object needs, CORS included (browser players read
//! every response from any origin). Each is built in one go: static header values, one header
//! map allocation, no middleware.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;

const PLAYLIST_TYPE: HeaderValue = HeaderValue::from_static("application/vnd.apple.mpegurl");
const MP4_TYPE: HeaderValue = HeaderValue::from_static("video/mp4");
const TEXT_TYPE: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
/// Parts, segments and init segments never change once published (RFC 8216bis §6.2.1).
const IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");
const NO_CACHE: HeaderValue = HeaderValue::from_static("no-cache");
const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");
const ANY_ORIGIN: HeaderValue = HeaderValue::from_static("*");
const EXPOSED: HeaderValue = HeaderValue::from_static("Age, Date, Content-Length");

/// A media playlist or multivariant playlist. A live playlist may change with the next part,
/// so it is not cached; a blocking response is unique to its `_HLS_msn`/`_HLS_part` query and
/// may be cached briefly (Apple's LL-HLS guide: caches key on the full query).
pub(super) fn playlist(text: Bytes, blocking: bool, target_duration: Duration) -> Response {
    let cache = if blocking {
        blocking_max_age(target_duration.as_secs().saturating_mul(6).max(1))
    } else {
        NO_CACHE
    };
    with_headers(StatusCode::OK, PLAYLIST_TYPE, cache, Body::from(text))
}

/// An init segment, part or segment.
pub(super) fn media(bytes: Bytes) -> Response {
    with_headers(StatusCode::OK, MP4_TYPE, IMMUTABLE, Body::from(bytes))
}

/// The answer to a CORS preflight.
pub(super) fn preflight() -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, ANY_ORIGIN);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, HEAD, OPTIONS"),
    );
    headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, ANY_ORIGIN);
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    response
}

pub(super) fn not_found(why: &'static str) -> Response {
    error(StatusCode::NOT_FOUND, why)
}

pub(super) fn gone() -> Response {
    error(StatusCode::GONE, "no longer in the live window")
}

pub(super) fn bad_request(why: &str) -> Response {
    error(StatusCode::BAD_REQUEST, why)
}

pub(super) fn unavailable(metrics: &crate::ServeMetrics, why: &'static str) -> Response {
    metrics.timeouts.inc();
    error(StatusCode::SERVICE_UNAVAILABLE, why)
}

fn error(status: StatusCode, why: &str) -> Response {
    with_headers(status, TEXT_TYPE, NO_STORE, Body::from(format!("{why}\n")))
}

fn with_headers(
    status: StatusCode,
    content_type: HeaderValue,
    cache: HeaderValue,
    body: Body,
) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers: &mut HeaderMap = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::CACHE_CONTROL, cache);
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, ANY_ORIGIN);
    headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSED);
    response
}

/// `public, max-age=N`: static for the usual target durations (1-10 s, so N = 6-60), built
/// otherwise.
fn blocking_max_age(seconds: u64) -> HeaderValue {
    const USUAL: [&str; 10] = [
        "public, max-age=6",
        "public, max-age=12",
        "public, max-age=18",
        "public, max-age=24",
        "public, max-age=30",
        "public, max-age=36",
        "public, max-age=42",
        "public, max-age=48",
        "public, max-age=54",
        "public, max-age=60",
    ];
    match seconds {
        6..=60 if seconds.is_multiple_of(6) => {
            HeaderValue::from_static(USUAL[(seconds / 6 - 1) as usize])
        }
        _ => HeaderValue::from_str(&format!("public, max-age={seconds}")).unwrap_or(NO_CACHE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocking_max_age_is_six_target_durations_static_or_built() {
        for target in 1..=12u64 {
            let seconds = target * 6;
            assert_eq!(
                blocking_max_age(seconds),
                format!("public, max-age={seconds}").as_str()
            );
        }
        assert_eq!(blocking_max_age(1), "public, max-age=1");
    }
}
