//! The packager: FLV tag bodies in, CMAF init segments and `moof`+`mdat` parts out,
//! cut for LL-HLS (RFC 8216bis §4.4.4.9 EXT-X-PART, CMAF §7.3.3 chunks).
//!
//! # Driving it
//!
//! Feed every RTMP video/audio message body with [`Packager::handle_video`] and
//! [`Packager::handle_audio`] (timestamps in milliseconds, as RTMP carries them), call
//! [`Packager::flush`] at end of stream. **After each `handle_*`/`flush` call, drain
//! [`Packager::poll_output`] until it returns `None`**: events are queued internally,
//! and a call never emits more than the input it was given made ready, so draining
//! after every call keeps latency minimal and the queue short. An `Err` from
//! `handle_*` refuses that one tag; the packager stays usable.
//!
//! # Cutting rules
//!
//! * Nothing is emitted before the first video keyframe (leading frames are counted
//!   in [`Stats::dropped_before_keyframe`]); an audio-only stream starts once
//!   [`AUDIO_ONLY_AFTER_MS`] of audio arrived without any video sequence header.
//! * A part holds at most `part_target` of media time: it is cut at the last frame
//!   boundary that fits. Only a segment's last part may be shorter. A single frame
//!   longer than the target (under 5 fps) makes a part of its own.
//! * A segment closes at the first video keyframe at or after `segment_target` since
//!   its start, so segments are GOP-aligned and always start with a keyframe. A keyframe
//!   within half a frame of the target counts: millisecond stamps can put a 1 s GOP at
//!   999 ms (OBS does), which would otherwise make a 2 s segment.
//! * Audio is cut at the same media time as video: a part gets the AAC frames whose
//!   decode time is before the part's end. A part waits for audio to reach its end,
//!   at most [`MAX_AV_WAIT_MS`] of video time (then audio is treated as stalled).
//!
//! # Timing
//!
//! * **Hold-back**: a video sample's duration is the next sample's dts minus its own,
//!   so one video frame is held. That costs no latency at part boundaries: deciding
//!   whether a frame still fits a part needs the next frame's timestamp anyway. AAC
//!   frames have a known duration (1024 samples), so audio is never held.
//! * **Audio clock**: AAC decode times count frames from a resync point, exact at the
//!   sample rate; FLV's millisecond stamps only re-anchor it when they drift beyond
//!   [`AUDIO_RESYNC_THRESHOLD_MS`] (late: the frame is dropped; early: a gap).
//! * **One timeline**: both tracks map FLV milliseconds through one offset, so their
//!   `tfdt`s agree. The leading track (video, or audio when alone) detects a backward
//!   step beyond [`MAX_TIMESTAMP_BACKSTEP_MS`] or a forward gap beyond
//!   [`MAX_TIMESTAMP_GAP_MS`] (publisher restart, encoder hiccup) and *rebases*: the
//!   offset changes so the output continues one frame after the last, keeping every
//!   track monotonic without a discontinuity. Smaller backward video steps are
//!   clamped to +1 ms. Output time starts at 0 with the first sample received.
//! * **Config changes**: a new sequence header (different bytes) takes effect at the
//!   next video keyframe, which closes the segment early and is preceded by a new
//!   [`Event::Init`] with `generation + 1`. Audio frames between an audio config
//!   change and that keyframe are dropped (counted), as they cannot share an init
//!   with the old config.
//! * Video sample data stays AVCC exactly as FLV carries it; in-band SPS/PPS (repeated
//!   headers) are kept, as 14496-15 allows for `avc1` when they match the `avcC`.

mod audio;
mod cutter;
mod timeline;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::aac::MAX_AUDIO_FRAME_SIZE;
use crate::cmaf::{Sample, write_init};
use crate::flv::{AudioTag, VideoTag, parse_audio_tag, parse_video_tag, validate_avcc};
use crate::{AacConfig, AvcConfig, Error};

