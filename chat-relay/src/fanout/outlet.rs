//! [`Outlet`]: one connection's write side, shared by its session (direct frames: welcomes,
//! acks, pongs, closes) and its room's fan-out writer (room events), so that both write whole
//! WebSocket frames, in order, to the same socket.
//!
//! The fan-out writer writes without a waker (it serves thousands of sockets in one pass and
//! must not wait on any): when a socket takes less than everything, the outlet is `blocked`
//! and from then on only its session drains it, with its own waker, until it is empty again.
//! So a waker registered by the session is never replaced by the writer's no-op one.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker, ready};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf, ReadHalf, WriteHalf};
use tokio::sync::Notify;

/// The upgraded connection under a session.
pub(crate) type Io = hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>;

/// One connection's write side.
pub(crate) struct Outlet {
    state: Mutex<State>,
    /// Wakes the session: see [`Signals`].
    wake: Notify,
}

struct State {
    write: Pin<Box<dyn AsyncWrite + Send>>,
    /// Bytes not written yet, oldest first, each with the room events it holds; the first one
    /// is written up to `offset`.
    queue: VecDeque<(Bytes, usize)>,
    offset: usize,
    /// Room events queued, the lag bound's measure.
    queued_events: usize,
    /// The socket refused bytes: only the session writes until the queue is empty.
    blocked: bool,
    /// A write failed, or the session ended: nothing is queued any more.
    gone: bool,
    /// Room events are appended (false before the welcome and while a new one is on its way).
    live: bool,
    /// The last seq queued: the resume point after a lag.
    last_seq: u64,
    signals: Signals,
}

/// Why the session was woken (each flag is cleared when taken).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Signals {
    /// The socket took less than everything: the session drains it.
    pub(crate) blocked: bool,
    /// More than the room's bound of events waited: events stopped, the session resynchronizes.
    pub(crate) lagged: bool,
    /// The room's history was replaced: the session asks for a new welcome.
    pub(crate) resync: bool,
    /// The room is gone.
    pub(crate) room_closed: bool,
}

impl std::fmt::Debug for Outlet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outlet").finish_non_exhaustive()
    }
}

impl Outlet {
    /// An outlet writing to `write`; room events flow once the room has queued a welcome.
    pub(crate) fn new(write: impl AsyncWrite + Send + 'static) -> Self {
        Self {
            state: Mutex::new(State {
                write: Box::pin(write),
                queue: VecDeque::new(),
                offset: 0,
                queued_events: 0,
                blocked: false,
                gone: false,
                live: false,
                last_seq: 0,
                signals: Signals::default(),
            }),
            wake: Notify::new(),
        }
    }

    /// Waits until something needs the session (a permit is kept if it was not waiting).
    pub(crate) async fn notified(&self) {
        self.wake.notified().await;
    }

    /// Takes the reasons the session was woken.
    pub(crate) fn take_signals(&self) -> Signals {
        std::mem::take(&mut self.lock().signals)
    }

    /// The last seq queued to this connection.
    pub(crate) fn last_seq(&self) -> u64 {
        self.lock().last_seq
    }

    /// Stops room events until the next [`Self::join`] (a welcome is on its way, so none is
    /// sent twice).
    pub(crate) fn pause(&self) {
        self.lock().live = false;
    }

