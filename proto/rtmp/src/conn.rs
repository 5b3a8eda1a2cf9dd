//! Plumbing shared by both sessions: chunk codec, output buffer, protocol
//! control (spec 5.4) and acknowledgements.

use bytes::{Bytes, BytesMut};

use crate::amf0::Amf0Value;
use crate::chunk::{ChunkDecoder, ChunkEncoder, ChunkError, Message};
use crate::command::Command;
use crate::message::{self, UserControl, body_u32, type_id};

pub(crate) struct Connection {
    pub(crate) decoder: ChunkDecoder,
    encoder: ChunkEncoder,
    out: BytesMut,
    bytes_received: u64,
    bytes_sent: u64,
    /// Window the peer asked us to acknowledge (its Window Ack Size).
    peer_window: Option<u32>,
    last_ack: u64,
    /// Last Window Ack Size we sent, to answer Set Peer Bandwidth (5.4.5).
    our_window: Option<u32>,
}

impl Connection {
    pub(crate) fn new() -> Self {
        Self {
            decoder: ChunkDecoder::new(),
            encoder: ChunkEncoder::new(),
            out: BytesMut::new(),
            bytes_received: 0,
            bytes_sent: 0,
            peer_window: None,
            last_ack: 0,
            our_window: None,
        }
    }

    /// Count received bytes (handshake included: the ack sequence number is
    /// "bytes received so far" on the connection).
    pub(crate) fn note_received(&mut self, n: usize) {
        self.bytes_received += n as u64;
    }

    pub(crate) fn bytes_received(&self) -> u64 {
        self.bytes_received
    }

    pub(crate) fn bytes_sent(&self) -> u64 {
        self.bytes_sent
    }

    pub(crate) fn queue_raw(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    pub(crate) fn poll_transmit(&mut self) -> Option<Bytes> {
        if self.out.is_empty() {
            return None;
        }
        let bytes = self.out.split().freeze();
        self.bytes_sent += bytes.len() as u64;
        Some(bytes)
    }

    pub(crate) fn send(&mut self, message: &Message) -> Result<(), ChunkError> {
        self.encoder.encode(message, &mut self.out)
    }

    pub(crate) fn send_command(
        &mut self,
        csid: u32,
        stream_id: u32,
        name: &str,
        transaction_id: f64,
        args: Vec<Amf0Value>,
    ) -> Result<(), ChunkError> {
        let command = Command::new(name, transaction_id, Amf0Value::Null, args);
        self.send(&command.to_message(csid, stream_id))
    }

    /// Announce and switch to a new outgoing chunk size.
    pub(crate) fn set_chunk_size(&mut self, size: u32) -> Result<(), ChunkError> {
        self.send(&message::set_chunk_size(size))?;
        self.encoder.set_chunk_size(size)
    }

    pub(crate) fn send_window_ack_size(&mut self, size: u32) -> Result<(), ChunkError> {
        self.our_window = Some(size);
        self.send(&message::window_ack_size(size))
    }

    /// Send an Acknowledgement once a window's worth arrived since the last one.
    pub(crate) fn maybe_ack(&mut self) -> Result<(), ChunkError> {
        let Some(window) = self.peer_window else {
            return Ok(());
        };
        if self.bytes_received - self.last_ack >= u64::from(window) {
            self.last_ack = self.bytes_received;
            // The sequence number is 32-bit on the wire and wraps.
            self.send(&message::acknowledgement(self.bytes_received as u32))?;
        }
        Ok(())
    }

    /// Handle a protocol control or user control message; `Ok(false)` for
    /// any other message type.
    pub(crate) fn handle_control(&mut self, msg: &Message) -> Result<bool, ChunkError> {
        match msg.type_id {
            // Already applied by the decoder, at their place in the stream.
            type_id::SET_CHUNK_SIZE | type_id::ABORT => {}
            // We never throttle on the peer's acknowledgements.
            type_id::ACKNOWLEDGEMENT => {}
            type_id::WINDOW_ACK_SIZE => {
                let size =
                    body_u32(&msg.payload).ok_or(ChunkError::BadControlMessage(msg.type_id))?;
                // A zero window would mean "ack every byte"; treat it as "no acks".
                self.peer_window = (size > 0).then_some(size);
            }
            type_id::SET_PEER_BANDWIDTH => {
                let size =
                    body_u32(&msg.payload).ok_or(ChunkError::BadControlMessage(msg.type_id))?;
                if self.our_window != Some(size) && size > 0 {
                    self.send_window_ack_size(size)?;
                }
            }
            type_id::USER_CONTROL => {
                if let UserControl::PingRequest(ts) = UserControl::parse(&msg.payload) {
                    self.send(&UserControl::PingResponse(ts).to_message())?;
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}
