//! FLV tag bodies as RTMP carries them (Adobe FLV spec v10.1, annex E.4.2 and E.4.3),
//! plus the enhanced-RTMP video ExHeader (enhanced RTMP v1 "ExVideoTagHeader").
//!
//! [`parse_video_tag`] and [`parse_audio_tag`] are pure functions over one message body.
//! They return zero-copy slices of the input [`Bytes`]. Codecs other than H.264 and AAC
//! are refused with an error that names the codec, so an operator sees "unsupported
//! video codec hevc (flv codec id 12)" rather than a silent black screen.

mod reader;

pub use reader::{FlvHeader, FlvReader, FlvTag, TagType};

use bytes::Bytes;

use crate::Error;

/// The largest video or audio tag body accepted (RTMP's 24-bit message length allows
/// 16 MiB; a 4K intra frame stays well below this).
pub const MAX_FRAME_SIZE: usize = 16 * 1024 * 1024;
/// The largest single NAL unit accepted inside a frame.
pub const MAX_NALU_SIZE: usize = 8 * 1024 * 1024;

/// A parsed video tag body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoTag {
    /// AVCPacketType 0: the AVCDecoderConfigurationRecord (`avcC` payload).
    SequenceHeader(Bytes),
    /// AVCPacketType 1: one access unit.
    Frame(VideoFrame),
    /// AVCPacketType 2: end of sequence (the publisher stops or reconfigures).
    EndOfSequence,
    /// Frame type 5 (video info/command frame) or enhanced-RTMP metadata: no picture.
    Info,
}

/// One H.264 access unit from an FLV video tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoFrame {
    /// FLV frame type 1 (keyframe) or 4 (generated keyframe): a random access point.
    pub keyframe: bool,
    /// CompositionTime (pts − dts) in milliseconds; a signed 24-bit field (E.4.3.1),
    /// non-zero with B-frames.
    pub composition_time_ms: i32,
    /// Length-prefixed NAL units (AVCC framing), exactly as FLV carries them.
    pub data: Bytes,
}

/// A parsed audio tag body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioTag {
    /// AACPacketType 0: the AudioSpecificConfig.
    SequenceHeader(Bytes),
    /// AACPacketType 1: one raw AAC frame (no ADTS header).
    Frame(Bytes),
}

/// FLV CodecID 7 (E.4.3.1).
pub const VIDEO_CODEC_AVC: u8 = 7;
/// FLV SoundFormat 10 (E.4.2.1).
pub const SOUND_FORMAT_AAC: u8 = 10;

/// Parses one video message body (FLV VIDEODATA, E.4.3.1).
pub fn parse_video_tag(body: &Bytes) -> Result<VideoTag, Error> {
    check_frame_size(body.len())?;
    let first = *body.first().ok_or(Error::Truncated("video tag header"))?;
    // Enhanced RTMP sets the top bit (IsExHeader) and moves the codec to a fourcc.
    if first & 0x80 != 0 {
        return parse_ex_video(first, body);
    }
    let frame_type = first >> 4;
    let codec = first & 0x0f;
    if codec != VIDEO_CODEC_AVC {
        return Err(Error::UnsupportedVideoCodec(video_codec_name(codec)));
    }
    if frame_type == 5 {
        return Ok(VideoTag::Info);
    }
    let keyframe = keyframe_type(frame_type)?;
    let packet_type = *body.get(1).ok_or(Error::Truncated("avc packet type"))?;
    let cts = body.get(2..5).ok_or(Error::Truncated("composition time"))?;
    match packet_type {
        0 => Ok(VideoTag::SequenceHeader(body.slice(5..))),
        1 => frame(keyframe, si24(cts), body.slice(5..)),
        2 => Ok(VideoTag::EndOfSequence),
        other => Err(Error::InvalidFlv {
            field: "avc_packet_type",
            value: other.into(),
        }),
    }
}

/// Parses one audio message body (FLV AUDIODATA, E.4.2.1).
pub fn parse_audio_tag(body: &Bytes) -> Result<AudioTag, Error> {
    check_frame_size(body.len())?;
    let first = *body.first().ok_or(Error::Truncated("audio tag header"))?;
    let format = first >> 4;
    if format == 9 {
        // Enhanced RTMP v2 audio ExHeader: the codec is a fourcc after the header byte.
        let fourcc = body.get(1..5).ok_or(Error::Truncated("audio fourcc"))?;
        return Err(Error::UnsupportedAudioCodec(format!(
            "{} (enhanced-rtmp fourcc)",
            String::from_utf8_lossy(fourcc).to_lowercase()
        )));
    }
    if format != SOUND_FORMAT_AAC {
        return Err(Error::UnsupportedAudioCodec(sound_format_name(format)));
    }
    let packet_type = *body.get(1).ok_or(Error::Truncated("aac packet type"))?;
    match packet_type {
        0 => Ok(AudioTag::SequenceHeader(body.slice(2..))),
        1 => Ok(AudioTag::Frame(body.slice(2..))),
        other => Err(Error::InvalidFlv {
            field: "aac_packet_type",
            value: other.into(),
        }),
    }
}

