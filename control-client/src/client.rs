//! An HTTP client for the control plane's node endpoints.

use std::time::Duration;

use directory::NodeReport;
use reqwest::StatusCode;
use serde::Deserialize;

use crate::config::ControlSection;

/// Why a call to the control plane failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// No `control.url` is configured.
    #[error("control.url is not set")]
    NotConfigured,
    /// The request did not complete (connection refused, timeout): retryable.
    #[error("control plane unreachable: {0}")]
    Unreachable(#[source] reqwest::Error),
    /// The control plane answered with an error status.
    #[error("control plane answered {status}: {body}")]
    Status {
        /// The HTTP status.
        status: StatusCode,
        /// The body (the JSON error), truncated.
        body: String,
    },
    /// The answer was not the expected JSON.
    #[error("control plane answer unreadable: {0}")]
    Decode(#[source] reqwest::Error),
}

impl ControlError {
    /// Whether the control plane could not be reached (as opposed to it refusing): callers fall
    /// back to cached answers only then.
    pub fn is_unreachable(&self) -> bool {
        match self {
            Self::Unreachable(_) => true,
            Self::Status { status, .. } => status.is_server_error(),
            _ => false,
        }
    }
}

/// Where an edge subscribes to a stream, per the directory.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Upstream {
    /// The upstream's node id (its certificate name).
    pub node_id: String,
    /// Its QUIC replication address, `host:port`.
    pub relay_addr: String,
}

/// A room's home chat relay, per `GET /v1/rooms/{room}/home`: the relay that sequences it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RoomHome {
    /// The room.
    pub room: String,
    /// The home relay's node id.
    pub relay_id: String,
    /// Its region.
    pub region: String,
    /// Its client WebSocket URL (`…/ws`); the federation endpoint `…/federation` is beside it.
    pub ws_url: String,
}

#[derive(Deserialize)]
struct Validated {
    stream: String,
}

/// A client of the control plane's node endpoints.
#[derive(Debug, Clone)]
pub struct ControlClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl ControlClient {
    /// A client for `config`, or `None` when `control.url` is unset.
    pub fn new(config: &ControlSection) -> Option<Self> {
        let base = config.url.as_ref()?.trim_end_matches('/').to_owned();
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout.min(Duration::from_secs(1)))
            .build()
            .ok()?;
        Some(Self {
            http,
            base,
            token: config.token.expose().clone(),
        })
    }

    /// The control plane's base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ControlError> {
        let response = request
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(ControlError::Unreachable)?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let mut body = response.text().await.unwrap_or_default();
        body.truncate(512);
        Err(ControlError::Status { status, body })
    }

    /// Sends one heartbeat.
    pub async fn heartbeat(&self, report: &NodeReport) -> Result<(), ControlError> {
        let url = format!("{}/v1/nodes/heartbeat", self.base);
        self.send(self.http.post(url).json(report)).await?;
        Ok(())
    }

    /// Deregisters node `id` (it is draining): it leaves routing at once.
    pub async fn deregister(&self, id: &str) -> Result<(), ControlError> {
        let url = format!("{}/v1/nodes/{id}", self.base);
        match self.send(self.http.delete(url)).await {
            Err(ControlError::Status { status, .. }) if status == StatusCode::NOT_FOUND => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// The stream `key` publishes, or `None` for an unknown or revoked key.
    pub async fn validate_key(&self, key: &str) -> Result<Option<String>, ControlError> {
        let url = format!("{}/v1/keys/validate", self.base);
        let body = serde_json::json!({ "key": key });
        match self.send(self.http.post(url).json(&body)).await {
            Ok(response) => {
                let v: Validated = response.json().await.map_err(ControlError::Decode)?;
                Ok(Some(v.stream))
            }
            Err(ControlError::Status { status, .. })
                if status == StatusCode::NOT_FOUND || status == StatusCode::BAD_REQUEST =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Where edge `edge_id` should subscribe to `stream`, or `None` when it is not live.
    pub async fn directory(
        &self,
        stream: &str,
        edge_id: &str,
    ) -> Result<Option<Upstream>, ControlError> {
        // Stream names and node ids are URL-safe by their validation rules.
        let url = format!("{}/v1/directory/{stream}?edge={edge_id}", self.base);
        let request = self.http.get(url);
        match self.send(request).await {
            Ok(response) => Ok(Some(response.json().await.map_err(ControlError::Decode)?)),
            Err(ControlError::Status { status, .. }) if status == StatusCode::NOT_FOUND => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The home relay of `room`, as asked by relay `relay_id` (the home is chosen in the
    /// host's region, else the asking relay's, and is sticky while alive), or `None` when the
    /// control plane does not know `relay_id` as a chat relay (not registered yet).
    pub async fn room_home(
        &self,
        room: &str,
        relay_id: &str,
    ) -> Result<Option<RoomHome>, ControlError> {
        // Room names and node ids are URL-safe by their validation rules.
        let url = format!("{}/v1/rooms/{room}/home?relay={relay_id}", self.base);
        match self.send(self.http.get(url)).await {
            Ok(response) => Ok(Some(response.json().await.map_err(ControlError::Decode)?)),
            Err(ControlError::Status { status, .. }) if status == StatusCode::NOT_FOUND => Ok(None),
            Err(e) => Err(e),
        }
    }
}
