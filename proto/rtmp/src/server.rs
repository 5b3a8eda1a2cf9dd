//! The ingest side: [`ServerSession`] turns a publisher's byte stream into
//! [`Event`]s and answers its commands.

use std::collections::{BTreeSet, VecDeque};

use bytes::Bytes;

use crate::amf0::Amf0Value;
use crate::chunk::Message;
use crate::conn::Connection;
use crate::error::SessionError;
use crate::handshake::{HandshakeKind, ServerHandshake};
use crate::message::type_id;
use crate::timestamp::TimestampUnwrapper;

mod commands;
mod media;

/// Most message streams (`createStream` results) one connection may hold.
/// A publisher needs one; a few allow for clients that re-create streams.
pub const MAX_STREAMS: usize = 8;

/// Server tuning sent to the client after `connect`.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Our outgoing chunk size (Set Chunk Size after `connect`).
    pub chunk_size: u32,
    /// Window Acknowledgement Size we announce.
    pub window_ack_size: u32,
    /// Set Peer Bandwidth we announce (limit type dynamic).
    pub peer_bandwidth: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            chunk_size: 4096,
            window_ack_size: 2_500_000,
            peer_bandwidth: 2_500_000,
        }
    }
}

/// What the ingest driver learns from a [`ServerSession`].
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// `connect` succeeded (informational; the session already answered).
    Connected {
        /// Application name from the connect object, e.g. `live`.
        app: String,
        /// `tcUrl` from the connect object, if sent.
        tc_url: Option<String>,
    },
    /// The client wants to publish; answer with
    /// [`ServerSession::accept_publish`] or [`ServerSession::reject_publish`].
    PublishRequested {
        /// Application name from `connect`.
        app: String,
        /// Stream name without any `?query` part: the stream key.
        stream_key: String,
        /// Stream name exactly as sent (may contain `?query`).
        stream_name: String,
        /// Publishing type argument (`live`, `record`, `append`).
        publish_type: String,
        /// Message stream id the publish happens on.
        stream_id: u32,
    },
    /// A video message: an FLV video tag body, unparsed.
    Video {
        /// Unwrapped timestamp (see [`TimestampUnwrapper`]).
        timestamp_ms: u64,
        /// FLV video tag body.
        data: Bytes,
    },
    /// An audio message: an FLV audio tag body, unparsed.
    Audio {
        /// Unwrapped timestamp (see [`TimestampUnwrapper`]).
        timestamp_ms: u64,
        /// FLV audio tag body.
        data: Bytes,
    },
    /// `@setDataFrame`/`onMetaData` payload (usually an ECMA array).
    Metadata(Amf0Value),
    /// The publish ended (FCUnpublish, deleteStream, closeStream or EOF).
    PublishEnded,
}

/// Answer for a rejected publish (the onStatus `code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectCode {
    /// `NetStream.Publish.BadName`: unknown key or stream already live.
    BadName,
    /// `NetStream.Publish.Denied`: not allowed (auth, quota, ...).
    Denied,
}

