//! A room's fan-out: one writer task per room writes the room's events to every connection's
//! [`Outlet`] itself, so sessions are not woken per event (10 000 runnable session tasks per
//! event made every other task of the relay, the room and its chat log included, wait behind
//! them; measured: half a second of the fan-out delay at 200 events/s, 10 000 clients).
//!
//! The room hands the [`Hub`] each frame once ([`Hub::send`]) and each welcome with its
//! connection ([`Hub::join`]); both travel on one queue, so a connection gets its welcome, then
//! exactly the events after the welcome's `last_seq`, in order. The writer takes everything
//! queued, encodes it once as WebSocket frames (one `Bytes` for every connection), and offers
//! it to each outlet in turn without waiting on any: what arrives during a pass goes out in the
//! next, so a busy room writes bigger batches instead of falling behind. It yields every
//! [`YIELD_EVERY`] connections, so the room and its log are never stuck behind a pass.
//!
//! A connection more than `chat.fanout_buffer` events behind stops getting events and its
//! session resynchronizes it (`session`); a socket that takes less than everything is drained
//! by its session.

pub(crate) mod outlet;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use bytes::{BufMut as _, Bytes, BytesMut};
use chat_proto::ServerFrame;
use tokio::sync::mpsc;

use crate::metrics::ChatMetrics;
use crate::room::Fanout;
pub(crate) use outlet::{Outlet, SessionIo, Signals};

/// Connections offered a batch between two yields of the writer.
const YIELD_EVERY: usize = 256;
/// Every this many connections of a pass, the fan-out delay is observed (sequencing to the
/// write of that connection).
const DELAY_SAMPLE: usize = 1024;

/// The room's side of its fan-out. Dropping it ends the writer, which tells every session
/// the room is gone.
#[derive(Debug)]
pub(crate) struct Hub {
    ops: mpsc::UnboundedSender<Op>,
    /// Connections the writer holds (read for the `messages_out` count).
    receivers: Arc<AtomicUsize>,
}

#[derive(Debug)]
enum Op {
    Frame(Fanout),
    Join {
        outlet: Arc<Outlet>,
        welcome: Bytes,
        last_seq: u64,
    },
}

impl Hub {
    /// A hub whose writer lets a connection fall at most `bound` events behind.
    pub(crate) fn spawn(bound: usize, metrics: ChatMetrics) -> Self {
        let (ops, queue) = mpsc::unbounded_channel();
        let receivers = Arc::new(AtomicUsize::new(0));
        let writer = Writer {
            outlets: Vec::new(),
            bound: bound.max(1),
            receivers: receivers.clone(),
            metrics,
        };
        tokio::spawn(writer.run(queue));
        Self { ops, receivers }
    }

    /// Queues `fanout` for every connection; returns how many there are. A `resync` fanout
    /// makes every session ask for a new welcome.
    pub(crate) fn send(&self, fanout: Fanout) -> usize {
        let _ = self.ops.send(Op::Frame(fanout));
        self.receivers.load(Ordering::Relaxed)
    }

    /// Queues `welcome` for `outlet`, then the room's events after `last_seq`.
    pub(crate) fn join(&self, outlet: Arc<Outlet>, welcome: &ServerFrame, last_seq: u64) {
        let welcome = frame_bytes(chat_proto::encode_server(welcome).as_bytes());
        let _ = self.ops.send(Op::Join {
            outlet,
            welcome,
            last_seq,
        });
    }
}

struct Writer {
    outlets: Vec<Arc<Outlet>>,
    bound: usize,
    receivers: Arc<AtomicUsize>,
    metrics: ChatMetrics,
}

/// Frames encoded once for every connection.
struct Batch {
    bytes: BytesMut,
    /// `(seq, end offset)` of each sequenced frame, in order.
    seqs: Vec<(u64, usize)>,
    events: usize,
    oldest: Option<Instant>,
}

