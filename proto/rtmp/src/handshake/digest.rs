//! The digest ("complex", "FP9") handshake.
//!
//! Not in the published spec; this is the widely documented scheme that
//! Flash Player 9+, librtmp and FFmpeg use:
//!
//! * C1/S1 = time (4) | version (4, non-zero) | two 764-byte blocks. In scheme 0
//!   the digest block comes first (at 8), in scheme 1 second (at 772).
//! * Within the digest block, the first four bytes summed modulo 728 give the
//!   digest position after them. The digest is HMAC-SHA256 over the 1504 bytes
//!   of the packet *without* the digest, keyed with the first 30 bytes of the
//!   player key (C1) or the first 36 bytes of the server key (S1).
//! * S2 (and C2) are random with the last 32 bytes an HMAC-SHA256 over the
//!   first 1504, keyed by HMAC-SHA256(full key of the signer, peer's digest).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::HANDSHAKE_SIZE;

/// 32 bytes appended to both textual keys to form the "full" keys.
const KEY_TAIL: [u8; 32] = [
    0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0, 0xD1, 0x02, 0x9E, 0x7E, 0x57,
    0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80, 0x6F, 0xAB, 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE,
];
pub(crate) const PLAYER_TEXT: &[u8] = b"Genuine Adobe Flash Player 001";
pub(crate) const SERVER_TEXT: &[u8] = b"Genuine Adobe Flash Media Server 001";

const DIGEST_LEN: usize = 32;

/// Where the digest block sits in C1/S1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestScheme {
    /// Digest block first (offset 8); what FFmpeg and librtmp send.
    Scheme0,
    /// Key block first, digest block at offset 772.
    Scheme1,
}

pub(crate) type Packet = [u8; HANDSHAKE_SIZE];

/// Position of the 32-byte digest. At most 772 + 4 + 727 = 1503, so the digest
/// always fits inside the packet whatever the (untrusted) offset bytes say.
fn digest_offset(packet: &Packet, scheme: DigestScheme) -> usize {
    let base = match scheme {
        DigestScheme::Scheme0 => 8,
        DigestScheme::Scheme1 => 772,
    };
    let sum: usize = packet[base..base + 4].iter().map(|&b| usize::from(b)).sum();
    base + 4 + sum % 728
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; DIGEST_LEN] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("hmac takes any key length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

fn digest_at(packet: &Packet, offset: usize, key: &[u8]) -> [u8; DIGEST_LEN] {
    hmac(key, &[&packet[..offset], &packet[offset + DIGEST_LEN..]])
}

fn full_key(text: &[u8]) -> Vec<u8> {
    [text, &KEY_TAIL[..]].concat()
}

/// Find a valid player digest in C1, trying scheme 0 then 1.
pub(crate) fn find_client_digest(c1: &Packet) -> Option<(DigestScheme, [u8; DIGEST_LEN])> {
    [DigestScheme::Scheme0, DigestScheme::Scheme1]
        .into_iter()
        .find_map(|scheme| {
            let offset = digest_offset(c1, scheme);
            let expected = digest_at(c1, offset, PLAYER_TEXT);
            (c1[offset..offset + DIGEST_LEN] == expected).then_some((scheme, expected))
        })
}

/// Write the digest for `key` into `packet` per `scheme`; returns the digest.
pub(crate) fn imprint(packet: &mut Packet, scheme: DigestScheme, key: &[u8]) -> [u8; DIGEST_LEN] {
    let offset = digest_offset(packet, scheme);
    let digest = digest_at(packet, offset, key);
    packet[offset..offset + DIGEST_LEN].copy_from_slice(&digest);
    digest
}

/// Sign an S2/C2 response: the last 32 bytes become the HMAC of the rest,
/// keyed by HMAC(full key of `signer_text`, `peer_digest`).
pub(crate) fn sign_response(
    packet: &mut Packet,
    peer_digest: &[u8; DIGEST_LEN],
    signer_text: &[u8],
) {
    let key = hmac(&full_key(signer_text), &[peer_digest]);
    let split = HANDSHAKE_SIZE - DIGEST_LEN;
    let signature = hmac(&key, &[&packet[..split]]);
    packet[split..].copy_from_slice(&signature);
}

/// Check a response signed by [`sign_response`] (used by tests and available
/// to a future digest-speaking client).
#[cfg(test)]
pub(crate) fn verify_response(
    packet: &Packet,
    own_digest: &[u8; DIGEST_LEN],
    signer_text: &[u8],
) -> bool {
    let mut copy = *packet;
    sign_response(&mut copy, own_digest, signer_text);
    copy == *packet
}

/// Check an S1 digest with the server key, as a digest client would.
#[cfg(test)]
pub(crate) fn verify_server_digest(s1: &Packet, scheme: DigestScheme) -> Option<[u8; DIGEST_LEN]> {
    let offset = digest_offset(s1, scheme);
    let expected = digest_at(s1, offset, SERVER_TEXT);
    (s1[offset..offset + DIGEST_LEN] == expected).then_some(expected)
}
