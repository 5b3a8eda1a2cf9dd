//! Starting, switching modes and committing new decoder configs (new inits).

use super::*;

impl Packager {
    pub(super) fn start_video(&mut self, d: u64) {
        let s = &mut self.state;
        s.mode = Mode::Video;
        (s.seg_start, s.part_start, s.part_count) = (d, d, 0);
        self.commit_config(d);
        for (ms, data) in std::mem::take(&mut self.state.prestart) {
            self.state.bytes -= data.len();
            if ms < d {
                self.stats.dropped_audio += 1;
            } else {
                self.queue_audio(ms, data);
            }
        }
    }

    pub(super) fn start_audio_only(&mut self) {
        self.state.mode = Mode::AudioOnly;
        self.state.anchor_pending = true;
        let first = self.state.prestart.front().map_or(0, |f| f.0);
        self.commit_config(first);
        for (ms, data) in std::mem::take(&mut self.state.prestart) {
            self.state.bytes -= data.len();
            self.queue_audio(ms, data);
        }
    }

    /// `AudioOnly` → `Video` at keyframe `d`: the audio-only segment ends there.
    pub(super) fn switch_to_video(&mut self, d: u64) {
        let s = &mut self.state;
        if let (true, Some(clock)) = (s.part_count > 0, &s.clock) {
            let start_ns = ticks_to_ns(s.part_start, clock.sample_rate);
            s.pending.push_back(Pending::Cut(Cut {
                start_ns,
                end_ns: (d * NS_PER_MS).max(start_ns),
                end_ms: d,
                video_count: 0,
                audio_end: Some(ms_to_ticks(d, clock.sample_rate)),
                ends_segment: true,
                wait_audio: true,
            }));
        }
        s.mode = Mode::Video;
        (s.seg_start, s.part_start, s.part_count) = (d, d, 0);
        if self.latest != self.active {
            self.commit_config(d);
        }
    }

    /// Makes the latest configs active from output time `at_ms` and queues the Init.
    pub(super) fn commit_config(&mut self, at_ms: u64) {
        let audio_changed = self.latest.audio != self.active.audio;
        self.active = self.latest.clone();
        let s = &mut self.state;
        if audio_changed {
            s.clock = self
                .active
                .audio
                .as_ref()
                .map(|a| AudioClock::new(a.sample_rate, a.samples_per_frame, at_ms));
            // Old-config audio stopped when the new header arrived: no cut waits for it,
            // and none of it may follow the new init.
            let mut last_end = None;
            for p in &mut s.pending {
                if let Pending::Cut(c) = p {
                    c.wait_audio = false;
                    last_end = c.audio_end;
                }
            }
            let keep = last_end.unwrap_or(0);
            let (mut dropped, mut freed) = (0, 0);
            s.audio_q.retain(|(dts, sample)| {
                let keep = *dts < keep;
                if !keep {
                    dropped += 1;
                    freed += sample.data.len();
                }
                keep
            });
            self.stats.dropped_audio += dropped;
            s.bytes -= freed;
        }
        let generation = self.generation.map_or(0, |g| g.wrapping_add(1));
        self.generation = Some(generation);
        let video = self.active.video.as_deref();
        let audio = self.active.audio.as_deref();
        // Each config was written alone when its header arrived, so this cannot fail
        // in practice; an empty init would be refused by any player, never misread.
        let init = write_init(video, audio).unwrap_or_default();
        let video_info = video.map(|v| VideoInfo {
            codec: v.codec_string(),
            width: v.sps_info.width,
            height: v.sps_info.height,
            frame_rate: v.sps_info.frame_rate,
        });
        let audio_info = audio.map(|a| AudioInfo {
            codec: a.codec_string(),
            sample_rate: a.sample_rate,
            channels: a.channels,
        });
        let codecs: Vec<&str> = video_info
            .iter()
            .map(|v| v.codec.as_str())
            .chain(audio_info.iter().map(|a| a.codec.as_str()))
            .collect();
        let codecs = codecs.join(",");
        self.state.pending.push_back(Pending::Init(Event::Init {
            init,
            video: video_info,
            audio: audio_info,
            codecs,
            generation,
        }));
    }
}
