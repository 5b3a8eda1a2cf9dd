use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::*;
use crate::message::{self, type_id};

fn msg(csid: u32, timestamp: u32, type_id: u8, stream_id: u32, payload: &[u8]) -> Message {
    Message {
        csid,
        timestamp,
        type_id,
        stream_id,
        payload: Bytes::copy_from_slice(payload),
    }
}

fn decode_all(bytes: &[u8]) -> Result<Vec<Message>, ChunkError> {
    let mut d = ChunkDecoder::new();
    d.handle_input(bytes)?;
    Ok(std::iter::from_fn(|| d.poll_message()).collect())
}

#[test]
fn fmt0_single_chunk() {
    // csid 3, ts 1000, len 3, type 20, stream 1 (little-endian).
    let bytes = [
        0x03, 0x00, 0x03, 0xE8, 0x00, 0x00, 0x03, 0x14, 0x01, 0, 0, 0, b'a', b'b', b'c',
    ];
    assert_eq!(
        decode_all(&bytes).unwrap(),
        vec![msg(3, 1000, 20, 1, b"abc")]
    );
}

#[test]
fn fmt2_and_fmt3_headers_follow_the_spec_example() {
    // Spec 5.3.2.1-style audio: fmt0 ts 1000, then fmt2 delta 20, then fmt3 (same delta).
    let mut bytes = vec![
        0x04, 0x00, 0x03, 0xE8, 0x00, 0x00, 0x02, 0x08, 0x01, 0, 0, 0, 1, 2,
    ];
    bytes.extend_from_slice(&[0x84, 0x00, 0x00, 0x14, 3, 4]);
    bytes.extend_from_slice(&[0xC4, 5, 6]);
    let ts: Vec<u32> = decode_all(&bytes)
        .unwrap()
        .iter()
        .map(|m| m.timestamp)
        .collect();
    assert_eq!(ts, [1000, 1020, 1040]);
}

#[test]
fn fmt3_after_fmt0_repeats_the_timestamp_as_delta() {
    let mut bytes = vec![
        0x04, 0x00, 0x00, 0x21, 0x00, 0x00, 0x01, 0x08, 0x01, 0, 0, 0, 1,
    ];
    bytes.extend_from_slice(&[0xC4, 2]);
    let ts: Vec<u32> = decode_all(&bytes)
        .unwrap()
        .iter()
        .map(|m| m.timestamp)
        .collect();
    assert_eq!(ts, [33, 66]);
}

#[test]
fn long_csid_forms_roundtrip() {
    for csid in [2, 63, 64, 319, 320, 65_599] {
        let m = msg(csid, 5, 9, 1, b"x");
        let mut out = BytesMut::new();
        ChunkEncoder::new().encode(&m, &mut out).unwrap();
        assert_eq!(decode_all(&out).unwrap(), vec![m]);
    }
    let mut out = BytesMut::new();
    let err = ChunkEncoder::new()
        .encode(&msg(1, 0, 9, 1, b""), &mut out)
        .unwrap_err();
    assert_eq!(err, ChunkError::InvalidChunkStreamId(1));
}

#[test]
fn extended_timestamp_with_and_without_repeat_in_continuation() {
    let payload = [7u8; 200]; // two chunks at size 128
    let header = [
        0x06, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0xC8, 0x09, 0x01, 0, 0, 0, 0x01, 0, 0, 0,
    ];
    // librtmp/FFmpeg style: continuation repeats the extended timestamp.
    let mut with = header.to_vec();
    with.extend_from_slice(&payload[..128]);
    with.extend_from_slice(&[0xC6, 0x01, 0, 0, 0]);
    with.extend_from_slice(&payload[128..]);
    // Older encoders: continuation without it.
    let mut without = header.to_vec();
    without.extend_from_slice(&payload[..128]);
    without.push(0xC6);
    without.extend_from_slice(&payload[128..]);
    for bytes in [with, without] {
        let got = decode_all(&bytes).unwrap();
        assert_eq!(got, vec![msg(6, 0x0100_0000, 9, 1, &payload)]);
    }
}

