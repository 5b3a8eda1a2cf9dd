//! [`Frame::encode`]: frames to bytes. Encoding never fails; numbers above
//! [`MAX_VARINT`](super::MAX_VARINT) saturate (no valid value comes near it).

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use hls::PartPosition;

use super::{Frame, PartMeta, WindowSnapshot, frame_type, varint};

/// An encoded frame: the header (type, length and every field before the body) and the body,
/// kept apart so a part's media bytes are never copied. Write `header` then `body`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedFrame {
    /// Type, length and fields.
    pub header: Bytes,
    /// The body of a data frame (empty for control frames).
    pub body: Bytes,
}

impl EncodedFrame {
    /// Total length on the wire.
    pub fn len(&self) -> usize {
        self.header.len() + self.body.len()
    }

    /// Whether the frame has no bytes (never true).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Header and body in one buffer (copies the body).
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.len());
        out.extend_from_slice(&self.header);
        out.extend_from_slice(&self.body);
        out.freeze()
    }
}

impl Frame {
    /// Encodes the frame as `type | length | payload`.
    pub fn encode(&self) -> EncodedFrame {
        let mut fields = BytesMut::with_capacity(64);
        let (ty, body) = match self {
            Self::Hello(h) => {
                varint::put(&mut fields, h.version.major);
                varint::put(&mut fields, h.version.minor);
                put_text(&mut fields, &h.node_id);
                (frame_type::HELLO, Bytes::new())
            }
            Self::Subscribe(s) => {
                varint::put(&mut fields, s.request_id);
                put_text(&mut fields, &s.stream);
                put_text(&mut fields, &s.rendition);
                match s.resume {
                    None => fields.put_u8(0),
                    Some(r) => {
                        fields.put_u8(1);
                        put_position(&mut fields, r.position);
                        varint::put(&mut fields, u64::from(r.generation));
                    }
                }
                (frame_type::SUBSCRIBE, Bytes::new())
            }
            Self::SubscribeOk(ok) => {
                varint::put(&mut fields, ok.request_id);
                varint::put(&mut fields, ok.subscription_id);
                put_snapshot(&mut fields, &ok.window);
                (frame_type::SUBSCRIBE_OK, Bytes::new())
            }
            Self::SubscribeError(e) => {
                varint::put(&mut fields, e.request_id);
                varint::put(&mut fields, e.code.to_wire());
                put_text(&mut fields, &e.reason);
                (frame_type::SUBSCRIBE_ERROR, Bytes::new())
            }
            Self::Unsubscribe { subscription_id } => {
                varint::put(&mut fields, *subscription_id);
                (frame_type::UNSUBSCRIBE, Bytes::new())
            }
            Self::StreamEnded {
                subscription_id,
                last,
            } => {
                varint::put(&mut fields, *subscription_id);
                put_optional_position(&mut fields, *last);
                (frame_type::STREAM_ENDED, Bytes::new())
            }
            Self::Discontinuity {
                subscription_id,
                last,
            } => {
                varint::put(&mut fields, *subscription_id);
                put_optional_position(&mut fields, *last);
                (frame_type::DISCONTINUITY, Bytes::new())
            }
            Self::Init(init) => {
                varint::put(&mut fields, init.subscription_id);
                varint::put(&mut fields, u64::from(init.generation));
                (frame_type::INIT, init.data.clone())
            }
            Self::Part(part) => {
                varint::put(&mut fields, part.subscription_id);
                put_position(&mut fields, part.position);
                put_meta(&mut fields, &part.meta);
                (frame_type::PART, part.data.clone())
            }
        };
        let mut header = BytesMut::with_capacity(fields.len() + 9);
        header.put_u8(ty);
        varint::put(&mut header, (fields.len() + body.len()) as u64);
        header.extend_from_slice(&fields);
        EncodedFrame {
            header: header.freeze(),
            body,
        }
    }

    /// Encodes the frame into one buffer (for control frames, and tests).
    pub fn to_bytes(&self) -> Bytes {
        self.encode().to_bytes()
    }
}

fn put_text(buf: &mut BytesMut, text: &str) {
    varint::put(buf, text.len() as u64);
    buf.extend_from_slice(text.as_bytes());
}

fn put_position(buf: &mut BytesMut, position: PartPosition) {
    varint::put(buf, position.msn);
    varint::put(buf, position.index);
}

fn put_optional_position(buf: &mut BytesMut, position: Option<PartPosition>) {
    match position {
        None => buf.put_u8(0),
        Some(p) => {
            buf.put_u8(1);
            put_position(buf, p);
        }
    }
}

pub(super) fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

fn put_snapshot(buf: &mut BytesMut, s: &WindowSnapshot) {
    let flags = u8::from(s.config.delta_updates)
        | u8::from(s.start.discontinuity) << 1
        | u8::from(s.ended) << 2
        | u8::from(s.continues) << 3
        | u8::from(s.start.target_duration.is_some()) << 4
        | u8::from(s.generation.is_some()) << 5;
    buf.put_u8(flags);
    varint::put(buf, nanos(s.config.part_target));
    varint::put(buf, nanos(s.config.segment_target));
    varint::put(buf, s.config.window_segments as u64);
    varint::put(buf, s.start.msn);
    varint::put(buf, s.start.discontinuity_sequence);
    if let Some(target) = s.start.target_duration {
        varint::put(buf, target);
    }
    if let Some(generation) = s.generation {
        varint::put(buf, u64::from(generation));
    }
    put_position(buf, s.first_part);
}

fn put_meta(buf: &mut BytesMut, meta: &PartMeta) {
    varint::put(buf, u64::from(meta.generation));
    varint::put(buf, nanos(meta.duration));
    let flags = u8::from(meta.independent)
        | u8::from(meta.ends_segment) << 1
        | u8::from(meta.discontinuity_before) << 2;
    buf.put_u8(flags);
    varint::put(buf, meta.program_date_time_ms);
    varint::put(buf, meta.origin_time_us);
}
