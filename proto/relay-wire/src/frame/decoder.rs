//! [`FrameDecoder`]: incremental decoding from arbitrary byte slices.

use bytes::{Buf, BytesMut};

use super::{Frame, StreamKind, decode, frame_type, varint};
use crate::error::WireError;
use crate::limits::{MAX_CONTROL_FRAME_SIZE, MAX_DATA_HEADER_SIZE, MAX_INIT_SIZE, MAX_PART_SIZE};

/// Decodes the frames of one stream from byte slices of any size.
///
/// **Drain rule:** after every [`handle_bytes`](Self::handle_bytes), call
/// [`poll_frame`](Self::poll_frame) until it returns `None`; when the stream ends, call
/// [`finish`](Self::finish). The decoder buffers the bytes it is given plus at most one partial
/// frame, whose declared length is checked against its limit as soon as the length is known.
/// After the first error it returns `None` and ignores further bytes: the stream is unusable.
///
/// A [`StreamKind::Control`] decoder yields control frames and skips extension frames (types
/// `0x20` and up). A [`StreamKind::Data`] decoder yields exactly one `Init` or `Part`.
#[derive(Debug)]
pub struct FrameDecoder {
    kind: StreamKind,
    buf: BytesMut,
    /// The one frame of a data stream was decoded.
    data_done: bool,
    error: Option<WireError>,
    failed: bool,
}

impl FrameDecoder {
    /// A decoder for a stream of `kind`.
    pub fn new(kind: StreamKind) -> Self {
        Self {
            kind,
            buf: BytesMut::new(),
            data_done: false,
            error: None,
            failed: false,
        }
    }

    /// Decodes the single data frame of a uni stream read to its end.
    pub fn decode_data_stream(bytes: &[u8]) -> Result<Frame, WireError> {
        let mut decoder = Self::new(StreamKind::Data);
        decoder.handle_bytes(bytes);
        let frame = decoder.poll_frame().ok_or(WireError::IncompleteFrame)??;
        if let Some(Err(e)) = decoder.poll_frame() {
            return Err(e);
        }
        Ok(frame)
    }

    /// Appends bytes read from the stream.
    pub fn handle_bytes(&mut self, bytes: &[u8]) {
        if self.failed || self.error.is_some() || bytes.is_empty() {
            return;
        }
        if self.data_done {
            self.error = Some(WireError::TrailingData);
            return;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, an error, or `None` until more bytes arrive.
    pub fn poll_frame(&mut self) -> Option<Result<Frame, WireError>> {
        loop {
            if let Some(error) = self.error.take() {
                self.fail();
                return Some(Err(error));
            }
            if self.failed || self.data_done && self.buf.is_empty() {
                return None;
            }
            if self.data_done {
                self.error = Some(WireError::TrailingData);
                continue;
            }
            let ty = *self.buf.first()?;
            let (len, len_size) = varint::get(self.buf.get(1..)?)?;
            if let Err(e) = self.check(ty, len) {
                self.error = Some(e);
                continue;
            }
            // `check` bounded `len` far below usize::MAX.
            let total = 1 + len_size + len as usize;
            if self.buf.len() < total {
                self.buf.reserve(total - self.buf.len());
                return None;
            }
            let mut frame = self.buf.split_to(total).freeze();
            frame.advance(1 + len_size);
            match decode::payload(ty, frame) {
                Ok(None) => continue,
                Ok(Some(frame)) => {
                    self.data_done = self.kind == StreamKind::Data;
                    return Some(Ok(frame));
                }
                Err(e) => self.error = Some(e),
            }
        }
    }

    /// The stream ended: an error if it stopped inside a frame, or (data stream) before its
    /// frame.
    pub fn finish(&self) -> Result<(), WireError> {
        if self.failed {
            return Ok(()); // already reported
        }
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if !self.buf.is_empty() || self.kind == StreamKind::Data && !self.data_done {
            return Err(WireError::IncompleteFrame);
        }
        Ok(())
    }

    fn fail(&mut self) {
        self.failed = true;
        self.buf = BytesMut::new();
    }

    /// Refuses a frame type that does not belong on this stream and a length over its limit,
    /// before any of the payload is buffered.
    fn check(&self, ty: u8, len: u64) -> Result<(), WireError> {
        let is_data = matches!(ty, frame_type::INIT | frame_type::PART);
        let is_control = (frame_type::HELLO..=frame_type::DISCONTINUITY).contains(&ty)
            || ty >= frame_type::FIRST_EXTENSION;
        if !is_data && !is_control {
            return Err(WireError::UnknownFrameType(ty));
        }
        if is_data != (self.kind == StreamKind::Data) {
            return Err(WireError::WrongStream {
                frame_type: ty,
                stream: self.kind,
            });
        }
        let limit = match ty {
            frame_type::INIT => MAX_INIT_SIZE + MAX_DATA_HEADER_SIZE,
            frame_type::PART => MAX_PART_SIZE + MAX_DATA_HEADER_SIZE,
            _ => MAX_CONTROL_FRAME_SIZE,
        };
        if len > limit as u64 {
            return Err(match ty {
                frame_type::INIT => WireError::InitTooLarge { len },
                frame_type::PART => WireError::PartTooLarge { len },
                _ => WireError::ControlFrameTooLarge { len },
            });
        }
        Ok(())
    }
}
