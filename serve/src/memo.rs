//! Render once per window state: the media playlist a window gives depends only on the window
//! and the request's `_HLS_skip` (a blocking request is answered with the same playlist as any
//! other once its part exists), so when a part wakes thousands of held requests, the first
//! renders and the rest share its bytes.

use bytes::Bytes;
use hls::{PartPosition, PartWindow, SkipRequest};

/// What a rendered media playlist depends on, read off the window: every change that alters
/// the playlist moves at least one of these (a part appended or a segment closed moves the
/// next part, an eviction only happens when a segment closes, an end or a new init generation
/// has its own field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    next_part: Option<PartPosition>,
    media_sequence: u64,
    discontinuity_sequence: u64,
    target_duration: u64,
    generation: Option<u32>,
    ended: bool,
}

impl Fingerprint {
    fn of(window: &PartWindow) -> Self {
        Self {
            next_part: window.next_part(),
            media_sequence: window.media_sequence(),
            discontinuity_sequence: window.discontinuity_sequence(),
            target_duration: window.target_duration(),
            generation: window.current_generation(),
            ended: window.is_ended(),
        }
    }
}

/// The media playlists rendered for the window's current state, one per `_HLS_skip` form.
#[derive(Debug, Default)]
pub(crate) struct PlaylistMemo {
    fingerprint: Option<Fingerprint>,
    rendered: [Option<Bytes>; 3],
}

impl PlaylistMemo {
    /// The playlist for `skip` on `window`, rendered by `render` only if this state has not
    /// been rendered for `skip` yet.
    pub(crate) fn get_or_render(
        &mut self,
        window: &PartWindow,
        skip: SkipRequest,
        render: impl FnOnce() -> String,
    ) -> Bytes {
        let fingerprint = Fingerprint::of(window);
        if self.fingerprint != Some(fingerprint) {
            self.fingerprint = Some(fingerprint);
            self.rendered = Default::default();
        }
        let slot = match skip {
            SkipRequest::Full => 0,
            SkipRequest::Segments => 1,
            SkipRequest::SegmentsAndDateRanges => 2,
        };
        self.rendered[slot]
            .get_or_insert_with(|| Bytes::from(render()))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hls::{PartInput, PlaylistQuery, RenderOptions, WindowConfig};

    use super::*;

    fn push(window: &mut PartWindow, n: u64) {
        window
            .handle_part(PartInput {
                data: Bytes::from(format!("p{n}")),
                duration: Duration::from_millis(200),
                independent: n.is_multiple_of(5),
                ends_segment: n % 5 == 4,
                program_date_time_ms: 1_700_000_000_000 + n * 200,
            })
            .unwrap();
        while window.poll_output().is_some() {}
    }

    fn render(window: &PartWindow, skip: SkipRequest) -> String {
        let query = PlaylistQuery {
            skip,
            ..PlaylistQuery::default()
        };
        hls::render_media(
            window,
            &query,
            &RenderOptions {
                rendition_reports: &[],
            },
        )
    }

    /// Whatever the window went through, the memo answers exactly what rendering now would.
    #[test]
    fn the_memo_always_equals_a_fresh_render() {
        let mut window = PartWindow::new(WindowConfig::default()).unwrap();
        window.handle_init(0, Bytes::from_static(b"init")).unwrap();
        let mut memo = PlaylistMemo::default();
        let mut renders = 0;
        for n in 0..120 {
            push(&mut window, n);
            if n == 59 {
                window.handle_discontinuity().unwrap();
                window.handle_init(1, Bytes::from_static(b"init1")).unwrap();
            }
            if n == 119 {
                window.handle_end();
            }
            while window.poll_output().is_some() {}
            for skip in [SkipRequest::Full, SkipRequest::Segments] {
                for _ in 0..3 {
                    let got = memo.get_or_render(&window, skip, || {
                        renders += 1;
                        render(&window, skip)
                    });
                    assert_eq!(got, render(&window, skip), "after part {n}, {skip:?}");
                }
            }
        }
        assert_eq!(renders, 2 * 120, "one render per state and form");
    }
}
