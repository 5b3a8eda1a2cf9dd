use bytes::{Bytes, BytesMut};

use super::*;
use crate::chunk::{ChunkDecoder, ChunkEncoder};
use crate::command::Command;
use crate::handshake::HANDSHAKE_SIZE;
use crate::message::{self, UserControl, csid};

/// A hand-driven client: raw chunk codec on our side of the wire.
struct Peer {
    server: ServerSession,
    enc: ChunkEncoder,
    dec: ChunkDecoder,
}

impl Peer {
    fn new(config: ServerConfig) -> Self {
        let mut server = ServerSession::new(config, 9);
        let mut c0c1 = vec![3u8];
        c0c1.extend_from_slice(&[0x11; HANDSHAKE_SIZE]);
        c0c1[5..9].copy_from_slice(&[0; 4]);
        server.handle_input(&c0c1).unwrap();
        let mut s = Vec::new();
        while let Some(b) = server.poll_transmit() {
            s.extend_from_slice(&b);
        }
        assert_eq!(s.len(), 1 + 2 * HANDSHAKE_SIZE);
        server.handle_input(&[0x22; HANDSHAKE_SIZE]).unwrap();
        Self {
            server,
            enc: ChunkEncoder::new(),
            dec: ChunkDecoder::new(),
        }
    }

    fn send(&mut self, m: &Message) -> Result<(), SessionError> {
        let mut out = BytesMut::new();
        self.enc.encode(m, &mut out).unwrap();
        self.server.handle_input(&out)
    }

    fn cmd(
        &mut self,
        stream_id: u32,
        name: &str,
        tx: f64,
        args: Vec<Amf0Value>,
    ) -> Result<(), SessionError> {
        self.cmd_obj(stream_id, name, tx, Amf0Value::Null, args)
    }

    fn cmd_obj(
        &mut self,
        stream_id: u32,
        name: &str,
        tx: f64,
        obj: Amf0Value,
        args: Vec<Amf0Value>,
    ) -> Result<(), SessionError> {
        let m = Command::new(name, tx, obj, args).to_message(csid::COMMAND, stream_id);
        self.send(&m)
    }

    fn replies(&mut self) -> Vec<Message> {
        while let Some(b) = self.server.poll_transmit() {
            self.dec.handle_input(&b).unwrap();
        }
        std::iter::from_fn(|| self.dec.poll_message()).collect()
    }

    fn commands(&mut self) -> Vec<Command> {
        self.replies()
            .iter()
            .filter(|m| m.type_id == type_id::COMMAND_AMF0)
            .map(|m| Command::parse(m.type_id, &m.payload).unwrap())
            .collect()
    }

    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.server.poll_output()).collect()
    }

    fn media(&mut self, kind: u8, ts: u32, body: &'static [u8]) -> Result<(), SessionError> {
        let csid = if kind == type_id::VIDEO {
            csid::VIDEO
        } else {
            csid::AUDIO
        };
        let m = Message {
            csid,
            timestamp: ts,
            type_id: kind,
            stream_id: 1,
            payload: Bytes::from_static(body),
        };
        self.send(&m)
    }

    /// connect + releaseStream + FCPublish + createStream + publish, as FFmpeg does.
    fn up_to_publish(&mut self, name: &str) {
        let obj = Amf0Value::object([("app", "live/".into()), ("tcUrl", "rtmp://h/live".into())]);
        self.cmd_obj(0, "connect", 1.0, obj, vec![]).unwrap();
        let replies = self.replies();
        let kinds: Vec<u8> = replies.iter().map(|m| m.type_id).collect();
        assert_eq!(
            kinds,
            [5, 6, 1, 20],
            "window ack, peer bw, chunk size, _result"
        );
        let result = Command::parse(20, &replies[3].payload).unwrap();
        assert_eq!(result.name, "_result");
        let code = result.args[0].get("code").and_then(Amf0Value::as_str);
        assert_eq!(code, Some("NetConnection.Connect.Success"));
        assert_eq!(self.dec.chunk_size(), 4096);

        self.cmd(0, "releaseStream", 2.0, vec![name.into()])
            .unwrap();
        self.cmd(0, "FCPublish", 3.0, vec![name.into()]).unwrap();
        self.cmd(0, "createStream", 4.0, vec![]).unwrap();
        let names: Vec<(String, f64)> = self
            .commands()
            .into_iter()
            .map(|c| (c.name, c.transaction_id))
            .collect();
        assert_eq!(
            names,
            [
                ("_result".into(), 2.0),
                ("onFCPublish".into(), 0.0),
                ("_result".into(), 4.0)
            ]
        );
        self.cmd(1, "publish", 5.0, vec![name.into(), "live".into()])
            .unwrap();
    }
}

