//! Dialing a home relay: `GET /federation` with the bearer node token, then `hello` both ways.

use std::sync::Arc;
use std::time::Duration;

use chat_proto::FederationFrame;
use chat_proto::wire::{
    FEDERATION_VERSION, MAX_FEDERATION_FRAME_BYTES, decode_federation, encode_federation,
};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, http};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::federation::Federation;

/// Dialing plus `hello` must finish within this.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

pub(super) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub(super) fn text(frame: &FederationFrame) -> Message {
    Message::text(String::from_utf8(encode_federation(frame)).unwrap_or_default())
}

/// Waits `delay`, dials `url` and exchanges `hello` with `peer`.
pub(super) async fn dial(
    url: String,
    fed: Arc<Federation>,
    peer: String,
    delay: Duration,
) -> Result<Socket, DialError> {
    tokio::time::sleep(delay).await;
    let connect = async {
        let mut request = url.as_str().into_client_request()?;
        let bearer = http::HeaderValue::from_str(&format!("Bearer {}", fed.token))
            .map_err(|_| DialError::Refused("the node token is not a valid header value".into()))?;
        request
            .headers_mut()
            .insert(http::header::AUTHORIZATION, bearer);
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_FEDERATION_FRAME_BYTES))
            .max_frame_size(Some(MAX_FEDERATION_FRAME_BYTES));
        let (mut socket, _) =
            tokio_tungstenite::connect_async_with_config(request, Some(config), true).await?;
        let hello = FederationFrame::Hello {
            relay_id: fed.relay_id.clone(),
            version: FEDERATION_VERSION,
        };
        socket.send(text(&hello)).await?;
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(t))) => match decode_federation(t.as_bytes()) {
                    Ok(FederationFrame::Hello { relay_id, version })
                        if version == FEDERATION_VERSION && relay_id == peer =>
                    {
                        return Ok(socket);
                    }
                    Ok(FederationFrame::Hello { relay_id, version }) => {
                        return Err(DialError::Refused(format!(
                            "hello from {relay_id:?} version {version}"
                        )));
                    }
                    _ => return Err(DialError::Refused("no hello".into())),
                },
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Err(error)) => return Err(error.into()),
                _ => return Err(DialError::Refused("closed before hello".into())),
            }
        }
    };
    tokio::time::timeout(CONNECT_TIMEOUT, connect)
        .await
        .map_err(|_| DialError::Timeout)?
}

/// Why dialing a home failed (logged; the link redials).
#[derive(Debug, thiserror::Error)]
pub(super) enum DialError {
    #[error("websocket: {0}")]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("refused: {0}")]
    Refused(String),
    #[error("timed out")]
    Timeout,
}