#[test]
fn interleaved_chunk_streams() {
    let video = [1u8; 300];
    let audio = [2u8; 100];
    let mut bytes = vec![0x06, 0, 0, 0, 0x00, 0x01, 0x2C, 0x09, 1, 0, 0, 0];
    bytes.extend_from_slice(&video[..128]);
    bytes.extend_from_slice(&[0x04, 0, 0, 0, 0x00, 0x00, 0x64, 0x08, 1, 0, 0, 0]);
    bytes.extend_from_slice(&audio);
    bytes.push(0xC6);
    bytes.extend_from_slice(&video[128..256]);
    bytes.push(0xC6);
    bytes.extend_from_slice(&video[256..]);
    let got = decode_all(&bytes).unwrap();
    assert_eq!(got, vec![msg(4, 0, 8, 1, &audio), msg(6, 0, 9, 1, &video)]);
}

#[test]
fn set_chunk_size_and_abort_apply_in_stream_order() {
    let mut enc = ChunkEncoder::new();
    let mut out = BytesMut::new();
    enc.encode(&message::set_chunk_size(4096), &mut out)
        .unwrap();
    enc.set_chunk_size(4096).unwrap();
    let big = msg(6, 0, 9, 1, &[9u8; 3000]);
    enc.encode(&big, &mut out).unwrap();
    let got = decode_all(&out).unwrap();
    assert_eq!(got[1], big);

    // Abort: a half-sent message on csid 6 is dropped, the next one decodes.
    let mut bytes = vec![0x06, 0, 0, 0, 0x00, 0x01, 0x2C, 0x09, 1, 0, 0, 0];
    bytes.extend_from_slice(&[0u8; 128]);
    let mut out = BytesMut::new();
    let abort = msg(2, 0, type_id::ABORT, 0, &6u32.to_be_bytes());
    ChunkEncoder::new().encode(&abort, &mut out).unwrap();
    bytes.extend_from_slice(&out);
    bytes.extend_from_slice(&[0x06, 0, 0, 0, 0x00, 0x00, 0x01, 0x09, 1, 0, 0, 0, 0xAB]);
    let got = decode_all(&bytes).unwrap();
    assert_eq!(got.last().unwrap(), &msg(6, 0, 9, 1, &[0xAB]));
}

#[test]
fn oversized_message_is_refused_at_the_header() {
    // 0xFFFFFF (16 MiB, the largest a header can say) with no payload sent yet.
    let header = [0x06, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0x09, 1, 0, 0, 0];
    let mut d = ChunkDecoder::new();
    let err = d.handle_input(&header).unwrap_err();
    assert_eq!(err, ChunkError::MessageTooLarge(0xFF_FFFF));
    assert_eq!(err.reason(), "message_too_large");
    assert!(d.handle_input(&[0]).is_err(), "decoder stays failed");
}

#[test]
fn too_many_chunk_streams() {
    let mut bytes = Vec::new();
    for csid in 0..=MAX_CHUNK_STREAMS as u32 {
        let mut out = BytesMut::new();
        ChunkEncoder::new()
            .encode(&msg(csid + 3, 0, 9, 1, b"x"), &mut out)
            .unwrap();
        bytes.extend_from_slice(&out);
    }
    let err = decode_all(&bytes).unwrap_err();
    assert_eq!(err, ChunkError::TooManyChunkStreams);
    assert_eq!(err.reason(), "too_many_chunk_streams");
}

#[test]
fn pending_bytes_are_bounded_across_chunk_streams() {
    // Three 8 MiB messages started on three chunk streams, none finished.
    let mut bytes = Vec::new();
    for csid in [4u8, 5, 6] {
        bytes.extend_from_slice(&[csid, 0, 0, 0, 0x80, 0x00, 0x00, 0x09, 1, 0, 0, 0]);
        bytes.extend_from_slice(&[0u8; 128]);
    }
    assert_eq!(
        decode_all(&bytes).unwrap_err(),
        ChunkError::TooManyPendingBytes
    );
}

#[test]
fn bad_chunk_sizes() {
    for (size, err) in [
        (0, ChunkError::InvalidChunkSize(0)),
        (0x8000_0080, ChunkError::InvalidChunkSize(0x8000_0080)),
        (
            MAX_CHUNK_SIZE + 1,
            ChunkError::ChunkSizeTooLarge(MAX_CHUNK_SIZE + 1),
        ),
    ] {
        let mut out = BytesMut::new();
        ChunkEncoder::new()
            .encode(&message::set_chunk_size(size), &mut out)
            .unwrap();
        assert_eq!(decode_all(&out).unwrap_err(), err);
    }
    let short = msg(2, 0, type_id::SET_CHUNK_SIZE, 0, &[0, 1]);
    let mut out = BytesMut::new();
    ChunkEncoder::new().encode(&short, &mut out).unwrap();
    assert_eq!(
        decode_all(&out).unwrap_err().reason(),
        "bad_control_message"
    );
}