impl Writer {
    async fn run(mut self, mut queue: mpsc::UnboundedReceiver<Op>) {
        let mut ops = Vec::new();
        while queue.recv_many(&mut ops, usize::MAX).await > 0 {
            let mut batch = Batch::new();
            for op in ops.drain(..) {
                match op {
                    Op::Frame(fanout) if fanout.resync => {
                        self.pass(std::mem::replace(&mut batch, Batch::new())).await;
                        for outlet in &self.outlets {
                            outlet.resync();
                        }
                    }
                    Op::Frame(fanout) => batch.push(&fanout),
                    Op::Join {
                        outlet,
                        welcome,
                        last_seq,
                    } => {
                        // Events before the welcome reach this connection through it.
                        self.pass(std::mem::replace(&mut batch, Batch::new())).await;
                        outlet.join(welcome, last_seq);
                        if !self.outlets.iter().any(|o| Arc::ptr_eq(o, &outlet)) {
                            self.outlets.push(outlet);
                        }
                    }
                }
            }
            self.pass(batch).await;
            self.outlets.retain(|outlet| !outlet.is_gone());
            self.receivers.store(self.outlets.len(), Ordering::Relaxed);
        }
        for outlet in &self.outlets {
            outlet.room_closed();
        }
    }

    /// Offers `batch` to every connection.
    async fn pass(&self, batch: Batch) {
        if batch.events == 0 {
            return;
        }
        let bytes = batch.bytes.freeze();
        let last = batch.seqs.last().map(|&(seq, _)| seq);
        for (i, outlet) in self.outlets.iter().enumerate() {
            // A connection whose welcome already holds some of these events gets the rest.
            let seen = outlet.last_seq();
            let skip = batch.seqs.iter().take_while(|&&(seq, _)| seq <= seen);
            let (from, skipped) = skip.fold((0, 0), |(_, n), &(_, end)| (end, n + 1));
            outlet.offer(
                bytes.slice(from..),
                batch.events - skipped,
                last,
                self.bound,
            );
            if i % DELAY_SAMPLE == 0
                && let Some(at) = batch.oldest
            {
                let delay = node::clock::now().saturating_duration_since(at);
                self.metrics.fanout_delay.observe(delay.as_secs_f64());
            }
            if (i + 1) % YIELD_EVERY == 0 {
                tokio::task::yield_now().await;
            }
        }
    }
}

impl Batch {
    fn new() -> Self {
        Self {
            bytes: BytesMut::new(),
            seqs: Vec::new(),
            events: 0,
            oldest: None,
        }
    }

    fn push(&mut self, fanout: &Fanout) {
        put_frame(&mut self.bytes, fanout.text.as_str().as_bytes());
        if let Some(seq) = fanout.seq {
            self.seqs.push((seq, self.bytes.len()));
        }
        self.events += 1;
        self.oldest.get_or_insert(fanout.at);
    }
}

fn frame_bytes(payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(payload.len() + 10);
    put_frame(&mut out, payload);
    out.freeze()
}

/// Appends `payload` as one unmasked final text frame (RFC 6455 §5.2: servers never mask).
fn put_frame(out: &mut BytesMut, payload: &[u8]) {
    const FIN_TEXT: u8 = 0x81;
    out.reserve(payload.len() + 10);
    out.put_u8(FIN_TEXT);
    match payload.len() {
        n if n < 126 => out.put_u8(n as u8),
        n if n <= usize::from(u16::MAX) => {
            out.put_u8(126);
            out.put_u16(n as u16);
        }
        n => {
            out.put_u8(127);
            out.put_u64(n as u64);
        }
    }
    out.put_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;

    #[test]
    fn frames_parse_as_tungstenite_reads_them() {
        for len in [0usize, 5, 125, 126, 300, 65_535, 65_536] {
            let payload = vec![b'x'; len];
            let bytes = frame_bytes(&payload);
            let mut cursor = std::io::Cursor::new(&bytes[..]);
            let (header, length) = FrameHeader::parse(&mut cursor).unwrap().unwrap();
            assert!(header.is_final && header.mask.is_none());
            assert_eq!(length, len as u64);
            assert_eq!(bytes.len() - cursor.position() as usize, len);
        }
    }
}
