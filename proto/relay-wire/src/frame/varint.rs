//! QUIC variable-length integers (RFC 9000 §16): the two high bits of the first byte give the
//! length (1, 2, 4 or 8 bytes), the rest is the value, big-endian.

use bytes::BufMut;

/// Largest value a varint holds: 2^62 - 1.
pub const MAX_VARINT: u64 = (1 << 62) - 1;

/// Appends `value`, saturated to [`MAX_VARINT`], in its shortest form.
pub(crate) fn put(buf: &mut impl BufMut, value: u64) {
    let value = value.min(MAX_VARINT);
    if value < 1 << 6 {
        buf.put_u8(value as u8);
    } else if value < 1 << 14 {
        buf.put_u16(0x4000 | value as u16);
    } else if value < 1 << 30 {
        buf.put_u32(0x8000_0000 | value as u32);
    } else {
        buf.put_u64(0xc000_0000_0000_0000 | value);
    }
}

/// Reads a varint from the front of `bytes`: `Some((value, length))`, or `None` when `bytes`
/// holds only part of it.
pub(crate) fn get(bytes: &[u8]) -> Option<(u64, usize)> {
    let first = *bytes.first()?;
    let len = 1usize << (first >> 6);
    let raw = bytes.get(..len)?;
    let mut value = u64::from(first & 0x3f);
    for byte in raw.iter().skip(1) {
        value = (value << 8) | u64::from(*byte);
    }
    Some((value, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc9000_examples() {
        // RFC 9000 §A.1 sample decodings.
        let cases: [(&[u8], u64); 4] = [
            (
                &[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c],
                151_288_809_941_952_652,
            ),
            (&[0x9d, 0x7f, 0x3e, 0x7d], 494_878_333),
            (&[0x7b, 0xbd], 15_293),
            (&[0x25], 37),
        ];
        for (bytes, value) in cases {
            assert_eq!(get(bytes), Some((value, bytes.len())));
            let mut out = Vec::new();
            put(&mut out, value);
            assert_eq!(out, bytes);
        }
    }

    #[test]
    fn partial_and_saturated() {
        assert_eq!(get(&[]), None);
        assert_eq!(get(&[0x9d, 0x7f]), None);
        let mut out = Vec::new();
        put(&mut out, u64::MAX);
        assert_eq!(get(&out), Some((MAX_VARINT, 8)));
    }
}
