//! Applying what the home sends: `subscribed` and `sequenced` through the `RoomMirror` (gaps
//! re-subscribe, resets re-welcome every session), likes totals and viewer counts to the
//! sessions, `not_home` to a new lookup; and the room's own frames to the home.

use std::sync::atomic::Ordering;

use chat_proto::{FederationFrame, MirrorOutcome, MirrorOutput, ServerFrame, encode_server};

use super::MirrorRoom;
use crate::room::Fanout;

impl MirrorRoom {
    /// A frame of this room from the home.
    pub(super) fn handle_home(&mut self, frame: FederationFrame) {
        match frame {
            FederationFrame::Subscribed {
                last_seq,
                events,
                resumed,
                ..
            } => {
                let outcome = self.mirror.handle_subscribed(last_seq, events, resumed);
                self.after(outcome);
                for command in std::mem::take(&mut self.held) {
                    self.handle(command);
                }
            }
            FederationFrame::Sequenced { event, .. } => {
                let outcome = self.mirror.handle_sequenced(event);
                self.after(outcome);
            }
            FederationFrame::LikesTotal { total, delta, .. } => {
                self.stats.likes_total.store(total, Ordering::Relaxed);
                self.broadcast(&ServerFrame::Likes { total, delta }, "likes", None);
            }
            FederationFrame::Viewers { count, .. } => {
                self.broadcast(&ServerFrame::Viewers { count }, "viewers", None);
            }
            FederationFrame::NotHome { .. } => {
                tracing::info!(home = %self.link.peer, "the home says it is not the room's home");
                self.relookup_at = Some(node::clock::now());
            }
            _ => {}
        }
    }

    /// Catches up a gap, then drains the mirror's outputs to the sessions.
    pub(super) fn after(&mut self, outcome: MirrorOutcome) {
        if let MirrorOutcome::Gap { from, .. } = outcome {
            self.ctx.federation.metrics.gaps.inc();
            self.subscribe(Some(from.saturating_sub(1)));
        }
        let now_ms = i64::try_from(node::clock::unix_time_ms()).unwrap_or(i64::MAX);
        while let Some(output) = self.mirror.poll_output() {
            match output {
                MirrorOutput::Event(event) => {
                    let lag_ms = now_ms.saturating_sub(event.at_ms).max(0);
                    let lag = lag_ms as f64 / 1000.0;
                    self.ctx.federation.metrics.lag.observe(lag);
                    self.stats.last_seq.store(event.seq, Ordering::Relaxed);
                    let (seq, kind) = (event.seq, event_kind(&event));
                    self.broadcast(&ServerFrame::Event(event), kind, Some(seq));
                }
                MirrorOutput::Reset => {
                    self.stats
                        .last_seq
                        .store(self.mirror.last_seq(), Ordering::Relaxed);
                    let text = axum::extract::ws::Utf8Bytes::from_static("");
                    let at = node::clock::now();
                    self.events.send(Fanout {
                        text,
                        seq: None,
                        at,
                        resync: true,
                    });
                }
            }
        }
    }

    pub(super) fn subscribe(&self, after_seq: Option<u64>) {
        let room = self.name.clone();
        self.link
            .send(FederationFrame::Subscribe { room, after_seq });
    }

    pub(super) fn broadcast(&self, frame: &ServerFrame, kind: &'static str, seq: Option<u64>) {
        let text = encode_server(frame).into();
        let at = node::clock::now();
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

    pub(super) fn drain_likes(&mut self) {
        while let Some(flush) = self.likes.poll_output() {
            if self.up {
                let room = self.name.clone();
                self.link.send(FederationFrame::LikesDelta {
                    room,
                    delta: flush.delta,
                });
            }
        }
    }
}

fn event_kind(event: &chat_proto::ChatEvent) -> &'static str {
    match event.kind {
        chat_proto::EventKind::Chat(_) => "chat",
        chat_proto::EventKind::Gift(_) => "gift",
        chat_proto::EventKind::System(_) => "system",
    }
}