    /// The session ended: the fan-out writer forgets this outlet.
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        state.gone = true;
        state.queue.clear();
        // The socket closes now, not when the writer next forgets this outlet.
        state.write = Box::pin(tokio::io::sink());
    }

    pub(crate) fn is_gone(&self) -> bool {
        self.lock().gone
    }

    /// Queues a welcome (its `last_seq` is `last_seq`) and resumes room events after it.
    pub(crate) fn join(&self, welcome: Bytes, last_seq: u64) {
        let mut state = self.lock();
        if state.gone {
            return;
        }
        state.queue.push_back((welcome, 0));
        state.last_seq = last_seq;
        state.live = true;
        if !state.blocked {
            self.write_now(state);
        }
    }

    /// Queues room events (`bytes`: `events` frames, the last sequenced one `last_seq`) if
    /// this connection takes them, and writes what it can without waiting. Over `bound`
    /// events waiting, events stop and the session is told to resynchronize.
    pub(crate) fn offer(&self, bytes: Bytes, events: usize, last_seq: Option<u64>, bound: usize) {
        let mut state = self.lock();
        if state.gone || !state.live || bytes.is_empty() {
            return;
        }
        if state.queued_events + events > bound {
            state.live = false;
            state.signals.lagged = true;
            drop(state);
            self.wake.notify_one();
            return;
        }
        state.queued_events += events;
        state.queue.push_back((bytes, events));
        if let Some(seq) = last_seq {
            state.last_seq = state.last_seq.max(seq);
        }
        if !state.blocked {
            self.write_now(state);
        }
    }

    /// Tells the session to ask for a new welcome (the room's history was replaced).
    pub(crate) fn resync(&self) {
        let mut state = self.lock();
        state.live = false;
        state.signals.resync = true;
        drop(state);
        self.wake.notify_one();
    }

    /// Tells the session its room is gone.
    pub(crate) fn room_closed(&self) {
        self.lock().signals.room_closed = true;
        self.wake.notify_one();
    }

    /// Queues bytes the session wrote (whole WebSocket frames from tungstenite); the
    /// session's flush writes them.
    fn push(&self, bytes: Bytes) {
        let mut state = self.lock();
        if !state.gone {
            state.queue.push_back((bytes, 0));
        }
    }

    /// Writes everything queued, with the session's waker.
    pub(crate) fn poll_drain(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.lock().poll_drain(cx)
    }

    fn poll_shutdown(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut state = self.lock();
        ready!(state.poll_drain(cx))?;
        state.write.as_mut().poll_shutdown(cx)
    }

    /// Writes what the socket takes now; if it takes less, the session takes over.
    fn write_now(&self, mut state: MutexGuard<'_, State>) {
        let mut cx = Context::from_waker(Waker::noop());
        let wake = match state.poll_drain(&mut cx) {
            Poll::Ready(Ok(())) => false,
            Poll::Pending => {
                state.signals.blocked = true;
                true
            }
            // The session finds out when it drains, or reads the closed socket.
            Poll::Ready(Err(_)) => {
                state.signals.blocked = true;
                true
            }
        };
        drop(state);
        if wake {
            self.wake.notify_one();
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.gone {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        while let Some((bytes, events)) = self.queue.front() {
            let (len, events) = (bytes.len(), *events);
            let written = match self.write.as_mut().poll_write(cx, &bytes[self.offset..]) {
                Poll::Pending => {
                    self.blocked = true;
                    return Poll::Pending;
                }
                Poll::Ready(Ok(0)) => Err(io::ErrorKind::WriteZero.into()),
                Poll::Ready(result) => result,
            };
            match written {
                Ok(n) => {
                    self.offset += n;
                    if self.offset == len {
                        self.offset = 0;
                        self.queued_events -= events;
                        self.queue.pop_front();
                    }
                }
                Err(error) => {
                    self.gone = true;
                    self.queue.clear();
                    return Poll::Ready(Err(error));
                }
            }
        }
        // TLS keeps records until flushed; plain TCP returns at once.
        match self.write.as_mut().poll_flush(cx) {
            Poll::Pending => {
                self.blocked = true;
                Poll::Pending
            }
            Poll::Ready(result) => {
                self.blocked = false;
                if result.is_err() {
                    self.gone = true;
                }
                Poll::Ready(result)
            }
        }
    }
}

/// What the session's tungstenite stream runs on: reads from the socket, writes into the
/// [`Outlet`] (so its frames queue behind and before room events, never inside one).
pub(crate) struct SessionIo {
    read: ReadHalf<Io>,
    outlet: std::sync::Arc<Outlet>,
}

impl SessionIo {
    /// Splits `io`: the read side for tungstenite, the write side behind a new outlet.
    pub(crate) fn new(io: Io) -> (Self, std::sync::Arc<Outlet>) {
        let (read, write): (ReadHalf<Io>, WriteHalf<Io>) = tokio::io::split(io);
        let outlet = std::sync::Arc::new(Outlet::new(write));
        let io = Self {
            read,
            outlet: outlet.clone(),
        };
        (io, outlet)
    }
}

impl AsyncRead for SessionIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.read).poll_read(cx, buf)
    }
}

impl AsyncWrite for SessionIo {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.outlet.push(Bytes::copy_from_slice(buf));
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.outlet.poll_drain(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.outlet.poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt as _;

    #[tokio::test]
    async fn events_follow_the_welcome_and_stop_over_the_bound() {
        let (client, server) = tokio::io::duplex(1 << 16);
        let outlet = Outlet::new(server);
        outlet.offer(Bytes::from_static(b"early"), 1, Some(1), 4);
        outlet.join(Bytes::from_static(b"W"), 5);
        outlet.offer(Bytes::from_static(b"e6"), 1, Some(6), 4);
        assert_eq!(outlet.last_seq(), 6);
        let mut client = client;
        let mut buf = [0u8; 3];
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"We6");
        assert_eq!(outlet.take_signals(), Signals::default());
    }

    #[tokio::test]
    async fn a_full_socket_hands_over_to_the_session() {
        let (mut client, server) = tokio::io::duplex(4);
        let outlet = Outlet::new(server);
        outlet.join(Bytes::from_static(b"W"), 0);
        outlet.offer(Bytes::from_static(b"abcdef"), 1, Some(1), 2);
        assert!(outlet.take_signals().blocked);
        // Blocked: more events queue without being written.
        outlet.offer(Bytes::from_static(b"gh"), 1, Some(2), 2);
        // A third exceeds the bound: events stop, the session is told.
        outlet.offer(Bytes::from_static(b"ij"), 1, Some(3), 2);
        assert!(outlet.take_signals().lagged);
        assert_eq!(outlet.last_seq(), 2);
        let reader = tokio::spawn(async move {
            let mut all = vec![0u8; 9];
            client.read_exact(&mut all).await.unwrap();
            all
        });
        std::future::poll_fn(|cx| outlet.poll_drain(cx))
            .await
            .unwrap();
        assert_eq!(reader.await.unwrap(), b"Wabcdefgh");
    }
}
