//! [`MirrorRoom`]: a room whose home is another relay (`docs/chat-protocol.md` §9). Its task
//! owns the room's `RoomMirror` and a `LikeCoalescer` for its own clients, and talks to the
//! home over the federation link (`crate::federation`).
//!
//! - Welcomes and resumes are served from the mirror's history, exactly like the home's;
//!   held until the first `subscribed` arrives.
//! - Sequenced events are applied strictly in order and broadcast once to local sessions; a
//!   gap re-subscribes from the mirror's last seq; a reset makes every session re-welcome.
//! - `chat`, `gift` and moderation frames are forwarded; the link answers each one (the
//!   home's reply, or `unavailable`). Likes are coalesced here and sent as `likes_delta`.
//!   Nothing is persisted here: the home writes the chat log and commits gifts.
//! - Failover: a link down for `federation.home_grace` makes the room ask for its home again
//!   (and again every grace). A new home elsewhere: re-attach and re-subscribe. This relay:
//!   the task becomes the home ([`Promoted`]), restored from the shared database.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Instant;

use chat_proto::{ChatClaims, ClientFrame, LikeCoalescer, Resume, RoomMirror, ServerFrame};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

mod apply;
mod federated;

pub(crate) use federated::Promoted;

use super::{Command, Joined, RoomContext, RoomStats, Rooms, Subscription};
use crate::fanout::{Hub, Outlet};
use crate::federation::{LinkEvent, LinkHandle, LookupError, RoomHome};

/// A room mirrored from its home relay.
#[derive(Debug)]
pub(crate) struct MirrorRoom {
    name: String,
    ctx: Arc<RoomContext>,
    stats: Arc<RoomStats>,
    rooms: Weak<Rooms>,
    mirror: RoomMirror,
    likes: LikeCoalescer,
    events: Hub,
    link: LinkHandle,
    link_events: Option<mpsc::Receiver<LinkEvent>>,
    up: bool,
    /// While the link is down: when to ask for the room's home again.
    relookup_at: Option<Instant>,
    relookup: Option<JoinHandle<Result<RoomHome, LookupError>>>,
    /// Welcomes waiting for the first `subscribed`.
    held: Vec<Command>,
    /// The client count last reported to the home.
    viewers_sent: Option<u64>,
    next_tick: Instant,
    idle_since: Option<Instant>,
}

impl MirrorRoom {
    /// A mirror of `name` homed on `home`; attaches to (or dials) the link to it.
    pub(crate) fn new(
        name: String,
        ctx: Arc<RoomContext>,
        stats: Arc<RoomStats>,
        rooms: Weak<Rooms>,
        home: &RoomHome,
    ) -> Self {
        let (link, link_events) = ctx.federation.attach(home, &name);
        stats.mirror.store(true, Ordering::Relaxed);
        tracing::info!(home = %home.relay_id, "room opened as a mirror");
        let chat = &ctx.chat;
        let now = node::clock::now();
        Self {
            mirror: RoomMirror::new(chat.room_config()),
            likes: LikeCoalescer::new(chat.like_interval, 0),
            events: Hub::spawn(chat.fanout_buffer, ctx.metrics.clone()),
            link,
            link_events: Some(link_events),
            up: false,
            relookup_at: Some(now + ctx.federation.config.home_grace),
            relookup: None,
            held: Vec::new(),
            viewers_sent: None,
            next_tick: now + chat.viewers_interval,
            idle_since: None,
            name,
            ctx,
            stats,
            rooms,
        }
    }

    /// Serves until shutdown or idleness (`None`), or until this relay became the room's
    /// home (`Some`: run the returned home).
    pub(crate) async fn run(mut self, mut commands: mpsc::Receiver<Command>) -> Option<Promoted> {
        let shutdown = self.ctx.shutdown.clone();
        loop {
            let wake = self.poll_timeout();
            tokio::select! {
                () = shutdown.triggered() => break,
                command = commands.recv() => match command {
                    Some(command) => self.handle(command),
                    None => break,
                },
                event = next_event(&mut self.link_events) => self.handle_link(event),
                found = finished(&mut self.relookup) => {
                    if self.handle_relookup(found) {
                        return Some(self.promote(commands));
                    }
                }
                () = tokio::time::sleep_until(wake.into()) => {
                    if !self.handle_timeout(node::clock::now()) {
                        break;
                    }
                }
            }
        }
        self.close();
        None
    }

    pub(super) fn handle(&mut self, command: Command) {
        match command {
            command @ Command::Welcome { .. } if !self.mirror.is_synced() => {
                self.held.push(command);
            }
            Command::Welcome {
                claims,
                since,
                outlet,
                reply,
            } => self.welcome(claims, since, outlet, reply),
            Command::Frame {
                claims,
                frame,
                reply,
            } => self.frame(claims, frame, reply),
            Command::Subscribe { reply, .. } => {
                let _ = reply.send(Subscription::NotHome);
            }
            Command::Unsubscribe { .. }
            | Command::LikesDelta { .. }
            | Command::ViewerCount { .. } => {}
        }
    }

    fn welcome(
        &mut self,
        claims: ChatClaims,
        since: Option<u64>,
        outlet: Arc<Outlet>,
        reply: oneshot::Sender<Joined>,
    ) {
        let (history, resumed) = match since.map(|after| self.mirror.resume(after)) {
            None => (self.mirror.welcome_history(), false),
            Some(Resume::Missed(events)) => (events, true),
            Some(Resume::TooOld { history }) => (history, false),
        };
        let welcome = ServerFrame::Welcome {
            room: self.name.clone(),
            user_id: claims.user_id,
            role: claims.role,
            last_seq: self.mirror.last_seq(),
            history,
            resumed,
        };
        let last_seq = self.mirror.last_seq();
        self.ctx.metrics.sent("welcome", 1);
        self.events.join(outlet, &welcome, last_seq);
        let _ = reply.send(Joined { last_seq });
    }

    fn frame(
        &mut self,
        claims: ChatClaims,
        frame: ClientFrame,
        reply: oneshot::Sender<Option<ServerFrame>>,
    ) {
        match frame {
            ClientFrame::Like { count } => {
                let (count, now) = (u64::from(count.unwrap_or(1)), node::clock::now());
                self.likes.handle_likes(count, now);
                self.stats.likes.fetch_add(count, Ordering::Relaxed);
                self.drain_likes();
                let _ = reply.send(None);
            }
            ClientFrame::Ping {} | ClientFrame::Resume { .. } => {
                let _ = reply.send(None);
            }
            frame if self.up => self.link.forward(&self.name, claims, frame, reply),
            frame => {
                self.ctx.federation.metrics.failed("link_down");
                let _ = reply.send(Some(crate::federation::unavailable(&frame)));
            }
        }
    }
}

/// The next link event; pending forever without a link.
async fn next_event(events: &mut Option<mpsc::Receiver<LinkEvent>>) -> Option<LinkEvent> {
    match events {
        Some(events) => events.recv().await,
        None => std::future::pending().await,
    }
}

/// The result of a running task, once; pending forever without one.
async fn finished<T>(task: &mut Option<JoinHandle<T>>) -> Option<T> {
    let Some(running) = task else {
        return std::future::pending().await;
    };
    let result = running.await.ok();
    *task = None;
    result
}
