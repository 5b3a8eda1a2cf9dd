//! Fuzzes the relay frame decoder on both stream kinds, fed in two slices.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relay_wire::{FrameDecoder, StreamKind};

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    let (a, b) = data.split_at(split);
    for kind in [StreamKind::Control, StreamKind::Data] {
        let mut decoder = FrameDecoder::new(kind);
        for chunk in [a, b] {
            decoder.handle_bytes(chunk);
            while let Some(frame) = decoder.poll_frame() {
                // Whatever decodes re-encodes to bytes that decode to the same frame.
                if let Ok(frame) = frame {
                    let bytes = frame.to_bytes();
                    let mut again = FrameDecoder::new(kind);
                    again.handle_bytes(&bytes);
                    assert_eq!(again.poll_frame(), Some(Ok(frame)));
                }
            }
        }
        let _ = decoder.finish();
    }
});
