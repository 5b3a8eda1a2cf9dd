use std::time::Duration;

use bytes::Bytes;
use hls::{PartPosition, WindowConfig, WindowStart};
use proptest::prelude::*;

use super::*;
use crate::error::WireError;
use crate::limits::{MAX_CONTROL_FRAME_SIZE, MAX_NAME_LEN, MAX_PART_SIZE};

fn decode_all(kind: StreamKind, chunks: &[&[u8]]) -> Vec<Result<Frame, WireError>> {
    let mut decoder = FrameDecoder::new(kind);
    let mut out = Vec::new();
    for chunk in chunks {
        decoder.handle_bytes(chunk);
        while let Some(frame) = decoder.poll_frame() {
            out.push(frame);
        }
    }
    out
}

fn part(body: &'static [u8]) -> Frame {
    Frame::Part(PartFrame {
        subscription_id: 3,
        position: PartPosition { msn: 70, index: 2 },
        meta: PartMeta {
            generation: 1,
            duration: Duration::from_nanos(199_999_999),
            independent: false,
            ends_segment: true,
            discontinuity_before: false,
            program_date_time_ms: 1_764_060_960_000,
            origin_time_us: 1_764_060_960_123_456,
        },
        data: Bytes::from_static(body),
    })
}

#[test]
fn part_header_and_body_stay_apart() {
    let encoded = part(b"moof+mdat").encode();
    assert_eq!(&encoded.body[..], b"moof+mdat");
    assert_eq!(encoded.header[0], frame_type::PART);
    let frame = FrameDecoder::decode_data_stream(&encoded.to_bytes());
    assert_eq!(frame, Ok(part(b"moof+mdat")));
}

#[test]
fn hello_layout_is_stable() {
    let hello = Frame::Hello(Hello {
        version: crate::VERSION,
        node_id: "edge-1".into(),
    });
    // type 0x01, length 9, major 1, minor 0, "edge-1" (6 bytes).
    assert_eq!(&hello.to_bytes()[..], b"\x01\x09\x01\x00\x06edge-1");
}

#[test]
fn limits_are_checked_before_buffering() {
    // A control frame declaring MAX_CONTROL_FRAME_SIZE + 1 bytes is refused from its header.
    let mut header = vec![frame_type::HELLO];
    varint::put(&mut header, MAX_CONTROL_FRAME_SIZE as u64 + 1);
    let got = decode_all(StreamKind::Control, &[&header]);
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].as_ref().map_err(WireError::reason),
        Err("control_frame_too_large")
    );

    let mut header = vec![frame_type::PART];
    varint::put(&mut header, (MAX_PART_SIZE * 2) as u64);
    let got = decode_all(StreamKind::Data, &[&header]);
    assert_eq!(
        got[0].as_ref().map_err(WireError::reason),
        Err("part_too_large")
    );

    let mut header = vec![frame_type::INIT];
    varint::put(&mut header, (MAX_PART_SIZE * 2) as u64);
    let got = decode_all(StreamKind::Data, &[&header]);
    assert_eq!(
        got[0].as_ref().map_err(WireError::reason),
        Err("init_too_large")
    );
}

#[test]
fn names_are_limited() {
    let long = "x".repeat(MAX_NAME_LEN + 1);
    let frame = Frame::Subscribe(Subscribe {
        request_id: 1,
        stream: long,
        rendition: "720p".into(),
        resume: None,
    });
    let got = decode_all(StreamKind::Control, &[&frame.to_bytes()]);
    assert_eq!(
        got[0].as_ref().map_err(WireError::reason),
        Err("name_too_long")
    );
}

#[test]
fn frames_on_the_wrong_stream_are_refused() {
    let got = decode_all(StreamKind::Control, &[&part(b"x").to_bytes()]);
    assert_eq!(
        got[0].as_ref().map_err(WireError::reason),
        Err("wrong_stream")
    );
    let unsub = Frame::Unsubscribe { subscription_id: 1 }.to_bytes();
    let got = decode_all(StreamKind::Data, &[&unsub]);
    assert_eq!(
        got[0].as_ref().map_err(WireError::reason),
        Err("wrong_stream")
    );
    let got = decode_all(StreamKind::Control, &[b"\x0f\x00"]);
    assert_eq!(
        got[0].as_ref().map_err(WireError::reason),
        Err("unknown_frame_type")
    );
}

