//! The web pages (`web/`): home `/`, `/watch`, `/host`, `/ops` and their `/assets/*`, embedded
//! in the binary from the committed bundle `web/dist` (by `build.rs`), so neither `livecdn dev`
//! nor `cargo build` needs npm. Each page also answers at its file name (`/index.html`,
//! `/watch.html`, …): the pages link to each other by those relative names, so the same
//! `web/dist` works here and from any static directory (where the API is found through each
//! page's `<meta name="livecdn-api">`, and `web.cors_origins` lets it call `/v1`).
//!
//! Caching: asset names carry a content hash, so `/assets/*` is `immutable` for a year; pages are
//! `no-cache` (revalidated with their ETag). Anything else, `/v1/*` included, is left to the
//! API's routes and its JSON 404 fallback.

use axum::Router;
use axum::extract::Path;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::api::error::ApiError;

/// One embedded file.
#[derive(Debug)]
pub(crate) struct Asset {
    /// URL path from `/`, e.g. `/watch.html`, `/assets/watch-HASH.js`.
    path: &'static str,
    body: &'static [u8],
    /// Quoted content hash.
    etag: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));

/// The pages: URL path and the embedded file serving it.
pub const PAGES: [(&str, &str); 4] = [
    ("/", "/index.html"),
    ("/watch", "/watch.html"),
    ("/host", "/host.html"),
    ("/ops", "/ops.html"),
];

/// Page policy: scripts and styles from this origin only; media, API calls and WebSockets go to
/// the edges and relays, which are other origins (ports) of the cluster.
const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; media-src 'self' blob:; worker-src 'self' blob:; \
    connect-src 'self' http: https: ws: wss:; object-src 'none'; base-uri 'none'; \
    frame-ancestors 'none'; form-action 'self'";

/// The routes of the pages and assets, to merge into the API router (stateless).
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut router = Router::new();
    for (route, file) in PAGES {
        router = router.route(route, get(move |headers: HeaderMap| page(file, headers)));
        if route != file {
            router = router.route(file, get(move |headers: HeaderMap| page(file, headers)));
        }
    }
    router.route("/assets/{*file}", get(asset))
}

/// Whether the bundle holds `path` (for tests and diagnostics).
pub fn has(path: &str) -> bool {
    find(path).is_some()
}

fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

async fn page(file: &'static str, headers: HeaderMap) -> Response {
    match find(file) {
        Some(asset) => serve(asset, &headers, "no-cache"),
        None => ApiError::not_found(
            "the web pages are not built into this binary (web/dist is missing)",
        )
        .into_response(),
    }
}

async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    match find(&format!("/assets/{file}")) {
        Some(asset) => serve(asset, &headers, "public, max-age=31536000, immutable"),
        None => ApiError::not_found("no such asset").into_response(),
    }
}

fn serve(asset: &'static Asset, headers: &HeaderMap, cache: &'static str) -> Response {
    let content_type = content_type(asset.path);
    let mut response = if etag_matches(headers, asset.etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(CONTENT_TYPE, content_type)], asset.body).into_response()
    };
    let h = response.headers_mut();
    h.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(ETAG, HeaderValue::from_static(asset.etag));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if content_type.starts_with("text/html") {
        h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_CSP));
        h.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    }
    response
}

fn etag_matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().trim_start_matches("W/"))
        .any(|v| v == etag || v == "*")
}

/// The media type of an embedded file, by extension.
fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_is_in_the_bundle_with_its_assets() {
        for (_, file) in PAGES {
            let page = find(file).unwrap_or_else(|| panic!("{file} is not embedded"));
            let html = std::str::from_utf8(page.body).unwrap();
            let references: Vec<&str> = html
                .split('"')
                .filter(|s| s.starts_with("assets/"))
                .collect();
            assert!(references.len() >= 2, "{file} names no assets: {html}");
            for reference in references {
                // Relative (`assets/…`), so the bundle also works from any static directory.
                assert!(
                    has(&format!("/{reference}")),
                    "{file} names {reference}, not embedded"
                );
            }
            assert!(
                !html.contains("\"/assets/") && !html.contains("href=\"/\""),
                "{file} has a root-absolute link: {html}"
            );
        }
    }

    #[test]
    fn content_types_and_etags() {
        assert_eq!(content_type("/index.html"), "text/html; charset=utf-8");
        assert_eq!(
            content_type("/assets/a-1.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type("/assets/a.css"), "text/css; charset=utf-8");
        let mut headers = HeaderMap::new();
        headers.insert(IF_NONE_MATCH, HeaderValue::from_static("\"x\", W/\"abc\""));
        assert!(etag_matches(&headers, "\"abc\""));
        assert!(!etag_matches(&headers, "\"abd\""));
    }
}
