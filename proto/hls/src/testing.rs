//! Fixtures for the crate's unit tests.

use std::time::Duration;

use bytes::Bytes;

use crate::config::WindowConfig;
use crate::window::{PartInput, PartWindow};

/// Milliseconds since the epoch of the first fixture part: 2025-11-25T08:56:00.000Z.
pub(crate) const START_MS: u64 = 1_764_060_960_000;

/// A default window with init generation 0 loaded and its events drained.
pub(crate) fn window() -> PartWindow {
    window_with(WindowConfig::default())
}

pub(crate) fn window_with(config: WindowConfig) -> PartWindow {
    let mut w = PartWindow::new(config).expect("valid config");
    w.handle_init(0, Bytes::from_static(b"init0"))
        .expect("first init");
    while w.poll_output().is_some() {}
    w
}

/// Feeds 200 ms parts whose bytes name their position, with a running wall clock.
#[derive(Debug, Default)]
pub(crate) struct Feed {
    pub(crate) elapsed_ms: u64,
}

impl Feed {
    /// `count` complete segments of `parts_per_segment` parts each.
    pub(crate) fn segments(&mut self, w: &mut PartWindow, count: usize, parts_per_segment: usize) {
        for _ in 0..count {
            self.parts(w, parts_per_segment - 1);
            self.parts_ending(w, 1);
        }
    }

    /// `count` parts that do not end their segment.
    pub(crate) fn parts(&mut self, w: &mut PartWindow, count: usize) {
        for _ in 0..count {
            self.part(w, false);
        }
    }

    /// `count` parts, the last of which ends its segment.
    pub(crate) fn parts_ending(&mut self, w: &mut PartWindow, count: usize) {
        for i in 0..count {
            self.part(w, i + 1 == count);
        }
    }

    fn part(&mut self, w: &mut PartWindow, ends_segment: bool) {
        let next = w.next_part().expect("window not ended");
        let input = PartInput {
            data: Bytes::from(format!("[{}.{}]", next.msn, next.index)),
            duration: Duration::from_millis(200),
            independent: next.index == 0,
            ends_segment,
            program_date_time_ms: START_MS + self.elapsed_ms,
        };
        w.handle_part(input).expect("valid part");
        self.elapsed_ms += 200;
    }
}