#[test]
fn headerless_first_chunk_is_refused() {
    assert_eq!(
        decode_all(&[0x46, 0, 0, 0]).unwrap_err(),
        ChunkError::NoPreviousHeader(6)
    );
    assert_eq!(
        decode_all(&[0xC3]).unwrap_err(),
        ChunkError::NoPreviousHeader(3)
    );
}

#[test]
fn zero_length_messages() {
    let m = msg(4, 10, 8, 1, b"");
    let mut out = BytesMut::new();
    ChunkEncoder::new().encode(&m, &mut out).unwrap();
    assert_eq!(decode_all(&out).unwrap(), vec![m]);
}

/// Messages above the up-front reservation grow as their chunks arrive; both paths reassemble
/// the same bytes, however the input is sliced.
#[test]
fn messages_around_the_preallocation_limit_roundtrip() {
    let sizes = [
        decoder::PREALLOCATE_LIMIT - 1,
        decoder::PREALLOCATE_LIMIT,
        decoder::PREALLOCATE_LIMIT + 4097,
    ];
    let messages: Vec<Message> = sizes
        .iter()
        .enumerate()
        .map(|(i, &len)| {
            let payload: Vec<u8> = (0..len).map(|b| (b * 7 + i) as u8).collect();
            msg(6, 40 * i as u32, type_id::VIDEO, 1, &payload)
        })
        .collect();
    let mut enc = ChunkEncoder::new();
    let mut out = BytesMut::new();
    enc.encode(&message::set_chunk_size(4096), &mut out)
        .unwrap();
    enc.set_chunk_size(4096).unwrap();
    for m in &messages {
        enc.encode(m, &mut out).unwrap();
    }
    for slice in [out.len(), 65_536, 4_000, 8] {
        let mut dec = ChunkDecoder::new();
        for piece in out.chunks(slice) {
            dec.handle_input(piece).unwrap();
        }
        let got: Vec<Message> = std::iter::from_fn(|| dec.poll_message()).skip(1).collect();
        assert_eq!(got, messages, "input in slices of {slice} bytes");
    }
}

fn arb_message() -> impl Strategy<Value = Message> {
    (
        prop_oneof![2u32..10, 60u32..70, 315u32..325, Just(65_599u32)],
        prop_oneof![0u32..5000, any::<u32>(), 0x00FF_FFF0u32..0x0100_0010],
        3u8..=30,
        0u32..3,
        prop::collection::vec(any::<u8>(), 0..1500),
    )
        .prop_map(|(csid, timestamp, type_id, stream_id, payload)| Message {
            csid,
            timestamp,
            type_id,
            stream_id,
            payload: payload.into(),
        })
}

proptest! {
    #[test]
    fn prop_chunk_roundtrip(
        messages in prop::collection::vec(arb_message(), 1..20),
        chunk_size in prop_oneof![1u32..300, 300u32..5000],
        slices in prop::collection::vec(1usize..700, 1..50),
    ) {
        let mut enc = ChunkEncoder::new();
        let mut out = BytesMut::new();
        enc.encode(&message::set_chunk_size(chunk_size), &mut out).unwrap();
        enc.set_chunk_size(chunk_size).unwrap();
        for m in &messages {
            enc.encode(m, &mut out).unwrap();
        }
        // Feed the bytes in random-sized slices.
        let mut dec = ChunkDecoder::new();
        let mut rest: &[u8] = &out;
        let mut sizes = slices.iter().cycle();
        while !rest.is_empty() {
            let n = (*sizes.next().unwrap()).min(rest.len());
            dec.handle_input(&rest[..n]).unwrap();
            rest = &rest[n..];
        }
        let got: Vec<Message> = std::iter::from_fn(|| dec.poll_message()).skip(1).collect();
        prop_assert_eq!(got, messages);
        prop_assert_eq!(dec.chunk_size(), chunk_size);
        prop_assert_eq!(dec.bytes_received(), out.len() as u64);
    }

    #[test]
    fn prop_garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = decode_all(&bytes);
    }
}
