//! Payload parsing: one frame's payload, already cut to its declared length, to a [`Frame`].

use std::time::Duration;

use bytes::Bytes;
use hls::{PartPosition, WindowConfig, WindowStart};

use super::{
    ErrorCode, Frame, Hello, InitFrame, PartFrame, PartMeta, ResumePoint, Subscribe,
    SubscribeError, SubscribeOk, Version, WindowSnapshot, frame_type, varint,
};
use crate::error::WireError;
use crate::limits::{MAX_INIT_SIZE, MAX_NAME_LEN, MAX_PART_SIZE, MAX_REASON_LEN};

/// Parses the payload of a frame of type `ty`. `Ok(None)` for an extension frame, which the
/// receiver skips. Bytes after the known fields of a control frame are ignored (a later minor
/// version may append fields).
pub(super) fn payload(ty: u8, payload: Bytes) -> Result<Option<Frame>, WireError> {
    let mut r = Reader { bytes: payload };
    let frame = match ty {
        frame_type::HELLO => Frame::Hello(Hello {
            version: Version {
                major: r.varint()?,
                minor: r.varint()?,
            },
            node_id: r.text(MAX_NAME_LEN, |len| WireError::NameTooLong { len })?,
        }),
        frame_type::SUBSCRIBE => Frame::Subscribe(Subscribe {
            request_id: r.varint()?,
            stream: r.text(MAX_NAME_LEN, |len| WireError::NameTooLong { len })?,
            rendition: r.text(MAX_NAME_LEN, |len| WireError::NameTooLong { len })?,
            resume: if r.flag()? {
                Some(ResumePoint {
                    position: r.position()?,
                    generation: r.u32("generation")?,
                })
            } else {
                None
            },
        }),
        frame_type::SUBSCRIBE_OK => Frame::SubscribeOk(SubscribeOk {
            request_id: r.varint()?,
            subscription_id: r.varint()?,
            window: r.snapshot()?,
        }),
        frame_type::SUBSCRIBE_ERROR => Frame::SubscribeError(SubscribeError {
            request_id: r.varint()?,
            code: ErrorCode::from_wire(r.varint()?),
            reason: r.text(MAX_REASON_LEN, |len| WireError::ReasonTooLong { len })?,
        }),
        frame_type::UNSUBSCRIBE => Frame::Unsubscribe {
            subscription_id: r.varint()?,
        },
        frame_type::STREAM_ENDED => Frame::StreamEnded {
            subscription_id: r.varint()?,
            last: r.optional_position()?,
        },
        frame_type::DISCONTINUITY => Frame::Discontinuity {
            subscription_id: r.varint()?,
            last: r.optional_position()?,
        },
        frame_type::INIT => {
            let subscription_id = r.varint()?;
            let generation = r.u32("generation")?;
            let data = r.bytes;
            if data.len() > MAX_INIT_SIZE {
                return Err(WireError::InitTooLarge {
                    len: data.len() as u64,
                });
            }
            Frame::Init(InitFrame {
                subscription_id,
                generation,
                data,
            })
        }
        frame_type::PART => {
            let subscription_id = r.varint()?;
            let position = r.position()?;
            let meta = r.meta()?;
            let data = r.bytes;
            if data.len() > MAX_PART_SIZE {
                return Err(WireError::PartTooLarge {
                    len: data.len() as u64,
                });
            }
            Frame::Part(PartFrame {
                subscription_id,
                position,
                meta,
                data,
            })
        }
        ty if ty >= frame_type::FIRST_EXTENSION => return Ok(None),
        ty => return Err(WireError::UnknownFrameType(ty)),
    };
    Ok(Some(frame))
}

struct Reader {
    bytes: Bytes,
}

impl Reader {
    fn varint(&mut self) -> Result<u64, WireError> {
        let (value, len) = varint::get(&self.bytes).ok_or(WireError::Truncated)?;
        let _ = self.bytes.split_to(len);
        Ok(value)
    }

    fn u8(&mut self) -> Result<u8, WireError> {
        let byte = *self.bytes.first().ok_or(WireError::Truncated)?;
        let _ = self.bytes.split_to(1);
        Ok(byte)
    }

    fn flag(&mut self) -> Result<bool, WireError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(WireError::InvalidFlags(other)),
        }
    }

    fn flags(&mut self, defined: u8) -> Result<u8, WireError> {
        let flags = self.u8()?;
        if flags & !defined != 0 {
            return Err(WireError::InvalidFlags(flags));
        }
        Ok(flags)
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, WireError> {
        u32::try_from(self.varint()?).map_err(|_| WireError::OutOfRange(field))
    }

    fn usize(&mut self, field: &'static str) -> Result<usize, WireError> {
        usize::try_from(self.varint()?).map_err(|_| WireError::OutOfRange(field))
    }

    fn text(
        &mut self,
        limit: usize,
        too_long: impl FnOnce(u64) -> WireError,
    ) -> Result<String, WireError> {
        let len = self.varint()?;
        if len > limit as u64 {
            return Err(too_long(len));
        }
        let len = usize::try_from(len).map_err(|_| WireError::Truncated)?;
        if self.bytes.len() < len {
            return Err(WireError::Truncated);
        }
        let raw = self.bytes.split_to(len);
        String::from_utf8(raw.to_vec()).map_err(|_| WireError::InvalidUtf8)
    }

    fn position(&mut self) -> Result<PartPosition, WireError> {
        Ok(PartPosition {
            msn: self.varint()?,
            index: self.varint()?,
        })
    }

    fn optional_position(&mut self) -> Result<Option<PartPosition>, WireError> {
        if self.flag()? {
            Ok(Some(self.position()?))
        } else {
            Ok(None)
        }
    }

    fn duration(&mut self) -> Result<Duration, WireError> {
        Ok(Duration::from_nanos(self.varint()?))
    }

    fn snapshot(&mut self) -> Result<WindowSnapshot, WireError> {
        let flags = self.flags(0x3f)?;
        let bit = |n: u8| flags & (1 << n) != 0;
        let config = WindowConfig {
            part_target: self.duration()?,
            segment_target: self.duration()?,
            window_segments: self.usize("window_segments")?,
            delta_updates: bit(0),
        };
        let msn = self.varint()?;
        let discontinuity_sequence = self.varint()?;
        let target_duration = if bit(4) { Some(self.varint()?) } else { None };
        let generation = if bit(5) {
            Some(self.u32("generation")?)
        } else {
            None
        };
        Ok(WindowSnapshot {
            config,
            start: WindowStart {
                msn,
                discontinuity_sequence,
                target_duration,
                discontinuity: bit(1),
            },
            generation,
            ended: bit(2),
            first_part: self.position()?,
            continues: bit(3),
        })
    }

    fn meta(&mut self) -> Result<PartMeta, WireError> {
        let generation = self.u32("generation")?;
        let duration = self.duration()?;
        let flags = self.flags(0x07)?;
        Ok(PartMeta {
            generation,
            duration,
            independent: flags & 1 != 0,
            ends_segment: flags & 2 != 0,
            discontinuity_before: flags & 4 != 0,
            program_date_time_ms: self.varint()?,
            origin_time_us: self.varint()?,
        })
    }
}
