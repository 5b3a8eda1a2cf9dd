//! One segment of the window and the parts it is made of.

use std::time::Duration;

use bytes::{Bytes, BytesMut};

/// One part as stored: its bytes are a slice of the segment's bytes once the segment closes.
#[derive(Debug, Clone)]
pub(crate) struct StoredPart {
    pub(crate) data: Bytes,
    pub(crate) duration: Duration,
    pub(crate) independent: bool,
}

/// A segment, open (still receiving parts) or closed (its bytes built).
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    pub(crate) msn: u64,
    /// Init generation its parts were packaged against (selects the `EXT-X-MAP` URI).
    pub(crate) generation: u32,
    /// Carries `EXT-X-DISCONTINUITY`.
    pub(crate) discontinuity: bool,
    /// Wall clock of the first frame of the first part, ms since the Unix epoch.
    pub(crate) program_date_time_ms: u64,
    /// Sum of the parts' durations.
    pub(crate) duration: Duration,
    pub(crate) parts: Vec<StoredPart>,
    /// The concatenated parts; `Some` once the segment is closed.
    pub(crate) bytes: Option<Bytes>,
}

impl Segment {
    pub(crate) fn open(msn: u64, generation: u32, discontinuity: bool, pdt_ms: u64) -> Self {
        Self {
            msn,
            generation,
            discontinuity,
            program_date_time_ms: pdt_ms,
            duration: Duration::ZERO,
            parts: Vec::new(),
            bytes: None,
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.bytes.is_some()
    }

    /// Index of the last part (every segment holds at least one part).
    pub(crate) fn last_part_index(&self) -> u64 {
        self.parts.len().saturating_sub(1) as u64
    }

    pub(crate) fn push(&mut self, part: StoredPart) {
        self.duration = self.duration.saturating_add(part.duration);
        self.parts.push(part);
    }

    /// Builds the segment's bytes as the concatenation of its parts, then points every part at
    /// its range of that one buffer, so a closed segment holds its media once.
    ///
    /// **Invariant:** `bytes == concat(parts[i].data)` for every closed segment (checklist:
    /// "a segment's parts, concatenated, are the segment").
    pub(crate) fn close(&mut self) {
        let total = self.parts.iter().map(|p| p.data.len()).sum();
        let mut buf = BytesMut::with_capacity(total);
        for part in &self.parts {
            buf.extend_from_slice(&part.data);
        }
        let bytes = buf.freeze();
        let mut offset = 0;
        for part in &mut self.parts {
            let len = part.data.len();
            part.data = bytes.slice(offset..offset + len);
            offset += len;
        }
        self.bytes = Some(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closing_concatenates_and_reslices_parts() {
        let mut segment = Segment::open(7, 0, false, 0);
        for chunk in [&b"moof1mdat1"[..], b"moof2", b"mdat-3"] {
            segment.push(StoredPart {
                data: Bytes::copy_from_slice(chunk),
                duration: Duration::from_millis(200),
                independent: false,
            });
        }
        segment.close();
        let bytes = segment.bytes.clone().unwrap_or_default();
        assert_eq!(&bytes[..], b"moof1mdat1moof2mdat-3");
        assert_eq!(&segment.parts[1].data[..], b"moof2");
        assert_eq!(segment.duration, Duration::from_millis(600));
        assert_eq!(segment.last_part_index(), 2);
    }
}