/// Frames (video + audio) the packager holds before refusing more.
pub const MAX_PENDING_FRAMES: usize = 2048;
/// Media bytes the packager holds before refusing more.
pub const MAX_PENDING_BYTES: usize = 64 * 1024 * 1024;
/// A forward timestamp jump beyond this on the leading track is a rebase.
pub const MAX_TIMESTAMP_GAP_MS: u64 = 1_000;
/// A backward timestamp step beyond this on the leading track is a rebase.
pub const MAX_TIMESTAMP_BACKSTEP_MS: u64 = 500;
/// Audio ms stamps may drift this far from the frame count before a resync.
pub const AUDIO_RESYNC_THRESHOLD_MS: u64 = 100;
/// How far video may run ahead of audio before a part is cut without waiting.
pub const MAX_AV_WAIT_MS: u64 = 1_000;
/// Audio received without a video sequence header before going audio-only.
pub const AUDIO_ONLY_AFTER_MS: u64 = 1_000;

/// Cutting targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackagerConfig {
    /// Longest part (LL-HLS PART-TARGET). Default 200 ms.
    pub part_target: Duration,
    /// Shortest segment, less half a frame; segments end at the first keyframe after it.
    /// Default 1 s.
    pub segment_target: Duration,
}

impl Default for PackagerConfig {
    fn default() -> Self {
        Self {
            part_target: Duration::from_millis(200),
            segment_target: Duration::from_secs(1),
        }
    }
}

/// What the video track holds.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoInfo {
    /// RFC 6381 codec string, e.g. `avc1.64001f`.
    pub codec: String,
    /// Width in pixels after cropping.
    pub width: u32,
    /// Height in pixels after cropping.
    pub height: u32,
    /// Frames per second from the SPS VUI, when present.
    pub frame_rate: Option<f64>,
}

/// What the audio track holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioInfo {
    /// RFC 6381 codec string, e.g. `mp4a.40.2`.
    pub codec: String,
    /// Sample rate in Hz (the track timescale).
    pub sample_rate: u32,
    /// Channel count.
    pub channels: u16,
}

/// Output of the packager; see the module docs for the drain rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A new init segment. Parts that follow belong to it until the next `Init`.
    Init {
        /// `ftyp`+`moov`.
        init: Bytes,
        /// The video track, if any (track id 1).
        video: Option<VideoInfo>,
        /// The audio track, if any (track id 2).
        audio: Option<AudioInfo>,
        /// The `CODECS` attribute value, e.g. `avc1.64001f,mp4a.40.2`.
        codecs: String,
        /// Starts at 0, +1 per init; a change means a discontinuity in the playlist.
        generation: u32,
    },
    /// One CMAF chunk: an LL-HLS part. A segment is the concatenation of its parts.
    Part {
        /// `moof`+`mdat`.
        data: Bytes,
        /// The `mfhd` sequence number (1, 2, …, never reset).
        sequence: u32,
        /// The generation of the init this part needs.
        generation: u32,
        /// Decode time of the part's start on the output timeline, milliseconds.
        start_ms: u64,
        /// Media duration (sum of the leading track's sample durations).
        duration: Duration,
        /// The part starts with a keyframe (LL-HLS `INDEPENDENT=YES`).
        independent: bool,
        /// This is the segment's last part.
        ends_segment: bool,
    },
}

/// Counters for metrics; they only grow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Video frames accepted.
    pub video_frames: u64,
    /// Audio frames accepted.
    pub audio_frames: u64,
    /// Video frames dropped before the first keyframe.
    pub dropped_before_keyframe: u64,
    /// Audio frames dropped (before start, late, during a config change, at flush).
    pub dropped_audio: u64,
    /// Timeline rebases (timestamp jumps).
    pub timestamp_rebases: u64,
    /// Video timestamps clamped to keep decode order strictly increasing.
    pub clamped_timestamps: u64,
    /// Audio clock resyncs (gaps).
    pub audio_resyncs: u64,
    /// Parts emitted.
    pub parts: u64,
    /// Segments completed.
    pub segments: u64,
}

