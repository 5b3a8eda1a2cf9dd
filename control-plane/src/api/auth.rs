//! Bearer-token auth for admin and node endpoints. Tokens are compared as SHA-256 digests in
//! constant time, so neither their content nor their length leaks through timing.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::api::error::ApiError;
use crate::metrics::AuthLabels;
use crate::state::ControlPlane;

/// A set of accepted tokens, kept as digests.
#[derive(Debug, Clone, Default)]
pub struct TokenSet(Vec<[u8; 32]>);

impl TokenSet {
    /// The digests of `tokens` (empty strings are ignored: an empty token authorises nothing).
    pub fn new<'a>(tokens: impl IntoIterator<Item = &'a str>) -> Self {
        Self(
            tokens
                .into_iter()
                .filter(|t| !t.is_empty())
                .map(digest)
                .collect(),
        )
    }

    /// Whether `token` is one of the set.
    pub fn accepts(&self, token: &str) -> bool {
        let candidate = digest(token);
        // Check every entry (no early exit) so timing does not reveal which one matched.
        self.0
            .iter()
            .fold(0u8, |hit, known| hit | known.ct_eq(&candidate).unwrap_u8())
            == 1
    }

    /// Whether no token is configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Proof that the request carried an admin token.
#[derive(Debug, Clone, Copy)]
pub struct Admin;

/// Proof that the request carried a node token.
#[derive(Debug, Clone, Copy)]
pub struct NodeCaller;

/// Whether the request carries an admin token (for endpoints that are public but give admins
/// more, such as `/v1/chat` issuing moderator tokens).
pub fn is_admin(parts: &Parts, state: &ControlPlane) -> bool {
    bearer(parts).is_some_and(|token| state.admin_tokens.accepts(token))
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

fn check(
    parts: &Parts,
    state: &ControlPlane,
    tokens: &TokenSet,
    scope: &'static str,
) -> Result<(), ApiError> {
    let refuse = |status, code, reason, message: &str| {
        state
            .metrics
            .auth_failures
            .get_or_create(&AuthLabels { scope, reason })
            .inc();
        Err(ApiError::new(status, code, message))
    };
    match bearer(parts) {
        None => refuse(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing",
            &format!("this endpoint needs an {scope} token: Authorization: Bearer TOKEN"),
        ),
        Some(_) if tokens.is_empty() => refuse(
            StatusCode::FORBIDDEN,
            "forbidden",
            "not_configured",
            &format!("no {scope} token is configured on this control plane"),
        ),
        Some(token) if tokens.accepts(token) => Ok(()),
        Some(_) => refuse(
            StatusCode::FORBIDDEN,
            "forbidden",
            "invalid",
            &format!("the {scope} token is not valid"),
        ),
    }
}

impl FromRequestParts<Arc<ControlPlane>> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<ControlPlane>,
    ) -> Result<Self, Self::Rejection> {
        check(parts, state, &state.admin_tokens, "admin").map(|()| Admin)
    }
}

impl FromRequestParts<Arc<ControlPlane>> for NodeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<ControlPlane>,
    ) -> Result<Self, Self::Rejection> {
        check(parts, state, &state.node_tokens, "node").map(|()| NodeCaller)
    }
}

#[cfg(test)]
mod tests {
    use super::TokenSet;

    #[test]
    fn accepts_only_configured_tokens() {
        let set = TokenSet::new(["alpha", "", "beta"]);
        assert!(set.accepts("alpha"));
        assert!(set.accepts("beta"));
        assert!(!set.accepts(""));
        assert!(!set.accepts("alph"));
        assert!(!set.accepts("alphaa"));
        assert!(TokenSet::new([""]).is_empty());
    }
}
