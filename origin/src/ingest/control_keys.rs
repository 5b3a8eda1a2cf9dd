//! Stream keys from the control plane (`POST /v1/keys/validate`), with a short cache: a key is
//! re-checked at most every `ttl`, so a rotated or revoked key stops working within `ttl`, and
//! when the control plane is unreachable a key that was valid before is still accepted
//! (stale-if-error), so hosts of live streams can reconnect through a control-plane outage.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use control_client::ControlClient;

use crate::ingest::auth::{AuthorizeFuture, ConfigKeys, Rejection, StreamKeys};

/// Most keys remembered; beyond it the cache starts over (a flood of random keys cannot grow
/// memory).
pub const MAX_CACHED_KEYS: usize = 10_000;

/// How long an unknown key is remembered as unknown (short: a key just created must work soon).
pub const NEGATIVE_TTL: Duration = Duration::from_secs(1);

/// How long a once-valid key is still accepted while the control plane is unreachable.
pub const STALE_IF_ERROR: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone)]
struct Cached {
    stream: Option<String>,
    checked: Instant,
}

/// Keys from `[[streams]]` first (static keys), then the control plane.
#[derive(Debug)]
pub struct ControlPlaneKeys {
    local: ConfigKeys,
    client: ControlClient,
    ttl: Duration,
    cache: Mutex<HashMap<String, Cached>>,
}

impl ControlPlaneKeys {
    /// Keys checked against `local` then `client`, cached for `ttl`.
    pub fn new(local: ConfigKeys, client: ControlClient, ttl: Duration) -> Self {
        Self {
            local,
            client,
            ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, key: &str) -> Option<Cached> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(key)
            .cloned()
    }

    fn remember(&self, key: &str, stream: Option<String>, now: Instant) {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= MAX_CACHED_KEYS && !cache.contains_key(key) {
            cache.clear();
        }
        cache.insert(
            key.to_owned(),
            Cached {
                stream,
                checked: now,
            },
        );
    }

    async fn lookup(&self, app: &str, key: &str) -> Result<String, Rejection> {
        match self.local.authorize(app, key).await {
            Ok(stream) => return Ok(stream),
            Err(Rejection::UnknownKey) => {}
            Err(other) => return Err(other),
        }
        let now = node::clock::now();
        let cached = self.cached(key);
        if let Some(c) = &cached {
            let ttl = if c.stream.is_some() {
                self.ttl
            } else {
                NEGATIVE_TTL
            };
            if now.saturating_duration_since(c.checked) < ttl {
                return c.stream.clone().ok_or(Rejection::UnknownKey);
            }
        }
        match self.client.validate_key(key).await {
            Ok(stream) => {
                self.remember(key, stream.clone(), now);
                stream.ok_or(Rejection::UnknownKey)
            }
            Err(error) if error.is_unreachable() => match cached {
                Some(Cached {
                    stream: Some(stream),
                    checked,
                }) if now.saturating_duration_since(checked) < STALE_IF_ERROR => {
                    tracing::warn!(%error, stream = %stream, "control plane unreachable; accepting a key it validated before");
                    Ok(stream)
                }
                _ => Err(Rejection::Unavailable(error.to_string())),
            },
            Err(error) => Err(Rejection::Unavailable(error.to_string())),
        }
    }
}

impl StreamKeys for ControlPlaneKeys {
    fn authorize<'a>(&'a self, app: &'a str, key: &'a str) -> AuthorizeFuture<'a> {
        Box::pin(self.lookup(app, key))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::Json;
    use axum::routing::post;
    use node::redact::Redacted;

    use super::*;
    use crate::config::StreamEntry;

    /// A stand-in control plane that knows one key; returns its URL and the server task.
    async fn fake_control_plane() -> (String, tokio::task::JoinHandle<()>) {
        let app = axum::Router::new().route(
            "/v1/keys/validate",
            post(|Json(body): Json<serde_json::Value>| async move {
                if body["key"] == "good" {
                    Ok(Json(serde_json::json!({"stream": "show", "key_id": "k1"})))
                } else {
                    Err(axum::http::StatusCode::NOT_FOUND)
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        (url, task)
    }

    fn keys(url: &str, ttl: Duration) -> ControlPlaneKeys {
        let local = ConfigKeys::new(
            "live",
            &[StreamEntry {
                name: "static".into(),
                key: Redacted::new("static-key".into()),
            }],
        );
        let control = control_client::ControlSection {
            url: Some(url.to_owned()),
            request_timeout: Duration::from_millis(500),
            ..Default::default()
        };
        ControlPlaneKeys::new(local, ControlClient::new(&control).unwrap(), ttl)
    }

    #[tokio::test]
    async fn keys_come_from_the_control_plane_and_survive_its_outage_once_validated() {
        let (url, server) = fake_control_plane().await;
        let keys = keys(&url, Duration::ZERO);
        assert_eq!(keys.authorize("live", "good").await, Ok("show".to_owned()));
        assert_eq!(
            keys.authorize("live", "bad").await,
            Err(Rejection::UnknownKey)
        );
        assert_eq!(
            keys.authorize("live", "static-key").await,
            Ok("static".to_owned())
        );
        let wrong_app = keys.authorize("other", "good").await.unwrap_err();
        assert_eq!(wrong_app.reason(), "wrong_app");

        // The control plane goes away: a key it validated before still opens its stream (a
        // host reconnecting to a live stream), an unknown one is refused as unavailable.
        server.abort();
        let _ = server.await;
        assert_eq!(keys.authorize("live", "good").await, Ok("show".to_owned()));
        let never_seen = keys.authorize("live", "other").await.unwrap_err();
        assert_eq!(never_seen.reason(), "keys_unavailable");
        assert_eq!(
            keys.authorize("live", "static-key").await,
            Ok("static".to_owned())
        );
    }

    #[tokio::test]
    async fn a_cached_answer_is_reused_within_its_ttl() {
        let (url, server) = fake_control_plane().await;
        let keys = keys(&url, Duration::from_secs(60));
        assert_eq!(keys.authorize("live", "good").await, Ok("show".to_owned()));
        server.abort();
        let _ = server.await;
        // Within the TTL no request is made (the server is gone, yet the answer is immediate).
        assert_eq!(keys.authorize("live", "good").await, Ok("show".to_owned()));
        assert_eq!(keys.cache.lock().unwrap().len(), 1);
    }
}
