//! Multivariant attributes at an edge, read from the replicated window: codecs, size and
//! frame rate from the current init segment (`media::cmaf::describe_init`), bandwidth from the
//! closed segments' sizes and durations (peak and average, as the origin computes them).

use hls::PartPosition;
use relay_wire::RelayWindow;
use serve::VariantInfo;

/// The variant attributes `window` supports, once it has an init and a closed segment.
pub(crate) fn describe(window: &RelayWindow) -> Option<VariantInfo> {
    let part_window = window.window();
    let init = part_window.init(part_window.current_generation()?)?;
    let described = media::cmaf::describe_init(&init)?;
    let (mut peak, mut total_bits, mut total_seconds) = (0u64, 0f64, 0f64);
    let last = part_window.last_closed_msn()?;
    for msn in part_window.media_sequence()..=last {
        let Some(len) = part_window.segment_len(msn) else {
            continue;
        };
        let seconds: f64 = (0..)
            .map_while(|index| window.replicated_part(PartPosition { msn, index }))
            .map(|part| part.meta.duration.as_secs_f64())
            .sum();
        if seconds > 0.0 {
            let bits = len as f64 * 8.0;
            peak = peak.max((bits / seconds) as u64);
            total_bits += bits;
            total_seconds += seconds;
        }
    }
    if peak == 0 {
        return None;
    }
    Some(VariantInfo {
        codecs: described.codecs,
        resolution: described.resolution,
        frame_rate: described.frame_rate,
        peak_bitrate: peak,
        average_bitrate: (total_bits / total_seconds) as u64,
    })
}
