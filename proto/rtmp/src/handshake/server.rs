//! Server side of the handshake.

use bytes::{Bytes, BytesMut};

use super::digest::{self, Packet, SERVER_TEXT};
use super::{HANDSHAKE_SIZE, HandshakeError, HandshakeKind, RTMP_VERSION, fill};
use crate::rng::SplitMix64;

/// Version we put in a digest S1: non-zero marks "digest-capable", and
/// FFmpeg only validates S1 when the first byte is at least 3.
const SERVER_VERSION: [u8; 4] = [0x04, 0x05, 0x00, 0x01];

/// Server handshake state machine.
///
/// Feed bytes with [`handle_input`](Self::handle_input); after every call drain
/// [`poll_transmit`](Self::poll_transmit) until `None`. S0+S1+S2 are sent
/// together as soon as C0+C1 arrive (allowed by spec 5.2.5 and what most
/// servers do), then C2 is read and ignored: clients sign it in ways we have
/// no reason to check.
pub struct ServerHandshake {
    state: State,
    buf: Vec<u8>,
    out: BytesMut,
    rng: SplitMix64,
    kind: Option<HandshakeKind>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    AwaitC0C1,
    AwaitC2,
    Done,
    Failed(u8),
}

impl ServerHandshake {
    /// A fresh handshake; `seed` drives the S1/S2 filler bytes (no OS randomness).
    pub fn new(seed: u64) -> Self {
        Self {
            state: State::AwaitC0C1,
            buf: Vec::with_capacity(1 + HANDSHAKE_SIZE),
            out: BytesMut::new(),
            rng: SplitMix64::new(seed),
            kind: None,
        }
    }

    /// Consume handshake bytes. Returns how many bytes of `data` were used; once
    /// [`is_done`](Self::is_done), the unused rest is chunk-stream data.
    pub fn handle_input(&mut self, data: &[u8]) -> Result<usize, HandshakeError> {
        let mut used = 0;
        loop {
            let rest = data.get(used..).unwrap_or_default();
            match self.state {
                State::Failed(v) => return Err(HandshakeError::UnsupportedVersion(v)),
                State::Done => return Ok(used),
                State::AwaitC0C1 => {
                    used += fill(&mut self.buf, 1 + HANDSHAKE_SIZE, rest);
                    // Refuse a wrong C0 at once, before waiting for 1536 more bytes.
                    if let Some(&version) = self.buf.first()
                        && version != RTMP_VERSION
                    {
                        self.state = State::Failed(version);
                        continue;
                    }
                    let Some(c1) = self.buf.get(1..).and_then(|c| Packet::try_from(c).ok()) else {
                        return Ok(used);
                    };
                    self.respond(&c1);
                    self.buf.clear();
                    self.state = State::AwaitC2;
                }
                State::AwaitC2 => {
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

    /// Whether C2 has been received; from then on bytes are chunk-stream data.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Which flavour we answered with (known once C1 arrived).
    pub fn kind(&self) -> Option<HandshakeKind> {
        self.kind
    }

    fn respond(&mut self, c1: &Packet) {
        let mut s1: Packet = [0; HANDSHAKE_SIZE];
        let mut s2: Packet = [0; HANDSHAKE_SIZE];
        // Time fields stay 0: we have no clock, and no client relies on them.
        self.rng.fill(&mut s1[8..]);
        // A zero version in C1 means a spec (plain) client: do not even look
        // for a digest, whose random lookalike would be a false positive.
        let client_digest = (c1[4..8] != [0; 4])
            .then(|| digest::find_client_digest(c1))
            .flatten();
        match client_digest {
            Some((scheme, c1_digest)) => {
                s1[4..8].copy_from_slice(&SERVER_VERSION);
                digest::imprint(&mut s1, scheme, SERVER_TEXT);
                self.rng.fill(&mut s2);
                digest::sign_response(&mut s2, &c1_digest, SERVER_TEXT);
                self.kind = Some(HandshakeKind::Digest(scheme));
            }
            None => {
                s2 = *c1;
                self.kind = Some(HandshakeKind::Plain);
            }
        }
        self.out.extend_from_slice(&[RTMP_VERSION]);
        self.out.extend_from_slice(&s1);
        self.out.extend_from_slice(&s2);
    }
}
