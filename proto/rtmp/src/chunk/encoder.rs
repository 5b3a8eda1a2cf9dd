//! Chunk stream encoder (spec 5.3.1): messages in, chunks out.

use std::collections::BTreeMap;

use bytes::{BufMut, BytesMut};

use super::{
    ChunkError, DEFAULT_CHUNK_SIZE, EXTENDED_TIMESTAMP, MAX_CSID, MIN_CSID, Message,
    check_chunk_size,
};

/// Splits messages into chunks at the current outgoing chunk size.
///
/// Header compression is deliberately simple: fmt 0 for the first message on
/// a chunk stream (or a new message stream id, or a timestamp going back),
/// fmt 2 when only the timestamp moved, fmt 1 otherwise, fmt 3 for
/// continuation chunks. Never fmt 3 for a new message: decoders disagree on
/// its delta after a fmt 0 header.
#[derive(Debug)]
pub struct ChunkEncoder {
    chunk_size: u32,
    streams: BTreeMap<u32, Sent>,
}

#[derive(Debug, Clone, Copy)]
struct Sent {
    timestamp: u32,
    length: u32,
    type_id: u8,
    stream_id: u32,
}

impl Default for ChunkEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkEncoder {
    /// An encoder at the default chunk size of 128.
    pub fn new() -> Self {
        Self {
            chunk_size: DEFAULT_CHUNK_SIZE,
            streams: BTreeMap::new(),
        }
    }

    /// Current outgoing chunk size.
    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    /// Change the outgoing chunk size. The caller must have sent (encoded) a
    /// Set Chunk Size message with the same value just before.
    pub fn set_chunk_size(&mut self, size: u32) -> Result<(), ChunkError> {
        self.chunk_size = check_chunk_size(size)?;
        Ok(())
    }

    /// Append `message` as chunks to `out`.
    pub fn encode(&mut self, message: &Message, out: &mut BytesMut) -> Result<(), ChunkError> {
        let csid = message.csid;
        if !(MIN_CSID..=MAX_CSID).contains(&csid) {
            return Err(ChunkError::InvalidChunkStreamId(csid));
        }
        let length = u32::try_from(message.payload.len())
            .ok()
            .filter(|&l| l <= 0x00FF_FFFF)
            .ok_or(ChunkError::MessageTooLarge(u32::MAX))?;
        let sent = Sent {
            timestamp: message.timestamp,
            length,
            type_id: message.type_id,
            stream_id: message.stream_id,
        };
        let (fmt, ts_value) = match self.streams.get(&csid) {
            Some(prev) if prev.stream_id == sent.stream_id && sent.timestamp >= prev.timestamp => {
                let delta = sent.timestamp - prev.timestamp;
                if prev.length == length && prev.type_id == sent.type_id {
                    (2, delta)
                } else {
                    (1, delta)
                }
            }
            _ => (0, sent.timestamp),
        };
        self.streams.insert(csid, sent);

        let extended = ts_value >= EXTENDED_TIMESTAMP;
        put_basic_header(out, fmt, csid);
        put_u24(out, ts_value.min(EXTENDED_TIMESTAMP));
        if fmt <= 1 {
            put_u24(out, length);
            out.put_u8(sent.type_id);
        }
        if fmt == 0 {
            out.put_u32_le(sent.stream_id);
        }
        if extended {
            out.put_u32(ts_value);
        }
        let mut chunks = message.payload.chunks(self.chunk_size as usize);
        if let Some(first) = chunks.next() {
            out.put_slice(first);
        }
        for chunk in chunks {
            put_basic_header(out, 3, csid);
            // Repeat the extended timestamp in continuation chunks, as the
            // 2012 spec errata, librtmp and FFmpeg do.
            if extended {
                out.put_u32(ts_value);
            }
            out.put_slice(chunk);
        }
        Ok(())
    }
}

fn put_u24(out: &mut BytesMut, v: u32) {
    out.put_slice(&v.to_be_bytes()[1..]);
}

/// Basic header (spec 5.3.1.1): 1, 2 or 3 bytes depending on the id.
fn put_basic_header(out: &mut BytesMut, fmt: u8, csid: u32) {
    let fmt = fmt << 6;
    match csid {
        0..=63 => out.put_u8(fmt | csid as u8),
        64..=319 => {
            out.put_u8(fmt);
            out.put_u8((csid - 64) as u8);
        }
        _ => {
            let id = csid - 64;
            out.put_u8(fmt | 1);
            out.put_u8((id & 0xFF) as u8);
            out.put_u8((id >> 8) as u8);
        }
    }
}
