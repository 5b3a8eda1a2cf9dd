//! Replay a real FFmpeg publish (see `tests/assets/README.md`).

use livecdn_rtmp::handshake::{DigestScheme, HandshakeKind};
use livecdn_rtmp::{Amf0Value, Event, ServerConfig, ServerSession};

const CAPTURE: &[u8] = include_bytes!("assets/ffmpeg_publish.bin");

#[test]
fn ffmpeg_publish_replays() {
    let mut server = ServerSession::new(ServerConfig::default(), 99);
    let mut events = Vec::new();
    // One byte at a time: FFmpeg waited for NetStream.Publish.Start before
    // sending media, so we must accept before the next message completes.
    for byte in CAPTURE.chunks(1) {
        server.handle_input(byte).unwrap();
        while let Some(event) = server.poll_output() {
            if let Event::PublishRequested { .. } = &event {
                server.accept_publish().unwrap();
            }
            events.push(event);
        }
        while server.poll_transmit().is_some() {}
    }
    assert_eq!(
        server.handshake_kind(),
        Some(HandshakeKind::Digest(DigestScheme::Scheme0))
    );
    assert_eq!(server.bytes_received(), CAPTURE.len() as u64);

    assert!(matches!(&events[0], Event::Connected { app, .. } if app == "live"));
    assert!(matches!(
        &events[1],
        Event::PublishRequested { app, stream_key, stream_name, publish_type, stream_id: 1 }
            if app == "live" && stream_key == "testkey"
                && stream_name == "testkey?token=abc" && publish_type == "live"
    ));
    let Event::Metadata(meta) = &events[2] else {
        panic!("metadata expected: {:?}", events[2])
    };
    assert_eq!(meta.get("width"), Some(&Amf0Value::Number(64.0)));
    assert_eq!(meta.get("videocodecid"), Some(&Amf0Value::Number(7.0)));

    let videos: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Video { timestamp_ms, data } => Some((*timestamp_ms, data.clone())),
            _ => None,
        })
        .collect();
    let audios = events
        .iter()
        .filter(|e| matches!(e, Event::Audio { .. }))
        .count();
    assert_eq!((videos.len(), audios), (12, 24));
    // First video tag: AVC keyframe + sequence header (FLV 0x17, packet type 0).
    assert_eq!(&videos[0].1[..2], &[0x17, 0x00]);
    assert!(
        videos.windows(2).all(|w| w[0].0 <= w[1].0),
        "video timestamps ascend"
    );
    assert_eq!(events.last(), Some(&Event::PublishEnded));
}
