//! The CMAF header (ISO/IEC 23000-19 §7.3.2.1): `ftyp` + `moov` with empty sample
//! tables and an `mvex`/`trex` per track, built with `mp4-atom`.

use bytes::Bytes;
use mp4_atom::{
    Audio, Avc1, Avcc, AvccExt, Codec, Dinf, Dref, DrefEntry, Esds, FixedPoint, FourCC, Ftyp, Hdlr,
    Mdhd, Mdia, Minf, Moov, Mp4a, Mvex, Mvhd, Smhd, Stbl, Stco, Stsc, Stsd, Stsz, Stts, Tkhd, Trak,
    Trex, Url, Visual, Vmhd,
};

use mp4_atom::esds::{DecoderConfig, DecoderSpecific, EsDescriptor};

use super::{AUDIO_TRACK_ID, SYNC_SAMPLE_FLAGS, VIDEO_TIMESCALE, VIDEO_TRACK_ID};
use crate::{AacConfig, AvcConfig, Error};

/// Writes the init segment for the given tracks (at least one should be present).
///
/// Brands (`ftyp`): major `iso6` because fragments use `tfdt` v1 and `trun` v1
/// (signed composition offsets), which ISO/IEC 14496-12 introduced with the iso6-era
/// brands; `cmfc` declares the CMAF track structure (23000-19 §7.2); `mp41` and
/// `isom` keep older MP4 parsers that whitelist brands willing to read the file.
pub fn write_init(video: Option<&AvcConfig>, audio: Option<&AacConfig>) -> Result<Bytes, Error> {
    let brands = [b"iso6", b"cmfc", b"isom", b"mp41"];
    let ftyp = Ftyp {
        major_brand: FourCC::new(b"iso6"),
        minor_version: 0,
        compatible_brands: brands.iter().map(|b| FourCC::new(b)).collect(),
    };
    let mut trak = Vec::new();
    let mut trex = Vec::new();
    if let Some(v) = video {
        trak.push(video_trak(v)?);
        trex.push(Trex {
            track_id: VIDEO_TRACK_ID,
            default_sample_description_index: 1,
            ..Default::default()
        });
    }
    if let Some(a) = audio {
        trak.push(audio_trak(a));
        trex.push(Trex {
            track_id: AUDIO_TRACK_ID,
            default_sample_description_index: 1,
            default_sample_duration: a.samples_per_frame,
            default_sample_flags: SYNC_SAMPLE_FLAGS,
            ..Default::default()
        });
    }
    let moov = Moov {
        mvhd: Mvhd {
            timescale: 1000,
            rate: FixedPoint::new(1, 0),
            volume: FixedPoint::new(1, 0),
            next_track_id: AUDIO_TRACK_ID + 1,
            ..Default::default()
        },
        mvex: Some(Mvex { mehd: None, trex }),
        trak,
        ..Default::default()
    };
    let mut out = Vec::with_capacity(1024);
    encode(&ftyp, &mut out)?;
    encode(&moov, &mut out)?;
    Ok(Bytes::from(out))
}

fn encode<A: mp4_atom::Encode>(atom: &A, out: &mut Vec<u8>) -> Result<(), Error> {
    atom.encode(out)
        .map_err(|e| Error::Mp4Encode(e.to_string()))
}

