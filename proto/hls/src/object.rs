//! Object names under a rendition (`init.mp4`, `part12.3.m4s`, `seg12.m4s`, `index.m3u8`) and
//! whether a request for one is served, held or refused.

use std::fmt;

use bytes::Bytes;

use crate::window::{PartPosition, PartWindow};

/// How many parts past the hinted one a part request may be held for. Clients request the hinted
/// part (RFC 8216bis §6.2.6); a client a little ahead of our playlist is held too, rather than
/// answered 404 and left to retry.
pub const HOLD_AHEAD_PARTS: u64 = 2;

/// A resource under a rendition's path, named as the media playlist names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaObject {
    /// The media playlist, `index.m3u8`.
    Playlist,
    /// An init segment: `init.mp4` for generation 0, `init-{g}.mp4` after.
    Init(u32),
    /// A part, `part{msn}.{index}.m4s`.
    Part(PartPosition),
    /// A segment, `seg{msn}.m4s`.
    Segment(u64),
}

/// Parses a file name of a rendition's directory. Only canonical names parse (no leading zeros,
/// no `init-0.mp4`), so each object has exactly one name and one cache key.
pub fn parse_object_name(name: &str) -> Option<MediaObject> {
    if name == "index.m3u8" {
        return Some(MediaObject::Playlist);
    }
    if name == "init.mp4" {
        return Some(MediaObject::Init(0));
    }
    if let Some(generation) = name
        .strip_prefix("init-")
        .and_then(|s| s.strip_suffix(".mp4"))
    {
        return canonical(generation)
            .and_then(|g| u32::try_from(g).ok())
            .filter(|g| *g > 0)
            .map(MediaObject::Init);
    }
    if let Some(msn) = name
        .strip_prefix("seg")
        .and_then(|s| s.strip_suffix(".m4s"))
    {
        return canonical(msn).map(MediaObject::Segment);
    }
    let (msn, index) = name
        .strip_prefix("part")?
        .strip_suffix(".m4s")?
        .split_once('.')?;
    Some(MediaObject::Part(PartPosition {
        msn: canonical(msn)?,
        index: canonical(index)?,
    }))
}

/// The file name [`parse_object_name`] reads back to the same object.
impl fmt::Display for MediaObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Playlist => f.write_str("index.m3u8"),
            Self::Init(0) => f.write_str("init.mp4"),
            Self::Init(generation) => write!(f, "init-{generation}.mp4"),
            Self::Part(PartPosition { msn, index }) => write!(f, "part{msn}.{index}.m4s"),
            Self::Segment(msn) => write!(f, "seg{msn}.m4s"),
        }
    }
}

/// What to answer to a request for a [`MediaObject`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectDecision {
    /// 200 with these bytes (immutable: cache for long).
    Serve(Bytes),
    /// The object is the hinted next part (or just past it), or the segment being built: hold
    /// the request and ask again after the window's next event; give up with 503 after
    /// [`PartWindow::blocking_timeout`].
    Wait,
    /// A playlist: use [`PartWindow::blocking_decision`] and the renderer.
    Playlist,
    /// 404: never existed here, or will not exist (e.g. a hinted part dropped by a
    /// discontinuity, RFC 8216bis §6.2.6: "SHOULD respond with 'Not Found'").
    NotFound,
    /// 410: older than anything this window still serves (evicted and released).
    Gone,
}

impl PartWindow {
    /// Decides a request for `object` against the current window.
    pub fn object_decision(&self, object: &MediaObject) -> ObjectDecision {
        match *object {
            MediaObject::Playlist => ObjectDecision::Playlist,
            MediaObject::Init(generation) => match self.init(generation) {
                Some(bytes) => ObjectDecision::Serve(bytes),
                None => ObjectDecision::NotFound,
            },
            MediaObject::Part(position) => {
                if let Some(bytes) = self.part(position.msn, position.index) {
                    return ObjectDecision::Serve(bytes);
                }
                if self.is_held_part(position) {
                    return ObjectDecision::Wait;
                }
                self.missing(position.msn)
            }
            MediaObject::Segment(msn) => {
                if let Some(bytes) = self.segment(msn) {
                    return ObjectDecision::Serve(bytes);
                }
                // The segment being built (or about to start) completes within a segment.
                match self.next_part() {
                    Some(next) if next.msn == msn => ObjectDecision::Wait,
                    _ => self.missing(msn),
                }
            }
        }
    }

    fn is_held_part(&self, position: PartPosition) -> bool {
        let Some(next) = self.next_part() else {
            return false;
        };
        if position.msn == next.msn {
            return (next.index..=next.index.saturating_add(HOLD_AHEAD_PARTS))
                .contains(&position.index);
        }
        // The hinted part may turn out to be the first of the next segment.
        position.msn == next.msn.saturating_add(1) && position.index < HOLD_AHEAD_PARTS
    }

