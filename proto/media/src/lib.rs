//! Sans-IO media for livecdn: FLV tag bodies (as RTMP carries them) in, CMAF fMP4
//! init segments and `moof`+`mdat` parts out, cut for LL-HLS.
//!
//! # Guide
//!
//! * [`flv`] parses video/audio tag bodies ([`parse_video_tag`], [`parse_audio_tag`])
//!   and reads FLV files ([`FlvReader`]), refusing non-H.264/AAC codecs by name.
//! * [`avc`] and [`aac`] parse the decoder configurations and produce the RFC 6381
//!   codec strings (`avc1.64001f`, `mp4a.40.2`).
//! * [`cmaf`] writes the init segment and fragments (pure functions).
//! * [`Packager`] is the state machine the origin drives: `handle_video` /
//!   `handle_audio` / `flush` in, [`Event`]s out of `poll_output` (drain after every
//!   call). It holds the cutting rules and timestamp policy; see [`packager`].
//!
//! Nothing here does IO or reads a clock: time is the media timestamps given in.
//!
//! # Example
//!
//! ```
//! # use livecdn_media as media;
//! use bytes::Bytes;
//! use media::{Event, FlvReader, Packager, PackagerConfig, TagType};
//!
//! # fn main() -> Result<(), media::Error> {
//! let file = Bytes::from_static(include_bytes!("../assets/demo.flv"));
//! let mut packager = Packager::new(PackagerConfig::default());
//! let mut parts = 0;
//! for tag in FlvReader::new(file)? {
//!     let tag = tag?;
//!     let ts = u64::from(tag.timestamp_ms);
//!     match tag.tag_type {
//!         TagType::Video => packager.handle_video(ts, tag.body)?,
//!         TagType::Audio => packager.handle_audio(ts, tag.body)?,
//!         _ => continue,
//!     }
//!     while let Some(event) = packager.poll_output() {
//!         match event {
//!             Event::Init { codecs, .. } => assert_eq!(codecs, "avc1.4d401e,mp4a.40.2"),
//!             Event::Part { duration, .. } => {
//!                 assert!(duration <= PackagerConfig::default().part_target);
//!                 parts += 1;
//!             }
//!         }
//!     }
//! }
//! packager.flush();
//! while packager.poll_output().is_some() {
//!     parts += 1;
//! }
//! assert!(parts >= 40);
//! # Ok(())
//! # }
//! ```
//!
//! # Specifications
//!
//! | spec | what is used | where |
//! | --- | --- | --- |
//! | Adobe FLV spec v10.1, annex E | file header, tags, VIDEODATA, AUDIODATA | [`flv`] |
//! | enhanced RTMP (veovera) v1/v2 | ExVideoTagHeader (`avc1` accepted, others refused) | [`flv`] |
//! | ITU-T H.264 §7.3.2.1, Annex E | SPS, Exp-Golomb, VUI timing | [`avc::parse_sps`] |
//! | ISO/IEC 14496-15 §5.3.3 | AVCDecoderConfigurationRecord (`avcC`) | [`AvcConfig`] |
//! | ISO/IEC 14496-3 §1.6.2.1 | AudioSpecificConfig | [`AacConfig`] |
//! | ISO/IEC 14496-1 §7.2.6 | ES_Descriptor (`esds`) | [`cmaf::write_init`] |
//! | ISO/IEC 14496-12 §8.8 | movie fragments: `mvex`, `moof`, `tfhd`, `tfdt`, `trun` | [`cmaf`] |
//! | ISO/IEC 23000-19 (CMAF) §7 | header, chunks, brands `cmfc` | [`cmaf`] |
//! | RFC 6381 §3.3 | codecs parameter | [`AvcConfig::codec_string`], [`AacConfig::codec_string`] |
//! | RFC 8216bis §4.4.4.9 | LL-HLS part rules the cutter follows | [`packager`] |

#![warn(missing_docs)]

pub mod aac;
pub mod avc;
mod bits;
pub mod cmaf;
mod error;
pub mod flv;
pub mod packager;
#[cfg(test)]
mod testutil;

pub use aac::AacConfig;
pub use avc::{AvcConfig, MAX_SPS_SIZE};
/// The byte buffer type of every input and output (re-exported for callers).
pub use bytes::Bytes;
pub use error::Error;
pub use flv::{
    AudioTag, FlvReader, FlvTag, MAX_FRAME_SIZE, MAX_NALU_SIZE, TagType, VideoFrame, VideoTag,
    parse_audio_tag, parse_video_tag,
};
pub use packager::{
    AudioInfo, Event, MAX_PENDING_BYTES, MAX_PENDING_FRAMES, Packager, PackagerConfig, Stats,
    VideoInfo,
};
