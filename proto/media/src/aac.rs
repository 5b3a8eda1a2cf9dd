//! AAC decoder configuration: the AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1),
//! which FLV's AAC sequence header carries verbatim and the `esds` descriptor
//! (ISO/IEC 14496-1 §7.2.6.7 DecoderSpecificInfo) embeds unchanged.

use bytes::Bytes;

use crate::Error;
use crate::bits::BitReader;

/// The largest AudioSpecificConfig accepted (real ones are 2–7 bytes).
pub const MAX_AUDIO_CONFIG_SIZE: usize = 64;
/// The largest raw AAC frame accepted: 6144 bits per channel (14496-3 §4.5.3.2)
/// for 8 channels is 6 KiB; this leaves room for odd encoders.
pub const MAX_AUDIO_FRAME_SIZE: usize = 64 * 1024;

/// A parsed AudioSpecificConfig.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AacConfig {
    /// audioObjectType (2 = AAC-LC, 5 = SBR/HE-AAC, 29 = PS/HE-AACv2), escape resolved.
    pub object_type: u8,
    /// The core sampling rate in Hz: the track timescale.
    pub sample_rate: u32,
    /// Output channels from channelConfiguration (Table 1.19; 7 means 7.1 = 8).
    pub channels: u16,
    /// PCM samples per frame at `sample_rate`: 1024, or 960 when frameLengthFlag is set.
    pub samples_per_frame: u32,
    /// The AudioSpecificConfig bytes, copied into `esds` unchanged.
    pub raw: Bytes,
}

/// Table 1.18 samplingFrequencyIndex.
const SAMPLE_RATES: [u32; 13] = [
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

impl AacConfig {
    /// Parses an AudioSpecificConfig.
    ///
    /// Only object types whose frames hold 1024 (or 960) samples are accepted, since
    /// sample durations are derived from the frame count: Main, LC, SSR, LTP, and the
    /// SBR/PS wrappers of those. Channel configuration 0 (a program config element)
    /// is refused.
    pub fn parse(raw: Bytes) -> Result<Self, Error> {
        if raw.len() > MAX_AUDIO_CONFIG_SIZE {
            return Err(Error::InvalidAudioConfig("longer than 64 bytes"));
        }
        let mut r = BitReader::new(&raw, Error::Truncated("audio specific config"));
        let object_type = object_type(&mut r)?;
        let sample_rate = sampling_frequency(&mut r)?;
        let channel_config = r.bits(4)?;
        let mut core_type = object_type;
        if matches!(object_type, 5 | 29) {
            // Explicit hierarchical SBR/PS signalling (§1.6.5.2): the extension rate
            // is the output rate; frames stay 1024 samples at the core rate above.
            sampling_frequency(&mut r)?;
            core_type = object_type_of(&mut r)?;
        }
        if !matches!(core_type, 1..=4) {
            return Err(Error::UnsupportedAudioCodec(format!(
                "aac object type {core_type}"
            )));
        }
        // GASpecificConfig (§4.4.1): frameLengthFlag selects 960-sample frames.
        let samples_per_frame = if r.flag()? { 960 } else { 1024 };
        let channels = match channel_config {
            0 => {
                return Err(Error::InvalidAudioConfig(
                    "channel configuration 0 (pce) unsupported",
                ));
            }
            1..=6 => channel_config as u16,
            7 => 8,
            _ => return Err(Error::InvalidAudioConfig("reserved channel configuration")),
        };
        Ok(Self {
            object_type,
            sample_rate,
            channels,
            samples_per_frame,
            raw,
        })
    }

    /// The RFC 6381 codecs parameter: `mp4a.40.<audioObjectType>` (RFC 6381 §3.3,
    /// with OTI 0x40 = MPEG-4 Audio).
    pub fn codec_string(&self) -> String {
        format!("mp4a.40.{}", self.object_type)
    }
}

fn object_type(r: &mut BitReader<'_>) -> Result<u8, Error> {
    object_type_of(r)
}

/// GetAudioObjectType() (§1.6.2.1): 5 bits, 31 escapes to 32 + 6 more bits.
fn object_type_of(r: &mut BitReader<'_>) -> Result<u8, Error> {
    let t = r.bits(5)?;
    let t = if t == 31 { 32 + r.bits(6)? } else { t };
    // At most 95.
    Ok(t as u8)
}

/// samplingFrequencyIndex, or the explicit 24-bit rate after index 15.
fn sampling_frequency(r: &mut BitReader<'_>) -> Result<u32, Error> {
    let index = r.bits(4)?;
    let rate = if index == 15 {
        r.bits(24)?
    } else {
        *SAMPLE_RATES
            .get(index as usize)
            .ok_or(Error::InvalidAudioConfig(
                "reserved sampling frequency index",
            ))?
    };
    if rate == 0 {
        return Err(Error::InvalidAudioConfig("zero sampling frequency"));
    }
    Ok(rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(b: &[u8]) -> Result<AacConfig, Error> {
        AacConfig::parse(Bytes::copy_from_slice(b))
    }

    #[test]
    fn parses_lc_stereo_44k() {
        let c = parse(&[0x12, 0x10]).unwrap();
        assert_eq!(
            (
                c.object_type,
                c.sample_rate,
                c.channels,
                c.samples_per_frame
            ),
            (2, 44100, 2, 1024)
        );
        assert_eq!(c.codec_string(), "mp4a.40.2");
    }

    #[test]
    fn parses_explicit_rate_and_escape() {
        // LC, index 15, explicit 44100 (0x00ac44), 1 channel.
        let c = parse(&[0x17, 0x80, 0x56, 0x22, 0x08]).unwrap();
        assert_eq!((c.sample_rate, c.channels), (44100, 1));
        // Escape 31 + 6 bits = 32 + 10 = 42 (USAC): refused by name.
        let err = parse(&[0xf9, 0x46, 0x40]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported audio codec aac object type 42"
        );
    }

    #[test]
    fn parses_he_aac_explicit() {
        // AOT 5, 24 kHz core (6), stereo, ext 48 kHz (3), core AOT 2.
        let c = parse(&[0x2b, 0x11, 0x88, 0x00]).unwrap();
        assert_eq!((c.object_type, c.sample_rate, c.channels), (5, 24000, 2));
        assert_eq!(c.codec_string(), "mp4a.40.5");
    }

    #[test]
    fn refuses_bad_configs() {
        assert_eq!(parse(&[0x12]).unwrap_err().reason(), "truncated");
        assert_eq!(
            parse(&[0x16, 0x80]).unwrap_err().reason(),
            "invalid_audio_config"
        );
        assert_eq!(
            parse(&[0x12, 0x00]).unwrap_err().reason(),
            "invalid_audio_config"
        );
        assert!(parse(&[0; 65]).is_err());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..8)) {
            let _ = parse(&data);
        }
    }
}
