//! The cutting state: which frames wait for which part, and when a part is ready.
//! The rules are documented on [`crate::packager`].

mod emit;
mod switch;

use std::collections::VecDeque;

use bytes::Bytes;

use super::audio::{AudioClock, ms_to_ticks, ticks_to_ns};
use super::timeline::Lane;
use super::{
    AUDIO_ONLY_AFTER_MS, AudioInfo, Event, MAX_AV_WAIT_MS, MAX_PENDING_BYTES, MAX_PENDING_FRAMES,
    Packager, VideoInfo, VideoSample,
};
use crate::Error;
use crate::cmaf::{
    AUDIO_TRACK_ID, Sample, TrackRun, VIDEO_TIMESCALE, VIDEO_TRACK_ID, write_fragment, write_init,
};
use crate::flv::VideoFrame;

const NS_PER_MS: u64 = 1_000_000;
/// 90 kHz ticks per millisecond.
const TICKS_PER_MS: u64 = VIDEO_TIMESCALE as u64 / 1000;

#[derive(Debug, Default)]
pub(super) struct Cutter {
    mode: Mode,
    /// Segment and part starts: output ms in `Video` mode, audio ticks in `AudioOnly`.
    seg_start: u64,
    part_start: u64,
    /// Samples in the open part (video in `Video` mode, audio in `AudioOnly`).
    part_count: usize,
    /// `AudioOnly`: the next placed frame sets `part_start`/`seg_start`.
    anchor_pending: bool,
    /// The held-back video frame: its duration needs the next frame's dts.
    held: Option<VideoSample>,
    last_video_dur_ms: u64,
    last_video_ms: u64,
    video_q: VecDeque<VideoSample>,
    audio_q: VecDeque<(u64, Sample)>,
    /// Audio received before the stream started: (output ms, frame).
    prestart: VecDeque<(u64, Bytes)>,
    pending: VecDeque<Pending>,
    clock: Option<AudioClock>,
    /// Media bytes held in all queues.
    bytes: usize,
    out_generation: u32,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Mode {
    #[default]
    Idle,
    Video,
    AudioOnly,
}

#[derive(Debug)]
enum Pending {
    Init(Event),
    Cut(Cut),
}

/// A decided part boundary, waiting to be written.
#[derive(Debug)]
struct Cut {
    start_ns: u64,
    end_ns: u64,
    /// The end in output ms, for the audio stall check (`Video` mode).
    end_ms: u64,
    video_count: usize,
    /// Audio frames with decode time before this go in the part.
    audio_end: Option<u64>,
    ends_segment: bool,
    wait_audio: bool,
}

impl Packager {
    pub(super) fn on_video(&mut self, timestamp_ms: u64, frame: VideoFrame) -> Result<(), Error> {
        let s = &mut self.state;
        if s.video_q.len() + s.audio_q.len() + 1 >= MAX_PENDING_FRAMES
            || s.bytes + frame.data.len() > MAX_PENDING_BYTES
        {
            return Err(Error::TooManyPendingFrames);
        }
        let leader = s.mode != Mode::AudioOnly;
        let d = self
            .timeline
            .map(Lane::Video, timestamp_ms, leader, &mut self.stats);
        match self.state.mode {
            Mode::Idle | Mode::AudioOnly if !frame.keyframe => {
                self.stats.dropped_before_keyframe += 1;
                return Ok(());
            }
            Mode::Idle => self.start_video(d),
            Mode::AudioOnly => self.switch_to_video(d),
            Mode::Video => {}
        }
        let seg_target = self.config.segment_target.as_millis() as u64;
        let changed = self.latest != self.active;
        let s = &self.state;
        // FLV stamps are whole milliseconds, and encoders round differently: OBS truncates
        // each dts after shifting its B-frame delay out, so a 30-frame GOP at 30 fps can
        // measure 999 ms. Half a frame of slack keeps such a GOP a segment of its own.
        let slack = s
            .held
            .as_ref()
            .map_or(0, |h| d.saturating_sub(h.dts_ms) / 2);
        let elapsed = d.saturating_sub(s.seg_start) + slack;
        let boundary = frame.keyframe && (elapsed >= seg_target || changed);
        if let Some(mut held) = self.state.held.take() {
            let dur = d.saturating_sub(held.dts_ms);
            held.sample.duration = u32::try_from(dur * TICKS_PER_MS).unwrap_or(u32::MAX);
            self.state.last_video_dur_ms = dur;
            self.complete_video(held, boundary);
        }
        if boundary {
            if self.state.part_count > 0 {
                self.push_cut(d, true);
            }
            self.state.seg_start = d;
            if changed {
                self.commit_config(d);
            }
        }
        let s = &mut self.state;
        s.last_video_ms = d;
        s.bytes += frame.data.len();
        s.held = Some(VideoSample {
            dts_ms: d,
            sample: Sample {
                duration: 0,
                // At most 2^23 ms · 90 < 2^31.
                composition_offset: frame
                    .composition_time_ms
                    .saturating_mul(TICKS_PER_MS as i32),
                keyframe: frame.keyframe,
                data: frame.data,
            },
        });
        self.try_emit();
        Ok(())
    }

