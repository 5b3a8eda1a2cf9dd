//! The WebSocket upgrade of `/ws` (RFC 6455 §4.2, and RFC 8441's extended CONNECT over HTTP/2),
//! done here rather than by axum's `WebSocketUpgrade`, which hands over only its own socket
//! type: the session needs the upgraded connection itself, split between tungstenite (reads)
//! and the connection's outlet, where the room's fan-out writes pre-encoded frames.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Version, header};
use axum::response::{IntoResponse, Response};
use hyper::upgrade::OnUpgrade;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

/// Why a request to `/ws` is not a WebSocket upgrade (answered over HTTP: no socket yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum NotUpgrade {
    #[error("WebSocket upgrades use GET (HTTP/1.1) or CONNECT (HTTP/2)")]
    Method,
    #[error("`Connection` must include `upgrade` and `Upgrade` must be `websocket`")]
    Headers,
    #[error("`Sec-WebSocket-Version` must be 13")]
    Version,
    #[error("`Sec-WebSocket-Key` is missing")]
    Key,
    #[error("this connection cannot be upgraded")]
    NotUpgradable,
}

impl IntoResponse for NotUpgrade {
    fn into_response(self) -> Response {
        let status = match self {
            Self::Method => StatusCode::METHOD_NOT_ALLOWED,
            Self::NotUpgradable => StatusCode::UPGRADE_REQUIRED,
            Self::Headers | Self::Version | Self::Key => StatusCode::BAD_REQUEST,
        };
        (status, self.to_string()).into_response()
    }
}

/// Checks `request` and returns the response that completes the upgrade, with the upgraded
/// connection to come once it is sent.
pub(crate) fn accept(request: Request) -> Result<(Response, OnUpgrade), NotUpgrade> {
    let (mut parts, _) = request.into_parts();
    let headers = &parts.headers;
    let key = if parts.version <= Version::HTTP_11 {
        if parts.method != Method::GET {
            return Err(NotUpgrade::Method);
        }
        if !contains_token(headers, header::CONNECTION, "upgrade")
            || !contains_token(headers, header::UPGRADE, "websocket")
        {
            return Err(NotUpgrade::Headers);
        }
        Some(
            headers
                .get(header::SEC_WEBSOCKET_KEY)
                .ok_or(NotUpgrade::Key)?
                .clone(),
        )
    } else {
        let websocket = parts
            .extensions
            .get::<hyper::ext::Protocol>()
            .is_some_and(|p| p.as_str() == "websocket");
        if parts.method != Method::CONNECT || !websocket {
            return Err(NotUpgrade::Method);
        }
        None
    };
    if !contains_token(headers, header::SEC_WEBSOCKET_VERSION, "13") {
        return Err(NotUpgrade::Version);
    }
    let upgrading = parts
        .extensions
        .remove::<OnUpgrade>()
        .ok_or(NotUpgrade::NotUpgradable)?;
    let response = match key {
        Some(key) => {
            let accept = derive_accept_key(key.as_bytes());
            let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
            if let Ok(accept) = HeaderValue::from_str(&accept) {
                headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
            }
            response
        }
        // RFC 9113 §8.5 / RFC 8441: an extended CONNECT is accepted with a 2xx.
        None => StatusCode::OK.into_response(),
    };
    Ok((response, upgrading))
}

/// Whether the comma-separated header `name` holds `token` (case-insensitive).
fn contains_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|part| part.trim().eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, headers: &[(&str, &str)]) -> Request {
        let mut builder = Request::builder().method(method).uri("/ws");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(axum::body::Body::empty()).unwrap()
    }

    const GOOD: [(&str, &str); 4] = [
        ("connection", "keep-alive, Upgrade"),
        ("upgrade", "websocket"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];

    #[test]
    fn refusals_name_what_is_missing() {
        let refusal = |r| accept(r).err();
        assert_eq!(
            refusal(request(Method::POST, &GOOD)),
            Some(NotUpgrade::Method)
        );
        assert_eq!(
            refusal(request(Method::GET, &GOOD[1..])),
            Some(NotUpgrade::Headers)
        );
        let no_key = [GOOD[0], GOOD[1], GOOD[2]];
        assert_eq!(
            refusal(request(Method::GET, &no_key)),
            Some(NotUpgrade::Key)
        );
        let old = [GOOD[0], GOOD[1], ("sec-websocket-version", "8"), GOOD[3]];
        assert_eq!(
            refusal(request(Method::GET, &old)),
            Some(NotUpgrade::Version)
        );
        // Right headers, but no hyper connection under the request.
        assert_eq!(
            refusal(request(Method::GET, &GOOD)),
            Some(NotUpgrade::NotUpgradable)
        );
    }

    #[test]
    fn the_accept_key_is_the_rfc_example() {
        // RFC 6455 §1.3.
        assert_eq!(
            derive_accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
