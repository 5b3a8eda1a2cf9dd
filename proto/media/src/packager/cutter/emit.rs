//! Writing decided cuts as parts, once their audio is in.

use super::*;

impl Packager {
    pub(super) fn try_emit(&mut self) {
        self.emit_ready(false);
    }

    pub(super) fn emit_ready(&mut self, flushing: bool) {
        while let Some(front) = self.state.pending.front() {
            if let Pending::Cut(cut) = front
                && !flushing
                && !self.is_ready(cut)
            {
                break;
            }
            match self.state.pending.pop_front() {
                Some(Pending::Init(event)) => {
                    if let Event::Init { generation, .. } = &event {
                        self.state.out_generation = *generation;
                    }
                    self.events.push_back(event);
                }
                Some(Pending::Cut(cut)) => self.emit_part(cut),
                None => break,
            }
        }
    }

    pub(super) fn is_ready(&self, cut: &Cut) -> bool {
        let s = &self.state;
        let (Some(clock), Some(audio_end), true) = (&s.clock, cut.audio_end, cut.wait_audio) else {
            return true;
        };
        clock.next().is_some_and(|next| next >= audio_end)
            || s.last_video_ms.saturating_sub(cut.end_ms) > MAX_AV_WAIT_MS
    }

    pub(super) fn emit_part(&mut self, cut: Cut) {
        let s = &mut self.state;
        let count = cut.video_count.min(s.video_q.len());
        let video_base = s.video_q.front().map_or(0, |v| v.dts_ms * TICKS_PER_MS);
        let video: Vec<Sample> = s.video_q.drain(..count).map(|v| v.sample).collect();
        let end = cut.audio_end.unwrap_or(0);
        let audio_base = s.audio_q.front().map_or(0, |a| a.0);
        let n = s.audio_q.iter().take_while(|a| a.0 < end).count();
        let audio: Vec<Sample> = s.audio_q.drain(..n).map(|a| a.1).collect();
        let runs = [
            TrackRun {
                track_id: VIDEO_TRACK_ID,
                base_decode_time: video_base,
                samples: &video,
            },
            TrackRun {
                track_id: AUDIO_TRACK_ID,
                base_decode_time: audio_base,
                samples: &audio,
            },
        ];
        let data = write_fragment(self.sequence, &runs);
        let media: usize = video.iter().chain(&audio).map(|x| x.data.len()).sum();
        s.bytes = s.bytes.saturating_sub(media);
        self.events.push_back(Event::Part {
            data,
            sequence: self.sequence,
            generation: s.out_generation,
            start_ms: cut.start_ns / NS_PER_MS,
            duration: std::time::Duration::from_nanos(cut.end_ns.saturating_sub(cut.start_ns)),
            independent: video.first().is_none_or(|v| v.keyframe),
            ends_segment: cut.ends_segment,
        });
        self.sequence = self.sequence.wrapping_add(1);
        self.stats.parts += 1;
        self.stats.segments += u64::from(cut.ends_segment);
    }
}
