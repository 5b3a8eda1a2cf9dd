#![no_main]
//! Arbitrary bytes into the chunk decoder: must never panic, and every
//! decoded message must respect the size limit.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut decoder = rtmp::ChunkDecoder::new();
    // Two feeds, so "incomplete chunk then more bytes" paths are exercised.
    let (a, b) = data.split_at(data.len() / 2);
    if decoder.handle_input(a).is_ok() {
        let _ = decoder.handle_input(b);
    }
    while let Some(message) = decoder.poll_message() {
        assert!(message.payload.len() <= rtmp::MAX_MESSAGE_SIZE as usize);
    }
});
