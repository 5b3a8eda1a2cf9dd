//! Federation over `wss://`: the home relay serves HTTPS (`http.tls_cert`) with a node
//! certificate of a development CA (`node::certs::DevCa`, as `livecdn certs` makes), the
//! mirror trusts that CA (`federation.tls_ca`) and dials `wss://127.0.0.1:PORT/federation`.
//! Chats cross the link both ways; a home whose certificate comes from another CA is refused
//! at the TLS handshake and never gets a link.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chat_proto::ChatRole;
use futures_util::{SinkExt as _, StreamExt as _};
use livecdn_chat_relay::federation::StaticHomes;
use node::certs::DevCa;
use node::config::sections::HttpTls;
use node::redact::Redacted;
use node::rustls;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{TempDb, TestRelay, config, token};

const ROOM: &str = "secure";
/// How long a test waits for any one thing.
const WAIT: Duration = Duration::from_secs(20);

/// A CA and one node certificate from it, as PEM files in a temporary directory.
struct Pki {
    _dir: tempfile::TempDir,
    ca_pem: String,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl Pki {
    fn new(node: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca = DevCa::generate().unwrap();
        let issued = ca.issue_node(node, &[]).unwrap();
        let path = |name: &str| dir.path().join(name);
        std::fs::write(path("ca.pem"), ca.cert_pem()).unwrap();
        std::fs::write(path("node.pem"), &issued.cert_pem).unwrap();
        std::fs::write(path("node.key"), &issued.key_pem).unwrap();
        Self {
            ca_pem: ca.cert_pem().to_owned(),
            ca: path("ca.pem"),
            cert: path("node.pem"),
            key: path("node.key"),
            _dir: dir,
        }
    }
}

/// A home relay (`id`, every room homed here) serving HTTPS with `pki`'s node certificate.
async fn start_home(db: &TempDb, id: &str, pki: &Pki) -> TestRelay {
    let mut config = config(db);
    config.node.id = Some(id.to_owned());
    config.control.token = Redacted::new("node-secret".to_owned());
    config.http.tls = Some(HttpTls {
        cert: pki.cert.clone(),
        key: pki.key.clone(),
    });
    let lookup = StaticHomes::standalone(id);
    TestRelay::start_with(config, Some(Arc::new(lookup))).await
}

/// A plain-HTTP relay `relay-b` trusting `trusted_ca` for `wss://` links, with [`ROOM`] homed
/// on `home_id` at `home`.
async fn start_mirror(db: &TempDb, trusted_ca: &Pki, home_id: &str, home: SocketAddr) -> TestRelay {
    let mut config = config(db);
    config.node.id = Some("relay-b".to_owned());
    config.control.token = Redacted::new("node-secret".to_owned());
    config.federation.reconnect_backoff_max = Duration::from_millis(200);
    config.federation.tls_ca = Some(trusted_ca.ca.clone());
    let lookup =
        StaticHomes::standalone("relay-b").with(ROOM, home_id, &format!("wss://{home}/ws"));
    TestRelay::start_with(config, Some(Arc::new(lookup))).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chats_cross_a_wss_link_verified_against_the_cluster_ca() {
    let db = TempDb::new();
    let pki = Pki::new("relay-a");
    let a = start_home(&db, "relay-a", &pki).await;
    let b = start_mirror(&db, &pki, "relay-a", a.addr).await;

    // A client of the home speaks wss:// too (the listener is TLS only).
    let mut on_a = wss_join(a.addr, &pki.ca_pem, "ua").await;
    // The mirror's welcome waits for the home's `subscribed`: the link is up once it comes.
    let mut on_b = b.join(ROOM, "ub", ChatRole::Viewer).await.0;

    on_b.send(json!({"type": "chat", "text": "over tls", "client_id": "b1"}))
        .await;
    assert_eq!(on_b.next_of("ack").await["seq"], 1);
    let event = next_of(&mut on_a, "chat").await;
    assert_eq!(
        (event["seq"].clone(), event["text"].clone()),
        (json!(1), json!("over tls"))
    );
    assert_eq!(event["user_id"], "ub");

    send(
        &mut on_a,
        json!({"type": "chat", "text": "and back", "client_id": "a1"}),
    )
    .await;
    assert_eq!(next_of(&mut on_a, "ack").await["seq"], 2);
    let mut event = on_b.next_of("chat").await;
    if event["seq"] == 1 {
        event = on_b.next_of("chat").await; // its own, broadcast back through the link
    }
    assert_eq!(
        (event["seq"].clone(), event["text"].clone()),
        (json!(2), json!("and back"))
    );

    let metrics = b.metrics().await;
    assert_eq!(
        metric(
            &metrics,
            r#"livecdn_chat_federation_links{direction="out"}"#
        ),
        Some(1),
        "{metrics}"
    );
    assert_eq!(
        metric(
            &metrics,
            r#"livecdn_chat_federation_dial_failures_total{reason="tls"}"#
        ),
        None,
        "{metrics}"
    );
    let home = https_get(a.addr, &pki.ca_pem, "/metrics").await;
    assert_eq!(
        metric(&home, r#"livecdn_chat_federation_links{direction="in"}"#),
        Some(1),
        "{home}"
    );
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_home_with_a_certificate_of_another_ca_is_refused() {
    let db = TempDb::new();
    let trusted = Pki::new("relay-a");
    let rogue = Pki::new("relay-c");
    let c = start_home(&db, "relay-c", &rogue).await;
    let b = start_mirror(&db, &trusted, "relay-c", c.addr).await;

    // Joining opens the room as a mirror of relay-c, which makes relay-b dial it. The welcome
    // waits for a home that never answers; the dial failures say why.
    let t = token("ub", ChatRole::Viewer, Some(ROOM));
    let _waiting = b.connect(&format!("room={ROOM}&token={t}")).await;
    let tls_failures = r#"livecdn_chat_federation_dial_failures_total{reason="tls"}"#;
    // Two failures: the first dial and a redial, both refused at the handshake.
    let refused = async {
        loop {
            let metrics = b.metrics().await;
            if metric(&metrics, tls_failures).unwrap_or(0) >= 2 {
                return metrics;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let metrics = tokio::time::timeout(WAIT, refused)
        .await
        .expect("the handshakes with the rogue home are refused");
    assert_eq!(
        metric(
            &metrics,
            r#"livecdn_chat_federation_links{direction="out"}"#
        )
        .unwrap_or(0),
        0,
        "{metrics}"
    );
    let home = https_get(c.addr, &rogue.ca_pem, "/metrics").await;
    assert_eq!(
        metric(&home, r#"livecdn_chat_federation_links{direction="in"}"#).unwrap_or(0),
        0,
        "the rogue home never got a link: {home}"
    );
    b.stop().await;
    c.stop().await;
}

type Wss = WebSocketStream<TlsStream<TcpStream>>;

/// Joins [`ROOM`] on the HTTPS relay at `addr` as `user`, trusting `ca_pem`; reads the welcome.
async fn wss_join(addr: SocketAddr, ca_pem: &str, user: &str) -> Wss {
    let stream = tls_connect(addr, ca_pem).await;
    let t = token(user, ChatRole::Viewer, Some(ROOM));
    let url = format!("wss://{addr}/ws?room={ROOM}&token={t}");
    let (mut ws, _) = tokio_tungstenite::client_async(url, stream)
        .await
        .expect("upgrade over TLS");
    let welcome = next(&mut ws).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    ws
}

/// `GET path` over HTTPS/1.1 from the relay at `addr`, trusting `ca_pem`; the body.
async fn https_get(addr: SocketAddr, ca_pem: &str, path: &str) -> String {
    let mut stream = tls_connect(addr, ca_pem).await;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    // The server may end TLS without close_notify after the response: keep what was read.
    let _ = stream.read_to_string(&mut response).await;
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(!head.to_ascii_lowercase().contains("chunked"), "{head}");
    body.to_owned()
}

/// A TLS connection to `addr` (named 127.0.0.1), verified against `ca_pem`, ALPN http/1.1.
async fn tls_connect(addr: SocketAddr, ca_pem: &str) -> TlsStream<TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(tls))
        .connect(name, tcp)
        .await
        .expect("the relay's certificate chains to the CA")
}

async fn send(ws: &mut Wss, frame: Value) {
    ws.send(Message::text(frame.to_string())).await.unwrap();
}

async fn next(ws: &mut Wss) -> Value {
    loop {
        let message = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a frame in time")
            .expect("open")
            .expect("frame");
        if let Message::Text(text) = message {
            return serde_json::from_str(text.as_str()).unwrap();
        }
    }
}

async fn next_of(ws: &mut Wss, kind: &str) -> Value {
    loop {
        let frame = next(ws).await;
        if frame["type"] == kind {
            return frame;
        }
    }
}

/// The value of the sample named exactly `series` (name and labels), if exported.
fn metric(text: &str, series: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse::<f64>().ok())
        .map(|value| value as u64)
}
