//! The multivariant playlist (`/live/{stream}/index.m3u8`).

use super::{push, push_line};
use crate::names::{Codecs, RenditionName};

/// Highest `FRAME-RATE` rendered; larger or non-finite values are left out.
pub const MAX_FRAME_RATE: f64 = 1000.0;

/// One Variant Stream, rendered as `EXT-X-STREAM-INF` + `{name}/index.m3u8`.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// The rendition's directory name.
    pub name: RenditionName,
    /// `BANDWIDTH`: peak segment bit rate, bits per second.
    pub bandwidth: u64,
    /// `AVERAGE-BANDWIDTH`: average segment bit rate, bits per second.
    pub average_bandwidth: Option<u64>,
    /// `CODECS`, from the real SPS and AudioSpecificConfig.
    pub codecs: Codecs,
    /// `RESOLUTION`, for video.
    pub resolution: Option<Resolution>,
    /// `FRAME-RATE`, frames per second, for video.
    pub frame_rate: Option<f64>,
}

/// A `RESOLUTION` attribute: `WIDTHxHEIGHT` in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolution {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// Renders the multivariant playlist listing `variants` in order.
///
/// No `EXT-X-VERSION` is written: nothing here needs more than version 1 (RFC 8216bis §7), and
/// the tag is optional then (§4.4.1.2).
pub fn render_multivariant(variants: &[Variant]) -> String {
    let mut out = String::with_capacity(64 + variants.len() * 160);
    out.push_str("#EXTM3U\n");
    // RFC 8216bis §4.4.2.1: every segment starts with a keyframe (PartWindow refuses a segment
    // whose first part is not independent).
    out.push_str("#EXT-X-INDEPENDENT-SEGMENTS\n");
    for variant in variants {
        // RFC 8216bis §4.4.6.2: BANDWIDTH is REQUIRED; AVERAGE-BANDWIDTH, CODECS, RESOLUTION and
        // FRAME-RATE are recommended for every variant.
        push(
            &mut out,
            format_args!("#EXT-X-STREAM-INF:BANDWIDTH={}", variant.bandwidth),
        );
        if let Some(average) = variant.average_bandwidth {
            push(&mut out, format_args!(",AVERAGE-BANDWIDTH={average}"));
        }
        push(
            &mut out,
            format_args!(",CODECS=\"{}\"", variant.codecs.as_str()),
        );
        if let Some(Resolution { width, height }) = variant.resolution {
            push(&mut out, format_args!(",RESOLUTION={width}x{height}"));
        }
        if let Some(rate) = variant.frame_rate.filter(|r| r.is_finite() && *r > 0.0) {
            // RFC 8216bis §4.4.6.2: FRAME-RATE "SHOULD be rounded to three decimal places".
            if rate <= MAX_FRAME_RATE {
                push(&mut out, format_args!(",FRAME-RATE={rate:.3}"));
            }
        }
        out.push('\n');
        push_line(&mut out, format_args!("{}/index.m3u8", variant.name));
    }
    out
}
