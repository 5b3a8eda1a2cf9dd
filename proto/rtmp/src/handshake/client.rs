//! Client side of the (plain) handshake, for our own publisher.

use bytes::{Bytes, BytesMut};

use super::digest::Packet;
use super::{HANDSHAKE_SIZE, HandshakeError, RTMP_VERSION, fill};
use crate::rng::SplitMix64;

/// Client handshake state machine (plain flavour).
///
/// C0+C1 are queued at construction: drain [`poll_transmit`](Self::poll_transmit)
/// first, then after every [`handle_input`](Self::handle_input) drain it again.
/// C2 (an echo of S1) goes out as soon as S1 arrives, without waiting for S2,
/// since servers may hold S2 until they see C2 (spec 5.2.1).
pub struct ClientHandshake {
    state: State,
    buf: Vec<u8>,
    out: BytesMut,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    AwaitS0S1,
    AwaitS2,
    Done,
    Failed(u8),
}

impl ClientHandshake {
    /// Start a handshake; `seed` drives the C1 filler bytes.
    pub fn new(seed: u64) -> Self {
        let mut c1: Packet = [0; HANDSHAKE_SIZE];
        // Time 0 and a zero version field: the plain handshake.
        SplitMix64::new(seed).fill(&mut c1[8..]);
        let mut out = BytesMut::with_capacity(1 + HANDSHAKE_SIZE);
        out.extend_from_slice(&[RTMP_VERSION]);
        out.extend_from_slice(&c1);
        Self {
            state: State::AwaitS0S1,
            buf: Vec::with_capacity(1 + HANDSHAKE_SIZE),
            out,
        }
    }

    /// Consume handshake bytes; returns how many were used. Once
    /// [`is_done`](Self::is_done), the rest is chunk-stream data.
    pub fn handle_input(&mut self, data: &[u8]) -> Result<usize, HandshakeError> {
        let mut used = 0;
        loop {
            let rest = data.get(used..).unwrap_or_default();
            match self.state {
                State::Failed(v) => return Err(HandshakeError::UnsupportedVersion(v)),
                State::Done => return Ok(used),
                State::AwaitS0S1 => {
                    used += fill(&mut self.buf, 1 + HANDSHAKE_SIZE, rest);
                    if let Some(&version) = self.buf.first()
                        && version != RTMP_VERSION
                    {
                        self.state = State::Failed(version);
                        continue;
                    }
                    let Some(s1) = self.buf.get(1..).filter(|s| s.len() == HANDSHAKE_SIZE) else {
                        return Ok(used);
                    };
                    self.out.extend_from_slice(s1);
                    self.buf.clear();
                    self.state = State::AwaitS2;
                }
                State::AwaitS2 => {
                    used += fill(&mut self.buf, HANDSHAKE_SIZE, rest);
                    if self.buf.len() < HANDSHAKE_SIZE {
                        return Ok(used);
                    }
                    self.buf = Vec::new();
                    self.state = State::Done;
                }
            }
        }
    }

    /// Next bytes to send, if any.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        (!self.out.is_empty()).then(|| self.out.split().freeze())
    }

    /// Whether S2 has been received.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }
}