/// The packager state machine (sans-IO: no clock, no sockets).
#[derive(Debug)]
pub struct Packager {
    config: PackagerConfig,
    events: VecDeque<Event>,
    stats: Stats,
    /// The latest sequence headers received.
    latest: Configs,
    /// The configs of the current init.
    active: Configs,
    generation: Option<u32>,
    sequence: u32,
    state: cutter::Cutter,
    timeline: timeline::Timeline,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct Configs {
    video: Option<Arc<AvcConfig>>,
    audio: Option<Arc<AacConfig>>,
}

impl Packager {
    /// A packager with the given cutting targets.
    pub fn new(config: PackagerConfig) -> Self {
        Self {
            config,
            events: VecDeque::new(),
            stats: Stats::default(),
            latest: Configs::default(),
            active: Configs::default(),
            generation: None,
            sequence: 1,
            state: cutter::Cutter::default(),
            timeline: timeline::Timeline::default(),
        }
    }

    /// One RTMP video message body (FLV VIDEODATA) with its timestamp (= dts), ms.
    pub fn handle_video(&mut self, timestamp_ms: u64, body: Bytes) -> Result<(), Error> {
        match parse_video_tag(&body)? {
            VideoTag::SequenceHeader(avcc) => {
                let cfg = AvcConfig::parse(&avcc)?;
                // Refuse a config the writer cannot express now, not at the switch.
                write_init(Some(&cfg), None)?;
                if self.latest.video.as_deref() != Some(&cfg) {
                    self.latest.video = Some(Arc::new(cfg));
                }
                Ok(())
            }
            VideoTag::Frame(frame) => {
                let cfg = self
                    .latest
                    .video
                    .as_ref()
                    .ok_or(Error::MissingDecoderConfig("video"))?;
                validate_avcc(&frame.data, cfg.nalu_length_size)?;
                self.stats.video_frames += 1;
                self.on_video(timestamp_ms, frame)
            }
            VideoTag::EndOfSequence | VideoTag::Info => Ok(()),
        }
    }

    /// One RTMP audio message body (FLV AUDIODATA) with its timestamp, ms.
    pub fn handle_audio(&mut self, timestamp_ms: u64, body: Bytes) -> Result<(), Error> {
        match parse_audio_tag(&body)? {
            AudioTag::SequenceHeader(raw) => {
                let cfg = AacConfig::parse(raw)?;
                write_init(None, Some(&cfg))?;
                if self.latest.audio.as_deref() != Some(&cfg) {
                    self.latest.audio = Some(Arc::new(cfg));
                }
                Ok(())
            }
            AudioTag::Frame(data) => {
                if data.len() > MAX_AUDIO_FRAME_SIZE {
                    return Err(Error::FrameTooLarge {
                        size: data.len(),
                        max: MAX_AUDIO_FRAME_SIZE,
                    });
                }
                if self.latest.audio.is_none() {
                    return Err(Error::MissingDecoderConfig("audio"));
                }
                self.stats.audio_frames += 1;
                self.on_audio(timestamp_ms, data)
            }
        }
    }

    /// End of stream: emits everything held, ending the last segment. A later
    /// `handle_*` starts a new stream (new init generation, timeline from 0).
    pub fn flush(&mut self) {
        self.on_flush();
    }

    /// The next output event, or `None` when drained (drain after every call).
    pub fn poll_output(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Counters since creation.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The cutting targets.
    pub fn config(&self) -> &PackagerConfig {
        &self.config
    }
}

/// A video sample waiting for its part, with its decode time in ms.
#[derive(Debug, Clone)]
struct VideoSample {
    dts_ms: u64,
    sample: Sample,
}

#[cfg(test)]
mod tests;
