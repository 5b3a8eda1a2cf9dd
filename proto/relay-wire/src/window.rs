//! [`RelayWindow`]: an [`hls::PartWindow`] plus what replication needs that the window does not
//! keep (per-part metadata, segment discontinuity flags), so it can answer a `Subscribe` with a
//! snapshot and a backfill.

mod snapshot;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use bytes::Bytes;
use hls::{
    ConfigError, PartInput, PartPosition, PartWindow, WindowConfig, WindowError, WindowEvent,
    WindowStart,
};

pub use self::snapshot::SnapshotAndBackfill;
use crate::frame::PartMeta;

/// One part as replication carries it: position, metadata and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicatedPart {
    /// Position in the window that holds it.
    pub position: PartPosition,
    /// Duration, flags and clocks.
    pub meta: PartMeta,
    /// `moof`+`mdat`.
    pub data: Bytes,
}

/// What changed in a [`RelayWindow`]: the window's own events, plus discontinuities (which
/// [`hls::PartWindow`] does not report and downstream subscribers must hear about).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayEvent {
    /// An event of the inner [`PartWindow`].
    Window(WindowEvent),
    /// The open segment (if any) closed after part `last`, and the next segment carries
    /// `EXT-X-DISCONTINUITY`.
    Discontinuity {
        /// The last part before the discontinuity.
        last: Option<PartPosition>,
    },
}

/// The window of one rendition on a node that replicates it: the origin (fed by its packager)
/// or an edge (fed by [`RelaySubscriber`](crate::RelaySubscriber)).
///
/// It forwards every input to its [`PartWindow`] and mirrors, for each served segment, the
/// metadata of its parts. Render playlists from [`window`](Self::window).
///
/// **Drain rule:** after every `handle_*` call, call [`poll_output`](Self::poll_output) until it
/// returns `None`, and hand each event to the node's [`RelayPublisher`](crate::RelayPublisher)s
/// ([`RelayPublisher::handle_window_event`](crate::RelayPublisher::handle_window_event)).
#[derive(Debug, Clone)]
pub struct RelayWindow {
    window: PartWindow,
    /// Served segments (listed and retired), oldest first, contiguous in msn.
    segments: VecDeque<LoggedSegment>,
    pending_discontinuity: bool,
    has_media: bool,
    events: VecDeque<RelayEvent>,
}

#[derive(Debug, Clone)]
struct LoggedSegment {
    msn: u64,
    discontinuity: bool,
    closed: bool,
    parts: Vec<PartMeta>,
}

impl RelayWindow {
    /// An empty window whose first segment is msn 0.
    pub fn new(config: WindowConfig) -> Result<Self, ConfigError> {
        Self::starting_at(config, WindowStart::default())
    }

    /// An empty window whose first segment is `start.msn` (see [`PartWindow::starting_at`]).
    pub fn starting_at(config: WindowConfig, start: WindowStart) -> Result<Self, ConfigError> {
        Ok(Self {
            window: PartWindow::starting_at(config, start)?,
            segments: VecDeque::new(),
            pending_discontinuity: start.discontinuity,
            has_media: false,
            events: VecDeque::new(),
        })
    }

    /// The window, for rendering and object lookups.
    pub fn window(&self) -> &PartWindow {
        &self.window
    }

    /// See [`PartWindow::handle_init`]. A generation above the current one is a discontinuity.
    pub fn handle_init(&mut self, generation: u32, data: Bytes) -> Result<(), WindowError> {
        let before = self.window.current_generation();
        self.window.handle_init(generation, data)?;
        self.pull_events();
        if before.is_some_and(|current| generation > current) {
            self.mark_discontinuity();
        }
        Ok(())
    }

    /// Appends a part made here (origin): see [`PartWindow::handle_part`]. `origin_time_us` is
    /// the wall clock now, µs since the Unix epoch, for downstream delay metrics.
    pub fn handle_part(
        &mut self,
        part: PartInput,
        origin_time_us: u64,
    ) -> Result<PartPosition, WindowError> {
        let position = self.window.next_part().ok_or(WindowError::Ended)?;
        let meta = PartMeta {
            generation: 0, // set in `log_part`
            duration: part.duration,
            independent: part.independent,
            ends_segment: part.ends_segment,
            discontinuity_before: false, // set in `log_part`
            program_date_time_ms: part.program_date_time_ms,
            origin_time_us,
        };
        self.window.handle_part_at(position, part)?;
        self.log_part(position, meta);
        Ok(position)
    }

