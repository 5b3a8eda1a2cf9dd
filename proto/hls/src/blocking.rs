//! Blocking Playlist Reload rules (RFC 8216bis §6.2.5.2): when a playlist request with
//! `_HLS_msn`/`_HLS_part` can be answered.

use std::time::Duration;

use crate::query::PlaylistQuery;
use crate::window::{PartPosition, PartWindow};

/// What to do with a playlist request now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockingDecision {
    /// Render and answer now (not blocking, satisfied, or the stream ended).
    Ready,
    /// Hold the request; ask again after the window's next event. After
    /// [`PartWindow::blocking_timeout`] answer 503 Service Unavailable.
    Wait,
    /// Answer 400 Bad Request: the request is too far past the live edge.
    TooFar,
}

impl PartWindow {
    /// Decides a playlist request against the current window.
    ///
    /// RFC 8216bis §6.2.5.2:
    /// - `_HLS_msn=M` alone is satisfied once "the Playlist contains a Media Segment with a Media
    ///   Sequence Number of M or later": a *closed* segment, since an open segment is listed
    ///   only through its parts.
    /// - `_HLS_msn=M&_HLS_part=P` is satisfied once the playlist "contains the Partial Segment
    ///   with Part Index N and with a Media Sequence Number of M or later". "If the Client
    ///   requests a Part Index greater than that of the final Partial Segment of the Parent
    ///   Segment, the Server MUST treat the request as one for Part Index 0 of the following
    ///   Parent Segment." Comparing (msn, part) lexicographically with the newest part covers
    ///   both: every part of segment M+1 sorts after (M, P) for any P.
    /// - "A Server MUST ignore _HLS_msn and _HLS_part if the Playlist contains an
    ///   EXT-X-ENDLIST tag."
    /// - 400 "if the _HLS_msn is greater than the Media Sequence Number of the last Media
    ///   Segment in the current Playlist plus two, or if the _HLS_part exceeds the last Partial
    ///   Segment in the current Playlist by the Advance Part Limit".
    /// - The request is satisfied even when segment M has already left the playlist ("even if
    ///   it is no longer in the Playlist").
    pub fn blocking_decision(&self, query: &PlaylistQuery) -> BlockingDecision {
        let Some(msn) = query.msn else {
            return BlockingDecision::Ready;
        };
        if self.is_ended() {
            return BlockingDecision::Ready;
        }
        let satisfied = match query.part {
            None => self.last_closed_msn().is_some_and(|closed| closed >= msn),
            Some(index) => self
                .last_part()
                .is_some_and(|last| last >= PartPosition { msn, index }),
        };
        if satisfied {
            return BlockingDecision::Ready;
        }
        // The msn of the newest segment listed (open or closed), or of the one about to start.
        let live_msn = self.last_part().map_or(self.next_msn(), |p| p.msn);
        if msn > live_msn.saturating_add(2) {
            return BlockingDecision::TooFar;
        }
        if let (Some(index), Some(next)) = (query.part, self.next_part()) {
            // How many parts past the newest one the request is (a lower bound when it names a
            // later segment, since we do not know how many parts the current one will get).
            let ahead = if msn == next.msn {
                index.saturating_sub(next.index).saturating_add(1)
            } else if msn > next.msn {
                index.saturating_add(1)
            } else {
                0
            };
            if ahead > self.advance_part_limit() {
                return BlockingDecision::TooFar;
            }
        }
        BlockingDecision::Wait
    }

    /// How long a blocked playlist request may wait before the server answers 503:
    /// three target durations (RFC 8216bis §6.2.5.2: "A Server that cannot provide the requested
    /// Playlist after blocking for more than three Target Durations SHOULD return Service
    /// Unavailable").
    pub fn blocking_timeout(&self) -> Duration {
        Duration::from_secs(self.target_duration().saturating_mul(3))
    }

    /// RFC 8216bis §6.2.5.2: "The Advance Part Limit is three divided by the Part Target Duration
    /// if the Part Target Duration is less than one second, or three otherwise." Rounded up, so
    /// a legitimate request is never refused by rounding.
    pub fn advance_part_limit(&self) -> u64 {
        let part_target = self.config().part_target.as_nanos().max(1);
        let three_seconds = Duration::from_secs(3).as_nanos();
        let limit = three_seconds.div_ceil(part_target).max(3);
        u64::try_from(limit).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Feed, window};

    fn decide(w: &PartWindow, q: &str) -> BlockingDecision {
        w.blocking_decision(&PlaylistQuery::parse(q).unwrap_or_default())
    }

