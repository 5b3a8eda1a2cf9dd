//! Gifts on the home room: commit off the task, then sequence, ack and broadcast once
//! (`crate::gifts` has the ledger side and the replay rule).

use std::sync::atomic::Ordering;
use std::time::Instant;

use chat_proto::{ChatClaims, ErrorCode, EventKind, GiftEvent, ServerFrame};
use store::GiftRequest;
use tokio::sync::oneshot;

use super::{HomeRoom, wall_ms};
use crate::gifts::{self, Committed};
use crate::metrics::ReasonLabels;
use crate::room::error_frame;

impl HomeRoom {
    #[expect(
        clippy::too_many_arguments,
        reason = "one frame's fields plus the clocks"
    )]
    pub(super) fn gift(
        &mut self,
        claims: ChatClaims,
        gift_id: String,
        count: u32,
        key: String,
        reply: oneshot::Sender<Option<ServerFrame>>,
        now: Instant,
        now_ms: i64,
    ) {
        if let Err(refusal) = self.moderation.check_user(&claims.user_id, now) {
            self.ctx.metrics.reject(refusal.code().as_str());
            let (code, retry) = (refusal.code(), refusal.retry_after());
            let frame = error_frame(code, refusal.to_string(), None, Some(key), retry);
            let _ = reply.send(Some(frame));
            return;
        }
        if self.gifts.wait(&claims.user_id, &key, reply) {
            return;
        }
        let request = GiftRequest {
            idempotency_key: key,
            room: self.name.clone(),
            sender_id: claims.user_id,
            host_id: gifts::room_account(&self.name),
            gift_id,
            count: i64::from(count),
            at_ms: now_ms,
        };
        let (store, done) = (self.ctx.store.clone(), self.committed_tx.clone());
        tokio::spawn(async move {
            let _ = done.send(gifts::commit(store, request, claims.name, count).await);
        });
    }

    pub(super) async fn handle_committed(&mut self, done: Committed) {
        let Committed {
            request,
            name,
            count,
            result,
            logged_seq,
        } = done;
        let (user, key) = (&request.sender_id, &request.idempotency_key);
        let waiters = self.gifts.settle(user, key);
        let metrics = self.ctx.metrics.clone();
        let known_seq = self.gifts.seq_of(user, key);
        let frame = match result {
            // A fresh commit, or a replay whose event never reached the chat log (the relay
            // crashed between the commit and the log write, so nobody saw it): sequence it now.
            Ok(outcome)
                if !outcome.replayed
                    || (known_seq.is_none() && logged_seq == gifts::Logged::Absent) =>
            {
                let value = outcome.record.value;
                let gift = GiftEvent {
                    user_id: user.clone(),
                    name,
                    gift_id: outcome.record.gift_id,
                    count,
                    value,
                    idempotency_key: key.clone(),
                };
                let event = self.sequencer.sequence(EventKind::Gift(gift), wall_ms());
                let value = u64::try_from(value).unwrap_or(0);
                if !outcome.replayed {
                    metrics.gifts_committed.inc();
                    metrics.gift_value.inc_by(value);
                }
                self.stats.gift_value.fetch_add(value, Ordering::Relaxed);
                let seq = self.publish(event, node::clock::now()).await;
                self.gifts.remember(user, key, seq);
                gift_ack(key, Some(seq), outcome.sender_balance)
            }
            Ok(outcome) => {
                let seq = known_seq.or(match logged_seq {
                    gifts::Logged::Found(seq) => Some(seq),
                    gifts::Logged::Absent | gifts::Logged::Unknown => None,
                });
                gift_ack(key, seq, outcome.sender_balance)
            }
            Err(error) => {
                let (code, reason, message) = gifts::refusal(&error);
                metrics
                    .gift_errors
                    .get_or_create(&ReasonLabels { reason })
                    .inc();
                metrics.reject(code.as_str());
                if matches!(code, ErrorCode::Internal | ErrorCode::Unavailable) {
                    tracing::warn!(%error, "gift commit failed");
                }
                error_frame(code, message, None, Some(key.clone()), None)
            }
        };
        // An ack waits until its event is durable; refusals go at once.
        self.reply_when_durable(waiters, Some(frame));
    }
}

fn gift_ack(key: &str, seq: Option<u64>, balance: i64) -> ServerFrame {
    ServerFrame::Ack {
        client_id: None,
        idempotency_key: Some(key.to_owned()),
        seq,
        balance: Some(balance),
    }
}
