//! The FLV file format (Adobe FLV spec v10.1, annex E.2 header, E.3 body, E.4.1 tags):
//! a 9-byte header, then `PreviousTagSize0`, then tags each followed by its
//! `PreviousTagSize`. Used by the demo publisher (which loops a clip into ingest) and
//! by tests; live ingest gets tag bodies straight from RTMP instead.

use bytes::Bytes;

use crate::Error;

/// Flags from the FLV file header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlvHeader {
    /// TypeFlagsAudio.
    pub has_audio: bool,
    /// TypeFlagsVideo.
    pub has_video: bool,
}

/// FLV TagType (E.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagType {
    /// 8: AUDIODATA (an RTMP audio message body).
    Audio,
    /// 9: VIDEODATA (an RTMP video message body).
    Video,
    /// 18: SCRIPTDATAOBJECT (AMF0 `onMetaData`).
    Script,
    /// Any other value.
    Other(u8),
}

/// One FLV tag: its type, timestamp and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlvTag {
    /// What the body holds.
    pub tag_type: TagType,
    /// Timestamp (lower 24 bits plus TimestampExtended as the upper 8), milliseconds.
    pub timestamp_ms: u32,
    /// The tag body, sliced from the file without copying.
    pub body: Bytes,
}

/// Iterates over the tags of an in-memory FLV file.
///
/// Stops (returns `None`) at the end of the data; a truncated final tag yields one
/// `Err(Error::Truncated)` and then `None`, which is what a file cut mid-write looks like.
#[derive(Debug, Clone)]
pub struct FlvReader {
    data: Bytes,
    pos: usize,
    header: FlvHeader,
}

const TAG_HEADER_LEN: usize = 11;

impl FlvReader {
    /// Checks the file header and positions the reader at the first tag.
    pub fn new(data: Bytes) -> Result<Self, Error> {
        let head = data.get(..9).ok_or(Error::InvalidFlvHeader)?;
        if &head[..3] != b"FLV" || head[3] != 1 {
            return Err(Error::InvalidFlvHeader);
        }
        let flags = head[4];
        let offset = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) as usize;
        if offset < 9 {
            return Err(Error::InvalidFlvHeader);
        }
        let header = FlvHeader {
            has_audio: flags & 0x04 != 0,
            has_video: flags & 0x01 != 0,
        };
        // DataOffset, then the 4-byte PreviousTagSize0 (always 0, not checked).
        Ok(Self {
            data,
            pos: offset.saturating_add(4),
            header,
        })
    }

    /// The file header's flags.
    pub fn header(&self) -> FlvHeader {
        self.header
    }

    fn next_tag(&mut self) -> Result<FlvTag, Error> {
        let head = self
            .data
            .get(self.pos..self.pos.saturating_add(TAG_HEADER_LEN))
            .ok_or(Error::Truncated("flv tag header"))?;
        // Bit 5 is Filter (encrypted), bits 6-7 reserved.
        if head[0] & 0x20 != 0 {
            return Err(Error::EncryptedTag);
        }
        let tag_type = match head[0] & 0x1f {
            8 => TagType::Audio,
            9 => TagType::Video,
            18 => TagType::Script,
            other => TagType::Other(other),
        };
        let size = u32::from_be_bytes([0, head[1], head[2], head[3]]) as usize;
        let timestamp_ms = u32::from_be_bytes([head[7], head[4], head[5], head[6]]);
        // StreamID (head[8..11]) is always 0 and carries nothing.
        let start = self.pos + TAG_HEADER_LEN;
        let end = start.saturating_add(size);
        if end > self.data.len() {
            return Err(Error::Truncated("flv tag body"));
        }
        let body = self.data.slice(start..end);
        // Skip the trailing PreviousTagSize; it is redundant with DataSize.
        self.pos = end.saturating_add(4);
        Ok(FlvTag {
            tag_type,
            timestamp_ms,
            body,
        })
    }
}

impl Iterator for FlvReader {
    type Item = Result<FlvTag, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.data.len() {
            return None;
        }
        let tag = self.next_tag();
        if tag.is_err() {
            // Stop after the first error: there is no resynchronisation marker in FLV.
            self.pos = self.data.len();
        }
        Some(tag)
    }
}
