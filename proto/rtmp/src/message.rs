//! Message types (spec 5.4, 6.2, 7.1) and protocol control messages.

use bytes::{BufMut, Bytes, BytesMut};

use crate::chunk::Message;

/// Message type ids (spec 5.4 and 7.1).
pub mod type_id {
    /// Set Chunk Size (5.4.1).
    pub const SET_CHUNK_SIZE: u8 = 1;
    /// Abort Message (5.4.2).
    pub const ABORT: u8 = 2;
    /// Acknowledgement (5.4.3).
    pub const ACKNOWLEDGEMENT: u8 = 3;
    /// User Control Message (6.2).
    pub const USER_CONTROL: u8 = 4;
    /// Window Acknowledgement Size (5.4.4).
    pub const WINDOW_ACK_SIZE: u8 = 5;
    /// Set Peer Bandwidth (5.4.5).
    pub const SET_PEER_BANDWIDTH: u8 = 6;
    /// Audio data: an FLV audio tag body (7.1.4).
    pub const AUDIO: u8 = 8;
    /// Video data: an FLV video tag body (7.1.5).
    pub const VIDEO: u8 = 9;
    /// Data message, AMF3 (7.1.2).
    pub const DATA_AMF3: u8 = 15;
    /// Command message, AMF3 (7.1.1).
    pub const COMMAND_AMF3: u8 = 17;
    /// Data message, AMF0 (7.1.2): `@setDataFrame`, `onMetaData`.
    pub const DATA_AMF0: u8 = 18;
    /// Command message, AMF0 (7.1.1).
    pub const COMMAND_AMF0: u8 = 20;
    /// Aggregate message (7.1.6): FLV tags back to back.
    pub const AGGREGATE: u8 = 22;
}

/// Chunk stream ids we send on. Any id ≥ 2 works; these mirror common practice
/// (control on 2 as the spec requires, commands on 3, media on their own).
pub mod csid {
    /// Protocol control messages (spec 5.4: chunk stream 2).
    pub const CONTROL: u32 = 2;
    /// Command messages.
    pub const COMMAND: u32 = 3;
    /// Audio messages.
    pub const AUDIO: u32 = 4;
    /// Data (metadata) and stream-level status messages.
    pub const DATA: u32 = 5;
    /// Video messages.
    pub const VIDEO: u32 = 6;
}

/// User Control event types (spec 6.2 / 7.1.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserControl {
    /// Stream Begin (0): the stream is functional.
    StreamBegin(u32),
    /// Stream EOF (1).
    StreamEof(u32),
    /// Set Buffer Length (3): stream id, buffer milliseconds.
    SetBufferLength(u32, u32),
    /// Ping Request (6): answer with a Ping Response carrying the same value.
    PingRequest(u32),
    /// Ping Response (7).
    PingResponse(u32),
    /// Any other (or short) event, ignored.
    Other(u16),
}

impl UserControl {
    /// Parse a User Control message body; never fails, short bodies become `Other`.
    pub fn parse(body: &[u8]) -> Self {
        let word = |at: usize| {
            body.get(at..at + 4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_be_bytes)
        };
        let Some(kind) = body
            .get(..2)
            .and_then(|b| b.try_into().ok())
            .map(u16::from_be_bytes)
        else {
            return Self::Other(u16::MAX);
        };
        match (kind, word(2), word(6)) {
            (0, Some(id), _) => Self::StreamBegin(id),
            (1, Some(id), _) => Self::StreamEof(id),
            (3, Some(id), Some(ms)) => Self::SetBufferLength(id, ms),
            (6, Some(ts), _) => Self::PingRequest(ts),
            (7, Some(ts), _) => Self::PingResponse(ts),
            (other, _, _) => Self::Other(other),
        }
    }

    /// The message carrying this event.
    pub fn to_message(self) -> Message {
        let mut body = BytesMut::with_capacity(10);
        let (kind, a, b) = match self {
            Self::StreamBegin(id) => (0, id, None),
            Self::StreamEof(id) => (1, id, None),
            Self::SetBufferLength(id, ms) => (3, id, Some(ms)),
            Self::PingRequest(ts) => (6, ts, None),
            Self::PingResponse(ts) => (7, ts, None),
            Self::Other(kind) => (kind, 0, None),
        };
        body.put_u16(kind);
        body.put_u32(a);
        if let Some(b) = b {
            body.put_u32(b);
        }
        control(type_id::USER_CONTROL, body.freeze())
    }
}

/// Set Peer Bandwidth limit type (spec 5.4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitType {
    /// 0: hard.
    Hard = 0,
    /// 1: soft.
    Soft = 1,
    /// 2: dynamic.
    Dynamic = 2,
}

/// A protocol control message on chunk stream 2, message stream 0.
fn control(type_id: u8, payload: Bytes) -> Message {
    Message {
        csid: csid::CONTROL,
        timestamp: 0,
        type_id,
        stream_id: 0,
        payload,
    }
}

fn control_u32(type_id: u8, value: u32) -> Message {
    control(type_id, Bytes::copy_from_slice(&value.to_be_bytes()))
}

/// Set Chunk Size (5.4.1).
pub fn set_chunk_size(size: u32) -> Message {
    control_u32(type_id::SET_CHUNK_SIZE, size)
}

/// Acknowledgement (5.4.3) with the total byte count received so far.
pub fn acknowledgement(sequence: u32) -> Message {
    control_u32(type_id::ACKNOWLEDGEMENT, sequence)
}

/// Window Acknowledgement Size (5.4.4).
pub fn window_ack_size(size: u32) -> Message {
    control_u32(type_id::WINDOW_ACK_SIZE, size)
}

/// Set Peer Bandwidth (5.4.5).
pub fn set_peer_bandwidth(size: u32, limit: LimitType) -> Message {
    let mut body = BytesMut::with_capacity(5);
    body.put_u32(size);
    body.put_u8(limit as u8);
    control(type_id::SET_PEER_BANDWIDTH, body.freeze())
}

/// First four bytes of a body as a big-endian `u32`, if present.
pub(crate) fn body_u32(body: &[u8]) -> Option<u32> {
    body.get(..4)?.try_into().ok().map(u32::from_be_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_control_roundtrip_and_short_bodies() {
        for uc in [
            UserControl::StreamBegin(1),
            UserControl::StreamEof(9),
            UserControl::SetBufferLength(1, 3000),
            UserControl::PingRequest(77),
            UserControl::PingResponse(78),
        ] {
            assert_eq!(UserControl::parse(&uc.to_message().payload), uc);
        }
        assert_eq!(UserControl::parse(&[0]), UserControl::Other(u16::MAX));
        assert_eq!(UserControl::parse(&[0, 6, 1]), UserControl::Other(6));
    }

    #[test]
    fn peer_bandwidth_layout() {
        let m = set_peer_bandwidth(2_500_000, LimitType::Dynamic);
        assert_eq!(&m.payload[..], &[0x00, 0x26, 0x25, 0xA0, 2]);
        assert_eq!((m.csid, m.stream_id, m.type_id), (2, 0, 6));
    }
}