#[test]
fn publish_accept_media_and_unpublish() {
    let mut p = Peer::new(ServerConfig::default());
    p.up_to_publish("key?token=1");
    let events = p.events();
    assert_eq!(
        events[0],
        Event::Connected {
            app: "live".into(),
            tc_url: Some("rtmp://h/live".into())
        }
    );
    assert_eq!(
        events[1],
        Event::PublishRequested {
            app: "live".into(),
            stream_key: "key".into(),
            stream_name: "key?token=1".into(),
            publish_type: "live".into(),
            stream_id: 1,
        }
    );
    p.server.accept_publish().unwrap();
    assert!(p.server.is_publishing());
    let replies = p.replies();
    assert_eq!(
        UserControl::parse(&replies[0].payload),
        UserControl::StreamBegin(1)
    );
    let status = Command::parse(20, &replies[1].payload).unwrap();
    assert_eq!(
        (status.name.as_str(), replies[1].stream_id),
        ("onStatus", 1)
    );
    assert_eq!(
        status.args[0].get("code").and_then(Amf0Value::as_str),
        Some("NetStream.Publish.Start")
    );

    let meta = Amf0Value::EcmaArray(vec![("width".into(), 1280.0.into())]);
    let body = Amf0Value::encode_all(&["@setDataFrame".into(), "onMetaData".into(), meta.clone()]);
    let data = Message {
        csid: 5,
        timestamp: 0,
        type_id: type_id::DATA_AMF0,
        stream_id: 1,
        payload: body.into(),
    };
    p.send(&data).unwrap();
    p.media(type_id::VIDEO, 0xFFFF_FFF0, b"\x17\x00").unwrap();
    p.media(type_id::AUDIO, 0x0000_0010, b"\xAF\x01").unwrap();
    assert_eq!(
        p.events(),
        [
            Event::Metadata(meta),
            Event::Video {
                timestamp_ms: 0xFFFF_FFF0,
                data: Bytes::from_static(b"\x17\x00")
            },
            Event::Audio {
                timestamp_ms: 0x1_0000_0010,
                data: Bytes::from_static(b"\xAF\x01")
            },
        ]
    );

    p.cmd(0, "FCUnpublish", 6.0, vec!["key?token=1".into()])
        .unwrap();
    p.cmd(0, "deleteStream", 7.0, vec![1.0.into()]).unwrap();
    assert_eq!(p.events(), [Event::PublishEnded], "ended exactly once");
    assert!(!p.server.is_publishing());
    assert!(p.server.bytes_received() > 2 * HANDSHAKE_SIZE as u64);
}

#[test]
fn reject_sends_error_status_and_closes() {
    let mut p = Peer::new(ServerConfig::default());
    p.up_to_publish("nope");
    p.events();
    p.server
        .reject_publish(RejectCode::BadName, "unknown stream key")
        .unwrap();
    let status = p.commands().pop().unwrap();
    assert_eq!(
        status.args[0].get("level").and_then(Amf0Value::as_str),
        Some("error")
    );
    assert_eq!(
        status.args[0].get("code").and_then(Amf0Value::as_str),
        Some("NetStream.Publish.BadName")
    );
    assert!(p.server.is_closed());
    assert_eq!(
        p.server.accept_publish().unwrap_err(),
        SessionError::NoPendingPublish
    );
    p.media(type_id::VIDEO, 0, b"x").unwrap(); // ignored after close
    assert!(p.events().is_empty());
}

#[test]
fn media_before_accept_is_an_error() {
    let mut p = Peer::new(ServerConfig::default());
    p.up_to_publish("k");
    let err = p.media(type_id::VIDEO, 0, b"x").unwrap_err();
    assert_eq!(err, SessionError::MediaBeforePublish);
    assert_eq!(err.reason(), "media_before_publish");
    assert!(p.server.is_closed());
}

