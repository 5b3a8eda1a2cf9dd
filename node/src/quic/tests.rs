use std::net::UdpSocket;

use super::*;
use crate::certs::DevCa;

fn node_tls(ca: &DevCa, name: &str) -> NodeTls {
    let node = ca.issue_node(name, &[]).unwrap();
    NodeTls::from_pem(
        ca.cert_pem().as_bytes(),
        node.cert_pem.as_bytes(),
        node.key_pem.as_bytes(),
        ["ca".into(), "cert".into(), "key".into()],
    )
    .unwrap()
}

fn loopback() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").unwrap()
}

#[tokio::test]
async fn mutual_tls_connection_with_matching_alpn_carries_data() {
    let ca = DevCa::generate().unwrap();
    let server = server_endpoint(loopback(), &node_tls(&ca, "origin"), &[alpn::RELAY]).unwrap();
    let addr = server.local_addr().unwrap();
    let accept = tokio::spawn(async move {
        let conn = server.accept().await.unwrap().await.unwrap();
        let (mut send, mut recv) = conn.accept_bi().await.unwrap();
        let got = recv.read_to_end(64).await.unwrap();
        send.write_all(&got).await.unwrap();
        send.finish().unwrap();
        conn.closed().await;
    });
    let client = client_endpoint(loopback(), &node_tls(&ca, "edge-a"), &[alpn::RELAY]).unwrap();
    let conn = client.connect(addr, "localhost").unwrap().await.unwrap();
    let (mut send, mut recv) = conn.open_bi().await.unwrap();
    send.write_all(b"part 7.3").await.unwrap();
    send.finish().unwrap();
    assert_eq!(recv.read_to_end(64).await.unwrap(), b"part 7.3");
    conn.close(0u32.into(), b"done");
    accept.await.unwrap();
}

#[tokio::test]
async fn client_certificate_from_another_ca_is_refused() {
    let ca = DevCa::generate().unwrap();
    let rogue_ca = DevCa::generate().unwrap();
    let server = server_endpoint(loopback(), &node_tls(&ca, "origin"), &[alpn::RELAY]).unwrap();
    let addr = server.local_addr().unwrap();
    let accept = tokio::spawn(async move {
        let incoming = server.accept().await.unwrap();
        incoming.await.is_err()
    });
    // The rogue client trusts the real CA (so it accepts the server) but presents a
    // certificate the server cannot chain.
    let rogue = rogue_ca.issue_node("edge-x", &[]).unwrap();
    let tls = NodeTls::from_pem(
        ca.cert_pem().as_bytes(),
        rogue.cert_pem.as_bytes(),
        rogue.key_pem.as_bytes(),
        ["ca".into(), "cert".into(), "key".into()],
    )
    .unwrap();
    let client = client_endpoint(loopback(), &tls, &[alpn::RELAY]).unwrap();
    let outcome = async {
        let conn = client.connect(addr, "localhost").unwrap().await?;
        // With TLS 1.3 the client may finish before the server rejects its certificate; the
        // rejection then arrives as a connection close.
        conn.accept_uni().await.map(|_| ())
    }
    .await;
    assert!(
        outcome.is_err(),
        "rogue client must not get a usable connection"
    );
    assert!(accept.await.unwrap(), "server must refuse the handshake");
}

#[tokio::test]
async fn wrong_alpn_is_refused() {
    let ca = DevCa::generate().unwrap();
    let server = server_endpoint(
        loopback(),
        &node_tls(&ca, "relay-a"),
        &[alpn::CHAT_FEDERATION],
    )
    .unwrap();
    let addr = server.local_addr().unwrap();
    tokio::spawn(async move {
        if let Some(incoming) = server.accept().await {
            let _ = incoming.await;
        }
    });
    let client = client_endpoint(loopback(), &node_tls(&ca, "edge-a"), &[alpn::RELAY]).unwrap();
    assert!(client.connect(addr, "localhost").unwrap().await.is_err());
}

#[test]
fn missing_and_malformed_files_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not pem at all").unwrap();
    let files = crate::config::sections::TlsSection {
        ca: junk.clone(),
        cert: junk.clone(),
        key: junk,
    };
    let err = NodeTls::load(&files).unwrap_err();
    assert!(err.to_string().starts_with("tls.ca = "), "{err}");
    assert!(err.to_string().contains("no CERTIFICATE"), "{err}");
    let files = crate::config::sections::TlsSection {
        cert: dir.path().join("missing.pem"),
        ..files
    };
    let ca = DevCa::generate().unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca.cert_pem()).unwrap();
    let files = crate::config::sections::TlsSection {
        ca: dir.path().join("ca.pem"),
        ..files
    };
    let err = NodeTls::load(&files).unwrap_err();
    assert!(err.to_string().starts_with("tls.cert = "), "{err}");
}
