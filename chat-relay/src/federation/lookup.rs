//! [`HomeLookup`]: which relay is a room's home. The control plane decides
//! ([`ControlPlaneHomes`]); a standalone relay is the home of every room
//! ([`StaticHomes::standalone`]); tests pin rooms to relays ([`StaticHomes::with`]).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};

use control_client::{ControlClient, ControlError, RoomHome};

/// Answers cached per relay before the cache is cleared (rooms are few per relay; this only
/// bounds a pathological churn).
const MAX_CACHED: usize = 100_000;

/// The future [`HomeLookup::home_of`] returns.
pub type LookupFuture<'a> =
    Pin<Box<dyn Future<Output = Result<RoomHome, LookupError>> + Send + 'a>>;

/// Finds a room's home relay.
pub trait HomeLookup: Send + Sync + std::fmt::Debug {
    /// The home of `room`; may answer from a cache.
    fn home_of<'a>(&'a self, room: &'a str) -> LookupFuture<'a>;

    /// Forgets a cached answer for `room`: its link failed or the home said `not_home`, so the
    /// next [`Self::home_of`] asks again.
    fn invalidate(&self, room: &str);
}

/// Why a lookup failed; the room retries.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// The control plane could not answer.
    #[error("room home lookup: {0}")]
    Control(#[from] ControlError),
    /// The control plane does not know this relay yet (before its first heartbeat).
    #[error("room home lookup: this relay is not registered with the control plane yet")]
    NotRegistered,
}

/// Homes from a fixed map; rooms not in it are homed on this relay.
#[derive(Debug, Clone)]
pub struct StaticHomes {
    relay_id: String,
    homes: HashMap<String, RoomHome>,
}

impl StaticHomes {
    /// Every room homed on this relay (`relay_id`): a standalone relay.
    pub fn standalone(relay_id: impl Into<String>) -> Self {
        Self {
            relay_id: relay_id.into(),
            homes: HashMap::new(),
        }
    }

    /// Pins `room` to the relay `home_id` whose client WebSocket URL is `ws_url`.
    #[must_use]
    pub fn with(mut self, room: &str, home_id: &str, ws_url: &str) -> Self {
        let home = RoomHome {
            room: room.to_owned(),
            relay_id: home_id.to_owned(),
            region: String::new(),
            ws_url: ws_url.to_owned(),
        };
        self.homes.insert(room.to_owned(), home);
        self
    }
}

impl HomeLookup for StaticHomes {
    fn home_of<'a>(&'a self, room: &'a str) -> LookupFuture<'a> {
        let home = self.homes.get(room).cloned().unwrap_or_else(|| RoomHome {
            room: room.to_owned(),
            relay_id: self.relay_id.clone(),
            region: String::new(),
            ws_url: String::new(),
        });
        Box::pin(async move { Ok(home) })
    }

    fn invalidate(&self, _room: &str) {}
}

/// Homes from the control plane, cached per room until invalidated (a link failure or a
/// `not_home`), so a working room asks once.
#[derive(Debug)]
pub struct ControlPlaneHomes {
    client: ControlClient,
    relay_id: String,
    cache: Mutex<HashMap<String, RoomHome>>,
}

impl ControlPlaneHomes {
    /// Asks through `client` on behalf of relay `relay_id`.
    pub fn new(client: ControlClient, relay_id: impl Into<String>) -> Self {
        Self {
            client,
            relay_id: relay_id.into(),
            cache: Mutex::new(HashMap::new()),
        }
    }
}

impl HomeLookup for ControlPlaneHomes {
    fn home_of<'a>(&'a self, room: &'a str) -> LookupFuture<'a> {
        Box::pin(async move {
            let cached = self
                .cache
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(room)
                .cloned();
            if let Some(home) = cached {
                return Ok(home);
            }
            let home = self
                .client
                .room_home(room, &self.relay_id)
                .await?
                .ok_or(LookupError::NotRegistered)?;
            let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
            cache.insert(room.to_owned(), home.clone());
            Ok(home)
        })
    }

    fn invalidate(&self, room: &str) {
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(room);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn static_homes_default_to_this_relay() {
        let homes = StaticHomes::standalone("b").with("show", "a", "ws://127.0.0.1:1/ws");
        assert_eq!(homes.home_of("show").await.unwrap().relay_id, "a");
        assert_eq!(homes.home_of("other").await.unwrap().relay_id, "b");
    }
}
