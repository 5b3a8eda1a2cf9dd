//! Playlist rendering: pure functions from window state to text.
//!
//! **Invariant:** the output depends only on the window, the request and the options, never on
//! time or on which node renders it, so origin and edges serve byte-identical playlists.

mod media;
mod multivariant;
#[cfg(test)]
mod tests;

use std::fmt::{self, Write as _};

pub use self::media::{
    HOLD_BACK_TARGET_DURATIONS, PART_HOLD_BACK_PART_TARGETS, PART_LISTING_TARGET_DURATIONS,
    SKIP_BOUNDARY_TARGET_DURATIONS, render_media,
};
pub use self::multivariant::{MAX_FRAME_RATE, Resolution, Variant, render_multivariant};
use crate::names::RenditionName;
use crate::window::PartWindow;

/// `EXT-X-VERSION` of media playlists that offer Playlist Delta Updates.
///
/// RFC 8216bis §7: a Playlist MUST indicate version 9 or higher if it contains `EXT-X-SKIP`.
/// The full playlist carries the same version as its delta so that the two agree line for line
/// outside the skipped range. Version 10 would be needed only for an `EXT-X-SKIP` that replaces
/// `EXT-X-DATERANGE` tags, which we never emit.
pub const VERSION_WITH_DELTA_UPDATES: u32 = 9;
/// `EXT-X-VERSION` of media playlists without delta updates.
///
/// RFC 8216bis §4.4.4.5 / §7: `EXT-X-MAP` in a playlist without `EXT-X-I-FRAMES-ONLY` requires
/// version 6 or higher; no other tag we emit needs more.
pub const VERSION_WITHOUT_DELTA_UPDATES: u32 = 6;

/// Per-request context for [`render_media`] that the window does not hold.
#[derive(Debug, Clone, Copy, Default)]
pub struct RenderOptions<'a> {
    /// Where the other renditions of the stream are, for `EXT-X-RENDITION-REPORT`.
    pub rendition_reports: &'a [RenditionReport],
}

/// The live edge of another rendition, rendered as
/// `#EXT-X-RENDITION-REPORT:URI="../{name}/index.m3u8",LAST-MSN=…,LAST-PART=…`
/// (RFC 8216bis §4.4.5.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenditionReport {
    /// The other rendition's directory name.
    pub name: RenditionName,
    /// Media Sequence Number of its last segment, or of its last part's segment.
    pub last_msn: u64,
    /// Part Index of its last part in `last_msn`, if it has parts.
    pub last_part: Option<u64>,
}

impl PartWindow {
    /// This window's live edge as a report for the *other* renditions' playlists, or `None`
    /// before the first part.
    pub fn rendition_report(&self, name: RenditionName) -> Option<RenditionReport> {
        let last = self.last_part()?;
        Some(RenditionReport {
            name,
            last_msn: last.msn,
            last_part: Some(last.index),
        })
    }
}

/// Appends formatted text. Writing to a `String` cannot fail.
fn push(out: &mut String, args: fmt::Arguments<'_>) {
    let _ = out.write_fmt(args);
}

/// Appends formatted text and a line end.
fn push_line(out: &mut String, args: fmt::Arguments<'_>) {
    push(out, args);
    out.push('\n');
}
