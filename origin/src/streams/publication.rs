//! A connected publisher's pipeline: FLV tag bodies → `media::Packager` → the stream's
//! `PartWindow`, with wall-clock PROGRAM-DATE-TIME and metrics.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hls::PartInput;
use media::{Event, Packager, PackagerConfig};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;

use serve::{ServedStream, VariantInfo};

use super::StreamHub;
use crate::metrics::{ReasonLabels, StreamLabels};

/// Media the origin will not package: the publisher is disconnected with this reason.
#[derive(Debug, thiserror::Error)]
pub enum MediaRejection {
    /// A codec we do not support (the message names it).
    #[error("{0}")]
    Unsupported(media::Error),
}

impl MediaRejection {
    /// Label for `livecdn_origin_media_rejected_total{reason}`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Unsupported(error) => error.reason(),
        }
    }
}

/// Errors after which packaging this publisher makes no sense: its codec is not one we serve.
const FATAL_REASONS: [&str; 3] = [
    "unsupported_video_codec",
    "unsupported_audio_codec",
    "encrypted_tag",
];

/// Maps the packager's media time to the ingest wall clock: PROGRAM-DATE-TIME of a part is
/// `unix_ms + (start_ms - media_ms)`.
#[derive(Debug, Clone, Copy)]
struct ClockAnchor {
    media_ms: u64,
    unix_ms: u64,
}

/// The pipeline of one connected publisher. Dropping it ends the publication: the packager is
/// flushed (closing the last segment) and the stream's reconnect grace period starts.
pub struct Publication {
    hub: Arc<StreamHub>,
    stream: Arc<ServedStream>,
    epoch: u64,
    generation_base: u32,
    packager: Packager,
    anchor: Option<ClockAnchor>,
    last_read_at: Option<Instant>,
    ingest_bytes: Counter,
    parts: Counter,
    bitrate: Gauge,
    segment: (u64, Duration),
    total: (u64, Duration),
    metadata_seen: bool,
}

impl Publication {
    pub(super) fn new(
        hub: Arc<StreamHub>,
        stream: Arc<ServedStream>,
        epoch: u64,
        generation_base: u32,
    ) -> Self {
        let (part_target, segment_target) = hub.targets();
        let labels = StreamLabels {
            stream: stream.name().to_owned(),
        };
        let metrics = hub.metrics();
        let ingest_bytes = metrics.ingest_bytes.get_or_create(&labels).clone();
        let parts = metrics.parts.get_or_create(&labels).clone();
        let bitrate = metrics.ingest_bitrate.get_or_create(&labels).clone();
        Self {
            ingest_bytes,
            parts,
            bitrate,
            packager: Packager::new(PackagerConfig {
                part_target,
                segment_target,
            }),
            hub,
            stream,
            epoch,
            generation_base,
            anchor: None,
            last_read_at: None,
            segment: (0, Duration::ZERO),
            total: (0, Duration::ZERO),
            metadata_seen: false,
        }
    }

    /// The stream this publication feeds.
    pub fn stream(&self) -> &str {
        self.stream.name()
    }

    /// `n` bytes were read from the publisher at `at` (before they are handed to RTMP).
    pub fn note_received(&mut self, n: usize, at: Instant) {
        self.ingest_bytes.inc_by(n as u64);
        self.last_read_at = Some(at);
    }

    /// An RTMP video message body (an FLV video tag body).
    pub fn handle_video(&mut self, timestamp_ms: u64, body: Bytes) -> Result<(), MediaRejection> {
        let result = self.packager.handle_video(timestamp_ms, body);
        self.after_input(result)
    }

    /// An RTMP audio message body (an FLV audio tag body).
    pub fn handle_audio(&mut self, timestamp_ms: u64, body: Bytes) -> Result<(), MediaRejection> {
        let result = self.packager.handle_audio(timestamp_ms, body);
        self.after_input(result)
    }

    /// `@setDataFrame onMetaData`: logged once per publication (some encoders resend it every
    /// second); codecs and sizes come from the real bitstream, not from here.
    pub fn handle_metadata(&mut self, metadata: &rtmp::Amf0Value) {
        let encoder = metadata
            .get("encoder")
            .and_then(rtmp::Amf0Value::as_str)
            .unwrap_or("unknown");
        if self.metadata_seen {
            tracing::debug!(stream = %self.stream.name(), encoder, "publisher metadata again");
        } else {
            self.metadata_seen = true;
            tracing::info!(stream = %self.stream.name(), encoder, "publisher metadata");
        }
    }

    fn after_input(&mut self, result: Result<(), media::Error>) -> Result<(), MediaRejection> {
        if let Err(error) = result {
            let reason = error.reason();
            self.hub
                .metrics()
                .media_rejected
                .get_or_create(&ReasonLabels { reason })
                .inc();
            if FATAL_REASONS.contains(&reason) {
                return Err(MediaRejection::Unsupported(error));
            }
            tracing::warn!(stream = %self.stream.name(), reason, %error, "media tag refused");
        }
        self.drain();
        Ok(())
    }

