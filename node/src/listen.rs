//! Binding listeners with errors that name the address and the config key.

use std::net::SocketAddr;

use tokio::net::TcpListener;

/// A listener could not be bound.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr} ({key}): {reason}")]
pub struct ListenError {
    /// The address.
    pub addr: SocketAddr,
    /// The config key that set it, e.g. `http.listen`.
    pub key: String,
    /// Human-readable cause (`address already in use`, `permission denied`, ...).
    pub reason: String,
    /// The IO error.
    pub error: std::io::Error,
}

/// Binds a TCP listener on `addr`; `key` names the config key in the error.
pub async fn bind_tcp(addr: SocketAddr, key: &str) -> Result<TcpListener, ListenError> {
    TcpListener::bind(addr).await.map_err(|error| ListenError {
        addr,
        key: key.to_owned(),
        reason: describe(&error),
        error,
    })
}

/// Binds a UDP socket (for QUIC) on `addr`; `key` names the config key in the error.
pub fn bind_udp(addr: SocketAddr, key: &str) -> Result<std::net::UdpSocket, ListenError> {
    std::net::UdpSocket::bind(addr).map_err(|error| ListenError {
        addr,
        key: key.to_owned(),
        reason: describe(&error),
        error,
    })
}

fn describe(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::AddrInUse => "address already in use".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        std::io::ErrorKind::AddrNotAvailable => "address not available on this host".to_owned(),
        _ => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::bind_tcp;

    #[tokio::test]
    async fn port_in_use_names_address_and_key() {
        let first = bind_tcp("127.0.0.1:0".parse().unwrap(), "http.listen")
            .await
            .unwrap();
        let addr = first.local_addr().unwrap();
        let err = bind_tcp(addr, "http.listen").await.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("cannot listen on {addr} (http.listen): address already in use")
        );
    }
}
