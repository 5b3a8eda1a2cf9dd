use super::*;
use crate::server::{Event, RejectCode, ServerConfig, ServerSession};

/// Shuttle bytes both ways until quiet; returns server events (the closure
/// may act on them, e.g. accept the publish).
fn pump(
    client: &mut ClientSession,
    server: &mut ServerSession,
    mut on_event: impl FnMut(&mut ServerSession, &Event),
) -> Vec<Event> {
    let mut events = Vec::new();
    loop {
        let mut moved = false;
        while let Some(bytes) = client.poll_transmit() {
            server.handle_input(&bytes).unwrap();
            moved = true;
        }
        while let Some(event) = server.poll_output() {
            on_event(server, &event);
            events.push(event);
        }
        while let Some(bytes) = server.poll_transmit() {
            client.handle_input(&bytes).unwrap();
            moved = true;
        }
        if !moved {
            return events;
        }
    }
}

fn client_events(client: &mut ClientSession) -> Vec<ClientEvent> {
    std::iter::from_fn(|| client.poll_output()).collect()
}

#[test]
fn honours_a_small_server_chunk_size() {
    // The connect `_result` is ~200 bytes, so at 64 it spans several chunks.
    let config = ServerConfig {
        chunk_size: 64,
        ..ServerConfig::default()
    };
    let mut server = ServerSession::new(config, 1);
    let mut client = ClientSession::new(ClientConfig::new("live", "rtmp://h/live", "k"), 2);
    pump(&mut client, &mut server, |s, e| {
        if matches!(e, Event::PublishRequested { .. }) {
            s.accept_publish().unwrap();
        }
    });
    assert_eq!(
        client_events(&mut client),
        [ClientEvent::Connected, ClientEvent::PublishStarted]
    );
    assert!(client.is_publishing());
}

#[test]
fn rejection_surfaces_as_an_error_event() {
    let mut server = ServerSession::new(ServerConfig::default(), 1);
    let mut client = ClientSession::new(ClientConfig::new("live", "rtmp://h/live", "bad"), 2);
    pump(&mut client, &mut server, |s, e| {
        if matches!(e, Event::PublishRequested { .. }) {
            s.reject_publish(RejectCode::Denied, "no such key").unwrap();
        }
    });
    assert_eq!(
        client_events(&mut client),
        [
            ClientEvent::Connected,
            ClientEvent::Error {
                code: "NetStream.Publish.Denied".into(),
                description: "no such key".into()
            }
        ]
    );
    assert!(client.is_closed());
    assert_eq!(
        client.send_video(0, Bytes::from_static(b"x")).unwrap_err(),
        SessionError::NotPublishing
    );
}

#[test]
fn media_before_publish_start_is_refused_locally() {
    let mut client = ClientSession::new(ClientConfig::new("live", "rtmp://h/live", "k"), 2);
    assert!(
        client.poll_transmit().is_some(),
        "C0+C1 queued at construction"
    );
    let err = client.send_audio(0, Bytes::new()).unwrap_err();
    assert_eq!(err.reason(), "not_publishing");
    assert_eq!(client.unpublish().unwrap_err(), SessionError::NotPublishing);
}
