//! [`HomeRoom`]: a room this relay is home for (`docs/chat-protocol.md` §6–§8). Its task owns
//! the room's `RoomSequencer`, `Moderation`, `DurableLikeTotal` and gift bookkeeping, so nothing
//! is locked: sessions send [`Command`]s, the task answers each in turn.
//!
//! Per sequenced event, in this order: sequence → queue for the chat log → once the log has
//! written it (`ChatLog::durable`): broadcast (to local sessions, and once encoded as
//! `sequenced` to every federation link) → ack. Nothing is seen before it is durable, so a
//! crash never hands out a seq a client already holds (`Held`). Welcomes, resumes and
//! federation catch-ups likewise end at the durable seq.
//! A gift first commits in the ledger (off the task; the outcome comes back on a channel),
//! and is sequenced only if the commit was not a replay (or was, but its event never made it
//! to the log before a crash).
//! Likes follow the same rule per flush rather than per like (`likes`): the coalesced total
//! is written to the database, then broadcast.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Instant;

use axum::extract::ws::Utf8Bytes;
use chat_proto::{
    ChatClaims, ChatEvent, ChatRole, ClientFrame, DurableLikeTotal, EventKind, ModAction,
    Moderation, Resume, RoomSequencer, ServerFrame, Submitted, encode_server,
};
use store::StoreError;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

mod federate;
mod gift;
mod likes;
mod moderate;

use super::log::{self, ChatLog};
use super::{Command, Fanout, Joined, RoomContext, RoomStats, Rooms, error_frame};
use crate::fanout::Hub;
use crate::gifts::{Committed, GiftBook};

/// What is released once an event's seq is durable.
#[derive(Debug)]
pub(super) enum Held {
    /// The event's broadcast to sessions and federation links.
    Broadcast {
        event: ChatEvent,
        kind: &'static str,
        at: Instant,
    },
    /// Answers (acks) that carry the seq.
    Replies(Vec<oneshot::Sender<Option<ServerFrame>>>, ServerFrame),
}

/// A room sequenced on this relay.
#[derive(Debug)]
pub(crate) struct HomeRoom {
    name: String,
    ctx: Arc<RoomContext>,
    stats: Arc<RoomStats>,
    rooms: Weak<Rooms>,
    sequencer: RoomSequencer,
    moderation: Moderation,
    /// The room's like total: coalesced, written to the database, then broadcast.
    likes: DurableLikeTotal,
    /// Outcomes of like total writes: `(total, written)`.
    likes_written_tx: mpsc::UnboundedSender<(u64, bool)>,
    likes_written_rx: mpsc::UnboundedReceiver<(u64, bool)>,
    gifts: GiftBook,
    /// Users who joined with a host token: bans against them are refused.
    hosts: HashSet<String>,
    events: Hub,
    /// Federation frames (`sequenced`, `likes_total`, `viewers`), encoded once for all links.
    federation: broadcast::Sender<Utf8Bytes>,
    /// Subscribed federation links, with the client count each last reported.
    links: HashMap<u64, u64>,
    log: ChatLog,
    /// The highest seq the chat log has written.
    durable: watch::Receiver<u64>,
    /// What waits for its seq to be durable, in seq order.
    held: VecDeque<(u64, Held)>,
    committed_tx: mpsc::UnboundedSender<Committed>,
    committed_rx: mpsc::UnboundedReceiver<Committed>,
    viewers_sent: u64,
    next_tick: Instant,
    idle_since: Option<Instant>,
}

