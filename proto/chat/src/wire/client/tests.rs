use super::*;

fn decode(json: &str) -> Result<ClientFrame, DecodeError> {
    decode_client(json.as_bytes(), &Limits::default())
}

#[test]
fn minimal_chat_is_the_fixed_point() {
    let frame = decode(r#"{"type":"chat","text":"  hello\n world  "}"#).unwrap();
    assert_eq!(
        frame,
        ClientFrame::Chat {
            text: "hello\n world".into(),
            client_id: None
        }
    );
}

#[test]
fn every_kind_decodes_and_normalizes() {
    let cases = [
        (r#"{"type":"like"}"#, ClientFrame::Like { count: Some(1) }),
        (
            r#"{"type":"like","count":5000}"#,
            ClientFrame::Like {
                count: Some(MAX_LIKES_PER_FRAME),
            },
        ),
        (
            r#"{"type":"gift","gift_id":"rose","idempotency_key":"k1"}"#,
            ClientFrame::Gift {
                gift_id: "rose".into(),
                count: Some(1),
                idempotency_key: "k1".into(),
            },
        ),
        (
            r#"{"type":"resume","after_seq":42}"#,
            ClientFrame::Resume { after_seq: 42 },
        ),
        (
            r#"{"type":"delete","seq":3}"#,
            ClientFrame::Delete { seq: 3 },
        ),
        (
            r#"{"type":"ban","user_id":"u2","duration_s":600}"#,
            ClientFrame::Ban {
                user_id: "u2".into(),
                duration_s: Some(600),
            },
        ),
        (
            r#"{"type":"unban","user_id":"u2"}"#,
            ClientFrame::Unban {
                user_id: "u2".into(),
            },
        ),
        (
            r#"{"type":"slow_mode","interval_s":0}"#,
            ClientFrame::SlowMode { interval_s: 0 },
        ),
        (r#"{"type":"ping"}"#, ClientFrame::Ping {}),
    ];
    for (json, frame) in cases {
        assert_eq!(decode(json).as_ref(), Ok(&frame), "{json}");
        // Normalized frames re-encode to JSON that decodes to themselves.
        let again = serde_json::to_string(&frame).unwrap();
        assert_eq!(decode(&again), Ok(frame));
    }
}

#[test]
fn distinct_errors() {
    let cases: [(&[u8], DecodeError); 12] = [
        (b"\xff\xfe", DecodeError::InvalidUtf8),
        (b"{\"type\":", DecodeError::InvalidJson),
        (b"[1,2]", DecodeError::MissingType),
        (br#"{"text":"hi"}"#, DecodeError::MissingType),
        (
            br#"{"type":"shout"}"#,
            DecodeError::UnknownKind("shout".into()),
        ),
        (
            br#"{"type":"ping","x":1}"#,
            DecodeError::UnknownField {
                kind: "ping",
                field: "x".into(),
            },
        ),
        (br#"{"type":"chat","text":"   "}"#, DecodeError::EmptyText),
        (
            br#"{"type":"chat","text":"a\u0007b"}"#,
            DecodeError::ControlCharacter,
        ),
        (
            br#"{"type":"chat","text":"a","client_id":"a b"}"#,
            DecodeError::InvalidId("client_id"),
        ),
        (
            br#"{"type":"like","count":0}"#,
            DecodeError::OutOfRange("count"),
        ),
        (
            br#"{"type":"slow_mode","interval_s":3601}"#,
            DecodeError::OutOfRange("interval_s"),
        ),
        (
            br#"{"type":"delete","seq":0}"#,
            DecodeError::OutOfRange("seq"),
        ),
    ];
    for (bytes, err) in cases {
        assert_eq!(
            decode_client(bytes, &Limits::default()),
            Err(err),
            "{bytes:?}"
        );
    }
    for json in [
        r#"{"type":"chat"}"#,
        r#"{"type":"chat","text":5}"#,
        r#"{"type":"chat","text":"a","text":"b"}"#,
        r#"{"type":"resume","after_seq":-1}"#,
    ] {
        let err = decode(json).unwrap_err();
        assert!(
            matches!(err, DecodeError::InvalidField { .. }),
            "{json}: {err:?}"
        );
        assert_eq!(err.code(), ErrorCode::BadFrame);
    }
    assert_eq!(
        decode(r#"{"type":"x"}"#).unwrap_err().code(),
        ErrorCode::UnknownKind
    );
}

#[test]
fn size_checked_before_parsing() {
    let limits = Limits {
        max_frame_bytes: 10,
        max_text_chars: 3,
    };
    let err = decode_client(b"not json at all", &limits).unwrap_err();
    assert_eq!(err, DecodeError::TooLarge { len: 15, max: 10 });
    assert_eq!(err.code(), ErrorCode::TooLarge);
    let limits = Limits {
        max_frame_bytes: 100,
        max_text_chars: 3,
    };
    let err = decode_client(r#"{"type":"chat","text":"ééééé"}"#.as_bytes(), &limits).unwrap_err();
    assert_eq!(err, DecodeError::TextTooLong { chars: 5, max: 3 });
    assert_eq!(err.code(), ErrorCode::TooLarge);
}

#[test]
fn echoed_strings_are_truncated() {
    let json = format!(r#"{{"type":"{}"}}"#, "k".repeat(1000));
    assert_eq!(decode(&json), Err(DecodeError::UnknownKind("k".repeat(32))));
}

#[test]
fn fields_match_the_enum() {
    // Serialize a frame of each kind with every optional field set and compare its keys with
    // the table `classify` uses.
    let full = [
        ClientFrame::Chat {
            text: "t".into(),
            client_id: Some("c".into()),
        },
        ClientFrame::Like { count: Some(1) },
        ClientFrame::Gift {
            gift_id: "g".into(),
            count: Some(1),
            idempotency_key: "k".into(),
        },
        ClientFrame::Resume { after_seq: 1 },
        ClientFrame::Delete { seq: 1 },
        ClientFrame::Ban {
            user_id: "u".into(),
            duration_s: Some(1),
        },
        ClientFrame::Unban {
            user_id: "u".into(),
        },
        ClientFrame::SlowMode { interval_s: 1 },
        ClientFrame::Ping {},
    ];
    assert_eq!(full.len(), KINDS.len());
    for frame in full {
        let value = serde_json::to_value(&frame).unwrap();
        let mut keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.retain(|k| *k != "type");
        keys.sort_unstable();
        let (_, fields) = KINDS.iter().find(|(k, _)| *k == frame.kind()).unwrap();
        let mut fields = fields.to_vec();
        fields.sort_unstable();
        assert_eq!(keys, fields, "{}", frame.kind());
    }
}

proptest::proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
        if let Ok(frame) = decode_client(&bytes, &Limits::default()) {
            let json = encode_client(&frame);
            proptest::prop_assert_eq!(decode(&json), Ok(frame));
        }
    }

    #[test]
    fn chat_text_round_trips(text in "[a-zA-Z0-9 ,.!?é😀\n]{0,80}") {
        let json = serde_json::to_string(&ClientFrame::Chat { text: text.clone(), client_id: None }).unwrap();
        match decode(&json) {
            Ok(ClientFrame::Chat { text: got, .. }) => proptest::prop_assert_eq!(got, text.trim()),
            Err(DecodeError::EmptyText) => proptest::prop_assert!(text.trim().is_empty()),
            other => proptest::prop_assert!(false, "{other:?}"),
        }
    }
}
