use super::*;
use proptest::prelude::*;

fn roundtrip(v: &Amf0Value) -> Amf0Value {
    let mut buf = Vec::new();
    v.encode(&mut buf);
    let (out, used) = decode(&buf).expect("decode");
    assert_eq!(used, buf.len());
    out
}

#[test]
fn encodes_connect_like_object() {
    let v = Amf0Value::object([("app", "live".into()), ("objectEncoding", 0.0.into())]);
    let mut buf = Vec::new();
    v.encode(&mut buf);
    let expected: &[u8] = &[
        0x03, 0x00, 0x03, b'a', b'p', b'p', 0x02, 0x00, 0x04, b'l', b'i', b'v', b'e', 0x00, 0x0E,
        b'o', b'b', b'j', b'e', b'c', b't', b'E', b'n', b'c', b'o', b'd', b'i', b'n', b'g', 0x00,
        0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x00, 0x09,
    ];
    assert_eq!(buf, expected);
    assert_eq!(roundtrip(&v), v);
    assert_eq!(v.get("app").and_then(Amf0Value::as_str), Some("live"));
}

#[test]
fn long_string_uses_long_marker() {
    let s = "x".repeat(70_000);
    let v = Amf0Value::String(s);
    let mut buf = Vec::new();
    v.encode(&mut buf);
    assert_eq!(buf[0], 0x0C);
    assert_eq!(roundtrip(&v), v);
}

#[test]
fn ecma_array_count_is_advisory() {
    // FFmpeg's onMetaData writes a count; some encoders write 0. Both decode.
    let bytes = [0x08, 0, 0, 0, 0, 0x00, 0x01, b'a', 0x05, 0x00, 0x00, 0x09];
    let (v, _) = decode(&bytes).unwrap();
    assert_eq!(v, Amf0Value::EcmaArray(vec![("a".into(), Amf0Value::Null)]));
}

#[test]
fn date_and_scalars() {
    for v in [
        Amf0Value::Date {
            millis: 1.7e12,
            timezone: 0,
        },
        Amf0Value::Undefined,
        Amf0Value::Boolean(true),
        Amf0Value::XmlDocument("<a/>".into()),
    ] {
        assert_eq!(roundtrip(&v), v);
    }
}

#[test]
fn nesting_bomb_is_refused() {
    // 10 000 nested strict arrays of length 1: would blow the stack without a limit.
    let mut bytes = Vec::new();
    for _ in 0..10_000 {
        bytes.extend_from_slice(&[0x0A, 0, 0, 0, 1]);
    }
    bytes.push(0x05);
    let err = decode(&bytes).unwrap_err();
    assert_eq!(err, Amf0Error::TooDeep);
    assert_eq!(err.reason(), "amf_too_deep");

    let mut objects = Vec::new();
    for _ in 0..10_000 {
        objects.extend_from_slice(&[0x03, 0x00, 0x01, b'k']);
    }
    assert_eq!(decode(&objects).unwrap_err(), Amf0Error::TooDeep);
}

#[test]
fn lying_counts_are_bounded() {
    // A strict array claiming 4 billion items, with no bytes behind it.
    assert_eq!(
        decode(&[0x0A, 0xFF, 0xFF, 0xFF, 0xFF]).unwrap_err(),
        Amf0Error::TooManyItems
    );
    // Many real items in one message.
    let bytes = vec![0x05; MAX_AMF_ITEMS + 1];
    assert_eq!(decode_all(&bytes).unwrap_err(), Amf0Error::TooManyItems);
    assert_eq!(Amf0Error::TooManyItems.reason(), "amf_too_many_items");
}

#[test]
fn malformed_inputs_are_errors() {
    assert_eq!(decode(&[]).unwrap_err(), Amf0Error::Truncated);
    assert_eq!(decode(&[0x00, 1, 2]).unwrap_err(), Amf0Error::Truncated);
    assert_eq!(
        decode(&[0x02, 0x00, 0x02, 0xFF, 0xFE]).unwrap_err(),
        Amf0Error::InvalidUtf8
    );
    assert_eq!(decode(&[0x09]).unwrap_err(), Amf0Error::UnexpectedObjectEnd);
    assert_eq!(
        decode(&[0x07, 0, 0]).unwrap_err(),
        Amf0Error::UnsupportedMarker(0x07)
    );
    assert_eq!(decode(&[0x42]).unwrap_err(), Amf0Error::UnknownMarker(0x42));
    assert_eq!(
        decode(&[0x03, 0x00, 0x01]).unwrap_err(),
        Amf0Error::Truncated
    );
    assert_eq!(Amf0Error::Truncated.reason(), "amf_decode");
}

fn arb_value() -> impl Strategy<Value = Amf0Value> {
    let key = "[a-zA-Z0-9_@]{1,12}";
    let leaf = prop_oneof![
        any::<f64>()
            .prop_filter("NaN != NaN", |n| !n.is_nan())
            .prop_map(Amf0Value::Number),
        any::<bool>().prop_map(Amf0Value::Boolean),
        ".{0,40}".prop_map(Amf0Value::String),
        Just(Amf0Value::Null),
        Just(Amf0Value::Undefined),
        (-1e15f64..1e15, any::<i16>())
            .prop_map(|(millis, timezone)| Amf0Value::Date { millis, timezone }),
        ".{0,20}".prop_map(Amf0Value::XmlDocument),
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec((key, inner.clone()), 0..6).prop_map(Amf0Value::Object),
            prop::collection::vec((key, inner.clone()), 0..6).prop_map(Amf0Value::EcmaArray),
            prop::collection::vec(inner, 0..6).prop_map(Amf0Value::StrictArray),
        ]
    })
}

proptest! {
    #[test]
    fn prop_roundtrip(v in arb_value()) {
        prop_assert_eq!(roundtrip(&v), v);
    }

    #[test]
    fn prop_sequence_roundtrip(vs in prop::collection::vec(arb_value(), 0..5)) {
        let bytes = Amf0Value::encode_all(&vs);
        prop_assert_eq!(decode_all(&bytes).unwrap(), vs);
    }

    #[test]
    fn prop_garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_all(&bytes);
    }
}
