//! Moderation frames on the home room (`docs/chat-protocol.md` §8): delete, ban, unban,
//! slow mode, each sequenced as a `system` event.

use std::time::{Duration, Instant};

use chat_proto::{
    ChatClaims, ClientFrame, ErrorCode, EventKind, ModAction, ServerFrame, SystemEvent,
};

use super::HomeRoom;
use crate::room::error_frame;

impl HomeRoom {
    pub(super) async fn moderate(
        &mut self,
        claims: &ChatClaims,
        frame: ClientFrame,
        now: Instant,
        now_ms: i64,
    ) -> Option<ServerFrame> {
        let refuse = |metrics: &crate::metrics::ChatMetrics, code: ErrorCode, message: String| {
            metrics.reject(code.as_str());
            Some(error_frame(code, message, None, None, None))
        };
        if let Err(refusal) = self.moderation.check_moderator(claims) {
            return refuse(
                &self.ctx.metrics,
                refusal.code(),
                "only hosts and moderators".into(),
            );
        }
        let by = claims.user_id.clone();
        let (action, notice) = match frame {
            ClientFrame::Delete { seq } => {
                return match self.sequencer.apply_delete(seq, &by, now_ms) {
                    Ok(tombstone) => {
                        self.publish(tombstone, now).await;
                        self.log.mark_deleted(seq).await;
                        None
                    }
                    Err(error) => refuse(&self.ctx.metrics, error.code(), error.to_string()),
                };
            }
            ClientFrame::Ban { user_id, .. } if self.hosts.contains(&user_id) => {
                return refuse(
                    &self.ctx.metrics,
                    ErrorCode::Forbidden,
                    "the host cannot be banned".into(),
                );
            }
            ClientFrame::Ban {
                user_id,
                duration_s,
            } => {
                let until_ms = duration_s.map(|s| {
                    now_ms.saturating_add(i64::try_from(s).unwrap_or(i64::MAX).saturating_mul(1000))
                });
                let duration = duration_s.map(Duration::from_secs);
                let action = ModAction::Ban {
                    user_id: user_id.clone(),
                    duration,
                };
                (
                    action,
                    SystemEvent::Banned {
                        user_id,
                        until_ms,
                        by,
                    },
                )
            }
            ClientFrame::Unban { user_id } => (
                ModAction::Unban {
                    user_id: user_id.clone(),
                },
                SystemEvent::Unbanned { user_id, by },
            ),
            ClientFrame::SlowMode { interval_s } => (
                ModAction::SlowMode {
                    interval: Duration::from_secs(u64::from(interval_s)),
                },
                SystemEvent::SlowMode { interval_s, by },
            ),
            _ => return None,
        };
        if let Err(refusal) = self.moderation.apply(action, now) {
            return refuse(&self.ctx.metrics, refusal.code(), refusal.to_string());
        }
        let event = self.sequencer.sequence(EventKind::System(notice), now_ms);
        self.publish(event, now).await;
        None
    }
}
