use super::digest::{self, PLAYER_TEXT, Packet, SERVER_TEXT};
use super::*;

// Vectors computed independently with Python's `hmac`/`hashlib` (one-off
// script, not part of the build): packets are `(i * mul + add) % 256`.
const C1_SCHEME0_OFFSET: usize = 290;
const C1_SCHEME0_DIGEST: &str = "f89f1f7af03c88aada0200583415ae45a083c4505de98ca5dd416f5e7d6b7374";
const C1_SCHEME1_OFFSET: usize = 942;
const C1_SCHEME1_DIGEST: &str = "800bff09306b5703cdc89a8129090d0416f23e5177138ceb24137523ab8d6dfd";
const S2_SIGNATURE: &str = "bc47e08a449ab4391b3c3506bf0a1e13a73cddc0900f09d33a8e0374ee3043bd";
const S1_OFFSET: usize = 450;
const S1_DIGEST: &str = "b10048f117f189a1e9693ebd72ed94642dafefdfc0df8a2b10646d9acf1e263a";

fn pattern(mul: usize, add: usize) -> Packet {
    std::array::from_fn(|i| ((i * mul + add) % 256) as u8)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A C1 as FFmpeg would build it: version 9.0.124.2 and a player digest.
fn digest_c1(scheme: DigestScheme) -> Packet {
    let mut c1 = pattern(7, 3);
    c1[4..8].copy_from_slice(&[9, 0, 124, 2]);
    digest::imprint(&mut c1, scheme, PLAYER_TEXT);
    c1
}

#[test]
fn digest_matches_independent_vectors() {
    let c1 = digest_c1(DigestScheme::Scheme0);
    assert_eq!(
        hex(&c1[C1_SCHEME0_OFFSET..C1_SCHEME0_OFFSET + 32]),
        C1_SCHEME0_DIGEST
    );
    let c1 = digest_c1(DigestScheme::Scheme1);
    assert_eq!(
        hex(&c1[C1_SCHEME1_OFFSET..C1_SCHEME1_OFFSET + 32]),
        C1_SCHEME1_DIGEST
    );

    let mut s1 = pattern(11, 5);
    s1[4..8].copy_from_slice(&[4, 5, 0, 1]);
    digest::imprint(&mut s1, DigestScheme::Scheme0, SERVER_TEXT);
    assert_eq!(hex(&s1[S1_OFFSET..S1_OFFSET + 32]), S1_DIGEST);

    let c1 = digest_c1(DigestScheme::Scheme0);
    let (_, c1_digest) = digest::find_client_digest(&c1).unwrap();
    let mut s2 = pattern(13, 1);
    digest::sign_response(&mut s2, &c1_digest, SERVER_TEXT);
    assert_eq!(hex(&s2[1504..]), S2_SIGNATURE);
}

fn run_server(c0c1: &[u8]) -> (ServerHandshake, Vec<u8>) {
    let mut hs = ServerHandshake::new(42);
    assert_eq!(hs.handle_input(c0c1).unwrap(), c0c1.len());
    let mut out = Vec::new();
    while let Some(b) = hs.poll_transmit() {
        out.extend_from_slice(&b);
    }
    assert_eq!(out.len(), 1 + 2 * HANDSHAKE_SIZE);
    (hs, out)
}

#[test]
fn digest_handshake_answers_like_a_flash_server() {
    for scheme in [DigestScheme::Scheme0, DigestScheme::Scheme1] {
        let c1 = digest_c1(scheme);
        let c1_digest = digest::find_client_digest(&c1).unwrap().1;
        let (hs, out) = run_server(&[&[3u8][..], &c1].concat());
        assert_eq!(hs.kind(), Some(HandshakeKind::Digest(scheme)));
        assert_eq!(out[0], 3);
        // What FFmpeg/librtmp check: the S1 digest under the server key (same
        // scheme as C1), and S2 signed with a key derived from the C1 digest.
        let s1: Packet = out[1..1 + HANDSHAKE_SIZE].try_into().unwrap();
        let s2: Packet = out[1 + HANDSHAKE_SIZE..].try_into().unwrap();
        assert!(s1[4] >= 3, "ffmpeg validates only when S1 version >= 3");
        assert!(digest::verify_server_digest(&s1, scheme).is_some());
        assert!(digest::verify_response(&s2, &c1_digest, SERVER_TEXT));
    }
}

#[test]
fn plain_handshake_echoes_c1_and_leaves_trailing_bytes() {
    let c1 = pattern(3, 1);
    let mut c1_zero_version = c1;
    c1_zero_version[4..8].copy_from_slice(&[0; 4]);
    let (mut hs, out) = run_server(&[&[3u8][..], &c1_zero_version].concat());
    assert_eq!(hs.kind(), Some(HandshakeKind::Plain));
    assert_eq!(&out[1 + HANDSHAKE_SIZE..], &c1_zero_version[..]);
    // C2 followed by the first chunk-stream bytes, in one read.
    let mut input = vec![0u8; HANDSHAKE_SIZE];
    input.extend_from_slice(b"chunk");
    assert_eq!(hs.handle_input(&input).unwrap(), HANDSHAKE_SIZE);
    assert!(hs.is_done());
    assert_eq!(hs.handle_input(b"more").unwrap(), 0);
}

#[test]
fn non_zero_version_without_digest_falls_back_to_plain() {
    let mut c1 = pattern(5, 9);
    c1[4..8].copy_from_slice(&[9, 0, 124, 2]);
    let (hs, out) = run_server(&[&[3u8][..], &c1].concat());
    assert_eq!(hs.kind(), Some(HandshakeKind::Plain));
    assert_eq!(&out[1 + HANDSHAKE_SIZE..], &c1[..]);
}

#[test]
fn garbage_version_is_refused_at_the_first_byte() {
    let mut hs = ServerHandshake::new(1);
    let err = hs.handle_input(b"GET / HTTP/1.1\r\n").unwrap_err();
    assert_eq!(err, HandshakeError::UnsupportedVersion(b'G'));
    assert_eq!(err.reason(), "bad_handshake");
    assert!(hs.poll_transmit().is_none());
    assert!(hs.handle_input(&[3]).is_err(), "stays failed");
}

#[test]
fn client_and_server_handshake_byte_by_byte() {
    let mut client = ClientHandshake::new(7);
    let mut server = ServerHandshake::new(8);
    for _ in 0..10 {
        while let Some(bytes) = client.poll_transmit() {
            for b in bytes.iter() {
                server.handle_input(&[*b]).unwrap();
            }
        }
        while let Some(bytes) = server.poll_transmit() {
            for b in bytes.iter() {
                client.handle_input(&[*b]).unwrap();
            }
        }
    }
    assert!(client.is_done());
    assert!(server.is_done());
    assert_eq!(server.kind(), Some(HandshakeKind::Plain));
}

#[test]
fn client_refuses_bad_server_version() {
    let mut client = ClientHandshake::new(7);
    assert_eq!(client.poll_transmit().unwrap().len(), 1 + HANDSHAKE_SIZE);
    assert_eq!(
        client.handle_input(&[6]).unwrap_err(),
        HandshakeError::UnsupportedVersion(6)
    );
}