    /// Moves the packager's output into the window (the drain rule), then wakes readers.
    fn drain(&mut self) {
        let mut events = Vec::new();
        while let Some(event) = self.packager.poll_output() {
            events.push(event);
        }
        if events.is_empty() {
            return;
        }
        let stream = self.stream.clone();
        let mut state = stream.lock();
        if state.owner != self.epoch {
            return; // a newer publisher owns the stream
        }
        for event in events {
            match event {
                Event::Init {
                    init,
                    video,
                    audio: _,
                    codecs,
                    generation,
                } => {
                    if let Err(error) = state
                        .window
                        .handle_init(self.generation_base + generation, init)
                    {
                        self.window_refused(error.reason(), &error);
                        continue;
                    }
                    let (peak_bitrate, average_bitrate) = state
                        .variant
                        .as_ref()
                        .map_or((0, 0), |v| (v.peak_bitrate, v.average_bitrate));
                    state.variant = Some(VariantInfo {
                        codecs,
                        resolution: video.as_ref().map(|v| (v.width, v.height)),
                        frame_rate: video.as_ref().and_then(|v| v.frame_rate),
                        peak_bitrate,
                        average_bitrate,
                    });
                }
                Event::Part {
                    data,
                    start_ms,
                    duration,
                    independent,
                    ends_segment,
                    ..
                } => {
                    let size = data.len() as u64;
                    let program_date_time_ms = self.wall_clock(start_ms, duration);
                    let part = PartInput {
                        data,
                        duration,
                        independent,
                        ends_segment,
                        program_date_time_ms,
                    };
                    if let Err(error) = state.window.handle_part(part, node::clock::unix_time_us())
                    {
                        self.window_refused(error.reason(), &error);
                        continue;
                    }
                    self.parts.inc();
                    if let Some(read_at) = self.last_read_at {
                        let delay = node::clock::now().saturating_duration_since(read_at);
                        self.hub.metrics().part_delay.observe(delay.as_secs_f64());
                    }
                    self.account(size, duration, ends_segment, state.variant.as_mut());
                }
            }
        }
        let mut relay_events = Vec::new();
        while let Some(event) = state.window.poll_output() {
            if let relay_wire::RelayEvent::Window(hls::WindowEvent::TargetDurationRaised {
                from,
                to,
            }) = event
            {
                tracing::warn!(stream = %self.stream.name(), from, to, "a segment outgrew EXT-X-TARGETDURATION; raised");
            }
            relay_events.push(event);
        }
        drop(state);
        stream.notify(relay_events);
    }

    fn wall_clock(&mut self, start_ms: u64, duration: Duration) -> u64 {
        let anchor = *self.anchor.get_or_insert_with(|| ClockAnchor {
            media_ms: start_ms,
            // The part's first frame arrived about one part duration ago.
            unix_ms: node::clock::unix_time_ms().saturating_sub(duration.as_millis() as u64),
        });
        anchor
            .unix_ms
            .saturating_add(start_ms.saturating_sub(anchor.media_ms))
    }

    fn account(
        &mut self,
        size: u64,
        duration: Duration,
        ends_segment: bool,
        variant: Option<&mut VariantInfo>,
    ) {
        self.segment.0 += size;
        self.segment.1 += duration;
        self.total.0 += size;
        self.total.1 += duration;
        if !ends_segment {
            return;
        }
        let bits_per_second = |(bytes, time): (u64, Duration)| {
            if time.is_zero() {
                0
            } else {
                (bytes as f64 * 8.0 / time.as_secs_f64()) as u64
            }
        };
        let segment_rate = bits_per_second(self.segment);
        self.bitrate
            .set(i64::try_from(segment_rate).unwrap_or(i64::MAX));
        if let Some(variant) = variant {
            variant.peak_bitrate = variant.peak_bitrate.max(segment_rate);
            variant.average_bitrate = bits_per_second(self.total);
        }
        self.segment = (0, Duration::ZERO);
    }

    fn window_refused(&self, reason: &'static str, error: &dyn std::fmt::Display) {
        self.hub
            .metrics()
            .media_rejected
            .get_or_create(&ReasonLabels { reason })
            .inc();
        tracing::warn!(stream = %self.stream.name(), reason, %error, "window refused packager output");
    }
}

impl std::fmt::Debug for Publication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publication")
            .field("stream", &self.stream.name())
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

impl Drop for Publication {
    fn drop(&mut self) {
        self.packager.flush();
        self.drain();
        let name = self.stream.name().to_owned();
        self.hub.publisher_left(&name, self.epoch);
    }
}