fn video_trak(v: &AvcConfig) -> Result<Trak, Error> {
    let (w, h) = (v.sps_info.width, v.sps_info.height);
    let (w16, h16) = match (u16::try_from(w), u16::try_from(h)) {
        (Ok(w), Ok(h)) => (w, h),
        _ => return Err(Error::InvalidSps("picture too large for a sample entry")),
    };
    // 14496-15 §5.4.2.1: avc1 means parameter sets live in the sample entry (they may
    // also repeat in-band, which is what encoders with repeat-headers do).
    let avc1 = Avc1 {
        visual: Visual {
            data_reference_index: 1,
            width: w16,
            height: h16,
            ..Default::default()
        },
        avcc: Avcc {
            configuration_version: 1,
            avc_profile_indication: v.profile,
            profile_compatibility: v.compatibility,
            avc_level_indication: v.level,
            length_size: v.nalu_length_size,
            sequence_parameter_sets: v.sps.iter().map(|s| s.to_vec()).collect(),
            picture_parameter_sets: v.pps.iter().map(|s| s.to_vec()).collect(),
            ext: v.ext.map(|e| AvccExt {
                chroma_format: e.chroma_format,
                bit_depth_luma: e.bit_depth_luma,
                bit_depth_chroma: e.bit_depth_chroma,
                sequence_parameter_sets_ext: Vec::new(),
            }),
        },
        ..Default::default()
    };
    let tkhd = Tkhd {
        track_id: VIDEO_TRACK_ID,
        enabled: true,
        in_movie: true,
        width: FixedPoint::new(w16, 0),
        height: FixedPoint::new(h16, 0),
        ..Default::default()
    };
    let minf = Minf {
        vmhd: Some(Vmhd::default()),
        dinf: dinf(),
        stbl: stbl(Codec::Avc1(avc1)),
        ..Default::default()
    };
    Ok(trak(tkhd, VIDEO_TIMESCALE, b"vide", "VideoHandler", minf))
}

fn audio_trak(a: &AacConfig) -> Trak {
    // The 16.16 samplerate field cannot hold 88.2/96 kHz; 0 then, readers use esds.
    let rate = u16::try_from(a.sample_rate).unwrap_or(0);
    let mp4a = Mp4a {
        audio: Audio {
            data_reference_index: 1,
            channel_count: a.channels,
            sample_size: 16,
            sample_rate: FixedPoint::new(rate, 0),
        },
        // 14496-1 §7.2.6.5/§7.2.6.6: OTI 0x40 = MPEG-4 Audio, streamType 5 = audio.
        esds: Esds {
            es_desc: EsDescriptor {
                es_id: AUDIO_TRACK_ID as u16,
                dec_config: DecoderConfig {
                    object_type_indication: 0x40,
                    stream_type: 5,
                    dec_specific: Some(DecoderSpecific {
                        raw: a.raw.to_vec(),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                ..Default::default()
            },
        },
        btrt: None,
        taic: None,
    };
    let tkhd = Tkhd {
        track_id: AUDIO_TRACK_ID,
        enabled: true,
        in_movie: true,
        volume: FixedPoint::new(1, 0),
        alternate_group: 1,
        ..Default::default()
    };
    let minf = Minf {
        smhd: Some(Smhd::default()),
        dinf: dinf(),
        stbl: stbl(Codec::Mp4a(mp4a)),
        ..Default::default()
    };
    trak(tkhd, a.sample_rate, b"soun", "SoundHandler", minf)
}

fn trak(tkhd: Tkhd, timescale: u32, handler: &[u8; 4], name: &str, minf: Minf) -> Trak {
    Trak {
        tkhd,
        mdia: Mdia {
            mdhd: Mdhd {
                timescale,
                language: "und".into(),
                ..Default::default()
            },
            hdlr: Hdlr {
                handler: FourCC::new(handler),
                name: name.into(),
            },
            minf,
        },
        ..Default::default()
    }
}

fn dinf() -> Dinf {
    Dinf {
        dref: Dref {
            entries: vec![DrefEntry::Url(Url {
                location: String::new(),
            })],
        },
    }
}

/// Fragmented tracks keep every sample table empty (14496-12 §8.8.1).
fn stbl(codec: Codec) -> Stbl {
    Stbl {
        stsd: Stsd {
            codecs: vec![codec],
        },
        stts: Stts::default(),
        stsc: Stsc::default(),
        stsz: Stsz::default(),
        stco: Some(Stco::default()),
        ..Default::default()
    }
}
