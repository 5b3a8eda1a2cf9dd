//! The built-in demo publisher: loops an FLV clip into an RTMP ingest as a clean live stream.
//!
//! It goes through the real ingest (TCP, RTMP handshake, `publish`), paced in real time.
//! Timestamps are rewritten so each loop continues where the last ended (loop `n` adds `n` times
//! the clip's duration), and the sequence headers are sent only once, so the packager sees one
//! continuous stream: no discontinuity at the loop point, and PROGRAM-DATE-TIME advancing with
//! the wall clock. The clip is `proto/media/assets/demo.flv` (how it was made is in that
//! directory's README); it ends on a GOP boundary.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use media::flv::{FlvReader, FlvTag, TagType};
use node::shutdown::Shutdown;
use rtmp::{ClientConfig, ClientEvent, ClientSession};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The demo clip shipped with the project (8 s, 640x360, H.264 Main + AAC-LC).
pub const DEMO_CLIP: &[u8] = include_bytes!("../../proto/media/assets/demo.flv");

/// Wait between reconnect attempts when the ingest is unreachable.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);
/// How long the RTMP handshake and publish may take.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);

/// A clip ready to loop: its tags and the duration one loop adds to timestamps.
#[derive(Debug, Clone)]
pub struct DemoClip {
    tags: Vec<FlvTag>,
    loop_ms: u64,
}