    #[test]
    fn non_blocking_requests_are_ready() {
        let w = window();
        assert_eq!(decide(&w, ""), BlockingDecision::Ready);
        assert_eq!(decide(&w, "_HLS_skip=YES"), BlockingDecision::Ready);
    }

    #[test]
    fn part_requests_wait_for_that_part_or_later() {
        let mut w = window();
        let mut feed = Feed::default();
        feed.segments(&mut w, 2, 5); // msn 0,1 closed (parts 0..=4)
        feed.parts(&mut w, 2); // msn 2 open, parts 0,1
        assert_eq!(
            decide(&w, "_HLS_msn=2&_HLS_part=1"),
            BlockingDecision::Ready
        );
        assert_eq!(
            decide(&w, "_HLS_msn=1&_HLS_part=4"),
            BlockingDecision::Ready
        );
        assert_eq!(decide(&w, "_HLS_msn=2&_HLS_part=2"), BlockingDecision::Wait);
        assert_eq!(decide(&w, "_HLS_msn=3&_HLS_part=0"), BlockingDecision::Wait);
        feed.parts(&mut w, 1);
        assert_eq!(
            decide(&w, "_HLS_msn=2&_HLS_part=2"),
            BlockingDecision::Ready
        );
    }

    #[test]
    fn part_past_the_end_of_a_closed_segment_means_next_segment() {
        let mut w = window();
        let mut feed = Feed::default();
        feed.segments(&mut w, 2, 5);
        // Segment 1 has parts 0..=4; part 9 of it means part 0 of segment 2.
        assert_eq!(decide(&w, "_HLS_msn=1&_HLS_part=9"), BlockingDecision::Wait);
        feed.parts(&mut w, 1);
        assert_eq!(
            decide(&w, "_HLS_msn=1&_HLS_part=9"),
            BlockingDecision::Ready
        );
    }

    #[test]
    fn msn_requests_wait_for_a_closed_segment() {
        let mut w = window();
        let mut feed = Feed::default();
        feed.segments(&mut w, 1, 5);
        feed.parts(&mut w, 3);
        assert_eq!(decide(&w, "_HLS_msn=0"), BlockingDecision::Ready);
        assert_eq!(decide(&w, "_HLS_msn=1"), BlockingDecision::Wait);
        feed.parts_ending(&mut w, 1);
        assert_eq!(decide(&w, "_HLS_msn=1"), BlockingDecision::Ready);
    }

    #[test]
    fn far_requests_are_refused() {
        let mut w = window();
        let mut feed = Feed::default();
        feed.segments(&mut w, 1, 5);
        feed.parts(&mut w, 2); // live edge: msn 1 part 1
        assert_eq!(decide(&w, "_HLS_msn=3"), BlockingDecision::Wait);
        assert_eq!(decide(&w, "_HLS_msn=4"), BlockingDecision::TooFar);
        assert_eq!(
            decide(&w, "_HLS_msn=18446744073709551615"),
            BlockingDecision::TooFar
        );
        // Advance Part Limit at 200 ms: 15 parts.
        assert_eq!(w.advance_part_limit(), 15);
        assert_eq!(
            decide(&w, "_HLS_msn=1&_HLS_part=16"),
            BlockingDecision::Wait
        );
        assert_eq!(
            decide(&w, "_HLS_msn=1&_HLS_part=17"),
            BlockingDecision::TooFar
        );
        assert_eq!(
            decide(&w, "_HLS_msn=2&_HLS_part=14"),
            BlockingDecision::Wait
        );
        assert_eq!(
            decide(&w, "_HLS_msn=2&_HLS_part=15"),
            BlockingDecision::TooFar
        );
    }

    #[test]
    fn ended_streams_ignore_directives() {
        let mut w = window();
        Feed::default().segments(&mut w, 1, 5);
        w.handle_end();
        assert_eq!(
            decide(&w, "_HLS_msn=2&_HLS_part=0"),
            BlockingDecision::Ready
        );
    }

    #[test]
    fn empty_window_waits_for_the_first_segments() {
        let w = window();
        assert_eq!(decide(&w, "_HLS_msn=0&_HLS_part=0"), BlockingDecision::Wait);
        assert_eq!(decide(&w, "_HLS_msn=2"), BlockingDecision::Wait);
        assert_eq!(decide(&w, "_HLS_msn=3"), BlockingDecision::TooFar);
        assert_eq!(w.blocking_timeout(), Duration::from_secs(3));
    }
}
