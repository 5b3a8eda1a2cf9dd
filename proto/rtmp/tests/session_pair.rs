//! ClientSession ⇄ ServerSession driven against each other in memory.

use bytes::Bytes;
use livecdn_rtmp::{
    Amf0Value, ClientConfig, ClientEvent, ClientSession, Event, ServerConfig, ServerSession,
};
use proptest::prelude::*;

/// Move bytes both ways, cutting every transmission into `slices`-sized
/// pieces (cycled), until neither side has anything to say.
struct Wire {
    slices: Vec<usize>,
    next: usize,
    server_events: Vec<Event>,
    client_events: Vec<ClientEvent>,
}

impl Wire {
    fn new(slices: Vec<usize>) -> Self {
        Self {
            slices,
            next: 0,
            server_events: Vec::new(),
            client_events: Vec::new(),
        }
    }

    fn cut(&mut self, bytes: &[u8], mut deliver: impl FnMut(&[u8])) {
        let mut rest = bytes;
        while !rest.is_empty() {
            let n = self.slices[self.next % self.slices.len()].clamp(1, rest.len());
            self.next += 1;
            deliver(&rest[..n]);
            rest = &rest[n..];
        }
    }

    fn pump(&mut self, client: &mut ClientSession, server: &mut ServerSession) {
        loop {
            let mut moved = false;
            while let Some(bytes) = client.poll_transmit() {
                self.cut(&bytes, |b| server.handle_input(b).unwrap());
                moved = true;
            }
            while let Some(event) = server.poll_output() {
                if let Event::PublishRequested { .. } = event {
                    server.accept_publish().unwrap();
                }
                self.server_events.push(event);
            }
            while let Some(bytes) = server.poll_transmit() {
                self.cut(&bytes, |b| client.handle_input(b).unwrap());
                moved = true;
            }
            self.client_events
                .extend(std::iter::from_fn(|| client.poll_output()));
            if !moved {
                return;
            }
        }
    }
}

fn run(slices: Vec<usize>, frames: &[(bool, u64, Vec<u8>)]) {
    let mut server = ServerSession::new(ServerConfig::default(), 11);
    let config = ClientConfig::new("live", "rtmp://127.0.0.1/live", "demo?token=t");
    let mut client = ClientSession::new(config, 12);
    let mut wire = Wire::new(slices);
    wire.pump(&mut client, &mut server);
    assert_eq!(
        wire.client_events,
        [ClientEvent::Connected, ClientEvent::PublishStarted]
    );
    assert!(matches!(
        &wire.server_events[..],
        [Event::Connected { .. }, Event::PublishRequested { stream_key, stream_name, .. }]
            if stream_key == "demo" && stream_name == "demo?token=t"
    ));
    wire.server_events.clear();

    let meta = Amf0Value::EcmaArray(vec![("duration".into(), 0.0.into())]);
    client.send_metadata(&meta).unwrap();
    let mut expected = vec![Event::Metadata(meta)];
    for (video, ts, body) in frames {
        let data = Bytes::from(body.clone());
        if *video {
            client.send_video(*ts, data.clone()).unwrap();
            expected.push(Event::Video {
                timestamp_ms: *ts,
                data,
            });
        } else {
            client.send_audio(*ts, data.clone()).unwrap();
            expected.push(Event::Audio {
                timestamp_ms: *ts,
                data,
            });
        }
    }
    wire.pump(&mut client, &mut server);
    client.unpublish().unwrap();
    wire.pump(&mut client, &mut server);
    expected.push(Event::PublishEnded);
    assert_eq!(wire.server_events, expected);
    assert_eq!(server.bytes_received(), client.bytes_sent());
    assert_eq!(client.bytes_received(), server.bytes_sent());
}

#[test]
fn publish_media_unpublish_over_the_4g_wrap() {
    let mut frames = Vec::new();
    // Start just below 2^32 ms so the wire timestamps wrap mid-stream.
    let start = (1u64 << 32) - 100;
    for i in 0..40u64 {
        frames.push((true, start + i * 33, vec![i as u8; 5000 + i as usize * 97]));
        frames.push((false, start + i * 23, vec![0xAF; 300]));
    }
    frames.sort_by_key(|f| f.1);
    run(vec![1, 7, 4096, 13, 100_000], &frames);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn prop_pair_with_random_slicing(
        slices in prop::collection::vec(1usize..3000, 1..8),
        sizes in prop::collection::vec((any::<bool>(), 0usize..9000), 1..12),
    ) {
        let frames: Vec<(bool, u64, Vec<u8>)> = sizes
            .iter()
            .enumerate()
            .map(|(i, (video, len))| (*video, i as u64 * 20, vec![i as u8; *len]))
            .collect();
        run(slices, &frames);
    }
}
