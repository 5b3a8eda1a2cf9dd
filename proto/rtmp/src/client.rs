//! The publisher side: [`ClientSession`] pushes a stream into an RTMP server.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::amf0::Amf0Value;
use crate::chunk::Message;
use crate::command::Command;
use crate::conn::Connection;
use crate::error::SessionError;
use crate::handshake::ClientHandshake;
use crate::message::{csid, type_id};

mod commands;

// Transaction ids of the calls we make, in order.
const TX_CONNECT: f64 = 1.0;
const TX_RELEASE: f64 = 2.0;
const TX_FCPUBLISH: f64 = 3.0;
const TX_CREATE_STREAM: f64 = 4.0;
const TX_PUBLISH: f64 = 5.0;

/// What to connect to and publish.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Application, e.g. `live`.
    pub app: String,
    /// Full URL of the application, e.g. `rtmp://127.0.0.1:1935/live`.
    pub tc_url: String,
    /// Stream name to publish (the stream key, optionally with `?query`).
    pub stream_name: String,
    /// Our outgoing chunk size, announced right after the handshake.
    pub chunk_size: u32,
}

impl ClientConfig {
    /// A config with a 4096-byte chunk size.
    pub fn new(app: &str, tc_url: &str, stream_name: &str) -> Self {
        Self {
            app: app.to_owned(),
            tc_url: tc_url.to_owned(),
            stream_name: stream_name.to_owned(),
            chunk_size: 4096,
        }
    }
}

/// What the publisher driver learns from a [`ClientSession`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// `connect` succeeded.
    Connected,
    /// `NetStream.Publish.Start`: media may be sent now.
    PublishStarted,
    /// The server refused a step (`_error` or an error-level onStatus); the
    /// session is closed.
    Error {
        /// Status code, e.g. `NetStream.Publish.BadName`.
        code: String,
        /// Human-readable description.
        description: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Handshake,
    Connecting,
    CreatingStream,
    AwaitPublishStart,
    Live,
    Closed,
}

/// Client-side RTMP publisher session (sans-IO).
///
/// **Drain rule**: after [`new`](Self::new) and after every `handle_*` or
/// `send_*` call, drain [`poll_output`](Self::poll_output) and
/// [`poll_transmit`](Self::poll_transmit) until both return `None`.
/// The session runs handshake → connect → releaseStream/FCPublish/createStream
/// → publish on its own; once [`ClientEvent::PublishStarted`] arrives, feed
/// media with [`send_video`](Self::send_video) and friends.
pub struct ClientSession {
    config: ClientConfig,
    handshake: Option<ClientHandshake>,
    conn: Connection,
    events: VecDeque<ClientEvent>,
    state: State,
    stream_id: u32,
}

impl ClientSession {
    /// Start a session: C0+C1 are queued at once. `seed` fills C1's random bytes.
    pub fn new(config: ClientConfig, seed: u64) -> Self {
        let mut handshake = ClientHandshake::new(seed);
        let mut conn = Connection::new();
        while let Some(bytes) = handshake.poll_transmit() {
            conn.queue_raw(&bytes);
        }
        Self {
            config,
            handshake: Some(handshake),
            conn,
            events: VecDeque::new(),
            state: State::Handshake,
            stream_id: 0,
        }
    }

    /// Feed bytes read from the socket. Errors are fatal.
    pub fn handle_input(&mut self, data: &[u8]) -> Result<(), SessionError> {
        // Counted even when closed: the metric is bytes read off the socket.
        self.conn.note_received(data.len());
        if self.state == State::Closed {
            return Ok(());
        }
        let result = self.process(data);
        if result.is_err() {
            self.state = State::Closed;
        }
        result
    }

    /// Send a video message (an FLV video tag body). The timestamp goes on
    /// the wire modulo 2^32, as RTMP timestamps do.
    pub fn send_video(&mut self, timestamp_ms: u64, body: Bytes) -> Result<(), SessionError> {
        self.send_media(type_id::VIDEO, csid::VIDEO, timestamp_ms, body)
    }

    /// Send an audio message (an FLV audio tag body).
    pub fn send_audio(&mut self, timestamp_ms: u64, body: Bytes) -> Result<(), SessionError> {
        self.send_media(type_id::AUDIO, csid::AUDIO, timestamp_ms, body)
    }

    /// Send `@setDataFrame("onMetaData", metadata)`, as FFmpeg and OBS do.
    pub fn send_metadata(&mut self, metadata: &Amf0Value) -> Result<(), SessionError> {
        let values = [
            "@setDataFrame".into(),
            "onMetaData".into(),
            metadata.clone(),
        ];
        let body = Bytes::from(Amf0Value::encode_all(&values));
        self.send_media(type_id::DATA_AMF0, csid::DATA, 0, body)
    }

    /// End the publish (FCUnpublish + deleteStream) and close the session.
    pub fn unpublish(&mut self) -> Result<(), SessionError> {
        if self.state != State::Live {
            return Err(SessionError::NotPublishing);
        }
        self.state = State::Closed;
        let key = self.config.stream_name.as_str().into();
        self.conn
            .send_command(csid::COMMAND, 0, "FCUnpublish", 6.0, vec![key])?;
        let id = Amf0Value::Number(f64::from(self.stream_id));
        self.conn
            .send_command(csid::COMMAND, 0, "deleteStream", 7.0, vec![id])?;
        Ok(())
    }

    /// Next event for the driver.
    pub fn poll_output(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// Next bytes to write to the socket.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.conn.poll_transmit()
    }

    /// Whether the server started our publish (and we have not ended it).
    pub fn is_publishing(&self) -> bool {
        self.state == State::Live
    }

    /// Whether the session is over (error, refusal or unpublish).
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Bytes received so far, for metrics.
    pub fn bytes_received(&self) -> u64 {
        self.conn.bytes_received()
    }

    /// Bytes handed out by `poll_transmit` so far, for metrics.
    pub fn bytes_sent(&self) -> u64 {
        self.conn.bytes_sent()
    }

    fn send_media(&mut self, kind: u8, cs: u32, ts: u64, body: Bytes) -> Result<(), SessionError> {
        if self.state != State::Live {
            return Err(SessionError::NotPublishing);
        }
        let message = Message {
            csid: cs,
            timestamp: ts as u32, // modulo 2^32 on purpose
            type_id: kind,
            stream_id: self.stream_id,
            payload: body,
        };
        self.conn.send(&message)?;
        Ok(())
    }

    fn process(&mut self, mut data: &[u8]) -> Result<(), SessionError> {
        if let Some(hs) = &mut self.handshake {
            let used = hs.handle_input(data)?;
            while let Some(bytes) = hs.poll_transmit() {
                self.conn.queue_raw(&bytes);
            }
            if !hs.is_done() {
                return Ok(());
            }
            self.handshake = None;
            data = data.get(used..).unwrap_or_default();
            self.start_connect()?;
        }
        self.conn.decoder.handle_input(data)?;
        while let Some(msg) = self.conn.decoder.poll_message() {
            if !self.conn.handle_control(&msg)?
                && matches!(msg.type_id, type_id::COMMAND_AMF0 | type_id::COMMAND_AMF3)
            {
                self.handle_command(Command::parse(msg.type_id, &msg.payload)?)?;
            }
        }
        self.conn.maybe_ack()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
