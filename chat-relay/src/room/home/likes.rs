//! The home room's like total (`docs/chat-protocol.md` §7.1): the room's `DurableLikeTotal`
//! decides when to write the total and when it may be shown; this module runs the writes (one
//! at a time, off the room task, at most one per `chat.like_interval`) and the broadcasts.
//!
//! **Invariant:** a `likes` / `likes_total` frame carries only a total the database holds, so a
//! home restarted after `kill -9` restores a total at least as large as any a client saw.

use std::sync::atomic::Ordering;
use std::time::Instant;

use chat_proto::{FederationFrame, LikeOutput, ServerFrame};

use super::{HomeRoom, wall_ms};

impl HomeRoom {
    /// Starts the writes and sends the broadcasts the like total asks for (its drain rule).
    pub(super) fn drain_likes(&mut self, now: Instant) {
        while let Some(output) = self.likes.poll_output() {
            match output {
                LikeOutput::Persist { total } => self.write_like_total(total),
                LikeOutput::Broadcast(flush) => {
                    self.stats.likes_total.store(flush.total, Ordering::Relaxed);
                    let frame = ServerFrame::Likes {
                        total: flush.total,
                        delta: flush.delta,
                    };
                    self.broadcast(&frame, "likes", None, now);
                    self.federate(&FederationFrame::LikesTotal {
                        room: self.name.clone(),
                        total: flush.total,
                        delta: flush.delta,
                    });
                }
            }
        }
    }

    /// A write finished: broadcast what it made durable, or retry later.
    pub(super) fn handle_likes_written(&mut self, total: u64, written: bool) {
        let now = node::clock::now();
        if written {
            self.likes.handle_persisted(total);
        } else {
            self.likes.handle_persist_failed(total, now);
        }
        self.drain_likes(now);
    }

    /// Writes the last flush and waits for it, so a clean shutdown loses no like and shows
    /// its clients the final total (a failing database gives up after one attempt: the
    /// stored total then stays at the last one written).
    pub(super) async fn close_likes(&mut self) {
        self.likes.flush();
        self.drain_likes(node::clock::now());
        while self.likes.is_writing() {
            let Some((total, written)) = self.likes_written_rx.recv().await else {
                break;
            };
            self.handle_likes_written(total, written);
        }
    }

    /// Writes `total` as the room's stored total on a task of its own; the outcome comes
    /// back on `likes_written`.
    fn write_like_total(&self, total: u64) {
        let (store, room, done) = (
            self.ctx.store.clone(),
            self.name.clone(),
            self.likes_written_tx.clone(),
        );
        let errors = self.ctx.metrics.like_write_errors.clone();
        tokio::spawn(async move {
            let stored = i64::try_from(total).unwrap_or(i64::MAX);
            let written = match store.save_like_total(&room, stored, wall_ms()).await {
                Ok(_) => true,
                Err(error) => {
                    errors.inc();
                    tracing::warn!(%room, %error, total, "like total not written; retrying");
                    false
                }
            };
            let _ = done.send((total, written));
        });
    }
}