    pub(super) fn on_audio(&mut self, timestamp_ms: u64, data: Bytes) -> Result<(), Error> {
        let s = &mut self.state;
        match s.mode {
            Mode::Idle => {
                let leader = self.latest.video.is_none();
                let ms = self
                    .timeline
                    .map(Lane::Audio, timestamp_ms, leader, &mut self.stats);
                s.bytes += data.len();
                s.prestart.push_back((ms, data));
                while s.prestart.len() > MAX_PENDING_FRAMES || s.bytes > MAX_PENDING_BYTES {
                    let Some((_, old)) = s.prestart.pop_front() else {
                        break;
                    };
                    s.bytes -= old.len();
                    self.stats.dropped_audio += 1;
                }
                let span =
                    s.prestart.back().map_or(0, |b| b.0) - s.prestart.front().map_or(0, |f| f.0);
                if leader && span >= AUDIO_ONLY_AFTER_MS {
                    self.start_audio_only();
                }
            }
            Mode::Video | Mode::AudioOnly => {
                if s.video_q.len() + s.audio_q.len() + 1 >= MAX_PENDING_FRAMES
                    || s.bytes + data.len() > MAX_PENDING_BYTES
                {
                    return Err(Error::TooManyPendingFrames);
                }
                let audio_only = s.mode == Mode::AudioOnly;
                let ms = self
                    .timeline
                    .map(Lane::Audio, timestamp_ms, audio_only, &mut self.stats);
                if self.latest.audio != self.active.audio {
                    if !audio_only {
                        // Waits for the next keyframe to switch inits.
                        self.stats.dropped_audio += 1;
                        return Ok(());
                    }
                    if self.state.part_count > 0 {
                        let end = self
                            .state
                            .clock
                            .as_ref()
                            .and_then(AudioClock::next)
                            .unwrap_or(0);
                        self.push_audio_cut(end, true);
                    }
                    self.commit_config(ms);
                    self.state.anchor_pending = true;
                }
                self.queue_audio(ms, data);
            }
        }
        self.try_emit();
        Ok(())
    }

    pub(super) fn on_flush(&mut self) {
        match self.state.mode {
            Mode::Video => {
                if let Some(mut held) = self.state.held.take() {
                    let fps = self
                        .active
                        .video
                        .as_ref()
                        .and_then(|v| v.sps_info.frame_rate);
                    // The last frame lasts as long as the one before, except that
                    // ms-rounded stamps alternate (33, 34 at 30 fps): when the SPS
                    // frame rate agrees within 1 ms, its rounded period is used so a
                    // clip ends on a whole GOP (8 s, not 8.001 s).
                    let nominal = fps
                        .filter(|f| (1.0..=1000.0).contains(f))
                        .map(|f| 1000.0 / f);
                    let dur = match (nominal, self.state.last_video_dur_ms) {
                        (Some(n), 0) => n.round() as u64,
                        (Some(n), d) if (d as f64 - n).abs() <= 1.0 => n.round() as u64,
                        (None, 0) => 33,
                        (_, d) => d,
                    };
                    held.sample.duration = u32::try_from(dur * TICKS_PER_MS).unwrap_or(u32::MAX);
                    let end = held.dts_ms + dur;
                    self.complete_video(held, true);
                    if self.state.part_count > 0 {
                        self.push_cut(end, true);
                    }
                }
            }
            Mode::AudioOnly if self.state.part_count > 0 => {
                let end = self
                    .state
                    .clock
                    .as_ref()
                    .and_then(AudioClock::next)
                    .unwrap_or(0);
                self.push_audio_cut(end, true);
            }
            Mode::AudioOnly | Mode::Idle => {}
        }
        // The last part takes whatever audio is left (audio often outlasts video).
        if let Some(Pending::Cut(last)) = self.state.pending.back_mut() {
            last.audio_end = last.audio_end.map(|_| u64::MAX);
        }
        self.emit_ready(true);
        let s = &self.state;
        self.stats.dropped_audio += (s.audio_q.len() + s.prestart.len()) as u64;
        let out_generation = s.out_generation;
        self.state = Cutter {
            out_generation,
            ..Cutter::default()
        };
        self.timeline = Default::default();
        self.active = Default::default();
    }

