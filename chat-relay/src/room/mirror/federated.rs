//! The mirror room's link lifecycle and timers: link up/down, re-asking for the home after
//! `federation.home_grace`, switching links, promotion to home, viewer counts, idleness.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Instant;

use chat_proto::FederationFrame;
use tokio::sync::mpsc;

use super::MirrorRoom;
use crate::fanout::Hub;
use crate::federation::{LinkEvent, LookupError, RoomHome};
use crate::room::home::HomeRoom;
use crate::room::{Command, RoomContext, RoomStats, Rooms};

/// A mirror whose home became this relay: the room's task continues as its home, keeping
/// its command queue and its sessions' broadcast.
#[derive(Debug)]
pub(crate) struct Promoted {
    name: String,
    ctx: Arc<RoomContext>,
    stats: Arc<RoomStats>,
    rooms: Weak<Rooms>,
    events: Hub,
    commands: mpsc::Receiver<Command>,
    held: Vec<Command>,
}

impl Promoted {
    /// Restores the room from the database (the old home wrote its log there), makes every
    /// session re-welcome from it, and serves as the home.
    pub(crate) async fn run(self) {
        let Self {
            name,
            ctx,
            stats,
            rooms,
            events,
            commands,
            held,
        } = self;
        let opened = HomeRoom::open(
            name.clone(),
            ctx,
            stats.clone(),
            rooms.clone(),
            Some(events),
        )
        .await;
        match opened {
            Ok(mut home) => {
                tracing::info!("this relay is now the room's home");
                home.resync_sessions(node::clock::now());
                for command in held {
                    home.handle(command).await;
                }
                home.run(commands).await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot restore the room from the database");
                drop(commands);
                if let Some(rooms) = rooms.upgrade() {
                    rooms.forget(&name, &stats);
                }
            }
        }
    }
}

impl MirrorRoom {
    pub(super) fn handle_link(&mut self, event: Option<LinkEvent>) {
        match event {
            Some(LinkEvent::Up) => {
                self.up = true;
                self.relookup_at = None;
                self.subscribe(self.mirror.after_seq());
                self.viewers_sent = None;
                self.report_viewers();
            }
            Some(LinkEvent::Down) => self.set_down(),
            Some(LinkEvent::Frame(frame)) => self.handle_home(frame),
            None => {
                self.link_events = None;
                self.set_down();
            }
        }
    }

    fn set_down(&mut self) {
        self.up = false;
        if self.relookup_at.is_none() {
            self.relookup_at = Some(node::clock::now() + self.ctx.federation.config.home_grace);
        }
    }

    /// A lookup finished; `true` when this relay is now the home.
    pub(super) fn handle_relookup(&mut self, found: Option<Result<RoomHome, LookupError>>) -> bool {
        let home = match found {
            Some(Ok(home)) => home,
            Some(Err(error)) => {
                tracing::warn!(%error, "cannot find the room's home; retrying");
                return false;
            }
            None => return false,
        };
        if self.ctx.federation.is_self(&home) {
            return true;
        }
        if home.relay_id != self.link.peer {
            tracing::info!(old = %self.link.peer, new = %home.relay_id, "the room's home moved");
            let room = self.name.clone();
            self.link.send(FederationFrame::Unsubscribe { room });
            self.link.detach(&self.name);
            let (link, events) = self.ctx.federation.attach(&home, &self.name);
            (self.link, self.link_events, self.up) = (link, Some(events), false);
        }
        false
    }

    pub(super) fn promote(mut self, commands: mpsc::Receiver<Command>) -> Promoted {
        self.link.detach(&self.name);
        Promoted {
            name: self.name,
            ctx: self.ctx,
            stats: self.stats,
            rooms: self.rooms,
            events: self.events,
            commands,
            held: std::mem::take(&mut self.held),
        }
    }

    pub(super) fn poll_timeout(&self) -> Instant {
        let wake = self
            .likes
            .poll_timeout()
            .map_or(self.next_tick, |due| due.min(self.next_tick));
        self.relookup_at.map_or(wake, |at| at.min(wake))
    }

    /// Flushes likes, re-asks for the home when due, and once per `viewers_interval` reports
    /// a changed client count and checks idleness. `false` when the room closed itself.
    pub(super) fn handle_timeout(&mut self, now: Instant) -> bool {
        self.likes.handle_timeout(now);
        self.drain_likes();
        if let Some(at) = self.relookup_at.filter(|at| now >= *at) {
            let grace = self.ctx.federation.config.home_grace;
            self.relookup_at = Some(at.max(now) + grace);
            if self.relookup.is_none() {
                let (fed, room) = (self.ctx.federation.clone(), self.name.clone());
                self.relookup = Some(tokio::spawn(async move {
                    fed.lookup.invalidate(&room);
                    fed.lookup.home_of(&room).await
                }));
            }
        }
        if now < self.next_tick {
            return true;
        }
        self.next_tick = now + self.ctx.chat.viewers_interval;
        self.report_viewers();
        if self.stats.connections.load(Ordering::Relaxed) > 0 {
            self.idle_since = None;
            return true;
        }
        let since = *self.idle_since.get_or_insert(now);
        if now.saturating_duration_since(since) < self.ctx.chat.room_idle_timeout {
            return true;
        }
        let Some(rooms) = self.rooms.upgrade() else {
            return false;
        };
        !rooms.remove_if_idle(&self.name, &self.stats)
    }

    fn report_viewers(&mut self) {
        let count = self.stats.connections.load(Ordering::Relaxed);
        if self.up && self.viewers_sent != Some(count) {
            self.viewers_sent = Some(count);
            let room = self.name.clone();
            self.link.send(FederationFrame::ViewerCount { room, count });
        }
    }

    /// Flushes likes and leaves the home (held welcomes fail: those sessions reconnect).
    pub(super) fn close(mut self) {
        self.likes.flush();
        self.drain_likes();
        let room = self.name.clone();
        self.link.send(FederationFrame::Unsubscribe { room });
        self.link.detach(&self.name);
        tracing::info!(last_seq = self.mirror.last_seq(), "mirror closed");
    }
}
