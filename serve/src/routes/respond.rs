//! Responses with the headers each kind of object needs.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

const PLAYLIST_TYPE: &str = "application/vnd.apple.mpegurl";
const MP4_TYPE: &str = "video/mp4";
/// Parts, segments and init segments never change once published (RFC 8216bis §6.2.1).
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// A media playlist or multivariant playlist. A live playlist may change with the next part,
/// so it is not cached; a blocking response is unique to its `_HLS_msn`/`_HLS_part` query and
/// may be cached briefly (Apple's LL-HLS guide: caches key on the full query).
pub(super) fn playlist(text: Bytes, blocking: bool, target_duration: Duration) -> Response {
    let cache = if blocking {
        format!(
            "public, max-age={}",
            target_duration.as_secs().saturating_mul(6).max(1)
        )
    } else {
        "no-cache".to_owned()
    };
    let mut response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, PLAYLIST_TYPE)],
        text,
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&cache) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
}

/// An init segment, part or segment.
pub(super) fn media(bytes: Bytes) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, MP4_TYPE),
            (header::CACHE_CONTROL, IMMUTABLE),
        ],
        bytes,
    )
        .into_response()
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
    let mut response = (status, format!("{why}\n")).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
