//! Signed chat tokens (`docs/chat-protocol.md` §3).
//!
//! A token is `base64url(claims JSON) "." base64url(HMAC-SHA256(secret, first part))`, both
//! parts without padding. It travels in the `token` query parameter because browsers cannot set
//! headers on a WebSocket upgrade. The issuer (the operator's backend, or the control plane's
//! `GET /v1/chat/{room}`) and every relay share the secret.
//!
//! ```
//! use livecdn_chat_proto::token::{self, ChatClaims, ChatRole, TokenError};
//!
//! let claims = ChatClaims {
//!     user_id: "u42".into(),
//!     name: "Ada".into(),
//!     role: ChatRole::Viewer,
//!     room: Some("demo".into()),
//!     exp: 1_800_000_000,
//! };
//! let token = token::sign(&claims, b"secret");
//! assert_eq!(token::verify(&token, b"secret", 1_700_000_000), Ok(claims));
//! assert_eq!(token::verify(&token, b"other", 1_700_000_000), Err(TokenError::BadSignature));
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac as _};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

/// Who a chatter is in a room. Serialized in snake_case (`"viewer"`, `"host"`, `"moderator"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatRole {
    /// Reads, chats, likes and sends gifts.
    Viewer,
    /// The streamer: may moderate, exempt from slow mode.
    Host,
    /// May delete, ban, unban and set slow mode; exempt from slow mode.
    Moderator,
}

impl ChatRole {
    /// Hosts and moderators may send moderation frames and bypass slow mode.
    pub fn can_moderate(self) -> bool {
        matches!(self, Self::Host | Self::Moderator)
    }
}

/// What a token asserts. Unknown JSON fields in a token (an issuer's `iat`, say) are ignored: the
/// signature already vouches for them, and issuers may add fields without breaking relays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatClaims {
    /// Stable user id: 1..=[`MAX_USER_ID_LEN`] bytes, no whitespace or control characters.
    pub user_id: String,
    /// Display name: 1..=[`MAX_NAME_CHARS`] characters, no control characters.
    pub name: String,
    /// The user's role.
    pub role: ChatRole,
    /// The one room the token is good for; `None` means any room.
    #[serde(default)]
    pub room: Option<String>,
    /// Expiry, unix seconds. The token is expired from this second on.
    pub exp: i64,
}

impl ChatClaims {
    /// Whether these claims admit the holder to `room`.
    pub fn allows_room(&self, room: &str) -> bool {
        self.room.as_deref().is_none_or(|r| r == room)
    }
}

/// Why a token was refused. The driver closes the WebSocket with 4001 for every variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not two base64url parts, or the claims are not the expected JSON.
    #[error("malformed token")]
    Malformed,
    /// The MAC does not match: wrong secret, or a forged or altered token.
    #[error("bad token signature")]
    BadSignature,
    /// `exp` is not after the current time.
    #[error("token expired")]
    Expired,
    /// Longer than [`MAX_TOKEN_LEN`]; refused before any decoding.
    #[error("token longer than {MAX_TOKEN_LEN} bytes")]
    TooLong,
    /// Signed, but a claim breaks its rule (empty or long user id or name, empty room).
    #[error("invalid claim {0}")]
    InvalidClaim(&'static str),
}

/// Longest token accepted, in bytes. Claims of maximal length encode well under it.
pub const MAX_TOKEN_LEN: usize = 1024;
/// Longest `user_id`, in bytes.
pub const MAX_USER_ID_LEN: usize = 64;
/// Longest display `name`, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// Longest `room`, in bytes.
pub const MAX_ROOM_LEN: usize = 128;

/// Signs `claims` with `secret`. Does not validate them: an issuer signing bad claims gets a token
/// that [`verify`] refuses with [`TokenError::InvalidClaim`].
pub fn sign(claims: &ChatClaims, secret: &[u8]) -> String {
    // Serializing a struct of strings and integers cannot fail.
    let json = serde_json::to_vec(claims).unwrap_or_default();
    let payload = URL_SAFE_NO_PAD.encode(json);
    let mac = URL_SAFE_NO_PAD.encode(mac(secret, payload.as_bytes()));
    format!("{payload}.{mac}")
}

