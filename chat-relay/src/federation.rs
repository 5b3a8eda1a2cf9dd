//! Federation (`docs/chat-protocol.md` §9): one conversation per room across relays.
//!
//! Every room has one home relay, found through a [`HomeLookup`] (the control plane's
//! `GET /v1/rooms/{room}/home`, or every room at home when standalone). A relay holding
//! clients of a room homed elsewhere runs the room as a mirror (`room::mirror`) and reaches
//! the home over a **link**: a WebSocket (`ws://`, or `wss://` when the home serves HTTPS) to
//! the home's `GET /federation` on its ordinary HTTP listener, authenticated with `Authorization: Bearer <node token>`, carrying
//! `FederationFrame` JSON text messages, `hello` first.
//!
//! - `link`: the mirror side. One outgoing link per peer home relay, multiplexing every room
//!   mirrored from it; it reconnects with backoff and tells each room when it is up again, so
//!   the room re-subscribes from its mirror's `after_seq`. It owns the forwards in flight and
//!   answers them `unavailable` when the link drops or the reply is late.
//! - `serve`: the home side. Accepts links, answers `subscribe` from the room's sequencer and
//!   streams the room's federation broadcast (encoded once per room per event), hands
//!   `forward`s to the room exactly like a local client's frame and sends back the `reply`.
//! - `lookup`: [`HomeLookup`] and its implementations.
//! - `tls`: the client side of `wss://` links (the home's certificate checked against
//!   `federation.tls_ca`); the home side is the relay's HTTPS listener (`http.tls_cert`).
//!
//! **Boundary:** a link is trusted once its bearer token matched: the home acts on the claims
//! in `forward` frames without a chat token.

mod link;
mod lookup;
mod metrics;
pub(crate) mod serve;
mod tls;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use node::shutdown::Shutdown;
use tokio::sync::mpsc;

pub use control_client::RoomHome;
pub(crate) use link::{LinkEvent, LinkHandle, unavailable};
pub use lookup::{ControlPlaneHomes, HomeLookup, LookupError, LookupFuture, StaticHomes};
pub use metrics::{DialFailureLabels, DirectionLabels, FailureLabels, FederationMetrics};
pub(crate) use tls::client_config as client_tls;

use crate::config::FederationSection;

/// Lookups tried before a room fails to open.
const LOOKUP_ATTEMPTS: u32 = 3;
/// Wait between two lookups at open.
const LOOKUP_RETRY: std::time::Duration = std::time::Duration::from_millis(300);
/// Events queued from a link to one mirrored room before the link waits for the room.
const ROOM_QUEUE: usize = 1024;

/// What rooms and the `/federation` endpoint share.
#[derive(Debug)]
pub(crate) struct Federation {
    /// This relay's node id (`node.id`), sent in `hello` and compared with lookup answers.
    pub(crate) relay_id: String,
    /// The node token links authenticate with; empty refuses every link.
    token: String,
    pub(crate) lookup: Arc<dyn HomeLookup>,
    pub(crate) config: FederationSection,
    pub(crate) metrics: FederationMetrics,
    pub(crate) shutdown: Shutdown,
    /// The TLS client config of `wss://` links (`federation.tls_ca`); `None`: no CA, so
    /// `wss://` homes cannot be dialed.
    tls: Option<Arc<node::rustls::ClientConfig>>,
    links: Mutex<HashMap<String, LinkHandle>>,
    next_id: AtomicU64,
}

impl Federation {
    pub(crate) fn new(
        relay_id: String,
        token: String,
        lookup: Arc<dyn HomeLookup>,
        config: FederationSection,
        metrics: FederationMetrics,
        shutdown: Shutdown,
        tls: Option<Arc<node::rustls::ClientConfig>>,
    ) -> Self {
        Self {
            relay_id,
            token,
            lookup,
            config,
            metrics,
            shutdown,
            tls,
            links: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
        }
    }

    /// The home of `room`, asking up to [`LOOKUP_ATTEMPTS`] times (a relay that just started
    /// may not be registered with the control plane yet).
    pub(crate) async fn home_of(&self, room: &str) -> Result<RoomHome, LookupError> {
        let mut attempt = 1;
        loop {
            match self.lookup.home_of(room).await {
                Ok(home) => return Ok(home),
                Err(error) if attempt < LOOKUP_ATTEMPTS => {
                    tracing::debug!(%error, attempt, "room home lookup failed; retrying");
                    tokio::time::sleep(LOOKUP_RETRY).await;
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Whether `home` is this relay.
    pub(crate) fn is_self(&self, home: &RoomHome) -> bool {
        home.relay_id == self.relay_id
    }

    /// Attaches `room` to the link toward its home (dialing it if there is none yet); the
    /// receiver gets `Up`, `Down` and the room's frames.
    pub(crate) fn attach(
        self: &Arc<Self>,
        home: &RoomHome,
        room: &str,
    ) -> (LinkHandle, mpsc::Receiver<LinkEvent>) {
        let (events, receiver) = mpsc::channel(ROOM_QUEUE);
        let mut links = self.links.lock().unwrap_or_else(PoisonError::into_inner);
        let handle = match links.get(&home.relay_id) {
            Some(handle) if !handle.is_closed() => handle.clone(),
            _ => {
                let url = federation_url(&home.ws_url);
                let handle = link::spawn(self.clone(), home.relay_id.clone(), url, self.id());
                links.insert(home.relay_id.clone(), handle.clone());
                handle
            }
        };
        // Under the registry lock, so a link retiring for lack of rooms cannot miss it.
        handle.attach(room, events);
        (handle, receiver)
    }

    /// Whether `presented` is the node token, compared in constant time.
    pub(crate) fn token_matches(&self, presented: &str) -> bool {
        let (a, b) = (self.token.as_bytes(), presented.as_bytes());
        !a.is_empty()
            && a.len() == b.len()
            && a.iter().zip(b).fold(0, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    /// A fresh id for a link or a forward.
    pub(crate) fn id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }
}

/// `ws://host/base/ws` → `ws://host/base/federation`.
pub(crate) fn federation_url(ws_url: &str) -> String {
    let base = ws_url.trim_end_matches('/');
    let base = base.strip_suffix("/ws").unwrap_or(base);
    format!("{base}/federation")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn federation_url_sits_beside_ws() {
        assert_eq!(
            federation_url("ws://10.0.0.1:8091/ws"),
            "ws://10.0.0.1:8091/federation"
        );
        assert_eq!(
            federation_url("wss://chat.example/base/ws/"),
            "wss://chat.example/base/federation"
        );
    }
}
