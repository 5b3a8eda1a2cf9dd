//! Audio, video, data and aggregate messages of an accepted publish.

use bytes::Bytes;

use super::{Event, Publish, ServerSession};
use crate::amf0::Amf0Value;
use crate::chunk::Message;
use crate::command::amf_values;
use crate::error::SessionError;
use crate::message::type_id;

/// FLV tag header inside an aggregate message: type (1), size (3),
/// timestamp (3 + 1 extension), stream id (3).
const TAG_HEADER: usize = 11;
/// Each tag in an aggregate is followed by its 4-byte back pointer.
const BACK_POINTER: usize = 4;

impl ServerSession {
    pub(super) fn handle_media(
        &mut self,
        kind: u8,
        raw_ts: u32,
        data: Bytes,
    ) -> Result<(), SessionError> {
        if !matches!(self.publish, Publish::Active { .. }) {
            return Err(SessionError::MediaBeforePublish);
        }
        let timestamp_ms = self.clock.unwrap_next(raw_ts);
        self.events.push_back(if kind == type_id::VIDEO {
            Event::Video { timestamp_ms, data }
        } else {
            Event::Audio { timestamp_ms, data }
        });
        Ok(())
    }

    /// `@setDataFrame("onMetaData", meta)` (FFmpeg, OBS) or plain
    /// `onMetaData(meta)`. Other data messages (cue points, text) are ignored,
    /// as is metadata outside an accepted publish.
    pub(super) fn handle_data(&mut self, msg: &Message) -> Result<(), SessionError> {
        let values = amf_values(msg.type_id, &msg.payload)?;
        let mut values = values.into_iter();
        let mut name = values.next();
        if name.as_ref().and_then(Amf0Value::as_str) == Some("@setDataFrame") {
            name = values.next();
        }
        let is_metadata = name.as_ref().and_then(Amf0Value::as_str) == Some("onMetaData");
        if is_metadata
            && matches!(self.publish, Publish::Active { .. })
            && let Some(meta) = values.next()
        {
            self.events.push_back(Event::Metadata(meta));
        }
        Ok(())
    }

    /// Aggregate (spec 7.1.6): FLV tags with back pointers. Sub-message
    /// timestamps are relative to the first one, rebased on the aggregate's.
    pub(super) fn handle_aggregate(&mut self, msg: &Message) -> Result<(), SessionError> {
        let mut rest = msg.payload.clone();
        let mut first_ts: Option<u32> = None;
        while !rest.is_empty() {
            let header: [u8; TAG_HEADER] = rest
                .get(..TAG_HEADER)
                .and_then(|h| h.try_into().ok())
                .ok_or(SessionError::BadAggregate)?;
            let [kind, s0, s1, s2, t0, t1, t2, t_ext, ..] = header;
            let size = u32::from_be_bytes([0, s0, s1, s2]) as usize;
            // FLV puts the timestamp's top byte after the lower three.
            let ts = u32::from_be_bytes([t_ext, t0, t1, t2]);
            let end = TAG_HEADER + size;
            if rest.len() < end + BACK_POINTER {
                return Err(SessionError::BadAggregate);
            }
            let body = rest.slice(TAG_HEADER..end);
            let base = *first_ts.get_or_insert(ts);
            let rebased = msg.timestamp.wrapping_add(ts.wrapping_sub(base));
            if kind == type_id::AUDIO || kind == type_id::VIDEO {
                self.handle_media(kind, rebased, body)?;
            }
            rest = rest.slice(end + BACK_POINTER..);
        }
        Ok(())
    }
}
