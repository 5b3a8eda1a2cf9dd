//! Reading back what an init segment describes: the `CODECS` value, the video size and frame
//! rate. An edge receives init segments, not FLV sequence headers, and needs these for its
//! multivariant playlist.

use bytes::Bytes;
use mp4_atom::{Codec, Decode, Ftyp, Moov};

use crate::aac::AacConfig;
use crate::avc::parse_sps;

/// What an init segment describes.
#[derive(Debug, Clone, PartialEq)]
pub struct InitDescription {
    /// RFC 6381 `CODECS` value of every track, e.g. `avc1.64001f,mp4a.40.2`.
    pub codecs: String,
    /// Video width and height, if there is a video track.
    pub resolution: Option<(u32, u32)>,
    /// Video frame rate from the SPS VUI, if signalled.
    pub frame_rate: Option<f64>,
}

/// Describes `init` (`ftyp` + `moov` with `avc1`/`mp4a` sample entries), or `None` when it is
/// not one this crate could have written (unknown codec, malformed boxes).
pub fn describe_init(init: &[u8]) -> Option<InitDescription> {
    let mut buf = init;
    Ftyp::decode(&mut buf).ok()?;
    let moov = Moov::decode(&mut buf).ok()?;
    let mut codecs = Vec::new();
    let (mut resolution, mut frame_rate) = (None, None);
    for trak in &moov.trak {
        match trak.mdia.minf.stbl.stsd.codecs.first()? {
            Codec::Avc1(avc1) => {
                let sps = parse_sps(avc1.avcc.sequence_parameter_sets.first()?).ok()?;
                codecs.push(format!(
                    "avc1.{:02x}{:02x}{:02x}",
                    sps.profile_idc, sps.constraint_flags, sps.level_idc
                ));
                resolution = Some((sps.width, sps.height));
                frame_rate = sps.frame_rate;
            }
            Codec::Mp4a(mp4a) => {
                let dsi = mp4a.esds.es_desc.dec_config.dec_specific.as_ref()?;
                let config = AacConfig::parse(Bytes::from(dsi.raw.clone())).ok()?;
                codecs.push(config.codec_string());
            }
            _ => return None,
        }
    }
    Some(InitDescription {
        codecs: codecs.join(","),
        resolution,
        frame_rate,
    })
}