/// The demo could not publish.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The clip is not a usable FLV file.
    #[error("demo clip: {0}")]
    Clip(String),
    /// The ingest connection failed.
    #[error("ingest connection: {0}")]
    Io(#[from] std::io::Error),
    /// The RTMP session failed.
    #[error("rtmp: {0}")]
    Rtmp(#[from] rtmp::SessionError),
    /// The ingest refused the publish.
    #[error("publish refused: {code}: {description}")]
    Refused {
        /// onStatus code.
        code: String,
        /// Its description.
        description: String,
    },
    /// The handshake and publish did not complete in time.
    #[error("publish did not start within {PUBLISH_TIMEOUT:?}")]
    Timeout,
}

impl DemoClip {
    /// Parses an FLV clip. One loop lasts from its first video frame to one frame period after
    /// its last; tags at or past that point (a trailing audio frame) are left out, since the
    /// next loop covers that time.
    pub fn parse(data: Bytes) -> Result<Self, DemoError> {
        let tags = FlvReader::new(data)
            .map_err(|e| DemoError::Clip(e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| DemoError::Clip(e.to_string()))?;
        let video: Vec<u64> = tags
            .iter()
            .filter(|t| t.tag_type == TagType::Video && !is_sequence_header(t))
            .map(|t| u64::from(t.timestamp_ms))
            .collect();
        let (Some(&first), Some(&last)) = (video.first(), video.last()) else {
            return Err(DemoError::Clip("the clip has no video".to_owned()));
        };
        if video.len() < 2 {
            return Err(DemoError::Clip(
                "the clip needs at least two video frames".to_owned(),
            ));
        }
        // One loop lasts from the first video frame to one frame period after the last; the
        // period is the clip's average, because millisecond stamps of 30 fps video alternate
        // 33 and 34 ms.
        let period = (last - first) as f64 / (video.len() - 1) as f64;
        let loop_ms = ((last - first) as f64 + period).round() as u64;
        Ok(Self { tags, loop_ms })
    }

    /// The built-in clip.
    pub fn builtin() -> Result<Self, DemoError> {
        Self::parse(Bytes::from_static(DEMO_CLIP))
    }

    /// How much one loop adds to timestamps, milliseconds (8000 for the built-in clip).
    pub fn loop_ms(&self) -> u64 {
        self.loop_ms
    }
}

/// Publishes `clip` in a loop to `rtmp://{addr}/{app}/{key}` until `shutdown`, reconnecting
/// when the ingest goes away.
pub async fn publish_loop(
    addr: SocketAddr,
    app: String,
    key: String,
    clip: DemoClip,
    shutdown: Shutdown,
) {
    loop {
        let outcome = tokio::select! {
            outcome = publish(addr, &app, &key, &clip) => outcome,
            () = shutdown.triggered() => return,
        };
        match outcome {
            Ok(()) => return,
            Err(error) => tracing::warn!(%error, "demo publisher: retrying in {RECONNECT_DELAY:?}"),
        }
        tokio::select! {
            () = tokio::time::sleep(RECONNECT_DELAY) => {}
            () = shutdown.triggered() => return,
        }
    }
}

async fn publish(addr: SocketAddr, app: &str, key: &str, clip: &DemoClip) -> Result<(), DemoError> {
    let socket = TcpStream::connect(addr).await?;
    socket.set_nodelay(true)?;
    let (mut reader, mut writer) = socket.into_split();
    let tc_url = format!("rtmp://{addr}/{app}");
    let mut session = ClientSession::new(
        ClientConfig::new(app, &tc_url, key),
        node::clock::unix_time_ms(),
    );
    let mut buffer = vec![0u8; 16 * 1024];

    // Handshake, connect, createStream, publish.
    let started = tokio::time::timeout(PUBLISH_TIMEOUT, async {
        loop {
            flush(&mut session, &mut writer).await?;
            while let Some(event) = session.poll_output() {
                match event {
                    ClientEvent::PublishStarted => return Ok(()),
                    ClientEvent::Error { code, description } => {
                        return Err(DemoError::Refused { code, description });
                    }
                    ClientEvent::Connected => {}
                }
            }
            let n = reader.read(&mut buffer).await?;
            if n == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
            }
            session.handle_input(&buffer[..n])?;
        }
    })
    .await;
    started.map_err(|_| DemoError::Timeout)??;
    tracing::info!(%addr, app, "demo publisher: publishing");

    let origin = tokio::time::Instant::from_std(node::clock::now());
    for round in 0u64.. {
        for tag in &clip.tags {
            if (round > 0 && is_sequence_header(tag)) || u64::from(tag.timestamp_ms) >= clip.loop_ms
            {
                continue;
            }
            let timestamp_ms = u64::from(tag.timestamp_ms) + round * clip.loop_ms;
            let due = origin + Duration::from_millis(timestamp_ms);
            // Wait until the tag is due, answering whatever the server sends meanwhile.
            loop {
                tokio::select! {
                    () = tokio::time::sleep_until(due) => break,
                    read = reader.read(&mut buffer) => {
                        let n = read?;
                        if n == 0 {
                            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
                        }
                        session.handle_input(&buffer[..n])?;
                        while let Some(event) = session.poll_output() {
                            if let ClientEvent::Error { code, description } = event {
                                return Err(DemoError::Refused { code, description });
                            }
                        }
                        flush(&mut session, &mut writer).await?;
                    }
                }
            }
            match tag.tag_type {
                TagType::Video => session.send_video(timestamp_ms, tag.body.clone())?,
                TagType::Audio => session.send_audio(timestamp_ms, tag.body.clone())?,
                // onMetaData is optional: codecs and sizes come from the sequence headers.
                TagType::Script | TagType::Other(_) => {}
            }
            flush(&mut session, &mut writer).await?;
        }
    }
    Ok(())
}

/// AVC or AAC sequence headers: sent on the first loop only, so the codec configuration (and
/// the init segment) never changes.
fn is_sequence_header(tag: &FlvTag) -> bool {
    match tag.tag_type {
        TagType::Video => matches!(
            media::flv::parse_video_tag(&tag.body),
            Ok(media::flv::VideoTag::SequenceHeader(_))
        ),
        TagType::Audio => matches!(
            media::flv::parse_audio_tag(&tag.body),
            Ok(media::flv::AudioTag::SequenceHeader(_))
        ),
        TagType::Script | TagType::Other(_) => false,
    }
}

async fn flush(
    session: &mut ClientSession,
    writer: &mut tokio::net::tcp::OwnedWriteHalf,
) -> std::io::Result<()> {
    while let Some(bytes) = session.poll_transmit() {
        writer.write_all(&bytes).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::DemoClip;

    #[test]
    fn builtin_clip_loops_every_eight_seconds() {
        assert_eq!(DemoClip::builtin().unwrap().loop_ms(), 8000);
    }

    #[test]
    fn garbage_is_not_a_clip() {
        assert!(DemoClip::parse(bytes::Bytes::from_static(b"not an flv file")).is_err());
    }
}
