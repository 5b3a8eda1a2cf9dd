//! Dialing a home relay: TCP, TLS for `wss://` (the home's certificate verified against
//! `federation.tls_ca`, `federation::tls`), `GET /federation` with the bearer node token, then
//! `hello` both ways.

use std::sync::Arc;
use std::time::Duration;

use chat_proto::FederationFrame;
use chat_proto::wire::{
    FEDERATION_VERSION, MAX_FEDERATION_FRAME_BYTES, decode_federation, encode_federation,
};
use futures_util::{SinkExt as _, StreamExt as _};
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, http};
use tokio_util::either::Either;

use crate::federation::Federation;

/// Dialing plus `hello` must finish within this.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

pub(super) type Socket = WebSocketStream<Either<TcpStream, TlsStream<TcpStream>>>;

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
        let stream = connect(request.uri(), &fed).await?;
        let (mut socket, _) =
            tokio_tungstenite::client_async_with_config(request, stream, Some(config)).await?;
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

/// The TCP connection to the home, wrapped in TLS for `wss://`.
async fn connect(
    uri: &http::Uri,
    fed: &Federation,
) -> Result<Either<TcpStream, TlsStream<TcpStream>>, DialError> {
    let secure = match uri.scheme_str() {
        Some("ws") => false,
        Some("wss") => true,
        _ => {
            return Err(DialError::Refused(format!(
                "not a ws:// or wss:// URL: {uri}"
            )));
        }
    };
    // An IPv6 literal keeps its brackets in the URI; neither a socket nor a name wants them.
    let host = uri
        .host()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
        .ok_or_else(|| DialError::Refused(format!("no host in {uri}")))?;
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
    let tls = match (secure, &fed.tls) {
        (false, _) => None,
        (true, Some(tls)) => Some(tls.clone()),
        (true, None) => return Err(DialError::NoTlsCa),
    };
    let tcp = TcpStream::connect((host, port))
        .await
        .map_err(DialError::Connect)?;
    let _ = tcp.set_nodelay(true);
    let Some(tls) = tls else {
        return Ok(Either::Left(tcp));
    };
    let name = ServerName::try_from(host.to_owned())
        .map_err(|_| DialError::Refused(format!("{host:?} is not a TLS server name")))?;
    let stream = TlsConnector::from(tls)
        .connect(name, tcp)
        .await
        .map_err(DialError::Tls)?;
    Ok(Either::Right(stream))
}

/// Why dialing a home failed (logged and counted by [`DialError::reason`]; the link redials).
#[derive(Debug, thiserror::Error)]
pub(super) enum DialError {
    #[error("connect: {0}")]
    Connect(std::io::Error),
    /// The TLS handshake failed: a certificate not from `federation.tls_ca`, a name mismatch,
    /// or a home that does not speak TLS.
    #[error("tls: {0}")]
    Tls(std::io::Error),
    #[error("tls: a wss:// home needs federation.tls_ca")]
    NoTlsCa,
    #[error("websocket: {0}")]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("refused: {0}")]
    Refused(String),
    #[error("timed out")]
    Timeout,
}

impl DialError {
    /// The `reason` label of `livecdn_chat_federation_dial_failures_total`.
    pub(super) fn reason(&self) -> &'static str {
        match self {
            Self::Connect(_) => "connect",
            Self::Tls(_) | Self::NoTlsCa => "tls",
            Self::WebSocket(_) => "websocket",
            Self::Refused(_) => "refused",
            Self::Timeout => "timeout",
        }
    }
}
