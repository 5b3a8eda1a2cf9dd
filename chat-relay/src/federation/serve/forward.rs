//! `forward` on the home: re-validated, rate-limited per user, then handed to the room as a
//! local client's frame; the room's answer goes back as `reply` (§9.2).

use axum::extract::ws::Message;
use chat_proto::{ChatClaims, ClientFrame, ErrorCode, FederationFrame, ServerFrame};
use tokio::sync::oneshot;

use super::{ServedLink, encode};
use crate::room::{Command, error_frame};

impl ServedLink {
    pub(super) async fn forward(
        &mut self,
        forward_id: u64,
        room: String,
        claims: ChatClaims,
        frame: ClientFrame,
    ) {
        self.relay.federation.metrics.forwarded("in");
        let reply = move |frame| FederationFrame::Reply { forward_id, frame };
        let frame = match self.admit(&room, &claims, frame) {
            Ok(frame) => frame,
            Err(refusal) => {
                let _ = self
                    .out
                    .send(Message::Text(encode(&reply(Some(*refusal)))))
                    .await;
                return;
            }
        };
        let handle = match self.rooms.get(&room) {
            Some((handle, _)) => handle.clone(),
            None => self.relay.rooms.handle(&room),
        };
        let unavailable = crate::federation::unavailable(&frame);
        let (answer_tx, answer) = oneshot::channel();
        let command = Command::Frame {
            claims,
            frame,
            reply: answer_tx,
        };
        if !handle.send(command).await {
            let _ = self
                .out
                .send(Message::Text(encode(&reply(Some(unavailable)))))
                .await;
            return;
        }
        let out = self.out.clone();
        tokio::spawn(async move {
            let frame = answer.await.unwrap_or(Some(unavailable));
            let _ = out.send(Message::Text(encode(&reply(frame)))).await;
        });
    }

    /// Re-validates a forwarded frame (§9.2) and applies the per-user rate limit, as for a
    /// local client; the refusal otherwise.
    fn admit(
        &self,
        room: &str,
        claims: &ChatClaims,
        frame: ClientFrame,
    ) -> Result<ClientFrame, Box<ServerFrame>> {
        let relay = &self.relay;
        let (client_id, key) = crate::session::ids(&frame);
        let refuse = |code: ErrorCode, message: String, retry| {
            relay.metrics.reject(code.as_str());
            Box::new(error_frame(
                code,
                message,
                client_id.clone(),
                key.clone(),
                retry,
            ))
        };
        let frame = frame
            .validate(&relay.limits)
            .map_err(|e| refuse(e.code(), e.to_string(), None))?;
        if matches!(
            frame,
            ClientFrame::Like { .. } | ClientFrame::Ping {} | ClientFrame::Resume { .. }
        ) {
            return Err(refuse(
                ErrorCode::BadFrame,
                "handled by the edge relay, not forwarded".into(),
                None,
            ));
        }
        if !claims.allows_room(room) {
            return Err(refuse(
                ErrorCode::Forbidden,
                "the claims are for another room".into(),
                None,
            ));
        }
        if let Err(retry) = relay.users.check(&claims.user_id, node::clock::now()) {
            return Err(refuse(
                ErrorCode::RateLimited,
                "rate limited".into(),
                Some(retry),
            ));
        }
        Ok(frame)
    }
}
