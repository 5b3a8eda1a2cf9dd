//! CMAF (ISO/IEC 23000-19) fragmented MP4 writing: the init segment (`ftyp`+`moov`,
//! [`write_init`]) and media fragments (`moof`+`mdat`, [`write_fragment`]).
//!
//! One muxed rendition: track 1 is video (timescale 90 kHz), track 2 is audio
//! (timescale = the AAC sample rate). A stream with only one of them has only that
//! track; the ids stay fixed so a part never needs to know which init it follows.
//!
//! The init segment is built with `mp4-atom`: it is written once per configuration,
//! so clarity wins. Fragments are written by hand (see [`write_fragment`]): mp4-atom
//! can express trun v1 with signed offsets, but its model needs a `Vec<TrunEntry>`
//! per fragment and an encode-measure-re-encode pass to fill `data_offset`; here the
//! moof size is known up front, so each part is one exact allocation and one copy of
//! the media bytes.

mod describe;
mod fragment;
mod init;

pub use describe::{InitDescription, describe_init};
pub use fragment::write_fragment;
pub use init::write_init;

use bytes::Bytes;

/// Track id of the video track.
pub const VIDEO_TRACK_ID: u32 = 1;
/// Track id of the audio track.
pub const AUDIO_TRACK_ID: u32 = 2;
/// Video media timescale: 90 kHz, a multiple of FLV's 1 kHz so millisecond times map
/// exactly, and the customary MPEG value.
pub const VIDEO_TIMESCALE: u32 = 90_000;

/// One sample (access unit) to put in a fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// Duration in the track timescale (the next sample's decode time minus this one's).
    pub duration: u32,
    /// Presentation minus decode time, in the track timescale; may be negative (trun v1).
    pub composition_offset: i32,
    /// A sync sample (IDR picture or any AAC frame).
    pub keyframe: bool,
    /// The sample bytes: AVCC length-prefixed NAL units, or one raw AAC frame.
    pub data: Bytes,
}

/// The samples of one track in one fragment.
#[derive(Debug, Clone, Copy)]
pub struct TrackRun<'a> {
    /// [`VIDEO_TRACK_ID`] or [`AUDIO_TRACK_ID`].
    pub track_id: u32,
    /// `tfdt` baseMediaDecodeTime: decode time of the first sample, track timescale.
    pub base_decode_time: u64,
    /// The samples in decode order.
    pub samples: &'a [Sample],
}

/// Sample flags (ISO/IEC 14496-12 §8.8.3.1): sample_depends_on = 2 (does not depend
/// on others), is_non_sync_sample = 0.
pub const SYNC_SAMPLE_FLAGS: u32 = 0x0200_0000;
/// sample_depends_on = 1 (depends on others), is_non_sync_sample = 1.
pub const NON_SYNC_SAMPLE_FLAGS: u32 = 0x0101_0000;

#[cfg(test)]
mod tests;