#[test]
fn eof_ends_a_pending_publish() {
    let mut p = Peer::new(ServerConfig::default());
    p.up_to_publish("k");
    p.events();
    p.server.handle_eof();
    assert_eq!(p.events(), [Event::PublishEnded]);
}

#[test]
fn odd_commands_do_not_kill_the_session() {
    let mut p = Peer::new(ServerConfig::default());
    p.up_to_publish("k");
    p.cmd(0, "_checkbw", 8.0, vec![]).unwrap();
    p.cmd(0, "getStreamLength", 9.0, vec!["k".into()]).unwrap();
    p.cmd(0, "someVendorThing", 0.0, vec![]).unwrap();
    let names: Vec<String> = p.commands().into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["_result", "_error"]);
    // Ping request → ping response.
    p.send(&UserControl::PingRequest(1234).to_message())
        .unwrap();
    let reply = p.replies().pop().unwrap();
    assert_eq!(
        UserControl::parse(&reply.payload),
        UserControl::PingResponse(1234)
    );
}

#[test]
fn acknowledges_per_peer_window() {
    let mut p = Peer::new(ServerConfig::default());
    p.send(&message::window_ack_size(4000)).unwrap();
    assert!(
        p.replies().is_empty(),
        "handshake bytes alone are below the window"
    );
    p.up_to_publish("k");
    p.server.accept_publish().unwrap();
    p.replies();
    p.media(type_id::VIDEO, 0, &[0u8; 1000]).unwrap();
    let acks: Vec<Message> = p.replies().into_iter().filter(|m| m.type_id == 3).collect();
    assert_eq!(acks.len(), 1);
    let seq = u32::from_be_bytes(acks[0].payload[..4].try_into().unwrap());
    assert_eq!(u64::from(seq), p.server.bytes_received());
}

#[test]
fn aggregate_messages_split_into_media_events() {
    let mut p = Peer::new(ServerConfig::default());
    p.up_to_publish("k");
    p.server.accept_publish().unwrap();
    let mut agg = Vec::new();
    for (kind, ts, body) in [(9u8, 1000u32, &b"vv"[..]), (8, 1020, &b"a"[..])] {
        agg.push(kind);
        agg.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        agg.extend_from_slice(&ts.to_be_bytes()[1..]);
        agg.push((ts >> 24) as u8);
        agg.extend_from_slice(&[0, 0, 0]);
        agg.extend_from_slice(body);
        agg.extend_from_slice(&(11 + body.len() as u32).to_be_bytes());
    }
    let m = Message {
        csid: 6,
        timestamp: 50,
        type_id: type_id::AGGREGATE,
        stream_id: 1,
        payload: agg.into(),
    };
    p.send(&m).unwrap();
    let events = p.events();
    assert_eq!(
        events[events.len() - 2],
        Event::Video {
            timestamp_ms: 50,
            data: Bytes::from_static(b"vv")
        }
    );
    assert_eq!(
        events[events.len() - 1],
        Event::Audio {
            timestamp_ms: 70,
            data: Bytes::from_static(b"a")
        }
    );
    let bad = Message {
        csid: 6,
        timestamp: 0,
        type_id: type_id::AGGREGATE,
        stream_id: 1,
        payload: Bytes::from_static(&[9, 0, 0, 9]),
    };
    assert_eq!(p.send(&bad).unwrap_err(), SessionError::BadAggregate);
}

#[test]
fn stream_and_sequence_limits() {
    let mut p = Peer::new(ServerConfig::default());
    assert_eq!(
        p.cmd(0, "createStream", 2.0, vec![]).unwrap_err().reason(),
        "protocol_violation"
    );
    let mut p = Peer::new(ServerConfig::default());
    p.cmd_obj(
        0,
        "connect",
        1.0,
        Amf0Value::object([("app", "live".into())]),
        vec![],
    )
    .unwrap();
    for tx in 0..MAX_STREAMS {
        p.cmd(0, "createStream", tx as f64 + 2.0, vec![]).unwrap();
    }
    assert_eq!(
        p.cmd(0, "createStream", 99.0, vec![]).unwrap_err(),
        SessionError::TooManyStreams
    );
}