    fn complete_video(&mut self, held: VideoSample, boundary: bool) {
        let target = self.config.part_target.as_millis() as u64;
        let end = held.dts_ms + u64::from(held.sample.duration) / TICKS_PER_MS;
        if self.state.part_count > 0 && end.saturating_sub(self.state.part_start) > target {
            self.push_cut(held.dts_ms, false);
        }
        self.state.video_q.push_back(held);
        self.state.part_count += 1;
        if end.saturating_sub(self.state.part_start) >= target {
            self.push_cut(end, boundary);
        }
    }

    fn push_cut(&mut self, end_ms: u64, ends_segment: bool) {
        let s = &mut self.state;
        s.pending.push_back(Pending::Cut(Cut {
            start_ns: s.part_start * NS_PER_MS,
            end_ns: end_ms * NS_PER_MS,
            end_ms,
            video_count: s.part_count,
            audio_end: s.clock.as_ref().map(|c| ms_to_ticks(end_ms, c.sample_rate)),
            ends_segment,
            wait_audio: s.clock.is_some(),
        }));
        (s.part_start, s.part_count) = (end_ms, 0);
    }

    fn queue_audio(&mut self, ms: u64, data: Bytes) {
        let Some(clock) = self.state.clock.as_mut() else {
            self.stats.dropped_audio += 1;
            return;
        };
        let Some(dts) = clock.place(ms, &mut self.stats) else {
            return;
        };
        let spf = clock.samples_per_frame;
        let s = &mut self.state;
        s.bytes += data.len();
        s.audio_q.push_back((
            dts,
            Sample {
                duration: spf,
                composition_offset: 0,
                keyframe: true,
                data,
            },
        ));
        if s.mode == Mode::AudioOnly {
            self.audio_only_cut(dts, spf);
        }
    }

    /// `AudioOnly`: called after frame `dts` was queued; every AAC frame is a sync
    /// sample, so a part closes as soon as a frame does not fit.
    fn audio_only_cut(&mut self, dts: u64, spf: u32) {
        let Some(rate) = self.state.clock.as_ref().map(|c| c.sample_rate) else {
            return;
        };
        let s = &mut self.state;
        if s.anchor_pending {
            (s.part_start, s.seg_start, s.anchor_pending) = (dts, dts, false);
        }
        let target = ms_to_ticks(self.config.part_target.as_millis() as u64, rate);
        let seg_target = ms_to_ticks(self.config.segment_target.as_millis() as u64, rate);
        let end = dts + u64::from(spf);
        if s.part_count > 0 && end.saturating_sub(s.part_start) > target {
            let ends = dts.saturating_sub(s.seg_start) >= seg_target;
            self.push_audio_cut(dts, ends);
        }
        self.state.part_count += 1;
    }

    fn push_audio_cut(&mut self, end: u64, ends_segment: bool) {
        let s = &mut self.state;
        let rate = s.clock.as_ref().map_or(1, |c| c.sample_rate);
        s.pending.push_back(Pending::Cut(Cut {
            start_ns: ticks_to_ns(s.part_start, rate),
            end_ns: ticks_to_ns(end.max(s.part_start), rate),
            end_ms: 0,
            video_count: 0,
            audio_end: Some(end),
            ends_segment,
            wait_audio: false,
        }));
        s.part_start = end;
        s.part_count = 0;
        if ends_segment {
            s.seg_start = end;
        }
    }
}