#[test]
fn extension_frames_are_skipped_and_trailing_fields_ignored() {
    let unsub = Frame::Unsubscribe { subscription_id: 9 };
    let mut bytes = vec![0x2a, 0x03, 1, 2, 3]; // an extension frame
    bytes.extend_from_slice(b"\x05\x03\x09\xff\xff"); // Unsubscribe with two appended bytes
    let got = decode_all(StreamKind::Control, &[&bytes]);
    assert_eq!(got, vec![Ok(unsub)]);
}

#[test]
fn data_streams_carry_exactly_one_frame() {
    let mut bytes = part(b"a").to_bytes().to_vec();
    bytes.push(0);
    let got = FrameDecoder::decode_data_stream(&bytes);
    assert_eq!(got.map_err(|e| e.reason()), Err("trailing_data"));
    let whole = part(b"abc").to_bytes();
    let cut = FrameDecoder::decode_data_stream(&whole[..whole.len() - 1]);
    assert_eq!(cut.map_err(|e| e.reason()), Err("incomplete_frame"));
    let mut decoder = FrameDecoder::new(StreamKind::Data);
    assert_eq!(
        decoder.finish().map_err(|e| e.reason()),
        Err("incomplete_frame")
    );
    decoder.handle_bytes(&whole);
    assert!(matches!(decoder.poll_frame(), Some(Ok(_))));
    assert_eq!(decoder.finish(), Ok(()));
}

#[test]
fn bad_flags_and_ranges_are_refused() {
    // Discontinuity with an optional-position flag of 2.
    let got = decode_all(StreamKind::Control, &[b"\x07\x02\x01\x02"]);
    assert_eq!(
        got[0].as_ref().map_err(WireError::reason),
        Err("invalid_flags")
    );
    // Init with a generation above u32::MAX.
    let mut payload = vec![0x01];
    varint::put(&mut payload, u64::from(u32::MAX) + 1);
    let mut bytes = vec![frame_type::INIT, payload.len() as u8];
    bytes.extend_from_slice(&payload);
    let got = FrameDecoder::decode_data_stream(&bytes);
    assert_eq!(got.map_err(|e| e.reason()), Err("out_of_range"));
    // Truncated field inside a complete frame.
    let got = decode_all(StreamKind::Control, &[b"\x02\x01\x05"]);
    assert_eq!(got[0].as_ref().map_err(WireError::reason), Err("truncated"));
    // Invalid UTF-8 name.
    let got = decode_all(StreamKind::Control, &[b"\x01\x05\x01\x00\x02\xff\xfe"]);
    assert_eq!(
        got[0].as_ref().map_err(WireError::reason),
        Err("invalid_utf8")
    );
}

#[test]
fn decoder_stops_after_an_error() {
    let mut decoder = FrameDecoder::new(StreamKind::Control);
    decoder.handle_bytes(b"\x0f\x00");
    assert!(matches!(decoder.poll_frame(), Some(Err(_))));
    decoder.handle_bytes(&Frame::Unsubscribe { subscription_id: 1 }.to_bytes());
    assert_eq!(decoder.poll_frame(), None);
}

// ---- round trips ----

fn name() -> impl Strategy<Value = String> {
    "[a-z0-9_-]{0,24}"
}

fn position() -> impl Strategy<Value = PartPosition> {
    (0..MAX_VARINT, 0..1000u64).prop_map(|(msn, index)| PartPosition { msn, index })
}

fn meta() -> impl Strategy<Value = PartMeta> {
    (
        any::<u32>(),
        0..MAX_VARINT,
        any::<(bool, bool, bool)>(),
        0..MAX_VARINT,
        0..MAX_VARINT,
    )
        .prop_map(|(generation, ns, flags, pdt, origin)| PartMeta {
            generation,
            duration: Duration::from_nanos(ns),
            independent: flags.0,
            ends_segment: flags.1,
            discontinuity_before: flags.2,
            program_date_time_ms: pdt,
            origin_time_us: origin,
        })
}

fn snapshot() -> impl Strategy<Value = WindowSnapshot> {
    (
        (1..MAX_VARINT, 1..MAX_VARINT, 0..100_000usize, any::<bool>()),
        (
            0..MAX_VARINT,
            0..MAX_VARINT,
            proptest::option::of(0..MAX_VARINT),
            any::<bool>(),
        ),
        (
            proptest::option::of(any::<u32>()),
            any::<bool>(),
            position(),
            any::<bool>(),
        ),
    )
        .prop_map(|(c, s, rest)| WindowSnapshot {
            config: WindowConfig {
                part_target: Duration::from_nanos(c.0),
                segment_target: Duration::from_nanos(c.1),
                window_segments: c.2,
                delta_updates: c.3,
            },
            start: WindowStart {
                msn: s.0,
                discontinuity_sequence: s.1,
                target_duration: s.2,
                discontinuity: s.3,
            },
            generation: rest.0,
            ended: rest.1,
            first_part: rest.2,
            continues: rest.3,
        })
}