impl HomeRoom {
    /// Restores the room from the database: `last_seq` (so seqs continue after a restart), the
    /// history ring (so resumes and deletes work across restarts) and the like total (so it
    /// never goes back below a total clients were shown). `events` is the
    /// sessions' broadcast when a mirror is promoted to home (its sessions stay).
    pub(crate) async fn open(
        name: String,
        ctx: Arc<RoomContext>,
        stats: Arc<RoomStats>,
        rooms: Weak<Rooms>,
        events: Option<Hub>,
    ) -> Result<Self, StoreError> {
        let chat = &ctx.chat;
        let last = ctx.store.last_chat_seq(&name).await?.unwrap_or(0);
        let last = u64::try_from(last).unwrap_or(0);
        let mut records = Vec::new();
        let mut after = last.saturating_sub(u64::try_from(chat.history_len).unwrap_or(u64::MAX));
        while after < last {
            let from = i64::try_from(after).unwrap_or(i64::MAX);
            let page = ctx
                .store
                .chat_after(&name, from, store::MAX_PAGE_LIMIT)
                .await?;
            let Some(end) = page.last().and_then(|r| u64::try_from(r.seq).ok()) else {
                break;
            };
            after = end;
            records.extend(page);
        }
        let sequencer = RoomSequencer::restore(chat.room_config(), last, log::events(records));
        let likes_total = u64::try_from(ctx.store.like_total(&name).await?).unwrap_or(0);
        let now = node::clock::now();
        let mut moderation = Moderation::new(chat.max_text_chars);
        let _ = moderation.apply(
            ModAction::SlowMode {
                interval: chat.slow_mode,
            },
            now,
        );
        stats.last_seq.store(last, Ordering::Relaxed);
        stats.likes_total.store(likes_total, Ordering::Relaxed);
        stats.mirror.store(false, Ordering::Relaxed);
        tracing::info!(
            last_seq = last,
            likes_total,
            history = sequencer.history().count(),
            "room opened"
        );
        let (committed_tx, committed_rx) = mpsc::unbounded_channel();
        let (likes_written_tx, likes_written_rx) = mpsc::unbounded_channel();
        let log = ChatLog::spawn(ctx.store.clone(), name.clone(), ctx.metrics.clone(), last);
        Ok(Self {
            gifts: GiftBook::seeded(sequencer.history()),
            durable: log.durable(),
            held: VecDeque::new(),
            log,
            likes: DurableLikeTotal::new(chat.like_interval, likes_total),
            likes_written_tx,
            likes_written_rx,
            events: events.unwrap_or_else(|| Hub::spawn(chat.fanout_buffer, ctx.metrics.clone())),
            federation: broadcast::channel(chat.fanout_buffer.max(1)).0,
            links: HashMap::new(),
            next_tick: now + chat.viewers_interval,
            name,
            stats,
            rooms,
            sequencer,
            moderation,
            hosts: HashSet::new(),
            committed_tx,
            committed_rx,
            viewers_sent: 0,
            idle_since: None,
            ctx,
        })
    }

