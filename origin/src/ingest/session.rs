//! One RTMP connection: socket bytes in, `ServerSession` events out, publish authorization and
//! media handed to the stream's `Publication`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use node::redact::Redacted;
use node::shutdown::Shutdown;
use rtmp::{Event, RejectCode, ServerConfig, ServerSession};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tracing::Instrument;

use super::IngestContext;
use super::auth::Rejection;
use crate::metrics::ReasonLabels;
use crate::streams::Publication;

const READ_BUFFER: usize = 64 * 1024;

/// Why a connection ended early.
#[derive(Debug, thiserror::Error)]
enum SessionEnd {
    #[error("rtmp protocol error: {0}")]
    Protocol(#[from] rtmp::SessionError),
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("no publish within the handshake timeout")]
    HandshakeTimeout,
    #[error("publisher idle for longer than the idle timeout")]
    Idle,
    #[error("media rejected: {0}")]
    Media(#[from] crate::streams::MediaRejection),
}

pub(super) async fn run(
    socket: TcpStream,
    peer: SocketAddr,
    ctx: Arc<IngestContext>,
    shutdown: Shutdown,
) {
    let span = tracing::info_span!("rtmp", peer = %Redacted::new(peer));
    ctx.metrics.rtmp_active.inc();
    let mut connection = Connection {
        ctx: ctx.clone(),
        publication: None,
        stream: None,
    };
    let result = connection
        .pump(socket, peer, shutdown)
        .instrument(span.clone())
        .await;
    let _enter = span.enter();
    match result {
        Ok(()) => tracing::info!(
            stream = connection.stream.as_deref(),
            "rtmp connection closed"
        ),
        Err(error) => {
            let reason = match &error {
                SessionEnd::Protocol(e) => e.reason(),
                SessionEnd::Io(_) => "io",
                SessionEnd::HandshakeTimeout => "handshake_timeout",
                SessionEnd::Idle => "idle_timeout",
                SessionEnd::Media(e) => {
                    ctx.metrics
                        .media_rejected
                        .get_or_create(&ReasonLabels { reason: e.reason() })
                        .inc();
                    e.reason()
                }
            };
            if !matches!(error, SessionEnd::Media(_)) {
                ctx.metrics
                    .rtmp_errors
                    .get_or_create(&ReasonLabels { reason })
                    .inc();
            }
            tracing::warn!(stream = connection.stream.as_deref(), reason, %error, "rtmp connection dropped");
        }
    }
    // Ending the publication starts the stream's reconnect grace period.
    drop(connection.publication.take());
    ctx.metrics.rtmp_active.dec();
}

struct Connection {
    ctx: Arc<IngestContext>,
    publication: Option<Publication>,
    stream: Option<String>,
}

impl Connection {
    async fn pump(
        &mut self,
        socket: TcpStream,
        peer: SocketAddr,
        shutdown: Shutdown,
    ) -> Result<(), SessionEnd> {
        let (mut reader, mut writer) = socket.into_split();
        let seed = node::clock::unix_time_ms() ^ u64::from(peer.port());
        let mut session = ServerSession::new(ServerConfig::default(), seed);
        let mut buffer = vec![0u8; READ_BUFFER];
        let started = node::clock::now();
        let mut last_read = started;
        // One timer and one shutdown registration for the whole connection: a `timeout` around
        // every read put an entry into tokio's timer wheel and took it out again about a
        // hundred times a second per publisher. The timer only moves when it fires early
        // (reads arrived since it was set) or when the deadline comes closer (publish).
        let deadline = tokio::time::sleep_until(tokio::time::Instant::from_std(
            started + self.ctx.handshake_timeout,
        ));
        tokio::pin!(deadline);
        let stopping = shutdown.triggered();
        tokio::pin!(stopping);
        loop {
            // Drain rule: after every input, drain events and bytes until both are empty.
            loop {
                let mut progressed = false;
                while let Some(bytes) = session.poll_transmit() {
                    writer.write_all(&bytes).await?;
                    progressed = true;
                }
                while let Some(event) = session.poll_output() {
                    self.handle_event(&mut session, event).await?;
                    progressed = true;
                }
                if !progressed {
                    break;
                }
            }
            if session.is_closed() {
                writer.shutdown().await.ok();
                return Ok(());
            }
            let due = tokio::time::Instant::from_std(self.due(started, last_read));
            if due < deadline.deadline() {
                deadline.as_mut().reset(due);
            }
            let read = tokio::select! {
                read = reader.read(&mut buffer) => read,
                () = &mut deadline => {
                    let due = tokio::time::Instant::from_std(self.due(started, last_read));
                    if tokio::time::Instant::from_std(node::clock::now()) < due {
                        deadline.as_mut().reset(due);
                        continue;
                    }
                    return Err(if self.publication.is_some() {
                        SessionEnd::Idle
                    } else {
                        SessionEnd::HandshakeTimeout
                    });
                }
                () = &mut stopping => return Ok(()),
            };
            match read {
                Ok(0) => session.handle_eof(),
                Ok(n) => {
                    let read_at = node::clock::now();
                    last_read = read_at;
                    if let Some(publication) = &mut self.publication {
                        publication.note_received(n, read_at);
                    }
                    session.handle_input(&buffer[..n])?;
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// When the connection times out: `idle_timeout` after the last read while publishing,
    /// else `handshake_timeout` after it opened (also once a publish ended).
    fn due(&self, started: Instant, last_read: Instant) -> Instant {
        if self.publication.is_some() {
            last_read + self.ctx.idle_timeout
        } else {
            started + self.ctx.handshake_timeout
        }
    }

    async fn handle_event(
        &mut self,
        session: &mut ServerSession,
        event: Event,
    ) -> Result<(), SessionEnd> {
        match event {
            Event::Connected { app, .. } => tracing::debug!(%app, "rtmp connect"),
            Event::PublishRequested {
                app, stream_key, ..
            } => {
                let key = Redacted::new(stream_key);
                match self.authorize(&app, key.expose()).await {
                    Ok(publication) => {
                        tracing::info!(stream = publication.stream(), key = %key, "publish accepted");
                        self.stream = Some(publication.stream().to_owned());
                        self.publication = Some(publication);
                        session.accept_publish()?;
                    }
                    Err(rejection) => {
                        self.ctx
                            .metrics
                            .publish_rejected
                            .get_or_create(&ReasonLabels {
                                reason: rejection.reason(),
                            })
                            .inc();
                        tracing::warn!(%app, key = %key, reason = rejection.reason(), %rejection, "publish refused");
                        let code = match rejection {
                            Rejection::UnknownKey | Rejection::WrongApp { .. } => {
                                RejectCode::BadName
                            }
                            Rejection::AlreadyLive(_) | Rejection::Unavailable(_) => {
                                RejectCode::Denied
                            }
                        };
                        session.reject_publish(code, &rejection.to_string())?;
                    }
                }
            }
            Event::Video { timestamp_ms, data } => self.media(timestamp_ms, data, true)?,
            Event::Audio { timestamp_ms, data } => self.media(timestamp_ms, data, false)?,
            Event::Metadata(metadata) => {
                if let Some(publication) = &mut self.publication {
                    publication.handle_metadata(&metadata);
                }
            }
            Event::PublishEnded => {
                if let Some(publication) = self.publication.take() {
                    tracing::info!(stream = publication.stream(), "publisher unpublished");
                }
            }
        }
        Ok(())
    }

    async fn authorize(&self, app: &str, key: &str) -> Result<Publication, Rejection> {
        let stream = self.ctx.keys.authorize(app, key).await?;
        self.ctx.hub.claim(&stream)
    }

    fn media(&mut self, timestamp_ms: u64, data: Bytes, video: bool) -> Result<(), SessionEnd> {
        let Some(publication) = &mut self.publication else {
            return Ok(());
        };
        if video {
            publication.handle_video(timestamp_ms, data)?;
        } else {
            publication.handle_audio(timestamp_ms, data)?;
        }
        Ok(())
    }
}
