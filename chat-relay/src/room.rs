//! Rooms: the registry of rooms this relay holds, the handle sessions talk to, and the task
//! that drives each room.
//!
//! One task per room owns all of the room's state (a [`RoomRole`]); sessions send it
//! [`Command`]s and get their answer on a oneshot. Events go out once per room on a
//! `tokio::sync::broadcast` of pre-encoded frames ([`Fanout`]), so a message is encoded once,
//! whatever the number of clients.
//!
//! **Invariant:** a room's connection count only grows under the registry lock, and a room
//! closes itself (idle) only under that lock with the count at zero, so a session never joins
//! a room that is going away.

pub(crate) mod home;
mod log;
mod mirror;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use axum::extract::ws::Utf8Bytes;
use chat_proto::{ChatClaims, ClientFrame, ServerFrame};
use node::shutdown::Shutdown;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinSet;
use tracing::Instrument as _;

use crate::config::ChatSection;
use crate::fanout::Outlet;
use crate::federation::{Federation, LookupError};
use crate::metrics::ChatMetrics;

/// Commands queued per room before senders wait.
const COMMAND_QUEUE: usize = 1024;

/// What every room task shares.
#[derive(Debug)]
pub(crate) struct RoomContext {
    pub(crate) chat: ChatSection,
    pub(crate) store: store::Store,
    pub(crate) metrics: ChatMetrics,
    pub(crate) shutdown: Shutdown,
    pub(crate) federation: Arc<Federation>,
}

/// The rooms this relay holds.
#[derive(Debug)]
pub(crate) struct Rooms {
    ctx: Arc<RoomContext>,
    rooms: Mutex<HashMap<String, RoomHandle>>,
    tasks: Mutex<JoinSet<()>>,
}

/// A session's way to a room.
#[derive(Debug, Clone)]
pub(crate) struct RoomHandle {
    commands: mpsc::Sender<Command>,
    pub(crate) stats: Arc<RoomStats>,
}

/// Counters of one room, read by `/v1/rooms` and heartbeats. Cumulative since the room opened
/// on this relay.
#[derive(Debug, Default)]
pub(crate) struct RoomStats {
    pub(crate) connections: AtomicU64,
    pub(crate) messages: AtomicU64,
    pub(crate) likes: AtomicU64,
    pub(crate) gift_value: AtomicU64,
    pub(crate) last_seq: AtomicU64,
    /// The room's like total as last broadcast (on the home: written to the database first;
    /// on a mirror: the home's last `likes_total`). Not cumulative since open: the room's.
    pub(crate) likes_total: AtomicU64,
    /// The room is mirrored from another relay (its home).
    pub(crate) mirror: AtomicBool,
}

/// One connection's membership in a room; leaving is dropping it.
#[derive(Debug)]
pub(crate) struct Member {
    stats: Arc<RoomStats>,
    metrics: ChatMetrics,
}

/// A request from a session to its room.
#[derive(Debug)]
pub(crate) enum Command {
    /// A `welcome` for a new connection (`since` from the URL) or a `resume`, with a fresh
    /// subscription to the room's events that starts right after the welcome's `last_seq`.
    Welcome {
        claims: ChatClaims,
        since: Option<u64>,
        /// The connection the room queues the welcome to, then its events.
        outlet: Arc<Outlet>,
        reply: oneshot::Sender<Joined>,
    },
    /// A decoded client frame; the answer (`ack`, `error`) or `None`.
    Frame {
        claims: ChatClaims,
        frame: ClientFrame,
        reply: oneshot::Sender<Option<ServerFrame>>,
    },
    /// Federation (home only): a link subscribes from `after_seq` (`None`: a fresh mirror).
    Subscribe {
        link: u64,
        after_seq: Option<u64>,
        reply: oneshot::Sender<Subscription>,
    },
    /// Federation (home only): the link is gone or no longer mirrors the room.
    Unsubscribe { link: u64 },
    /// Federation (home only): likes counted on another relay.
    LikesDelta { delta: u64 },
    /// Federation (home only): the link's relay holds `count` clients of the room.
    ViewerCount { link: u64, count: u64 },
}

/// The answer to [`Command::Subscribe`].
#[derive(Debug)]
pub(crate) enum Subscription {
    /// Send `first` (`subscribed`, then any catch-up as `sequenced`), then every frame of
    /// `events`: the room's federation broadcast, encoded once for every link.
    Home {
        first: Vec<Utf8Bytes>,
        events: broadcast::Receiver<Utf8Bytes>,
    },
    /// This relay is not the room's home.
    NotHome,
}