/// Checks AVCC framing: every NAL unit's length prefix fits in the frame and the unit
/// is at most [`MAX_NALU_SIZE`]. `length_size` comes from the avcC (1, 2 or 4).
pub fn validate_avcc(data: &[u8], length_size: u8) -> Result<(), Error> {
    let n = usize::from(length_size);
    let mut rest = data;
    while !rest.is_empty() {
        let prefix = rest.get(..n).ok_or(Error::Truncated("nal unit length"))?;
        let len = prefix
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        if len > MAX_NALU_SIZE {
            return Err(Error::NaluTooLarge {
                size: len,
                max: MAX_NALU_SIZE,
            });
        }
        rest = rest.get(n + len..).ok_or(Error::Truncated("nal unit"))?;
    }
    Ok(())
}

fn parse_ex_video(first: u8, body: &Bytes) -> Result<VideoTag, Error> {
    let frame_type = (first >> 4) & 0x07;
    let packet_type = first & 0x0f;
    let fourcc = body.get(1..5).ok_or(Error::Truncated("video fourcc"))?;
    if fourcc != b"avc1" {
        return Err(Error::UnsupportedVideoCodec(format!(
            "{} (enhanced-rtmp fourcc)",
            String::from_utf8_lossy(fourcc)
        )));
    }
    if frame_type == 5 || packet_type == 4 {
        return Ok(VideoTag::Info);
    }
    let keyframe = keyframe_type(frame_type)?;
    match packet_type {
        0 => Ok(VideoTag::SequenceHeader(body.slice(5..))),
        // CodedFrames carries a 24-bit composition time; CodedFramesX implies zero.
        1 => {
            let cts = body.get(5..8).ok_or(Error::Truncated("composition time"))?;
            frame(keyframe, si24(cts), body.slice(8..))
        }
        2 => Ok(VideoTag::EndOfSequence),
        3 => frame(keyframe, 0, body.slice(5..)),
        5 => Err(Error::UnsupportedPacketType(
            "mpeg2-ts sequence start".into(),
        )),
        6 => Err(Error::UnsupportedPacketType("multitrack".into())),
        7 => Err(Error::UnsupportedPacketType("modex".into())),
        other => Err(Error::InvalidFlv {
            field: "ex_packet_type",
            value: other.into(),
        }),
    }
}

fn frame(keyframe: bool, composition_time_ms: i32, data: Bytes) -> Result<VideoTag, Error> {
    Ok(VideoTag::Frame(VideoFrame {
        keyframe,
        composition_time_ms,
        data,
    }))
}

fn keyframe_type(frame_type: u8) -> Result<bool, Error> {
    match frame_type {
        1 | 4 => Ok(true),
        2 | 3 => Ok(false),
        other => Err(Error::InvalidFlv {
            field: "frame_type",
            value: other.into(),
        }),
    }
}

/// Sign-extends the big-endian SI24 CompositionTime.
fn si24(b: &[u8]) -> i32 {
    let raw = b.iter().fold(0i32, |acc, &x| (acc << 8) | i32::from(x));
    (raw << 8) >> 8
}

fn check_frame_size(size: usize) -> Result<(), Error> {
    if size > MAX_FRAME_SIZE {
        return Err(Error::FrameTooLarge {
            size,
            max: MAX_FRAME_SIZE,
        });
    }
    Ok(())
}

fn video_codec_name(id: u8) -> String {
    let name = match id {
        1 => "jpeg",
        2 => "sorenson h.263",
        3 => "screen video",
        4 => "on2 vp6",
        5 => "on2 vp6 with alpha",
        6 => "screen video v2",
        12 => "hevc",
        13 => "av1",
        _ => "unknown",
    };
    format!("{name} (flv codec id {id})")
}

fn sound_format_name(id: u8) -> String {
    let name = match id {
        0 | 3 => "linear pcm",
        1 => "adpcm",
        2 | 14 => "mp3",
        4..=6 => "nellymoser",
        7 => "g.711 a-law",
        8 => "g.711 mu-law",
        11 => "speex",
        15 => "device-specific",
        _ => "reserved",
    };
    format!("{name} (flv sound format {id})")
}

#[cfg(test)]
mod tests;
