//! One segment of the window and the parts it is made of.

use std::sync::OnceLock;
use std::time::Duration;

use bytes::{Bytes, BytesMut};

/// One part as stored: its bytes become a slice of the segment's bytes once those are built.
#[derive(Debug, Clone)]
pub(crate) struct StoredPart {
    pub(crate) data: Bytes,
    pub(crate) duration: Duration,
    pub(crate) independent: bool,
}

/// A segment, open (still receiving parts) or closed.
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
    closed: bool,
    /// The concatenated parts, built on the first request for the whole segment rather than at
    /// close: LL-HLS players fetch parts and edges replicate parts, so on an origin most
    /// segments are never asked for, and building each one cost a copy of every part plus a
    /// fresh allocation (about a tenth of the origin's CPU per ingested stream).
    bytes: OnceLock<Bytes>,
    /// The parts point into `bytes` (see [`share_bytes`](Self::share_bytes)).
    shared: bool,
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
            closed: false,
            bytes: OnceLock::new(),
            shared: false,
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    /// Index of the last part (every segment holds at least one part).
    pub(crate) fn last_part_index(&self) -> u64 {
        self.parts.len().saturating_sub(1) as u64
    }

    pub(crate) fn push(&mut self, part: StoredPart) {
        self.duration = self.duration.saturating_add(part.duration);
        self.parts.push(part);
    }

    /// No part will be added any more.
    pub(crate) fn close(&mut self) {
        self.closed = true;
    }

    /// The bytes of a closed segment (`None` while open): the concatenation of its parts,
    /// built by the first call and shared by the later ones.
    ///
    /// **Invariant:** `bytes == concat(parts[i].data)` for every closed segment (checklist:
    /// "a segment's parts, concatenated, are the segment").
    pub(crate) fn bytes(&self) -> Option<Bytes> {
        if !self.closed {
            return None;
        }
        Some(self.bytes.get_or_init(|| concat(&self.parts)).clone())
    }

    /// Once the bytes are built, points every part at its range of that one buffer, so a
    /// requested segment holds its media once (`bytes` only has `&self`, so this waits for the
    /// window's next change). Idempotent and cheap when there is nothing to do.
    pub(crate) fn share_bytes(&mut self) {
        if self.shared {
            return;
        }
        let Some(bytes) = self.bytes.get() else {
            return;
        };
        let mut offset = 0;
        for part in &mut self.parts {
            let len = part.data.len();
            part.data = bytes.slice(offset..offset + len);
            offset += len;
        }
        self.shared = true;
    }
}

fn concat(parts: &[StoredPart]) -> Bytes {
    let total = parts.iter().map(|p| p.data.len()).sum();
    let mut buf = BytesMut::with_capacity(total);
    for part in parts {
        buf.extend_from_slice(&part.data);
    }
    buf.freeze()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn segment_of(chunks: &[&[u8]]) -> Segment {
        let mut segment = Segment::open(7, 0, false, 0);
        for chunk in chunks {
            segment.push(StoredPart {
                data: Bytes::copy_from_slice(chunk),
                duration: Duration::from_millis(200),
                independent: false,
            });
        }
        segment
    }

    #[test]
    fn an_open_segment_has_no_bytes() {
        let segment = segment_of(&[b"moof1mdat1"]);
        assert!(!segment.is_closed());
        assert_eq!(segment.bytes(), None);
    }

    #[test]
    fn closing_builds_nothing_until_asked() {
        let mut segment = segment_of(&[b"moof1mdat1", b"moof2", b"mdat-3"]);
        segment.close();
        assert!(segment.bytes.get().is_none());
        segment.share_bytes(); // nothing built: nothing to share
        assert!(!segment.shared);
        assert_eq!(segment.duration, Duration::from_millis(600));
        assert_eq!(segment.last_part_index(), 2);
    }

    #[test]
    fn asked_bytes_are_the_parts_concatenated_and_then_shared() {
        let mut segment = segment_of(&[b"moof1mdat1", b"moof2", b"mdat-3"]);
        segment.close();
        let bytes = segment.bytes().unwrap_or_default();
        assert_eq!(&bytes[..], b"moof1mdat1moof2mdat-3");
        // Built once: a second request gets the same buffer.
        assert_eq!(segment.bytes().map(|b| b.as_ptr()), Some(bytes.as_ptr()));
        segment.share_bytes();
        assert_eq!(&segment.parts[1].data[..], b"moof2");
        let base = bytes.as_ptr() as usize;
        assert_eq!(segment.parts[1].data.as_ptr() as usize, base + 10);
        assert_eq!(segment.parts[2].data.as_ptr() as usize, base + 15);
    }

    proptest! {
        #[test]
        fn bytes_are_the_concatenation_before_and_after_sharing(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..64), 1..12),
            ask_twice in any::<bool>(),
        ) {
            let refs: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
            let mut segment = segment_of(&refs);
            segment.close();
            let expected: Vec<u8> = chunks.concat();
            prop_assert_eq!(segment.bytes().map(|b| b.to_vec()), Some(expected.clone()));
            segment.share_bytes();
            if ask_twice {
                segment.share_bytes();
            }
            prop_assert_eq!(segment.bytes().map(|b| b.to_vec()), Some(expected.clone()));
            for (part, chunk) in segment.parts.iter().zip(&chunks) {
                prop_assert_eq!(&part.data[..], &chunk[..]);
            }
        }
    }
}