    /// Serves commands until shutdown or until the room has been idle long enough, then
    /// flushes likes, waits for gift commits in flight and drains the chat log.
    pub(crate) async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let shutdown = self.ctx.shutdown.clone();
        loop {
            let wake = self.poll_timeout();
            tokio::select! {
                () = shutdown.triggered() => break,
                command = commands.recv() => match command {
                    Some(command) => self.handle(command).await,
                    None => break,
                },
                Some(done) = self.committed_rx.recv() => self.handle_committed(done).await,
                Some((total, written)) = self.likes_written_rx.recv() => {
                    self.handle_likes_written(total, written);
                }
                Ok(()) = self.durable.changed() => self.release_durable(),
                () = tokio::time::sleep_until(wake.into()) => {
                    if !self.handle_timeout(node::clock::now()) {
                        break;
                    }
                }
            }
        }
        drop(commands);
        self.close().await;
    }

    pub(super) async fn handle(&mut self, command: Command) {
        match command {
            Command::Welcome {
                claims,
                since,
                outlet,
                reply,
            } => {
                // Everything durable goes out first, so the events after the welcome are
                // exactly those released after it.
                self.release_durable();
                if claims.role == ChatRole::Host {
                    self.hosts.insert(claims.user_id.clone());
                }
                let (mut history, resumed) = match since.map(|after| self.sequencer.resume(after)) {
                    None => (self.sequencer.welcome_history(), false),
                    Some(Resume::Missed(events)) => (events, true),
                    Some(Resume::TooOld { history }) => (history, false),
                };
                // Events not durable yet reach this session as broadcasts once they are.
                let durable = self.durable_seq();
                history.retain(|event| event.seq <= durable);
                let welcome = ServerFrame::Welcome {
                    room: self.name.clone(),
                    user_id: claims.user_id,
                    role: claims.role,
                    last_seq: durable,
                    history,
                    resumed,
                };
                self.ctx.metrics.sent("welcome", 1);
                self.events.join(outlet, &welcome, durable);
                let _ = reply.send(Joined { last_seq: durable });
            }
            Command::Frame {
                claims,
                frame,
                reply,
            } => self.handle_frame(claims, frame, reply).await,
            Command::Subscribe {
                link,
                after_seq,
                reply,
            } => self.subscribe_link(link, after_seq, reply),
            Command::Unsubscribe { link } => {
                self.links.remove(&link);
            }
            Command::LikesDelta { delta } => {
                let now = node::clock::now();
                self.likes.handle_likes(delta, now);
                self.drain_likes(now);
            }
            Command::ViewerCount { link, count } => {
                if let Some(last) = self.links.get_mut(&link) {
                    *last = count;
                }
            }
        }
    }

    async fn handle_frame(
        &mut self,
        claims: ChatClaims,
        frame: ClientFrame,
        reply: oneshot::Sender<Option<ServerFrame>>,
    ) {
        let (now, now_ms) = (node::clock::now(), wall_ms());
        if claims.role == ChatRole::Host {
            // A host chatting through another relay never sent this relay a welcome.
            self.hosts.insert(claims.user_id.clone());
        }
        let answer = match frame {
            ClientFrame::Chat { text, client_id } => self.chat(&claims, text, client_id, now).await,
            ClientFrame::Like { count } => self.like(&claims, count.unwrap_or(1), now),
            ClientFrame::Gift {
                gift_id,
                count,
                idempotency_key,
            } => {
                let count = count.unwrap_or(1);
                return self.gift(claims, gift_id, count, idempotency_key, reply, now, now_ms);
            }
            frame @ (ClientFrame::Delete { .. }
            | ClientFrame::Ban { .. }
            | ClientFrame::Unban { .. }
            | ClientFrame::SlowMode { .. }) => self.moderate(&claims, frame, now, now_ms).await,
            // Sessions answer these themselves.
            ClientFrame::Ping {} | ClientFrame::Resume { .. } => None,
        };
        self.reply_when_durable(vec![reply], answer);
    }

    async fn chat(
        &mut self,
        claims: &ChatClaims,
        text: String,
        client_id: Option<String>,
        now: Instant,
    ) -> Option<ServerFrame> {
        // §6.3: a retry is acked with the first seq before moderation can refuse it.
        let duplicate = client_id
            .as_deref()
            .and_then(|id| self.sequencer.duplicate_of(&claims.user_id, id));
        if let Some(seq) = duplicate {
            return Some(chat_ack(client_id, seq));
        }
        if let Err(refusal) = self.moderation.check_chat(claims, &text, now) {
            let code = refusal.code();
            self.ctx.metrics.reject(code.as_str());
            let retry = refusal.retry_after();
            return Some(error_frame(
                code,
                refusal.to_string(),
                client_id,
                None,
                retry,
            ));
        }
        let seq = match self
            .sequencer
            .submit_chat(claims, text, client_id.clone(), wall_ms())
        {
            Submitted::New(event) => {
                self.stats.messages.fetch_add(1, Ordering::Relaxed);
                self.publish(event, now).await
            }
            Submitted::Duplicate { seq } => seq,
        };
        Some(chat_ack(client_id, seq))
    }

    fn like(&mut self, claims: &ChatClaims, count: u32, now: Instant) -> Option<ServerFrame> {
        if let Err(refusal) = self.moderation.check_user(&claims.user_id, now) {
            self.ctx.metrics.reject(refusal.code().as_str());
            let retry = refusal.retry_after();
            return Some(error_frame(
                refusal.code(),
                refusal.to_string(),
                None,
                None,
                retry,
            ));
        }
        self.likes.handle_likes(u64::from(count), now);
        self.stats
            .likes
            .fetch_add(u64::from(count), Ordering::Relaxed);
        self.drain_likes(now);
        None
    }

    /// Queues `event` for the log, and its broadcast for when the log has written it; returns
    /// its seq.
    async fn publish(&mut self, event: ChatEvent, now: Instant) -> u64 {
        let seq = event.seq;
        let kind = match event.kind {
            EventKind::Chat(_) => "chat",
            EventKind::Gift(_) => "gift",
            EventKind::System(_) => "system",
        };
        self.log.append(&self.name, &event).await;
        self.stats.last_seq.store(seq, Ordering::Relaxed);
        self.when_durable(
            seq,
            Held::Broadcast {
                event,
                kind,
                at: now,
            },
        );
        seq
    }

    /// The highest seq the chat log has written.
    fn durable_seq(&self) -> u64 {
        *self.durable.borrow()
    }

    /// Sends `answer` to `replies` now, or, if it acks a seq the log has not written yet,
    /// once it has.
    pub(super) fn reply_when_durable(
        &mut self,
        replies: Vec<oneshot::Sender<Option<ServerFrame>>>,
        answer: Option<ServerFrame>,
    ) {
        match answer {
            Some(frame @ ServerFrame::Ack { seq: Some(seq), .. }) => {
                self.when_durable(seq, Held::Replies(replies, frame));
            }
            answer => {
                for reply in replies {
                    let _ = reply.send(answer.clone());
                }
            }
        }
    }

    /// Runs `held` once `seq` is durable (at once if it is and nothing older waits).
    fn when_durable(&mut self, seq: u64, held: Held) {
        if self.held.is_empty() && seq <= self.durable_seq() {
            self.release(held);
        } else {
            self.held.push_back((seq, held));
        }
    }

    /// Releases, in order, everything whose seq the log has now written.
    fn release_durable(&mut self) {
        let durable = *self.durable.borrow_and_update();
        while self.held.front().is_some_and(|(seq, _)| *seq <= durable) {
            if let Some((_, held)) = self.held.pop_front() {
                self.release(held);
            }
        }
    }

    fn release(&mut self, held: Held) {
        match held {
            Held::Broadcast { event, kind, at } => {
                let waited = node::clock::now().saturating_duration_since(at);
                self.ctx.metrics.durable_wait.observe(waited.as_secs_f64());
                let seq = event.seq;
                let frame = ServerFrame::Event(event);
                self.broadcast(&frame, kind, Some(seq), at);
                if let ServerFrame::Event(event) = frame {
                    let room = self.name.clone();
                    self.federate(&chat_proto::FederationFrame::Sequenced { room, event });
                }
            }
            Held::Replies(replies, frame) => {
                for reply in replies {
                    let _ = reply.send(Some(frame.clone()));
                }
            }
        }
    }

    fn broadcast(&self, frame: &ServerFrame, kind: &'static str, seq: Option<u64>, at: Instant) {
        let text = encode_server(frame).into();
        let fanout = Fanout {
            text,
            seq,
            at,
            resync: false,
        };
        let receivers = self.events.send(fanout);
        self.ctx
            .metrics
            .sent(kind, u64::try_from(receivers).unwrap_or(u64::MAX));
    }

    fn poll_timeout(&self) -> Instant {
        self.likes
            .poll_timeout()
            .map_or(self.next_tick, |due| due.min(self.next_tick))
    }

    /// Flushes due likes; once per `viewers_interval` broadcasts a changed viewer count and
    /// checks idleness. `false` when the room closed itself.
    fn handle_timeout(&mut self, now: Instant) -> bool {
        self.likes.handle_timeout(now);
        self.drain_likes(now);
        if now < self.next_tick {
            return true;
        }
        self.next_tick = now + self.ctx.chat.viewers_interval;
        self.moderation.prune(now);
        let local = self.stats.connections.load(Ordering::Relaxed);
        let count = self
            .links
            .values()
            .fold(local, |sum, n| sum.saturating_add(*n));
        if count != self.viewers_sent {
            self.viewers_sent = count;
            self.broadcast(&ServerFrame::Viewers { count }, "viewers", None, now);
            let room = self.name.clone();
            self.federate(&chat_proto::FederationFrame::Viewers { room, count });
        }
        if local > 0 || !self.links.is_empty() {
            self.idle_since = None;
            return true;
        }
        let since = *self.idle_since.get_or_insert(now);
        let idle = now.saturating_duration_since(since) >= self.ctx.chat.room_idle_timeout;
        if !idle || !self.gifts.is_idle() {
            return true;
        }
        let Some(rooms) = self.rooms.upgrade() else {
            return false;
        };
        !rooms.remove_if_idle(&self.name, &self.stats)
    }

    async fn close(mut self) {
        self.close_likes().await;
        while !self.gifts.is_idle() {
            match self.committed_rx.recv().await {
                Some(done) => self.handle_committed(done).await,
                None => break,
            }
        }
        self.log.close().await;
        // Everything queued is written now: release what still waited.
        self.release_durable();
        tracing::info!(
            last_seq = self.sequencer.last_seq(),
            "room closed, log flushed"
        );
    }
}

fn chat_ack(client_id: Option<String>, seq: u64) -> ServerFrame {
    ServerFrame::Ack {
        client_id,
        idempotency_key: None,
        seq: Some(seq),
        balance: None,
    }
}

fn wall_ms() -> i64 {
    i64::try_from(node::clock::unix_time_ms()).unwrap_or(i64::MAX)
}
