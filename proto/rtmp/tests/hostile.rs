//! Hostile peers against ServerSession: every limit refuses with its own
//! error and reason label, and nothing panics.

use bytes::BytesMut;
use livecdn_rtmp::amf0::Amf0Error;
use livecdn_rtmp::handshake::HANDSHAKE_SIZE;
use livecdn_rtmp::message::{self, type_id};
use livecdn_rtmp::{
    ChunkEncoder, ChunkError, HandshakeError, MAX_CHUNK_SIZE, MAX_CHUNK_STREAMS, Message,
    ServerConfig, ServerSession, SessionError,
};
use proptest::prelude::*;

fn after_handshake() -> ServerSession {
    let mut s = ServerSession::new(ServerConfig::default(), 3);
    let mut hello = vec![3u8];
    hello.extend_from_slice(&[0u8; 2 * HANDSHAKE_SIZE]);
    s.handle_input(&hello).unwrap();
    while s.poll_transmit().is_some() {}
    s
}

fn chunks(messages: &[Message]) -> BytesMut {
    let mut enc = ChunkEncoder::new();
    let mut out = BytesMut::new();
    for m in messages {
        enc.encode(m, &mut out).unwrap();
    }
    out
}

#[test]
fn garbage_handshake_version() {
    let mut s = ServerSession::new(ServerConfig::default(), 3);
    let err = s.handle_input(b"\x16\x03\x01\x02\x00").unwrap_err(); // a TLS ClientHello
    assert_eq!(
        err,
        SessionError::Handshake(HandshakeError::UnsupportedVersion(0x16))
    );
    assert_eq!(err.reason(), "bad_handshake");
    assert!(s.is_closed());
    assert!(s.poll_transmit().is_none());
}

#[test]
fn huge_message_length_refused_at_the_header() {
    let mut s = after_handshake();
    // The largest length a chunk header can carry (16 MiB): the server has
    // only these 12 bytes and refuses without waiting for the payload.
    let err = s
        .handle_input(&[0x06, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0x09, 1, 0, 0, 0])
        .unwrap_err();
    assert_eq!(
        err,
        SessionError::Chunk(ChunkError::MessageTooLarge(0xFF_FFFF))
    );
    assert_eq!(err.reason(), "message_too_large");
}

#[test]
fn too_many_chunk_streams() {
    let mut s = after_handshake();
    let messages: Vec<Message> = (0..=MAX_CHUNK_STREAMS as u32)
        .map(|i| Message {
            csid: 10 + i,
            timestamp: 0,
            type_id: 30,
            stream_id: 0,
            payload: vec![0].into(),
        })
        .collect();
    let err = s.handle_input(&chunks(&messages)).unwrap_err();
    assert_eq!(err.reason(), "too_many_chunk_streams");
}

#[test]
fn chunk_size_zero_and_above_limit() {
    for (size, reason) in [
        (0, "invalid_chunk_size"),
        (MAX_CHUNK_SIZE + 1, "chunk_size_too_large"),
    ] {
        let mut s = after_handshake();
        let err = s
            .handle_input(&chunks(&[message::set_chunk_size(size)]))
            .unwrap_err();
        assert_eq!(err.reason(), reason);
    }
}

#[test]
fn amf_nesting_bomb_in_connect() {
    let mut s = after_handshake();
    let mut body = Vec::new();
    livecdn_rtmp::Amf0Value::String("connect".into()).encode(&mut body);
    livecdn_rtmp::Amf0Value::Number(1.0).encode(&mut body);
    for _ in 0..5000 {
        body.extend_from_slice(&[0x03, 0x00, 0x01, b'a']);
    }
    let m = Message {
        csid: 3,
        timestamp: 0,
        type_id: type_id::COMMAND_AMF0,
        stream_id: 0,
        payload: body.into(),
    };
    let err = s.handle_input(&chunks(&[m])).unwrap_err();
    assert_eq!(err, SessionError::Amf(Amf0Error::TooDeep));
    assert_eq!(err.reason(), "amf_too_deep");
}

proptest! {
    #[test]
    fn prop_garbage_after_handshake_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let mut s = after_handshake();
        let _ = s.handle_input(&bytes);
        while s.poll_output().is_some() {}
        while s.poll_transmit().is_some() {}
    }

    #[test]
    fn prop_garbage_handshake_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..4000)) {
        let mut s = ServerSession::new(ServerConfig::default(), 5);
        let _ = s.handle_input(&bytes);
        while s.poll_transmit().is_some() {}
    }
}