    fn missing(&self, msn: u64) -> ObjectDecision {
        match self.oldest_served_msn() {
            Some(oldest) if msn < oldest => ObjectDecision::Gone,
            _ => ObjectDecision::NotFound,
        }
    }
}

/// A decimal number without sign or leading zeros ("0" itself is canonical).
fn canonical(digits: &str) -> Option<u64> {
    let canonical_form = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    if canonical_form {
        digits.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Feed, window};

    fn part(msn: u64, index: u64) -> MediaObject {
        MediaObject::Part(PartPosition { msn, index })
    }

    #[test]
    fn names_parse_canonically() {
        assert_eq!(parse_object_name("index.m3u8"), Some(MediaObject::Playlist));
        assert_eq!(parse_object_name("init.mp4"), Some(MediaObject::Init(0)));
        assert_eq!(parse_object_name("init-3.mp4"), Some(MediaObject::Init(3)));
        assert_eq!(
            parse_object_name("seg12.m4s"),
            Some(MediaObject::Segment(12))
        );
        assert_eq!(parse_object_name("part12.3.m4s"), Some(part(12, 3)));
        assert_eq!(parse_object_name("part0.0.m4s"), Some(part(0, 0)));
        for bad in [
            "init-0.mp4",
            "init-01.mp4",
            "init-4294967296.mp4",
            "seg.m4s",
            "seg012.m4s",
            "seg-1.m4s",
            "seg1.mp4",
            "part1.m4s",
            "part1.2.3.m4s",
            "part01.2.m4s",
            "part1.02.m4s",
            "part18446744073709551616.0.m4s",
            "index.m3u",
            "",
            "../seg1.m4s",
            "seg1.m4s?x",
        ] {
            assert_eq!(parse_object_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn names_round_trip() {
        for object in [
            MediaObject::Playlist,
            MediaObject::Init(0),
            MediaObject::Init(7),
            MediaObject::Segment(u64::MAX),
            part(u64::MAX, u64::MAX),
        ] {
            assert_eq!(parse_object_name(&object.to_string()), Some(object));
        }
    }

    #[test]
    fn decisions_follow_the_window() {
        let mut w = window();
        let mut feed = Feed::default();
        feed.segments(&mut w, 2, 5);
        feed.parts(&mut w, 2); // msn 2 open: parts 0, 1; hint is part 2.2
        let serve = |d: ObjectDecision| matches!(d, ObjectDecision::Serve(_));
        assert!(serve(w.object_decision(&part(2, 1))));
        assert!(serve(w.object_decision(&MediaObject::Segment(1))));
        assert!(serve(w.object_decision(&MediaObject::Init(0))));
        assert_eq!(w.object_decision(&part(2, 2)), ObjectDecision::Wait);
        assert_eq!(w.object_decision(&part(2, 4)), ObjectDecision::Wait);
        assert_eq!(w.object_decision(&part(2, 5)), ObjectDecision::NotFound);
        assert_eq!(w.object_decision(&part(3, 0)), ObjectDecision::Wait);
        assert_eq!(w.object_decision(&part(3, 2)), ObjectDecision::NotFound);
        assert_eq!(w.object_decision(&part(1, 5)), ObjectDecision::NotFound);
        assert_eq!(
            w.object_decision(&MediaObject::Segment(2)),
            ObjectDecision::Wait
        );
        assert_eq!(
            w.object_decision(&MediaObject::Segment(3)),
            ObjectDecision::NotFound
        );
        assert_eq!(
            w.object_decision(&MediaObject::Init(1)),
            ObjectDecision::NotFound
        );
        assert_eq!(
            w.object_decision(&MediaObject::Playlist),
            ObjectDecision::Playlist
        );
    }

    #[test]
    fn released_segments_are_gone() {
        let mut w = window();
        Feed::default().segments(&mut w, 40, 5);
        assert_eq!(
            w.object_decision(&MediaObject::Segment(0)),
            ObjectDecision::Gone
        );
        assert_eq!(w.object_decision(&part(0, 0)), ObjectDecision::Gone);
    }

    #[test]
    fn a_hinted_part_dropped_by_a_discontinuity_is_not_found() {
        let mut w = window();
        let mut feed = Feed::default();
        feed.segments(&mut w, 1, 5);
        feed.parts(&mut w, 2);
        assert_eq!(w.object_decision(&part(1, 2)), ObjectDecision::Wait);
        w.handle_discontinuity().expect("live");
        assert_eq!(w.object_decision(&part(1, 2)), ObjectDecision::NotFound);
        assert_eq!(w.object_decision(&part(2, 0)), ObjectDecision::Wait);
    }
}