/// Verifies `token` against `secret` at `now_unix_s` and returns its validated claims.
///
/// Order: length, shape, MAC (compared in constant time), then the claims JSON, so that nothing
/// unauthenticated is parsed as JSON. Whether the claims admit a given room is the caller's check
/// ([`ChatClaims::allows_room`]).
pub fn verify(token: &str, secret: &[u8], now_unix_s: i64) -> Result<ChatClaims, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::TooLong);
    }
    let (payload, signature) = token.split_once('.').ok_or(TokenError::Malformed)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| TokenError::Malformed)?;
    let expected = mac(secret, payload.as_bytes());
    if !bool::from(expected.as_slice().ct_eq(&signature)) {
        return Err(TokenError::BadSignature);
    }
    let json = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| TokenError::Malformed)?;
    let claims: ChatClaims = serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
    validate(&claims)?;
    if now_unix_s >= claims.exp {
        return Err(TokenError::Expired);
    }
    Ok(claims)
}

fn validate(claims: &ChatClaims) -> Result<(), TokenError> {
    let bad = |s: &str| s.is_empty() || s.chars().any(char::is_control);
    if bad(&claims.user_id)
        || claims.user_id.len() > MAX_USER_ID_LEN
        || claims.user_id.chars().any(char::is_whitespace)
    {
        return Err(TokenError::InvalidClaim("user_id"));
    }
    if bad(&claims.name) || claims.name.chars().count() > MAX_NAME_CHARS {
        return Err(TokenError::InvalidClaim("name"));
    }
    if let Some(room) = &claims.room
        && (bad(room) || room.len() > MAX_ROOM_LEN)
    {
        return Err(TokenError::InvalidClaim("room"));
    }
    Ok(())
}

fn mac(secret: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return [0; 32];
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn claims() -> ChatClaims {
        ChatClaims {
            user_id: "u1".into(),
            name: "Ada".into(),
            role: ChatRole::Moderator,
            room: None,
            exp: NOW + 60,
        }
    }

    #[test]
    fn round_trip() {
        let token = sign(&claims(), b"k");
        assert_eq!(verify(&token, b"k", NOW), Ok(claims()));
        assert!(claims().allows_room("any"));
    }

    #[test]
    fn forged_signature() {
        let token = sign(&claims(), b"k");
        assert_eq!(verify(&token, b"k2", NOW), Err(TokenError::BadSignature));
        let (payload, _) = token.split_once('.').unwrap();
        let forged = format!("{payload}.{}", URL_SAFE_NO_PAD.encode([7u8; 32]));
        assert_eq!(verify(&forged, b"k", NOW), Err(TokenError::BadSignature));
        let short = format!("{payload}.AAAA");
        assert_eq!(verify(&short, b"k", NOW), Err(TokenError::BadSignature));
    }

    #[test]
    fn tampered_payload() {
        let token = sign(&claims(), b"k");
        let (_, mac) = token.split_once('.').unwrap();
        let mut elevated = claims();
        elevated.user_id = "admin".into();
        let elevated = sign(&elevated, b"k");
        let (payload, _) = elevated.split_once('.').unwrap();
        let tampered = format!("{payload}.{mac}");
        assert_eq!(verify(&tampered, b"k", NOW), Err(TokenError::BadSignature));
    }

    #[test]
    fn expired_at_exp() {
        let token = sign(&claims(), b"k");
        assert_eq!(verify(&token, b"k", NOW + 60), Err(TokenError::Expired));
        assert!(verify(&token, b"k", NOW + 59).is_ok());
    }

    #[test]
    fn invalid_claims_refused_after_signature() {
        let mut c = claims();
        c.name = String::new();
        assert_eq!(
            verify(&sign(&c, b"k"), b"k", NOW),
            Err(TokenError::InvalidClaim("name"))
        );
        c = claims();
        c.user_id = "x".repeat(MAX_USER_ID_LEN + 1);
        let err = verify(&sign(&c, b"k"), b"k", NOW);
        assert_eq!(err, Err(TokenError::InvalidClaim("user_id")));
        c = claims();
        c.room = Some("a\u{7}".into());
        assert_eq!(
            verify(&sign(&c, b"k"), b"k", NOW),
            Err(TokenError::InvalidClaim("room"))
        );
    }

    #[test]
    fn junk() {
        for junk in ["", ".", "abc", "a.b.c", "!!.??", "é.é"] {
            assert!(verify(junk, b"k", NOW).is_err(), "{junk:?}");
        }
        // Valid MAC over a payload that is not JSON claims.
        let payload = URL_SAFE_NO_PAD.encode(b"{\"user_id\":1}");
        let token = format!(
            "{payload}.{}",
            URL_SAFE_NO_PAD.encode(mac(b"k", payload.as_bytes()))
        );
        assert_eq!(verify(&token, b"k", NOW), Err(TokenError::Malformed));
        let long = "a".repeat(MAX_TOKEN_LEN + 1);
        assert_eq!(verify(&long, b"k", NOW), Err(TokenError::TooLong));
    }
}
