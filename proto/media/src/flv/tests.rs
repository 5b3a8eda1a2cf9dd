use super::*;

fn b(v: &[u8]) -> Bytes {
    Bytes::copy_from_slice(v)
}

#[test]
fn parses_avc_sequence_header_and_frames() {
    let seq = parse_video_tag(&b(&[0x17, 0, 0, 0, 0, 1, 2, 3])).unwrap();
    assert_eq!(seq, VideoTag::SequenceHeader(b(&[1, 2, 3])));

    // Inter frame with composition time +66 ms.
    let tag = parse_video_tag(&b(&[0x27, 1, 0, 0, 66, 0, 0, 0, 1, 9])).unwrap();
    let VideoTag::Frame(f) = tag else {
        panic!("not a frame")
    };
    assert!(!f.keyframe);
    assert_eq!(f.composition_time_ms, 66);
    assert_eq!(&f.data[..], &[0, 0, 0, 1, 9]);

    assert_eq!(
        parse_video_tag(&b(&[0x17, 2, 0, 0, 0])).unwrap(),
        VideoTag::EndOfSequence
    );
}

#[test]
fn composition_time_is_signed() {
    let tag = parse_video_tag(&b(&[0x17, 1, 0xff, 0xff, 0xfe])).unwrap();
    let VideoTag::Frame(f) = tag else {
        panic!("not a frame")
    };
    assert_eq!(f.composition_time_ms, -2);
    assert!(f.keyframe);
}

#[test]
fn refuses_other_codecs_by_name() {
    let err = parse_video_tag(&b(&[0x1c, 0, 0, 0, 0])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unsupported video codec hevc (flv codec id 12)"
    );
    let err = parse_video_tag(&b(&[0x90, b'h', b'v', b'c', b'1'])).unwrap_err();
    assert!(err.to_string().contains("hvc1"), "{err}");
    let err = parse_video_tag(&b(&[0x90, b'a', b'v', b'0', b'1'])).unwrap_err();
    assert!(err.to_string().contains("av01"), "{err}");
    let err = parse_audio_tag(&b(&[0x2f, 0])).unwrap_err();
    assert!(err.to_string().contains("mp3"), "{err}");
    let err = parse_audio_tag(&b(&[0xb6, 0])).unwrap_err();
    assert!(err.to_string().contains("speex"), "{err}");
    assert_eq!(err.reason(), "unsupported_audio_codec");
}

#[test]
fn enhanced_rtmp_avc1_is_accepted() {
    // ExHeader, keyframe, CodedFramesX.
    let tag = parse_video_tag(&b(&[0x93, b'a', b'v', b'c', b'1', 0, 0, 0, 1, 5])).unwrap();
    let VideoTag::Frame(f) = tag else {
        panic!("not a frame")
    };
    assert!(f.keyframe);
    assert_eq!(f.composition_time_ms, 0);
    let tag = parse_video_tag(&b(&[0x96, b'a', b'v', b'c', b'1'])).unwrap_err();
    assert_eq!(tag.reason(), "unsupported_packet_type");
}

#[test]
fn parses_aac() {
    assert_eq!(
        parse_audio_tag(&b(&[0xaf, 0, 0x12, 0x10])).unwrap(),
        AudioTag::SequenceHeader(b(&[0x12, 0x10]))
    );
    assert_eq!(
        parse_audio_tag(&b(&[0xaf, 1, 7])).unwrap(),
        AudioTag::Frame(b(&[7]))
    );
    assert_eq!(
        parse_audio_tag(&b(&[0xaf, 3])).unwrap_err().reason(),
        "invalid_flv"
    );
}

#[test]
fn truncated_headers_are_errors() {
    for body in [&[][..], &[0x17], &[0x17, 1, 0], &[0xaf]] {
        let v = parse_video_tag(&b(body));
        let a = parse_audio_tag(&b(body));
        assert!(v.is_err() || a.is_err());
    }
}

#[test]
fn validates_avcc_framing() {
    assert!(validate_avcc(&[0, 0, 0, 1, 5, 0, 0, 0, 0], 4).is_ok());
    assert_eq!(
        validate_avcc(&[0, 0, 0, 2, 5], 4).unwrap_err().reason(),
        "truncated"
    );
    assert_eq!(
        validate_avcc(&[0, 0xff, 0xff, 0xff, 5], 4)
            .unwrap_err()
            .reason(),
        "nalu_too_large"
    );
    assert!(validate_avcc(&[1, 5, 0], 1).is_ok());
}

fn flv_file(tags: &[(u8, u32, &[u8])]) -> Bytes {
    let mut out = vec![b'F', b'L', b'V', 1, 5, 0, 0, 0, 9, 0, 0, 0, 0];
    for &(ty, ts, body) in tags {
        let size = body.len() as u32;
        out.push(ty);
        out.extend_from_slice(&size.to_be_bytes()[1..]);
        out.extend_from_slice(&ts.to_be_bytes()[1..]);
        out.push((ts >> 24) as u8);
        out.extend_from_slice(&[0, 0, 0]);
        out.extend_from_slice(body);
        out.extend_from_slice(&(size + 11).to_be_bytes());
    }
    Bytes::from(out)
}

#[test]
fn reads_flv_file() {
    let file = flv_file(&[
        (9, 0, &[0x17, 0]),
        (8, 0x0100_0020, &[0xaf, 1, 2]),
        (18, 5, &[2]),
    ]);
    let mut r = FlvReader::new(file).unwrap();
    assert_eq!(
        r.header(),
        FlvHeader {
            has_audio: true,
            has_video: true
        }
    );
    let t = r.next().unwrap().unwrap();
    assert_eq!(
        (t.tag_type, t.timestamp_ms, &t.body[..]),
        (TagType::Video, 0, &[0x17, 0][..])
    );
    let t = r.next().unwrap().unwrap();
    assert_eq!((t.tag_type, t.timestamp_ms), (TagType::Audio, 0x0100_0020));
    assert_eq!(r.next().unwrap().unwrap().tag_type, TagType::Script);
    assert!(r.next().is_none());
}

#[test]
fn truncated_file_yields_one_error() {
    let file = flv_file(&[(9, 0, &[0x17, 0, 1, 2, 3])]);
    let mut r = FlvReader::new(file.slice(..file.len() - 6)).unwrap();
    assert_eq!(r.next().unwrap().unwrap_err().reason(), "truncated");
    assert!(r.next().is_none());
    assert!(FlvReader::new(b(b"FLX\x01\x05\0\0\0\x09")).is_err());
}

proptest::proptest! {
    #[test]
    fn parsers_never_panic(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
        let body = Bytes::from(data);
        let _ = parse_video_tag(&body);
        let _ = parse_audio_tag(&body);
        let _ = validate_avcc(&body, 4);
        if let Ok(r) = FlvReader::new(body) {
            for _ in r {}
        }
    }
}
