//! The link's routing: commands from rooms (while up or down), frames from the home to their
//! room or forward, deadlines of forwards, and retiring a link without rooms.

use std::sync::PoisonError;
use std::time::Instant;

use chat_proto::FederationFrame;
use chat_proto::wire::{FederationError, decode_federation};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use super::{Link, LinkCommand, LinkEvent, Pending, text, unavailable};

impl Link {
    /// A command while connected; `false` if the writer is gone.
    pub(super) async fn handle_up(
        &mut self,
        command: LinkCommand,
        out: &mpsc::Sender<Message>,
    ) -> bool {
        let frame = match command {
            LinkCommand::Attach { room, events } => {
                let _ = events.send(LinkEvent::Up).await;
                self.rooms.insert(room, events);
                return true;
            }
            LinkCommand::Detach { room } => {
                self.rooms.remove(&room);
                return true;
            }
            LinkCommand::Send(frame) => frame,
            LinkCommand::Forward {
                room,
                claims,
                frame,
                reply,
            } => {
                let forward_id = self.fed.id();
                let deadline = node::clock::now() + self.fed.config.forward_timeout;
                let forward = FederationFrame::Forward {
                    forward_id,
                    origin_relay: self.fed.relay_id.clone(),
                    room,
                    claims,
                    frame: frame.clone(),
                };
                self.pending.insert(
                    forward_id,
                    Pending {
                        frame,
                        reply,
                        deadline,
                    },
                );
                self.fed.metrics.forwarded("out");
                forward
            }
        };
        out.send(text(&frame)).await.is_ok()
    }

    /// A command while disconnected: forwards fail at once, other frames wait for `Up`.
    pub(super) fn handle_down(&mut self, command: LinkCommand) {
        match command {
            LinkCommand::Attach { room, events } => {
                self.rooms.insert(room, events);
            }
            LinkCommand::Detach { room } => {
                self.rooms.remove(&room);
            }
            LinkCommand::Send(_) => {}
            LinkCommand::Forward { frame, reply, .. } => {
                self.fed.metrics.failed("link_down");
                let _ = reply.send(Some(unavailable(&frame)));
            }
        }
    }

    pub(super) async fn dispatch(&mut self, bytes: &[u8]) -> Result<(), FederationError> {
        let frame = decode_federation(bytes)?;
        let room = match &frame {
            &FederationFrame::Reply {
                forward_id,
                ref frame,
            } => {
                if let Some(pending) = self.pending.remove(&forward_id) {
                    let _ = pending.reply.send(frame.clone());
                }
                return Ok(());
            }
            FederationFrame::Subscribed { room, .. }
            | FederationFrame::Sequenced { room, .. }
            | FederationFrame::LikesTotal { room, .. }
            | FederationFrame::Viewers { room, .. }
            | FederationFrame::NotHome { room } => room.clone(),
            _ => return Err(FederationError::Invalid("an edge → home frame".into())),
        };
        if let Some(events) = self.rooms.get(&room)
            && events.send(LinkEvent::Frame(frame)).await.is_err()
        {
            self.rooms.remove(&room);
        }
        Ok(())
    }

    pub(super) fn expire(&mut self, now: Instant) {
        let late: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in late {
            if let Some(pending) = self.pending.remove(&id) {
                self.fed.metrics.failed("timeout");
                let _ = pending.reply.send(Some(unavailable(&pending.frame)));
            }
        }
    }

    /// With no rooms left, removes this link from the registry and ends it, unless a command
    /// (an `Attach`) arrived meanwhile. Attaches are sent under the same lock.
    pub(super) fn retire(&mut self) -> bool {
        let mut links = self
            .fed
            .links
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if !self.commands.is_empty() {
            return false;
        }
        if links.get(&self.peer).is_some_and(|h| h.id == self.id) {
            links.remove(&self.peer);
        }
        self.commands.close();
        tracing::info!("federation link retired: no rooms left");
        true
    }
}
