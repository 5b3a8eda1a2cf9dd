#![no_main]
//! Arbitrary bytes into the AMF0 decoder; whatever decodes must re-encode
//! and decode to the same values.

use libfuzzer_sys::fuzz_target;
use rtmp::amf0;

fuzz_target!(|data: &[u8]| {
    if let Ok(values) = amf0::decode_all(data) {
        let bytes = rtmp::Amf0Value::encode_all(&values);
        let again = amf0::decode_all(&bytes).expect("re-encoded values decode");
        // NaN != NaN, so compare encodings rather than values.
        assert_eq!(rtmp::Amf0Value::encode_all(&again), bytes);
    }
});
