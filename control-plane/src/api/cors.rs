//! CORS for the `/v1` API, so the web pages work when `web/dist` is hosted on another origin
//! than the control plane (`web/README.md`). Which origins: `web.cors_origins` (default any,
//! see [`WebSection`](crate::config::WebSection) for why that is safe: bearer tokens, no
//! cookies). The same shape as the chat relay's and the edges' CORS, plus an origin list; not
//! tower-http's `CorsLayer`, which would be a new dependency of this crate for about as many
//! lines.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::config::CorsOrigin;
use crate::state::ControlPlane;

/// What a page may send: every method the API has, and the two headers the pages set that are
/// not CORS-safelisted (`Accept` is).
const ALLOW_METHODS: &str = "GET, POST, DELETE, OPTIONS";
const ALLOW_HEADERS: &str = "authorization, content-type";
/// How long a browser may reuse a preflight answer, seconds.
const MAX_AGE_S: &str = "600";

/// Answers preflights (`OPTIONS` with `Access-Control-Request-Method`) from allowed origins with
/// 204, and lets allowed origins read every `/v1/*` answer, refusals included. Requests from other
/// origins pass through unmarked (a preflight then gets the API's 405, and the browser refuses).
pub(crate) async fn cors(
    State(state): State<Arc<ControlPlane>>,
    request: Request,
    next: Next,
) -> Response {
    if !request.uri().path().starts_with("/v1/") {
        return next.run(request).await;
    }
    let origins = &state.config.web.cors_origins;
    let allow = allowed_origin(origins, request.headers());
    let preflight = allow.is_some()
        && request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = if preflight {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    if origins.iter().any(|o| matches!(o, CorsOrigin::Exact(_))) {
        // The answer depends on the request's Origin: shared caches must key on it.
        headers.append(VARY, HeaderValue::from_static("origin"));
    }
    let Some(allow) = allow else {
        return response;
    };
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allow);
    if preflight {
        headers.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOW_METHODS),
        );
        headers.insert(
            ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOW_HEADERS),
        );
        headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static(MAX_AGE_S));
    }
    response
}

/// The `Access-Control-Allow-Origin` value for a request, if its origin is allowed: `*` when
/// any origin is, else the request's own `Origin` when listed.
fn allowed_origin(origins: &[CorsOrigin], headers: &HeaderMap) -> Option<HeaderValue> {
    if origins.contains(&CorsOrigin::Any) {
        return Some(HeaderValue::from_static("*"));
    }
    let origin = headers.get(ORIGIN)?;
    let text = origin.to_str().ok()?;
    origins
        .iter()
        .any(|o| o.matches(text))
        .then(|| origin.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(value: &str) -> CorsOrigin {
        CorsOrigin::try_from(value.to_owned()).unwrap()
    }

    fn request_from(origin: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(ORIGIN, HeaderValue::from_str(origin).unwrap());
        headers
    }

    #[test]
    fn origins_parse_as_star_or_exact_origins() {
        assert_eq!(origin("*"), CorsOrigin::Any);
        assert_eq!(
            origin("HTTPS://Watch.Example.com:8443"),
            CorsOrigin::Exact("https://watch.example.com:8443".to_owned())
        );
        for bad in [
            "",
            "watch.example.com",
            "ftp://x",
            "https://",
            "https://x/",
            "https://x/path",
            "https://x?y",
            "https://u@x",
            "https://a b",
        ] {
            assert!(
                CorsOrigin::try_from(bad.to_owned()).is_err(),
                "{bad:?} accepted"
            );
        }
        assert_eq!(String::from(origin("https://x:1")), "https://x:1");
        assert_eq!(String::from(CorsOrigin::Any), "*");
    }

    #[test]
    fn star_allows_any_origin_and_requests_without_one() {
        let any = [CorsOrigin::Any];
        assert_eq!(
            allowed_origin(&any, &request_from("http://127.0.0.1:9000")).unwrap(),
            "*"
        );
        assert_eq!(allowed_origin(&any, &HeaderMap::new()).unwrap(), "*");
    }

    #[test]
    fn a_list_echoes_listed_origins_only() {
        let list = [origin("https://watch.example.com"), origin("http://a:8080")];
        assert_eq!(
            allowed_origin(&list, &request_from("https://watch.example.com")).unwrap(),
            "https://watch.example.com"
        );
        assert_eq!(
            allowed_origin(&list, &request_from("http://A:8080")).unwrap(),
            "http://A:8080"
        );
        for other in ["https://evil.example", "http://a:8081", "null"] {
            assert!(
                allowed_origin(&list, &request_from(other)).is_none(),
                "{other}"
            );
        }
        assert!(allowed_origin(&list, &HeaderMap::new()).is_none());
        assert!(allowed_origin(&[], &request_from("https://watch.example.com")).is_none());
    }
}
