//! The connection deadlines over loopback TCP, in paused time: a silent connection is closed at
//! the handshake timeout, a publisher that keeps sending outlives it, and one that stops is
//! dropped at the idle timeout.

use std::time::{Duration, Instant};

use node::redact::Redacted;
use rtmp::{Amf0Value, ClientConfig, ClientEvent, ClientSession};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;
use crate::config::PackagingSection;
use crate::ingest::auth::ConfigKeys;
use crate::metrics::ReasonLabels;

const HANDSHAKE: Duration = Duration::from_secs(2);
const IDLE: Duration = Duration::from_secs(3);

async fn ingest() -> (std::net::SocketAddr, OriginMetrics, Shutdown) {
    let mut registry = node::metrics::new_registry();
    let metrics = OriginMetrics::register(&mut registry);
    let hub = Arc::new(StreamHub::new(
        &PackagingSection::default(),
        Duration::from_secs(15),
        metrics.clone(),
    ));
    let streams = [crate::config::StreamEntry {
        name: "demo".into(),
        key: Redacted::new("k1".into()),
    }];
    let ctx = Arc::new(IngestContext {
        keys: Arc::new(ConfigKeys::new("live", &streams)),
        hub,
        metrics: metrics.clone(),
        handshake_timeout: HANDSHAKE,
        idle_timeout: IDLE,
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = Shutdown::new();
    tokio::spawn(accept_loop(listener, ctx, shutdown.clone()));
    (addr, metrics, shutdown)
}

fn errors(metrics: &OriginMetrics, reason: &'static str) -> u64 {
    metrics
        .rtmp_errors
        .get_or_create(&ReasonLabels { reason })
        .get()
}

/// Writes what the client has to say, then reads until it reports `until` (or EOF).
async fn converse(socket: &mut TcpStream, client: &mut ClientSession, until: ClientEvent) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        while let Some(bytes) = client.poll_transmit() {
            socket.write_all(&bytes).await.unwrap();
        }
        while let Some(event) = client.poll_output() {
            if event == until {
                return;
            }
        }
        let n = socket.read(&mut buf).await.unwrap();
        assert!(n > 0, "server closed before {until:?}");
        client.handle_input(&buf[..n]).unwrap();
    }
}

/// Reads until the server closes the connection; returns when that was.
async fn closed_at(socket: &mut TcpStream) -> Instant {
    let mut buf = vec![0u8; 16 * 1024];
    while socket.read(&mut buf).await.is_ok_and(|n| n > 0) {}
    node::clock::now()
}

#[tokio::test(start_paused = true)]
async fn a_silent_connection_is_closed_at_the_handshake_timeout() {
    let (addr, metrics, shutdown) = ingest().await;
    let start = node::clock::now();
    let mut socket = TcpStream::connect(addr).await.unwrap();
    let closed = closed_at(&mut socket).await;
    assert!(
        closed - start >= HANDSHAKE,
        "closed after {:?}",
        closed - start
    );
    assert_eq!(errors(&metrics, "handshake_timeout"), 1);
    shutdown.trigger();
}

#[tokio::test(start_paused = true)]
async fn a_publisher_outlives_the_handshake_timeout_until_it_goes_idle() {
    let (addr, metrics, shutdown) = ingest().await;
    let mut socket = TcpStream::connect(addr).await.unwrap();
    // Nagle would hold a small write for an ACK the kernel delays in real time, while paused
    // time runs ahead: the server would see a silent publisher.
    socket.set_nodelay(true).unwrap();
    let config = ClientConfig::new("live", &format!("rtmp://{addr}/live"), "k1");
    let mut client = ClientSession::new(config, 7);
    converse(&mut socket, &mut client, ClientEvent::PublishStarted).await;

    // Keep talking past the handshake deadline and past several idle periods' worth of time.
    let metadata = Amf0Value::Object(vec![("encoder".into(), Amf0Value::String("test".into()))]);
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        client.send_metadata(&metadata).unwrap();
        while let Some(bytes) = client.poll_transmit() {
            socket.write_all(&bytes).await.unwrap();
        }
    }
    assert_eq!(errors(&metrics, "handshake_timeout"), 0);
    assert_eq!(errors(&metrics, "idle_timeout"), 0);
    assert_eq!(metrics.rtmp_active.get(), 1, "still connected");

    // Then fall silent: dropped one idle timeout after the last bytes.
    let last_sent = node::clock::now();
    let closed = closed_at(&mut socket).await;
    assert!(
        closed - last_sent >= IDLE,
        "closed after {:?}",
        closed - last_sent
    );
    assert_eq!(errors(&metrics, "idle_timeout"), 1);
    shutdown.trigger();
}
