//! Feeds arbitrary bytes to the FLV parsers and the packager: nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use media::{Bytes, FlvReader, Packager, PackagerConfig};

fuzz_target!(|data: &[u8]| {
    let body = Bytes::copy_from_slice(data);
    let _ = media::parse_video_tag(&body);
    let _ = media::parse_audio_tag(&body);
    // Split the input into tags: 1 byte kind, 2 bytes timestamp delta, 2 bytes length.
    let mut p = Packager::new(PackagerConfig::default());
    let (mut rest, mut ts) = (data, 0u64);
    while rest.len() >= 5 {
        let len = usize::from(u16::from_be_bytes([rest[3], rest[4]])).min(rest.len() - 5);
        ts += u64::from(u16::from_be_bytes([rest[1], rest[2]]));
        let tag = Bytes::copy_from_slice(&rest[5..5 + len]);
        let _ = if rest[0] & 1 == 0 { p.handle_video(ts, tag) } else { p.handle_audio(ts, tag) };
        while p.poll_output().is_some() {}
        rest = &rest[5 + len..];
    }
    p.flush();
    while p.poll_output().is_some() {}
    if let Ok(reader) = FlvReader::new(body) {
        reader.for_each(drop);
    }
});