impl RejectCode {
    fn code(self) -> &'static str {
        match self {
            Self::BadName => "NetStream.Publish.BadName",
            Self::Denied => "NetStream.Publish.Denied",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Publish {
    Idle,
    Pending { stream_id: u32, name: String },
    Active { stream_id: u32 },
}

/// Server-side RTMP session for one TCP connection (sans-IO).
///
/// **Drain rule**: after [`new`](Self::new) and after every `handle_*`,
/// `accept_publish` or `reject_publish` call, drain
/// [`poll_output`](Self::poll_output) and [`poll_transmit`](Self::poll_transmit)
/// until both return `None`, and write the transmitted bytes to the socket
/// in order. When [`is_closed`](Self::is_closed) turns true, flush and close.
pub struct ServerSession {
    config: ServerConfig,
    handshake: Option<ServerHandshake>,
    handshake_kind: Option<HandshakeKind>,
    conn: Connection,
    events: VecDeque<Event>,
    app: Option<String>,
    streams: BTreeSet<u32>,
    next_stream_id: u32,
    publish: Publish,
    clock: TimestampUnwrapper,
    closed: bool,
}

impl ServerSession {
    /// A session awaiting C0+C1; `seed` fills the handshake's random bytes.
    pub fn new(config: ServerConfig, seed: u64) -> Self {
        Self {
            config,
            handshake: Some(ServerHandshake::new(seed)),
            handshake_kind: None,
            conn: Connection::new(),
            events: VecDeque::new(),
            app: None,
            streams: BTreeSet::new(),
            next_stream_id: 1,
            publish: Publish::Idle,
            clock: TimestampUnwrapper::new(),
            closed: false,
        }
    }

    /// Feed bytes read from the socket. An error is fatal: the session is
    /// closed afterwards and ignores further input.
    pub fn handle_input(&mut self, data: &[u8]) -> Result<(), SessionError> {
        // Counted even when closed: the metric is bytes read off the socket.
        self.conn.note_received(data.len());
        if self.closed {
            return Ok(());
        }
        let result = self.process(data);
        if result.is_err() {
            self.closed = true;
        }
        result
    }

    /// The peer closed the connection. Ends a publish in progress.
    pub fn handle_eof(&mut self) {
        self.end_publish();
        self.closed = true;
    }

    /// Accept the pending publish: sends Stream Begin and
    /// `NetStream.Publish.Start`; media events follow.
    pub fn accept_publish(&mut self) -> Result<(), SessionError> {
        let Publish::Pending { stream_id, name } = &self.publish else {
            return Err(SessionError::NoPendingPublish);
        };
        let (stream_id, name) = (*stream_id, name.clone());
        self.publish = Publish::Active { stream_id };
        self.send_stream_begin(stream_id)?;
        let description = format!("{name} is now published");
        self.send_status(stream_id, "status", "NetStream.Publish.Start", &description)
    }

    /// Reject the pending publish with an error onStatus and end the session.
    pub fn reject_publish(
        &mut self,
        code: RejectCode,
        description: &str,
    ) -> Result<(), SessionError> {
        let Publish::Pending { stream_id, .. } = self.publish else {
            return Err(SessionError::NoPendingPublish);
        };
        self.publish = Publish::Idle;
        self.closed = true;
        self.send_status(stream_id, "error", code.code(), description)
    }

    /// Next event for the driver.
    pub fn poll_output(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Next bytes to write to the socket.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.conn.poll_transmit()
    }

    /// Whether the session is over (rejected, failed or EOF); flush and close.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Whether a publish was accepted and has not ended.
    pub fn is_publishing(&self) -> bool {
        matches!(self.publish, Publish::Active { .. })
    }

    /// Bytes received so far (handshake included), for metrics.
    pub fn bytes_received(&self) -> u64 {
        self.conn.bytes_received()
    }

    /// Bytes handed out by `poll_transmit` so far, for metrics.
    pub fn bytes_sent(&self) -> u64 {
        self.conn.bytes_sent()
    }

    /// Handshake flavour the client used, once known.
    pub fn handshake_kind(&self) -> Option<HandshakeKind> {
        self.handshake_kind
    }

    fn process(&mut self, mut data: &[u8]) -> Result<(), SessionError> {
        if let Some(hs) = &mut self.handshake {
            let used = hs.handle_input(data)?;
            self.handshake_kind = hs.kind();
            while let Some(bytes) = hs.poll_transmit() {
                self.conn.queue_raw(&bytes);
            }
            if !hs.is_done() {
                return Ok(());
            }
            self.handshake = None;
            data = data.get(used..).unwrap_or_default();
        }
        self.conn.decoder.handle_input(data)?;
        while let Some(msg) = self.conn.decoder.poll_message() {
            if self.closed {
                // Rejected mid-batch: whatever the client pipelined is moot.
                break;
            }
            self.handle_message(msg)?;
        }
        self.conn.maybe_ack()?;
        Ok(())
    }

    fn handle_message(&mut self, msg: Message) -> Result<(), SessionError> {
        if self.conn.handle_control(&msg)? {
            return Ok(());
        }
        match msg.type_id {
            type_id::COMMAND_AMF0 | type_id::COMMAND_AMF3 => self.handle_command(&msg),
            type_id::DATA_AMF0 | type_id::DATA_AMF3 => self.handle_data(&msg),
            type_id::AUDIO | type_id::VIDEO => {
                self.handle_media(msg.type_id, msg.timestamp, msg.payload)
            }
            type_id::AGGREGATE => self.handle_aggregate(&msg),
            // Shared objects and unknown types: not for an ingest, ignore.
            _ => Ok(()),
        }
    }

    /// End the publish (pending or active), emitting `PublishEnded` once.
    fn end_publish(&mut self) {
        if self.publish != Publish::Idle {
            self.publish = Publish::Idle;
            self.events.push_back(Event::PublishEnded);
        }
    }
}

#[cfg(test)]
mod tests;