fn code() -> impl Strategy<Value = ErrorCode> {
    prop_oneof![
        Just(ErrorCode::UnknownStream),
        Just(ErrorCode::UnknownRendition),
        Just(ErrorCode::Overloaded),
        Just(ErrorCode::Version),
        (5..MAX_VARINT).prop_map(ErrorCode::Other),
    ]
}

fn control_frame() -> impl Strategy<Value = Frame> {
    let id = 0..MAX_VARINT;
    prop_oneof![
        (id.clone(), id.clone(), name()).prop_map(|(major, minor, node_id)| Frame::Hello(Hello {
            version: Version { major, minor },
            node_id,
        })),
        (
            id.clone(),
            name(),
            name(),
            proptest::option::of((position(), any::<u32>()))
        )
            .prop_map(|(request_id, stream, rendition, resume)| Frame::Subscribe(
                Subscribe {
                    request_id,
                    stream,
                    rendition,
                    resume: resume.map(|(position, generation)| ResumePoint {
                        position,
                        generation
                    }),
                }
            )),
        (id.clone(), id.clone(), snapshot()).prop_map(|(request_id, subscription_id, window)| {
            Frame::SubscribeOk(SubscribeOk {
                request_id,
                subscription_id,
                window,
            })
        }),
        (id.clone(), code(), ".{0,40}").prop_map(|(request_id, code, reason)| {
            Frame::SubscribeError(SubscribeError {
                request_id,
                code,
                reason,
            })
        }),
        id.clone()
            .prop_map(|subscription_id| Frame::Unsubscribe { subscription_id }),
        (id.clone(), proptest::option::of(position())).prop_map(|(subscription_id, last)| {
            Frame::StreamEnded {
                subscription_id,
                last,
            }
        }),
        (id, proptest::option::of(position())).prop_map(|(subscription_id, last)| {
            Frame::Discontinuity {
                subscription_id,
                last,
            }
        }),
    ]
}

fn data_frame() -> impl Strategy<Value = Frame> {
    let body = proptest::collection::vec(any::<u8>(), 0..300).prop_map(Bytes::from);
    prop_oneof![
        (0..MAX_VARINT, any::<u32>(), body.clone()).prop_map(
            |(subscription_id, generation, data)| {
                Frame::Init(InitFrame {
                    subscription_id,
                    generation,
                    data,
                })
            }
        ),
        (0..MAX_VARINT, position(), meta(), body).prop_map(
            |(subscription_id, position, meta, data)| Frame::Part(PartFrame {
                subscription_id,
                position,
                meta,
                data,
            })
        ),
    ]
}

/// Splits `bytes` at the given (sorted, deduplicated) cut points.
fn split<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.sort_unstable();
    points.dedup();
    let mut out = Vec::new();
    let mut start = 0;
    for p in points {
        out.push(&bytes[start..p]);
        start = p;
    }
    out.push(&bytes[start..]);
    out
}

proptest! {
    #[test]
    fn control_frames_round_trip_from_any_split(
        frames in proptest::collection::vec(control_frame(), 1..6),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let mut wire = Vec::new();
        for f in &frames {
            wire.extend_from_slice(&f.to_bytes());
        }
        let got = decode_all(StreamKind::Control, &split(&wire, &cuts));
        let want: Vec<_> = frames.into_iter().map(Ok).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn data_frames_round_trip_from_any_split(
        frame in data_frame(),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let wire = frame.to_bytes();
        let mut decoder = FrameDecoder::new(StreamKind::Data);
        let mut got = Vec::new();
        for chunk in split(&wire, &cuts) {
            decoder.handle_bytes(chunk);
            while let Some(f) = decoder.poll_frame() {
                got.push(f);
            }
        }
        prop_assert_eq!(decoder.finish(), Ok(()));
        prop_assert_eq!(got, vec![Ok(frame)]);
    }

    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        for kind in [StreamKind::Control, StreamKind::Data] {
            let mut decoder = FrameDecoder::new(kind);
            decoder.handle_bytes(&bytes);
            while decoder.poll_frame().is_some() {}
            let _ = decoder.finish();
        }
    }
}
