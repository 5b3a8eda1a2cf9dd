//! A big-endian bit reader with Exp-Golomb codes (ITU-T H.264 §7.2, §9.1).
//!
//! Every read is bounds-checked and returns the error the reader was built with, so a
//! truncated SPS or AudioSpecificConfig is refused rather than read past its end.

use crate::Error;

/// Reads bits MSB-first from a byte slice.
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    /// Position in bits from the start of `data`.
    pos: usize,
    eof: Error,
}

impl<'a> BitReader<'a> {
    /// `eof` is returned by any read that runs past the end.
    pub(crate) fn new(data: &'a [u8], eof: Error) -> Self {
        Self { data, pos: 0, eof }
    }

    /// One bit as a bool.
    pub(crate) fn flag(&mut self) -> Result<bool, Error> {
        Ok(self.bits(1)? == 1)
    }

    /// `n` bits (0..=32) as an unsigned integer.
    pub(crate) fn bits(&mut self, n: u32) -> Result<u32, Error> {
        debug_assert!(n <= 32, "callers read at most 32 bits");
        let mut value: u64 = 0;
        for _ in 0..n.min(32) {
            let byte = *self
                .data
                .get(self.pos / 8)
                .ok_or_else(|| self.eof.clone())?;
            let bit = (byte >> (7 - (self.pos % 8))) & 1;
            value = (value << 1) | u64::from(bit);
            self.pos += 1;
        }
        // At most 32 bits were shifted in, so this never truncates.
        Ok(value as u32)
    }

    /// Skips `n` bits.
    pub(crate) fn skip(&mut self, n: usize) -> Result<(), Error> {
        let end = self.pos.checked_add(n).ok_or_else(|| self.eof.clone())?;
        if end > self.data.len() * 8 {
            return Err(self.eof.clone());
        }
        self.pos = end;
        Ok(())
    }

    /// An unsigned Exp-Golomb code `ue(v)` (H.264 §9.1). Codes longer than 32 bits
    /// (more than 31 leading zeros) cannot be valid in an SPS and are refused.
    pub(crate) fn ue(&mut self) -> Result<u32, Error> {
        let mut zeros = 0u32;
        while !self.flag()? {
            zeros += 1;
            if zeros > 31 {
                return Err(Error::InvalidSps("exp-golomb code longer than 32 bits"));
            }
        }
        let rest = u64::from(self.bits(zeros)?);
        let value = (1u64 << zeros) - 1 + rest;
        u32::try_from(value).map_err(|_| Error::InvalidSps("exp-golomb value out of range"))
    }

    /// A signed Exp-Golomb code `se(v)` (H.264 §9.1.1): 1, -1, 2, -2, …
    pub(crate) fn se(&mut self) -> Result<i32, Error> {
        let k = i64::from(self.ue()?);
        let v = if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) };
        // |v| <= 2^31, and the single out-of-range value (2^31) is refused.
        i32::try_from(v).map_err(|_| Error::InvalidSps("exp-golomb value out of range"))
    }
}

/// Removes emulation-prevention bytes (`00 00 03` → `00 00`, H.264 §7.4.1) so the
/// payload can be read as RBSP.
pub(crate) fn unescape_rbsp(nalu: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nalu.len());
    let mut zeros = 0usize;
    for &b in nalu {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Writes Exp-Golomb codes so the reader can be checked against an encoder.
    struct BitWriter {
        bytes: Vec<u8>,
        bits: usize,
    }

    impl BitWriter {
        fn put(&mut self, value: u64, n: u32) {
            for i in (0..n).rev() {
                if self.bits.is_multiple_of(8) {
                    self.bytes.push(0);
                }
                let bit = ((value >> i) & 1) as u8;
                if let Some(last) = self.bytes.last_mut() {
                    *last |= bit << (7 - (self.bits % 8));
                }
                self.bits += 1;
            }
        }
        fn ue(&mut self, v: u32) {
            let x = u64::from(v) + 1;
            let len = 64 - x.leading_zeros();
            self.put(0, len - 1);
            self.put(x, len);
        }
        fn se(&mut self, v: i32) {
            let k = if v > 0 {
                2 * i64::from(v) - 1
            } else {
                -2 * i64::from(v)
            };
            self.ue(k as u32);
        }
    }

    fn eof() -> Error {
        Error::Truncated("test")
    }

    #[test]
    fn reads_known_codes() {
        // 1 | 010 | 011 | 00100 => ue 0, 1, 2, 3
        let data = [0b1010_0110, 0b0100_0000];
        let mut r = BitReader::new(&data, eof());
        assert_eq!(r.ue().unwrap(), 0);
        assert_eq!(r.ue().unwrap(), 1);
        assert_eq!(r.ue().unwrap(), 2);
        assert_eq!(r.ue().unwrap(), 3);
    }

    #[test]
    fn refuses_overlong_and_truncated() {
        assert!(BitReader::new(&[0; 8], eof()).ue().is_err());
        assert_eq!(BitReader::new(&[0], eof()).ue(), Err(eof()));
        assert_eq!(BitReader::new(&[0xff], eof()).bits(9), Err(eof()));
    }

    #[test]
    fn unescapes_emulation_prevention() {
        assert_eq!(unescape_rbsp(&[0, 0, 3, 1, 0, 0, 3]), vec![0, 0, 1, 0, 0]);
    }

    proptest! {
        #[test]
        fn exp_golomb_round_trip(values in proptest::collection::vec((any::<u32>(), any::<i32>()), 0..50)) {
            let mut w = BitWriter { bytes: Vec::new(), bits: 0 };
            let values: Vec<(u32, i32)> = values
                .into_iter()
                .map(|(u, s)| (u.min(u32::MAX - 1), s.max(i32::MIN + 1)))
                .collect();
            for &(u, s) in &values {
                w.ue(u);
                w.se(s);
            }
            let mut r = BitReader::new(&w.bytes, eof());
            for &(u, s) in &values {
                prop_assert_eq!(r.ue()?, u);
                prop_assert_eq!(r.se()?, s);
            }
        }

        #[test]
        fn never_panics_on_garbage(data in proptest::collection::vec(any::<u8>(), 0..16)) {
            let mut r = BitReader::new(&data, eof());
            while r.ue().is_ok() {}
        }
    }
}