    /// Appends a replicated part at `position`, which must be the window's next part. The
    /// generation and `discontinuity_before` of `meta` are ignored: the window's own state
    /// decides them.
    pub fn handle_part_at(
        &mut self,
        position: PartPosition,
        meta: PartMeta,
        data: Bytes,
    ) -> Result<(), WindowError> {
        let input = PartInput {
            data,
            duration: meta.duration,
            independent: meta.independent,
            ends_segment: meta.ends_segment,
            program_date_time_ms: meta.program_date_time_ms,
        };
        self.window.handle_part_at(position, input)?;
        self.log_part(position, meta);
        Ok(())
    }

    /// See [`PartWindow::handle_discontinuity`].
    pub fn handle_discontinuity(&mut self) -> Result<(), WindowError> {
        self.window.handle_discontinuity()?;
        self.pull_events();
        self.mark_discontinuity();
        Ok(())
    }

    /// See [`PartWindow::handle_end`].
    pub fn handle_end(&mut self) {
        self.window.handle_end();
        self.close_open_segment();
        self.pull_events();
    }

    /// Next queued event, oldest first. See the drain rule on [`RelayWindow`].
    pub fn poll_output(&mut self) -> Option<RelayEvent> {
        self.events.pop_front()
    }

    /// The part at `position` with its metadata, while the window serves it.
    pub fn replicated_part(&self, position: PartPosition) -> Option<ReplicatedPart> {
        let meta = *self
            .segment(position.msn)?
            .parts
            .get(usize::try_from(position.index).ok()?)?;
        let data = self.window.part(position.msn, position.index)?;
        Some(ReplicatedPart {
            position,
            meta,
            data,
        })
    }

    fn segment(&self, msn: u64) -> Option<&LoggedSegment> {
        let first = self.segments.front()?.msn;
        self.segments
            .get(usize::try_from(msn.checked_sub(first)?).ok()?)
    }

    fn log_part(&mut self, position: PartPosition, mut meta: PartMeta) {
        meta.generation = self.window.current_generation().unwrap_or(0);
        if position.index == 0 {
            let discontinuity = std::mem::take(&mut self.pending_discontinuity);
            self.segments.push_back(LoggedSegment {
                msn: position.msn,
                discontinuity,
                closed: false,
                parts: Vec::new(),
            });
            self.has_media = true;
        }
        meta.discontinuity_before =
            position.index == 0 && self.segments.back().is_some_and(|s| s.discontinuity);
        if let Some(open) = self.segments.back_mut() {
            open.parts.push(meta);
            open.closed = meta.ends_segment;
        }
        self.pull_events();
    }

    /// The window closed its open segment early and the next one is a discontinuity.
    fn mark_discontinuity(&mut self) {
        let open = self.segments.back().is_some_and(|s| !s.closed);
        let news = open || !self.pending_discontinuity;
        self.close_open_segment();
        self.pending_discontinuity |= self.has_media;
        // Repeats (a discontinuity frame, then the new init, then the part's flag) say nothing
        // new downstream.
        if self.has_media && news {
            let last = self.window.last_part();
            self.events.push_back(RelayEvent::Discontinuity { last });
        }
    }

    /// Marks the open segment's last part as ending it, so a backfill replays the early close.
    fn close_open_segment(&mut self) {
        if let Some(open) = self.segments.back_mut().filter(|s| !s.closed) {
            open.closed = true;
            if let Some(last) = open.parts.last_mut() {
                last.ends_segment = true;
            }
        }
    }

    fn pull_events(&mut self) {
        while let Some(event) = self.window.poll_output() {
            if let WindowEvent::Released { msn } = event {
                while self.segments.front().is_some_and(|s| s.msn <= msn) {
                    self.segments.pop_front();
                }
            }
            self.events.push_back(RelayEvent::Window(event));
        }
    }
}
