//! H.264 decoder configuration: the AVCDecoderConfigurationRecord (ISO/IEC 14496-15
//! §5.3.3.1, the `avcC` payload that FLV's AVC sequence header carries) and the
//! sequence parameter set it contains (ITU-T H.264 §7.3.2.1), which gives the picture
//! size and frame rate. [`AvcConfig::codec_string`] is the RFC 6381 §3.3 `avc1.PPCCLL`.

mod sps;

pub use sps::{Sps, parse_sps};

use bytes::Bytes;

use crate::Error;

/// The largest SPS accepted. Real ones are tens of bytes; scaling lists reach a few
/// hundred.
pub const MAX_SPS_SIZE: usize = 1024;
/// The largest PPS accepted.
pub const MAX_PPS_SIZE: usize = 4096;

/// A parsed AVCDecoderConfigurationRecord.
#[derive(Debug, Clone, PartialEq)]
pub struct AvcConfig {
    /// AVCProfileIndication.
    pub profile: u8,
    /// profile_compatibility (the SPS constraint_set flags byte).
    pub compatibility: u8,
    /// AVCLevelIndication.
    pub level: u8,
    /// lengthSizeMinusOne + 1: bytes in each NAL unit length prefix (1, 2 or 4).
    pub nalu_length_size: u8,
    /// Sequence parameter sets (NAL units, header byte included).
    pub sps: Vec<Bytes>,
    /// Picture parameter sets.
    pub pps: Vec<Bytes>,
    /// The High-profile extension (chroma format and bit depths), when present.
    pub ext: Option<AvcConfigExt>,
    /// What the first SPS says.
    pub sps_info: Sps,
}

/// The part of avcC that follows the PPS list for High profiles (14496-15 §5.3.3.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AvcConfigExt {
    /// chroma_format (1 = 4:2:0).
    pub chroma_format: u8,
    /// bit_depth_luma_minus8 + 8.
    pub bit_depth_luma: u8,
    /// bit_depth_chroma_minus8 + 8.
    pub bit_depth_chroma: u8,
}

impl AvcConfig {
    /// Parses an `avcC` payload and the first SPS in it.
    pub fn parse(avcc: &[u8]) -> Result<Self, Error> {
        let mut r = Cursor(avcc);
        if r.u8()? != 1 {
            return Err(Error::InvalidAvcConfig("configuration version is not 1"));
        }
        let (profile, compatibility, level) = (r.u8()?, r.u8()?, r.u8()?);
        let nalu_length_size = (r.u8()? & 0x03) + 1;
        if nalu_length_size == 3 {
            return Err(Error::InvalidAvcConfig("nal unit length size 3"));
        }
        let count = usize::from(r.u8()? & 0x1f);
        let sps = r.parameter_sets(count, MAX_SPS_SIZE)?;
        let count = usize::from(r.u8()?);
        let pps = r.parameter_sets(count, MAX_PPS_SIZE)?;
        let first = sps.first().ok_or(Error::InvalidAvcConfig("no sps"))?;
        if pps.is_empty() {
            return Err(Error::InvalidAvcConfig("no pps"));
        }
        let sps_info = parse_sps(first)?;
        // The extension is mandatory for High profiles in the spec but many encoders
        // omit it; absent or truncated, the SPS still has the same facts.
        let ext = match (r.u8(), r.u8(), r.u8()) {
            (Ok(c), Ok(l), Ok(ch)) if has_ext(profile) => Some(AvcConfigExt {
                chroma_format: c & 0x03,
                bit_depth_luma: (l & 0x07) + 8,
                bit_depth_chroma: (ch & 0x07) + 8,
            }),
            _ => None,
        };
        Ok(Self {
            profile,
            compatibility,
            level,
            nalu_length_size,
            sps,
            pps,
            ext,
            sps_info,
        })
    }

    /// The RFC 6381 codecs parameter, e.g. `avc1.64001f`: profile_idc,
    /// constraint flags and level_idc from the SPS, in hex (RFC 6381 §3.3).
    pub fn codec_string(&self) -> String {
        let s = &self.sps_info;
        format!(
            "avc1.{:02x}{:02x}{:02x}",
            s.profile_idc, s.constraint_flags, s.level_idc
        )
    }
}

/// Profiles whose avcC carries the chroma/bit-depth extension (14496-15 §5.3.3.1.2).
fn has_ext(profile: u8) -> bool {
    !matches!(profile, 66 | 77 | 88)
}

/// A byte cursor that refuses to read past the end.
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn u8(&mut self) -> Result<u8, Error> {
        let (&b, rest) = self
            .0
            .split_first()
            .ok_or(Error::Truncated("avc decoder configuration"))?;
        self.0 = rest;
        Ok(b)
    }

    fn parameter_sets(&mut self, count: usize, max: usize) -> Result<Vec<Bytes>, Error> {
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            let len = usize::from(u16::from_be_bytes([self.u8()?, self.u8()?]));
            if len > max {
                return Err(Error::ParameterSetTooLarge { size: len, max });
            }
            if len == 0 || len > self.0.len() {
                return Err(Error::Truncated("parameter set"));
            }
            let (set, rest) = self.0.split_at(len);
            out.push(Bytes::copy_from_slice(set));
            self.0 = rest;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