/// Why a room could not be opened; its sessions close with 1011 and their clients retry.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OpenError {
    /// Restoring the room from the database failed.
    #[error("cannot restore the room from the database: {0}")]
    Store(#[from] store::StoreError),
    /// Nobody could say which relay is the room's home.
    #[error(transparent)]
    Lookup(#[from] LookupError),
}

/// The answer to [`Command::Welcome`]: the welcome is queued to the connection, and the
/// room's events after it follow.
#[derive(Debug)]
pub(crate) struct Joined {
    /// The welcome's `last_seq`.
    pub(crate) last_seq: u64,
}

/// One broadcast frame, encoded once for every client of the room (the fan-out frames it once
/// for all of them: `fanout::Hub`).
#[derive(Debug, Clone)]
pub(crate) struct Fanout {
    pub(crate) text: Utf8Bytes,
    /// The event's seq, for sequenced events.
    pub(crate) seq: Option<u64>,
    /// When it was sequenced (or coalesced), for the fan-out delay.
    pub(crate) at: Instant,
    /// Not a frame: the room's history was replaced (a mirror reset, a promotion to home);
    /// every session asks for a new `welcome` from its last seq.
    pub(crate) resync: bool,
}

/// What this relay is for a room, behind the same [`Command`] interface for sessions.
#[derive(Debug)]
pub(crate) enum RoomRole {
    /// This relay sequences, moderates and persists the room.
    Home(Box<home::HomeRoom>),
    /// Another relay is the home: this one mirrors its events and forwards to it.
    Mirror(Box<mirror::MirrorRoom>),
}

impl RoomRole {
    /// Asks who the room's home is, then opens the room in that role.
    async fn open(
        name: String,
        ctx: Arc<RoomContext>,
        stats: Arc<RoomStats>,
        rooms: Weak<Rooms>,
    ) -> Result<Self, OpenError> {
        let home = ctx.federation.home_of(&name).await?;
        if ctx.federation.is_self(&home) {
            let room = home::HomeRoom::open(name, ctx, stats, rooms, None).await?;
            return Ok(Self::Home(Box::new(room)));
        }
        let room = mirror::MirrorRoom::new(name, ctx, stats, rooms, &home);
        Ok(Self::Mirror(Box::new(room)))
    }

    async fn run(self, commands: mpsc::Receiver<Command>) {
        match self {
            Self::Home(room) => room.run(commands).await,
            Self::Mirror(room) => {
                if let Some(promoted) = room.run(commands).await {
                    promoted.run().await;
                }
            }
        }
    }
}

impl Rooms {
    pub(crate) fn new(ctx: Arc<RoomContext>) -> Arc<Self> {
        Arc::new(Self {
            ctx,
            rooms: Mutex::new(HashMap::new()),
            tasks: Mutex::new(JoinSet::new()),
        })
    }

    /// Joins `name`, opening the room (restored from the database by its task) if this relay
    /// does not hold it yet.
    pub(crate) fn join(self: &Arc<Self>, name: &str) -> (RoomHandle, Member) {
        let mut rooms = lock(&self.rooms);
        let handle = self.held_or_open(&mut rooms, name);
        handle.stats.connections.fetch_add(1, Ordering::Relaxed);
        self.ctx.metrics.connections.inc();
        let member = Member {
            stats: handle.stats.clone(),
            metrics: self.ctx.metrics.clone(),
        };
        (handle, member)
    }

    /// The handle of `name` for a federation link, opening the room if needed; unlike
    /// [`Self::join`] it adds no connection.
    pub(crate) fn handle(self: &Arc<Self>, name: &str) -> RoomHandle {
        let mut rooms = lock(&self.rooms);
        self.held_or_open(&mut rooms, name)
    }

    fn held_or_open(
        self: &Arc<Self>,
        rooms: &mut HashMap<String, RoomHandle>,
        name: &str,
    ) -> RoomHandle {
        if let Some(handle) = rooms.get(name).filter(|h| !h.commands.is_closed()) {
            return handle.clone();
        }
        let handle = self.open(name);
        rooms.insert(name.to_owned(), handle.clone());
        self.ctx
            .metrics
            .rooms
            .set(i64::try_from(rooms.len()).unwrap_or(i64::MAX));
        handle
    }

    /// The rooms held now, by name.
    pub(crate) fn snapshot(&self) -> Vec<(String, Arc<RoomStats>)> {
        let mut rooms: Vec<_> = lock(&self.rooms)
            .iter()
            .map(|(name, handle)| (name.clone(), handle.stats.clone()))
            .collect();
        rooms.sort_by(|a, b| a.0.cmp(&b.0));
        rooms
    }

    /// Waits for every room task to end (they end on shutdown after flushing their log), at
    /// most `deadline`.
    pub(crate) async fn wait_closed(&self, deadline: Duration) {
        let mut tasks = std::mem::take(&mut *lock(&self.tasks));
        let all = async { while tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(deadline, all).await.is_err() {
            tracing::warn!(?deadline, "rooms still flushing at the drain deadline");
        }
    }

    /// Removes `name` if nobody is connected; called by the room's own task when idle or
    /// failed. Returns whether it was removed.
    fn remove_if_idle(&self, name: &str, stats: &Arc<RoomStats>) -> bool {
        let mut rooms = lock(&self.rooms);
        if stats.connections.load(Ordering::Relaxed) > 0 {
            return false;
        }
        if rooms
            .get(name)
            .is_some_and(|h| Arc::ptr_eq(&h.stats, stats))
        {
            rooms.remove(name);
            self.ctx
                .metrics
                .rooms
                .set(i64::try_from(rooms.len()).unwrap_or(i64::MAX));
        }
        true
    }

    fn open(self: &Arc<Self>, name: &str) -> RoomHandle {
        let (commands, receiver) = mpsc::channel(COMMAND_QUEUE);
        let stats = Arc::new(RoomStats::default());
        let (ctx, weak, name) = (self.ctx.clone(), Arc::downgrade(self), name.to_owned());
        let task_stats = stats.clone();
        let mut tasks = lock(&self.tasks);
        while tasks.try_join_next().is_some() {}
        let span = tracing::info_span!("room", room = %name);
        let task = async move {
            match RoomRole::open(name.clone(), ctx, task_stats.clone(), weak.clone()).await {
                Ok(role) => role.run(receiver).await,
                Err(error) => {
                    tracing::error!(room = %name, %error, "cannot open the room");
                    // Dropping the receiver fails every queued command: those sessions close
                    // with 1011 and their clients reconnect.
                    drop(receiver);
                    if let Some(rooms) = weak.upgrade() {
                        rooms.forget(&name, &task_stats);
                    }
                }
            }
        };
        tasks.spawn(task.instrument(span));
        RoomHandle { commands, stats }
    }

    /// Drops the registry entry of a room whose task ended, members or not.
    fn forget(&self, name: &str, stats: &Arc<RoomStats>) {
        let mut rooms = lock(&self.rooms);
        if rooms
            .get(name)
            .is_some_and(|h| Arc::ptr_eq(&h.stats, stats))
        {
            rooms.remove(name);
            self.ctx
                .metrics
                .rooms
                .set(i64::try_from(rooms.len()).unwrap_or(i64::MAX));
        }
    }
}

impl RoomHandle {
    /// Queues `command`; `false` if the room's task has ended.
    pub(crate) async fn send(&self, command: Command) -> bool {
        self.commands.send(command).await.is_ok()
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.stats.connections.fetch_sub(1, Ordering::Relaxed);
        self.metrics.connections.dec();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An `error` frame; `retry_after` is rounded up to whole milliseconds.
pub(crate) fn error_frame(
    code: chat_proto::ErrorCode,
    message: impl Into<String>,
    client_id: Option<String>,
    idempotency_key: Option<String>,
    retry_after: Option<Duration>,
) -> ServerFrame {
    ServerFrame::Error {
        code,
        message: message.into(),
        client_id,
        idempotency_key,
        retry_after_ms: retry_after.map(ceil_ms),
    }
}

fn ceil_ms(duration: Duration) -> u64 {
    let ms = duration.as_millis() + u128::from(!duration.subsec_nanos().is_multiple_of(1_000_000));
    u64::try_from(ms).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(ceil_ms(Duration::from_micros(1500)), 2);
        assert_eq!(ceil_ms(Duration::from_millis(6000)), 6000);
        assert_eq!(ceil_ms(Duration::ZERO), 0);
    }
}
