//! Stream keys: which stream a key may publish.
//!
//! [`StreamKeys`] is the seam the control plane plugs into later (with a short cache so live
//! streams survive a brief control-plane outage); today [`ConfigKeys`] answers from the
//! origin's `[[streams]]` config.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use crate::config::StreamEntry;

/// A boxed future returned by [`StreamKeys::authorize`].
pub type AuthorizeFuture<'a> = Pin<Box<dyn Future<Output = Result<String, Rejection>> + Send + 'a>>;

/// Decides which stream a publisher's key opens.
pub trait StreamKeys: Send + Sync + 'static {
    /// The stream name that `key` publishes under RTMP application `app`, or why not.
    fn authorize<'a>(&'a self, app: &'a str, key: &'a str) -> AuthorizeFuture<'a>;
}

/// Why a publish was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The key matches no stream.
    #[error("unknown stream key")]
    UnknownKey,
    /// The publisher used another RTMP application name.
    #[error("unknown application {app:?} (publish to rtmp://host/{expected}/KEY)")]
    WrongApp {
        /// What the client asked for.
        app: String,
        /// What this origin serves.
        expected: String,
    },
    /// The stream already has a live publisher.
    #[error("stream {0:?} already has a publisher")]
    AlreadyLive(String),
    /// The key service could not be reached and nothing is cached.
    #[error("stream keys are unavailable: {0}")]
    Unavailable(String),
}

impl Rejection {
    /// Label for `livecdn_origin_publish_rejected_total{reason}`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::UnknownKey => "unknown_key",
            Self::WrongApp { .. } => "wrong_app",
            Self::AlreadyLive(_) => "already_live",
            Self::Unavailable(_) => "keys_unavailable",
        }
    }
}

/// Stream keys from the origin's `[[streams]]` configuration.
#[derive(Debug, Clone)]
pub struct ConfigKeys {
    app: String,
    streams_by_key: HashMap<String, String>,
}

impl ConfigKeys {
    /// Keys for application `app` from `streams`.
    pub fn new(app: &str, streams: &[StreamEntry]) -> Self {
        let streams_by_key = streams
            .iter()
            .map(|s| (s.key.expose().clone(), s.name.clone()))
            .collect();
        Self {
            app: app.to_owned(),
            streams_by_key,
        }
    }

    fn lookup(&self, app: &str, key: &str) -> Result<String, Rejection> {
        if app != self.app {
            return Err(Rejection::WrongApp {
                app: app.to_owned(),
                expected: self.app.clone(),
            });
        }
        self.streams_by_key
            .get(key)
            .cloned()
            .ok_or(Rejection::UnknownKey)
    }
}

impl StreamKeys for ConfigKeys {
    fn authorize<'a>(&'a self, app: &'a str, key: &'a str) -> AuthorizeFuture<'a> {
        let answer = self.lookup(app, key);
        Box::pin(std::future::ready(answer))
    }
}

#[cfg(test)]
mod tests {
    use node::redact::Redacted;

    use super::*;

    fn keys() -> ConfigKeys {
        let streams = vec![
            StreamEntry {
                name: "demo".into(),
                key: Redacted::new("k1".into()),
            },
            StreamEntry {
                name: "news".into(),
                key: Redacted::new("k2".into()),
            },
        ];
        ConfigKeys::new("live", &streams)
    }

    #[tokio::test]
    async fn a_known_key_opens_its_stream() {
        assert_eq!(keys().authorize("live", "k2").await, Ok("news".to_owned()));
    }

    #[tokio::test]
    async fn unknown_key_and_wrong_app_are_refused_with_their_reason() {
        let unknown = keys().authorize("live", "nope").await.unwrap_err();
        assert_eq!(unknown.reason(), "unknown_key");
        let wrong = keys().authorize("other", "k1").await.unwrap_err();
        assert_eq!(wrong.reason(), "wrong_app");
        assert!(wrong.to_string().contains("rtmp://host/live/KEY"));
    }
}
