//! Bounded AMF0 decoder: never panics, never trusts a declared count.

use super::{Amf0Error, Amf0Value, MAX_AMF_DEPTH, MAX_AMF_ITEMS};

/// Decode one value from the front of `input`; returns it and the number of
/// bytes it used.
pub fn decode(input: &[u8]) -> Result<(Amf0Value, usize), Amf0Error> {
    let mut d = Decoder {
        input,
        pos: 0,
        items: 0,
    };
    let value = d.value(0)?;
    Ok((value, d.pos))
}

/// Decode values back to back until `input` is exhausted, as in a command or
/// data message body. [`MAX_AMF_ITEMS`] applies to the whole sequence.
pub fn decode_all(input: &[u8]) -> Result<Vec<Amf0Value>, Amf0Error> {
    let mut d = Decoder {
        input,
        pos: 0,
        items: 0,
    };
    let mut values = Vec::new();
    while d.pos < input.len() {
        values.push(d.value(0)?);
    }
    Ok(values)
}

struct Decoder<'a> {
    input: &'a [u8],
    pos: usize,
    items: usize,
}

impl Decoder<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], Amf0Error> {
        let end = self.pos.checked_add(n).ok_or(Amf0Error::Truncated)?;
        let bytes = self.input.get(self.pos..end).ok_or(Amf0Error::Truncated)?;
        self.pos = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Amf0Error> {
        let bytes = self.take(N)?;
        // `take` returned exactly N bytes, so this conversion cannot fail.
        bytes.try_into().map_err(|_| Amf0Error::Truncated)
    }

    fn u8(&mut self) -> Result<u8, Amf0Error> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, Amf0Error> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, Amf0Error> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn f64(&mut self) -> Result<f64, Amf0Error> {
        Ok(f64::from_be_bytes(self.array()?))
    }

    fn utf8(&mut self, len: usize) -> Result<String, Amf0Error> {
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| Amf0Error::InvalidUtf8)
    }

    fn count_item(&mut self) -> Result<(), Amf0Error> {
        self.items += 1;
        if self.items > MAX_AMF_ITEMS {
            return Err(Amf0Error::TooManyItems);
        }
        Ok(())
    }

    fn value(&mut self, depth: usize) -> Result<Amf0Value, Amf0Error> {
        self.count_item()?;
        let marker = self.u8()?;
        Ok(match marker {
            0x00 => Amf0Value::Number(self.f64()?),
            0x01 => Amf0Value::Boolean(self.u8()? != 0),
            0x02 => {
                let len = self.u16()?;
                Amf0Value::String(self.utf8(usize::from(len))?)
            }
            0x03 => Amf0Value::Object(self.props(depth)?),
            0x05 => Amf0Value::Null,
            0x06 => Amf0Value::Undefined,
            0x08 => {
                // The count is advisory: FFmpeg and others write 0 or a stale
                // number, so read until the object-end marker like everyone does.
                let _count = self.u32()?;
                Amf0Value::EcmaArray(self.props(depth)?)
            }
            0x09 => return Err(Amf0Error::UnexpectedObjectEnd),
            0x0A => {
                let count = self.u32()?;
                if usize::try_from(count).map_or(true, |c| c > MAX_AMF_ITEMS) {
                    return Err(Amf0Error::TooManyItems);
                }
                let depth = self.enter(depth)?;
                // No preallocation from the declared count: items are pushed
                // only as they actually decode.
                let mut items = Vec::new();
                for _ in 0..count {
                    items.push(self.value(depth)?);
                }
                Amf0Value::StrictArray(items)
            }
            0x0B => {
                let millis = self.f64()?;
                let timezone = i16::from_be_bytes(self.array()?);
                Amf0Value::Date { millis, timezone }
            }
            0x0C => {
                let len = self.u32()?;
                Amf0Value::String(self.utf8(len as usize)?)
            }
            0x0F => {
                let len = self.u32()?;
                Amf0Value::XmlDocument(self.utf8(len as usize)?)
            }
            0x04 | 0x07 | 0x0D | 0x0E | 0x10 | 0x11 => {
                return Err(Amf0Error::UnsupportedMarker(marker));
            }
            other => return Err(Amf0Error::UnknownMarker(other)),
        })
    }

    fn enter(&self, depth: usize) -> Result<usize, Amf0Error> {
        let depth = depth + 1;
        if depth > MAX_AMF_DEPTH {
            return Err(Amf0Error::TooDeep);
        }
        Ok(depth)
    }

    /// Key/value pairs until an empty key followed by the object-end marker.
    fn props(&mut self, depth: usize) -> Result<Vec<(String, Amf0Value)>, Amf0Error> {
        let depth = self.enter(depth)?;
        let mut props = Vec::new();
        loop {
            let key_len = self.u16()?;
            if key_len == 0 && self.input.get(self.pos) == Some(&0x09) {
                self.pos += 1;
                return Ok(props);
            }
            let key = self.utf8(usize::from(key_len))?;
            let value = self.value(depth)?;
            props.push((key, value));
        }
    }
}
