//! QUIC endpoints between nodes: quinn over rustls (ring provider), TLS 1.3 only, mutual TLS
//! (each side presents a certificate signed by the cluster CA) and an ALPN per protocol, so a
//! replication client can never talk to a chat federation listener by mistake.

pub(crate) mod tls;

use std::net::UdpSocket;
use std::sync::Arc;
use std::time::Duration;

pub use tls::{NodeTls, TlsError};

/// ALPN protocol ids of livecdn's QUIC protocols.
pub mod alpn {
    /// Media replication (origin → edge, edge → edge), `docs/relay-wire.md`.
    pub const RELAY: &[u8] = b"livecdn-relay/1";
    /// Chat federation between relays.
    pub const CHAT_FEDERATION: &[u8] = b"livecdn-chat-fed/1";
}

/// Idle timeout of node-to-node connections: a silent peer is declared gone after this (a
/// parent edge killed mid-stream is noticed within it, then replaced: see `edge`).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(3);
/// Keep-alive interval, well under [`IDLE_TIMEOUT`] so an idle but healthy link stays up.
pub const KEEP_ALIVE_INTERVAL: Duration = Duration::from_millis(750);

/// The ACK delay a node asks its peers for (the ACK frequency extension; clamped by quinn to
/// the peer's minimum).
pub const MAX_ACK_DELAY: Duration = Duration::from_millis(2);

/// A QUIC endpoint could not be created.
#[derive(Debug, thiserror::Error)]
pub enum QuicError {
    /// The TLS configuration was refused.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The socket could not be used.
    #[error("quic socket: {0}")]
    Io(#[from] std::io::Error),
}

/// A server endpoint on `socket` that requires client certificates from the cluster CA and
/// accepts only the given ALPN protocols. It can also open client connections.
pub fn server_endpoint(
    socket: UdpSocket,
    tls: &NodeTls,
    alpn: &[&[u8]],
) -> Result<quinn::Endpoint, QuicError> {
    let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(tls.server_config(alpn)?)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let mut server = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    server.transport_config(transport());
    let mut endpoint = quinn::Endpoint::new(
        quinn::EndpointConfig::default(),
        Some(server),
        socket,
        Arc::new(quinn::TokioRuntime),
    )?;
    endpoint.set_default_client_config(client_config(tls, alpn)?);
    Ok(endpoint)
}

/// A client-only endpoint on `socket` presenting this node's certificate.
pub fn client_endpoint(
    socket: UdpSocket,
    tls: &NodeTls,
    alpn: &[&[u8]],
) -> Result<quinn::Endpoint, QuicError> {
    let mut endpoint = quinn::Endpoint::new(
        quinn::EndpointConfig::default(),
        None,
        socket,
        Arc::new(quinn::TokioRuntime),
    )?;
    endpoint.set_default_client_config(client_config(tls, alpn)?);
    Ok(endpoint)
}

fn client_config(tls: &NodeTls, alpn: &[&[u8]]) -> Result<quinn::ClientConfig, QuicError> {
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls.client_config(alpn)?)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let mut client = quinn::ClientConfig::new(Arc::new(crypto));
    client.transport_config(transport());
    Ok(client)
}

fn transport() -> Arc<quinn::TransportConfig> {
    let mut transport = quinn::TransportConfig::default();
    // Live media on links with random loss: BBR paces to the measured bandwidth instead of
    // halving its window on every loss (Cubic at 1 % loss caps a 40 ms path near 3 Mbit/s and
    // queues parts behind it), and the peer acks every packet at once so a lost packet is
    // detected and resent about one RTT after it was sent, not after a delayed ACK or a PTO.
    transport.congestion_controller_factory(Arc::new(quinn::congestion::BbrConfig::default()));
    let mut acks = quinn::AckFrequencyConfig::default();
    acks.ack_eliciting_threshold(quinn::VarInt::from_u32(0))
        .max_ack_delay(Some(MAX_ACK_DELAY));
    transport.ack_frequency_config(Some(acks));
    transport.keep_alive_interval(Some(KEEP_ALIVE_INTERVAL));
    // IDLE_TIMEOUT is far below the 2^62 ms limit, so the conversion cannot fail.
    transport.max_idle_timeout(quinn::IdleTimeout::try_from(IDLE_TIMEOUT).ok());
    Arc::new(transport)
}

#[cfg(test)]
mod tests;
