//! Chunk stream decoder (spec 5.3.1): chunks in, complete messages out.

use std::collections::{BTreeMap, VecDeque};

use bytes::{Buf, BytesMut};

use super::header::{Header, Previous, read_header};
use super::{
    ChunkError, DEFAULT_CHUNK_SIZE, MAX_MESSAGE_SIZE, MAX_PENDING_BYTES, Message, check_chunk_size,
};
use crate::message::type_id;

/// Largest buffer reserved up front for one message; a longer one grows as it arrives.
pub(super) const PREALLOCATE_LIMIT: usize = 1024 * 1024;

/// Reassembles messages from an incoming chunk stream.
///
/// Call [`handle_input`](Self::handle_input) with bytes as they arrive, then
/// drain [`poll_message`](Self::poll_message) until `None`. Input is parsed
/// eagerly, so Set Chunk Size and Abort take effect exactly at their place in
/// the stream; those messages are still returned for the caller to observe.
/// After an error the decoder stays failed.
#[derive(Debug)]
pub struct ChunkDecoder {
    /// Bytes of at most one incomplete chunk (everything else is parsed).
    buf: BytesMut,
    chunk_size: u32,
    // BTreeMap, not HashMap: RandomState would read OS randomness.
    streams: BTreeMap<u32, StreamState>,
    /// Sum of declared lengths of partially received messages.
    pending: u64,
    ready: VecDeque<Message>,
    bytes_received: u64,
    failed: Option<ChunkError>,
}

/// What the previous headers on one chunk stream said (spec 5.3.1.2).
#[derive(Debug, Default)]
struct StreamState {
    timestamp: u32,
    /// Delta reused by a fmt 3 chunk starting a new message. After fmt 0 it
    /// is the absolute timestamp, as spec 5.3.1.2.4 describes.
    delta: u32,
    length: u32,
    type_id: u8,
    stream_id: u32,
    /// The last fmt 0–2 header used the extended timestamp field.
    extended: bool,
    ext_value: u32,
    partial: Option<BytesMut>,
}

impl Default for ChunkDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkDecoder {
    /// A decoder at the default chunk size of 128.
    pub fn new() -> Self {
        Self {
            buf: BytesMut::new(),
            chunk_size: DEFAULT_CHUNK_SIZE,
            streams: BTreeMap::new(),
            pending: 0,
            ready: VecDeque::new(),
            bytes_received: 0,
            failed: None,
        }
    }

    /// Feed received bytes and parse every complete chunk in them.
    pub fn handle_input(&mut self, data: &[u8]) -> Result<(), ChunkError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        self.bytes_received += data.len() as u64;
        self.buf.extend_from_slice(data);
        loop {
            match self.step() {
                Ok(true) => {}
                Ok(false) => return Ok(()),
                Err(err) => {
                    self.failed = Some(err.clone());
                    return Err(err);
                }
            }
        }
    }

    /// Next complete message, in arrival order.
    pub fn poll_message(&mut self) -> Option<Message> {
        self.ready.pop_front()
    }

    /// Current incoming chunk size.
    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    /// Total bytes fed in so far.
    pub fn bytes_received(&self) -> u64 {
        self.bytes_received
    }

    /// Parse one chunk if it is complete; `Ok(false)` means "need more bytes".
    fn step(&mut self) -> Result<bool, ChunkError> {
        let Some(h) = read_header(&self.buf, self.streams.len(), |csid| {
            self.streams.get(&csid).map(|s| Previous {
                extended: s.extended,
                ext_value: s.ext_value,
                in_progress: s.partial.is_some(),
            })
        })?
        else {
            return Ok(false);
        };
        let state = self.streams.get(&h.csid);
        let continuing = h.fmt == 3 && state.is_some_and(|s| s.partial.is_some());
        let (length, received) = match state {
            Some(s) if continuing => (s.length, s.partial.as_ref().map_or(0, BytesMut::len)),
            Some(s) if h.fmt >= 2 => (s.length, 0),
            _ => (h.length, 0),
        };
        if !continuing {
            // Refuse oversized messages here, at the header, before buffering.
            if length > MAX_MESSAGE_SIZE {
                return Err(ChunkError::MessageTooLarge(length));
            }
            // A fmt 0–2 header in the middle of a message abandons it.
            let abandoned = state.and_then(|s| s.partial.as_ref().map(|_| s.length));
            let pending = self.pending - u64::from(abandoned.unwrap_or(0)) + u64::from(length);
            if pending > MAX_PENDING_BYTES {
                return Err(ChunkError::TooManyPendingBytes);
            }
        }
        let remaining = (length as usize).saturating_sub(received);
        let chunk_len = remaining.min(self.chunk_size as usize);
        if self.buf.len() < h.len + chunk_len {
            return Ok(false);
        }

        // The whole chunk is here: commit.
        self.buf.advance(h.len);
        let payload = self.buf.split_to(chunk_len);
        let state = self.streams.entry(h.csid).or_default();
        if !continuing {
            if state.partial.take().is_some() {
                self.pending -= u64::from(state.length);
            }
            start_message(state, &h);
            // Room for the whole message at once: growing chunk by chunk copied a large
            // frame several times over. Declared lengths are already bounded (MAX_PENDING_BYTES);
            // capping the reservation keeps a lying header from reserving more than the bytes
            // it may still send would need.
            let reserve = (state.length as usize).min(PREALLOCATE_LIMIT);
            state.partial = Some(BytesMut::with_capacity(reserve));
            self.pending += u64::from(state.length);
        }
        let Some(partial) = state.partial.as_mut() else {
            return Ok(true);
        };
        partial.extend_from_slice(&payload);
        if partial.len() < state.length as usize {
            return Ok(true);
        }
        let body = state.partial.take().unwrap_or_default().freeze();
        self.pending -= u64::from(state.length);
        let message = Message {
            csid: h.csid,
            timestamp: state.timestamp,
            type_id: state.type_id,
            stream_id: state.stream_id,
            payload: body,
        };
        self.apply_control(&message)?;
        self.ready.push_back(message);
        Ok(true)
    }

    fn apply_control(&mut self, message: &Message) -> Result<(), ChunkError> {
        let value = || {
            message
                .payload
                .get(..4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_be_bytes)
                .ok_or(ChunkError::BadControlMessage(message.type_id))
        };
        match message.type_id {
            type_id::SET_CHUNK_SIZE => self.chunk_size = check_chunk_size(value()?)?,
            type_id::ABORT => {
                if let Some(s) = self.streams.get_mut(&value()?)
                    && s.partial.take().is_some()
                {
                    self.pending -= u64::from(s.length);
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Apply a header that starts a new message to the chunk stream state.
fn start_message(state: &mut StreamState, h: &Header) {
    match h.fmt {
        0 => {
            let ts = h.ext.unwrap_or(h.ts_field);
            state.timestamp = ts;
            state.delta = ts;
            state.stream_id = h.stream_id;
        }
        1 | 2 => {
            state.delta = h.ext.unwrap_or(h.ts_field);
            state.timestamp = state.timestamp.wrapping_add(state.delta);
        }
        _ => {
            if let Some(ext) = h.ext {
                state.delta = ext;
                state.ext_value = ext;
            }
            state.timestamp = state.timestamp.wrapping_add(state.delta);
        }
    }
    if h.fmt <= 1 {
        state.length = h.length;
        state.type_id = h.type_id;
    }
    if h.fmt <= 2 {
        state.extended = h.ext.is_some();
        state.ext_value = h.ext.unwrap_or(0);
    }
}
