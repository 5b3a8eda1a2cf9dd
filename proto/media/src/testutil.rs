//! Builders for synthetic FLV tag bodies, shared by the unit tests.

use bytes::Bytes;

/// x264 1080p High SPS (see `avc/tests.rs`).
pub(crate) const SPS_1080P: &[u8] = &[
    0x67, 0x64, 0x00, 0x28, 0xac, 0xd9, 0x40, 0x78, 0x02, 0x27, 0xe5, 0xc0, 0x44, 0x00, 0x00, 0x03,
    0x00, 0x04, 0x00, 0x00, 0x03, 0x00, 0xc8, 0x3c, 0x60, 0xc6, 0x58,
];
pub(crate) const PPS: &[u8] = &[0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0];

/// An avcC payload with one SPS and one PPS, 4-byte NALU lengths.
pub(crate) fn avcc() -> Vec<u8> {
    let mut out = vec![1, SPS_1080P[1], SPS_1080P[2], SPS_1080P[3], 0xff, 0xe1];
    out.extend_from_slice(&(SPS_1080P.len() as u16).to_be_bytes());
    out.extend_from_slice(SPS_1080P);
    out.push(1);
    out.extend_from_slice(&(PPS.len() as u16).to_be_bytes());
    out.extend_from_slice(PPS);
    out
}

/// FLV AVC sequence header body.
pub(crate) fn video_seq_header() -> Bytes {
    let mut out = vec![0x17, 0, 0, 0, 0];
    out.extend(avcc());
    Bytes::from(out)
}

/// FLV AVC NALU body with one NAL unit of `size` bytes.
pub(crate) fn video_frame(keyframe: bool, cts_ms: i32, size: usize) -> Bytes {
    let mut out = vec![if keyframe { 0x17 } else { 0x27 }, 1];
    out.extend_from_slice(&cts_ms.to_be_bytes()[1..]);
    out.extend_from_slice(&(size as u32).to_be_bytes());
    out.push(if keyframe { 0x65 } else { 0x41 });
    out.resize(out.len() + size.saturating_sub(1), 0xab);
    Bytes::from(out)
}

/// FLV AAC sequence header: AAC-LC, 44.1 kHz (index 4), stereo.
pub(crate) fn audio_seq_header() -> Bytes {
    Bytes::from_static(&[0xaf, 0, 0x12, 0x10])
}

/// FLV AAC sequence header: AAC-LC, 48 kHz (index 3), stereo.
pub(crate) fn audio_seq_header_48k() -> Bytes {
    Bytes::from_static(&[0xaf, 0, 0x11, 0x90])
}

/// FLV raw AAC frame body of `size` bytes.
pub(crate) fn audio_frame(size: usize) -> Bytes {
    let mut out = vec![0xaf, 1];
    out.resize(2 + size, 0x21);
    Bytes::from(out)
}
