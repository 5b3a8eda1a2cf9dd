//! Fuzzes the chat parsers: client frames (with re-validation round trips), federation frames
//! and tokens. None may panic.
#![no_main]

use chat_proto::{Limits, decode_client, encode_client, token, wire};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    if let Ok(frame) = decode_client(data, &limits) {
        // A decoded frame is normalized: encoding and decoding it again changes nothing. (The
        // size limit is lifted: filling in a default `count` lengthens the JSON.)
        let unbounded = Limits { max_frame_bytes: usize::MAX, ..limits };
        let json = encode_client(&frame);
        assert_eq!(decode_client(json.as_bytes(), &unbounded), Ok(frame));
    }
    let _ = wire::decode_federation(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = token::verify(text, b"fuzz", 0);
    }
});
