//! Chunk header parsing (spec 5.3.1.1–5.3.1.3), separated from the
//! decoder's state so it can be read without committing anything.

use super::{ChunkError, EXTENDED_TIMESTAMP, MAX_CHUNK_STREAMS};

/// What the decoder remembers about a chunk stream that matters for parsing.
#[derive(Debug, Clone, Copy)]
pub(super) struct Previous {
    /// The last fmt 0–2 header used the extended timestamp field.
    pub(super) extended: bool,
    /// Its value.
    pub(super) ext_value: u32,
    /// A message is partially received on this chunk stream.
    pub(super) in_progress: bool,
}

/// Header fields read from the buffer, before anything is committed.
pub(super) struct Header {
    pub(super) fmt: u8,
    pub(super) csid: u32,
    /// The 3-byte timestamp or delta field (0xFFFFFF: see `ext`).
    pub(super) ts_field: u32,
    pub(super) length: u32,
    pub(super) type_id: u8,
    pub(super) stream_id: u32,
    /// Extended timestamp, when present and meaningful for this chunk.
    pub(super) ext: Option<u32>,
    /// Bytes the whole header occupies.
    pub(super) len: usize,
}

/// Read a basic + message header (+ extended timestamp) from the front of
/// `buf` without consuming anything. `Ok(None)`: not enough bytes yet.
/// `known` is how many chunk streams are tracked; `previous` looks one up.
pub(super) fn read_header(
    buf: &[u8],
    known: usize,
    previous: impl Fn(u32) -> Option<Previous>,
) -> Result<Option<Header>, ChunkError> {
    let mut r = Reader { buf, pos: 0 };
    let Some(b0) = r.u8() else { return Ok(None) };
    let fmt = b0 >> 6;
    let csid = match b0 & 0x3F {
        0 => match r.u8() {
            Some(b1) => 64 + u32::from(b1),
            None => return Ok(None),
        },
        1 => match (r.u8(), r.u8()) {
            (Some(b1), Some(b2)) => 64 + u32::from(b1) + 256 * u32::from(b2),
            _ => return Ok(None),
        },
        n => u32::from(n),
    };
    let state = previous(csid);
    match state {
        None if fmt != 0 => return Err(ChunkError::NoPreviousHeader(csid)),
        None if known >= MAX_CHUNK_STREAMS => {
            return Err(ChunkError::TooManyChunkStreams);
        }
        _ => {}
    }
    let mut h = Header {
        fmt,
        csid,
        ts_field: 0,
        length: 0,
        type_id: 0,
        stream_id: 0,
        ext: None,
        len: 0,
    };
    if fmt <= 2 {
        let Some(ts) = r.u24() else { return Ok(None) };
        h.ts_field = ts;
    }
    if fmt <= 1 {
        let (Some(length), Some(type_id)) = (r.u24(), r.u8()) else {
            return Ok(None);
        };
        h.length = length;
        h.type_id = type_id;
    }
    if fmt == 0 {
        // The message stream id is the one little-endian field in RTMP.
        let Some(id) = r.u32_le() else {
            return Ok(None);
        };
        h.stream_id = id;
    }
    if fmt <= 2 && h.ts_field == EXTENDED_TIMESTAMP {
        let Some(ext) = r.u32() else { return Ok(None) };
        h.ext = Some(ext);
    } else if fmt == 3
        && let Some(s) = state.filter(|s| s.extended)
    {
        let Some(ext) = r.peek_u32() else {
            return Ok(None);
        };
        if !s.in_progress {
            // A new message: the field is mandatory and is its delta.
            h.ext = Some(ext);
            r.pos += 4;
        } else if ext == s.ext_value {
            // Continuation chunk: librtmp/FFmpeg repeat the extended
            // timestamp here, some encoders omit it. Accept it only when
            // it repeats the header's value.
            r.pos += 4;
        }
    }
    h.len = r.pos;
    Ok(Some(h))
}

/// Big-endian cursor that answers `None` instead of reading past the end.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn bytes<const N: usize>(&mut self) -> Option<[u8; N]> {
        let out = self.buf.get(self.pos..self.pos + N)?.try_into().ok()?;
        self.pos += N;
        Some(out)
    }

    fn u8(&mut self) -> Option<u8> {
        self.bytes::<1>().map(|[b]| b)
    }

    fn u24(&mut self) -> Option<u32> {
        self.bytes::<3>()
            .map(|[a, b, c]| u32::from_be_bytes([0, a, b, c]))
    }

    fn u32(&mut self) -> Option<u32> {
        self.bytes().map(u32::from_be_bytes)
    }

    fn u32_le(&mut self) -> Option<u32> {
        self.bytes().map(u32::from_le_bytes)
    }

    fn peek_u32(&self) -> Option<u32> {
        let bytes = self.buf.get(self.pos..self.pos + 4)?;
        bytes.try_into().ok().map(u32::from_be_bytes)
    }
}
