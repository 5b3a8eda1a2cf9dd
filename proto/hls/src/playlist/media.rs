//! The media playlist and its delta update.

use std::time::Duration;

use super::{
    RenderOptions, VERSION_WITH_DELTA_UPDATES, VERSION_WITHOUT_DELTA_UPDATES, push, push_line,
};
use crate::format::{ProgramDateTime, Seconds};
use crate::object::MediaObject;
use crate::query::{PlaylistQuery, SkipRequest};
use crate::window::{PartPosition, PartWindow, Segment};

/// Parts are listed for segments that end within this many target durations of the live edge.
///
/// RFC 8216bis §6.2.2: "EXT-X-PART tags SHOULD be removed from the Playlist after they are
/// greater than three Target Durations from the end of the Playlist." Measuring from the
/// segment's end keeps every part of a segment that overlaps that range, and removes parts a
/// whole segment at a time, oldest first, as §6.2.2 requires ("in the order that they appear").
pub const PART_LISTING_TARGET_DURATIONS: u32 = 3;
/// Skip Boundary (`CAN-SKIP-UNTIL`) in target durations: RFC 8216bis §4.4.3.8 requires at least 6.
pub const SKIP_BOUNDARY_TARGET_DURATIONS: u32 = 6;
/// `HOLD-BACK` in target durations: RFC 8216bis §4.4.3.8 requires at least 3.
pub const HOLD_BACK_TARGET_DURATIONS: u32 = 3;
/// `PART-HOLD-BACK` in part targets: RFC 8216bis §4.4.3.8 requires at least 2, recommends 3.
pub const PART_HOLD_BACK_PART_TARGETS: u32 = 3;

/// Renders the media playlist of `window` for `query`.
///
/// With `_HLS_skip=YES|v2` and delta updates enabled (and the stream not ended) this is the
/// Playlist Delta Update (RFC 8216bis §6.2.5.1): the segments whose end is more than the Skip
/// Boundary before the end of the playlist, and their tags, are replaced by one
/// `EXT-X-SKIP:SKIPPED-SEGMENTS=n` line. Everything else is identical to the full playlist, except
/// that when the `EXT-X-MAP` in force for the first kept segment was skipped it is repeated after
/// `EXT-X-SKIP`, so the delta stands on its own (a MAP applies to every following segment, so
/// the repetition changes nothing for a client that merges).
///
/// Blocking directives (`_HLS_msn`, `_HLS_part`) do not change the text; decide them first with
/// [`PartWindow::blocking_decision`].
pub fn render_media(
    window: &PartWindow,
    query: &PlaylistQuery,
    options: &RenderOptions<'_>,
) -> String {
    let config = window.config();
    let segments = window.listed();
    let target = Duration::from_secs(window.target_duration());
    let mut out = String::with_capacity(256 + segments.len() * 96 + 20 * 64);

    // RFC 8216bis §4.4.1.1, §4.4.1.2, §4.4.3.1.
    out.push_str("#EXTM3U\n");
    let version = if config.delta_updates {
        VERSION_WITH_DELTA_UPDATES
    } else {
        VERSION_WITHOUT_DELTA_UPDATES
    };
    push_line(&mut out, format_args!("#EXT-X-VERSION:{version}"));
    push_line(
        &mut out,
        format_args!("#EXT-X-TARGETDURATION:{}", window.target_duration()),
    );
    // RFC 8216bis §4.4.3.8.
    let part_hold_back = Seconds(
        config
            .part_target
            .saturating_mul(PART_HOLD_BACK_PART_TARGETS),
    );
    let hold_back = Seconds(target.saturating_mul(HOLD_BACK_TARGET_DURATIONS));
    let skip_boundary = target.saturating_mul(SKIP_BOUNDARY_TARGET_DURATIONS);
    push(
        &mut out,
        format_args!("#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK={part_hold_back}"),
    );
    if config.delta_updates {
        push(
            &mut out,
            format_args!(",CAN-SKIP-UNTIL={}", Seconds(skip_boundary)),
        );
    }
    push_line(&mut out, format_args!(",HOLD-BACK={hold_back}"));
    // RFC 8216bis §4.4.3.7.
    push_line(
        &mut out,
        format_args!(
            "#EXT-X-PART-INF:PART-TARGET={}",
            Seconds(config.part_target)
        ),
    );
    // RFC 8216bis §4.4.3.2, §4.4.3.3.
    push_line(
        &mut out,
        format_args!("#EXT-X-MEDIA-SEQUENCE:{}", window.media_sequence()),
    );
    push_line(
        &mut out,
        format_args!(
            "#EXT-X-DISCONTINUITY-SEQUENCE:{}",
            window.discontinuity_sequence()
        ),
    );

    // Distance from each segment's end to the end of the playlist (the open segment included).
    let playlist_end: Duration = segments.iter().map(|s| s.duration).sum();
    let mut end = Duration::ZERO;
    let distances: Vec<Duration> = segments
        .iter()
        .map(|s| {
            end += s.duration;
            playlist_end.saturating_sub(end)
        })
        .collect();
    let parts_since = target.saturating_mul(PART_LISTING_TARGET_DURATIONS);
    let first_with_parts = distances
        .iter()
        .position(|d| *d <= parts_since)
        .unwrap_or(segments.len());

    // RFC 8216bis §6.2.5.1: "A Server MUST ignore the _HLS_skip directive if the Playlist does not
    // contain the CAN-SKIP-UNTIL attribute, or if it contains an EXT-X-ENDLIST tag."
    let skip = match query.skip {
        SkipRequest::Full => None,
        _ if !config.delta_updates || window.is_ended() => None,
        requested => Some(requested),
    };
    let skipped = match skip {
        // Only closed segments strictly beyond the boundary; never one whose parts are listed.
        Some(_) => distances
            .iter()
            .take_while(|d| **d > skip_boundary)
            .count()
            .min(first_with_parts),
        None => 0,
    };
    if let Some(requested) = skip {
        // RFC 8216bis §4.4.5.2. RECENTLY-REMOVED-DATERANGES is REQUIRED when the client asked to
        // skip date ranges (v2); we never emit EXT-X-DATERANGE, so the list is empty.
        push(
            &mut out,
            format_args!("#EXT-X-SKIP:SKIPPED-SEGMENTS={skipped}"),
        );
        if requested == SkipRequest::SegmentsAndDateRanges {
            out.push_str(",RECENTLY-REMOVED-DATERANGES=\"\"");
        }
        out.push('\n');
    }

    let mut previous_generation = skipped
        .checked_sub(1)
        .and_then(|i| segments.get(i))
        .map(|s| s.generation);
    for (i, segment) in segments.iter().enumerate().skip(skipped) {
        let map_needed = previous_generation != Some(segment.generation);
        let repeat_map = i == skipped && skipped > 0 && !map_needed;
        write_segment(
            &mut out,
            segment,
            map_needed || repeat_map,
            i >= first_with_parts,
        );
        previous_generation = Some(segment.generation);
    }

    if let Some(PartPosition { msn, index }) = window.next_part() {
        // RFC 8216bis §4.4.5.3: the next part, which does not exist yet. "A Playlist containing
        // an EXT-X-ENDLIST tag MUST NOT contain an EXT-X-PRELOAD-HINT tag" (next_part() is None
        // once ended).
        let uri = MediaObject::Part(PartPosition { msn, index });
        push_line(
            &mut out,
            format_args!("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"{uri}\""),
        );
    }
    for report in options.rendition_reports {
        // RFC 8216bis §4.4.5.4: URI relative to this playlist.
        push(
            &mut out,
            format_args!(
                "#EXT-X-RENDITION-REPORT:URI=\"../{}/index.m3u8\",LAST-MSN={}",
                report.name, report.last_msn
            ),
        );
        if let Some(part) = report.last_part {
            push(&mut out, format_args!(",LAST-PART={part}"));
        }
        out.push('\n');
    }
    if window.is_ended() {
        // RFC 8216bis §4.4.3.4.
        out.push_str("#EXT-X-ENDLIST\n");
    }
    out
}

