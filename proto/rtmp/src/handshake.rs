//! RTMP handshake (Adobe RTMP spec, section 5.2): C0/C1/C2 ⇄ S0/S1/S2.
//!
//! The server side speaks both the plain handshake of the spec (S2 echoes C1)
//! and the undocumented "digest" handshake that Flash Player, librtmp and
//! FFmpeg use when C1 carries a non-zero version field; see the `digest`
//! module docs. The client side (our demo publisher) is plain only.
//!
//! Both sides are sans-IO: [`ServerHandshake::handle_input`] consumes bytes and
//! reports how many it used; whatever follows C2 already belongs to the chunk
//! stream and is the caller's to forward.

mod client;
mod digest;
mod server;

pub use client::ClientHandshake;
pub use digest::DigestScheme;
pub use server::ServerHandshake;

/// Size of C1, C2, S1 and S2 (spec 5.2.3).
pub const HANDSHAKE_SIZE: usize = 1536;

/// The only protocol version we speak (C0/S0 byte, spec 5.2.2). 6 would be
/// RTMPE (encrypted), which we do not implement.
pub const RTMP_VERSION: u8 = 3;

/// Which handshake flavour the server answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeKind {
    /// Spec handshake: S2 echoes C1.
    Plain,
    /// Digest handshake: S1 carries an HMAC digest, S2 is signed.
    Digest(DigestScheme),
}

/// Why a handshake failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// C0/S0 carried a version other than 3 (garbage, HTTP, RTMPE, TLS...).
    #[error("unsupported rtmp version {0}")]
    UnsupportedVersion(u8),
}

impl HandshakeError {
    /// Short, closed-set label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::UnsupportedVersion(_) => "bad_handshake",
        }
    }
}

/// Copy bytes from `data` into `buf` until it holds `want` bytes; returns how
/// many bytes of `data` were used.
fn fill(buf: &mut Vec<u8>, want: usize, data: &[u8]) -> usize {
    let take = want.saturating_sub(buf.len()).min(data.len());
    buf.extend_from_slice(data.get(..take).unwrap_or_default());
    take
}

#[cfg(test)]
mod tests;