/// One segment: its tags, its parts if listed, and its `EXTINF` + URI once closed.
fn write_segment(out: &mut String, segment: &Segment, map: bool, parts: bool) {
    // RFC 8216bis §4.4.4.9: DISCONTINUITY, MAP and PROGRAM-DATE-TIME apply to the first part
    // too, so they "MUST appear before the first EXT-X-PART tag" of the segment.
    if segment.discontinuity {
        // RFC 8216bis §4.4.4.3.
        out.push_str("#EXT-X-DISCONTINUITY\n");
    }
    if map {
        // RFC 8216bis §4.4.4.5.
        let uri = MediaObject::Init(segment.generation);
        push_line(out, format_args!("#EXT-X-MAP:URI=\"{uri}\""));
    }
    // RFC 8216bis §4.4.4.6: on every segment, so players compute latency from any of them.
    let pdt = ProgramDateTime(segment.program_date_time_ms);
    push_line(out, format_args!("#EXT-X-PROGRAM-DATE-TIME:{pdt}"));
    if parts {
        for (index, part) in segment.parts.iter().enumerate() {
            // RFC 8216bis §4.4.4.9.
            let uri = MediaObject::Part(PartPosition {
                msn: segment.msn,
                index: index as u64,
            });
            let duration = Seconds(part.duration);
            push(
                out,
                format_args!("#EXT-X-PART:DURATION={duration},URI=\"{uri}\""),
            );
            if part.independent {
                out.push_str(",INDEPENDENT=YES");
            }
            out.push('\n');
        }
    }
    if segment.is_closed() {
        // RFC 8216bis §4.4.4.1.
        push_line(out, format_args!("#EXTINF:{},", Seconds(segment.duration)));
        push_line(out, format_args!("{}", MediaObject::Segment(segment.msn)));
    }
}
