//! Tail-loss probes: a part's last packets, when lost, are otherwise recovered only by QUIC's
//! probe timeout, since nothing is sent after them until the next part 200 ms later.
//!
//! QUIC declares a packet lost once a packet sent after it is acknowledged and 9/8 of an RTT
//! has passed since it was sent (RFC 9002 §6.1.2). A part's tail has no later packet, so its
//! loss waits for the PTO (RFC 9002 §6.2: srtt + 4·rttvar + max_ack_delay, doubled on each
//! expiry), which on a 40 ms path with jitter put the p99 part arrival at 136 ms. So while a
//! part is unacknowledged, the publisher sends a tiny ack-eliciting QUIC DATAGRAM after it
//! (`docs/relay-wire.md` §2): its acknowledgement makes a lost tail packet detectable by the
//! time threshold, about one RTT after the tail was sent, and the retransmission arrives one
//! way later (one RTT plus one way in all, as for a loss in the middle of a part).
//!
//! quinn exposes no PING (its `Connection` has no such method), and a DATAGRAM frame is the
//! only ack-eliciting frame an application can send on its own. quinn packs DATAGRAM frames
//! before STREAM frames, so a probe sent while the part is still queued would go out ahead of
//! it: the first probe waits a little for the part to leave (it is paced), and the following
//! ones cover parts that took longer.

use std::time::Duration;

use bytes::Bytes;

/// What a probe carries; the subscriber reads and ignores DATAGRAMs (`docs/relay-wire.md`).
const PROBE: Bytes = Bytes::from_static(b"p");

/// Probes sent for one part at most; the PTO takes over after that.
pub(crate) const MAX_PROBES_PER_PART: u32 = 3;

/// When the `n`th probe (from 0) goes out, after the previous one (or after the part was
/// handed to QUIC, for the first), given the path's RTT.
///
/// The first waits an eighth of an RTT (2–10 ms): long enough for a paced part of a few dozen
/// packets to have left on a path of that RTT, short against the RTT. Later probes follow
/// every half RTT (5–100 ms), for parts still being paced out or a lost probe.
pub(crate) fn probe_delay(n: u32, rtt: Duration) -> Duration {
    if n == 0 {
        (rtt / 8).clamp(Duration::from_millis(2), Duration::from_millis(10))
    } else {
        (rtt / 2).clamp(Duration::from_millis(5), Duration::from_millis(100))
    }
}

/// Sends probes after a part handed to `connection` until cancelled by the caller (the part
/// was acknowledged, reset or failed), at most [`MAX_PROBES_PER_PART`]; counts each sent.
/// Never completes on its own, so a `select!` ends with the part.
pub(crate) async fn probe_tail(
    connection: &quinn::Connection,
    sent: &prometheus_client::metrics::counter::Counter,
) {
    for n in 0..MAX_PROBES_PER_PART {
        tokio::time::sleep(probe_delay(n, connection.rtt())).await;
        // Refused when the peer takes no datagrams or the connection is closing: the part
        // then relies on the PTO, as without probes.
        if connection.send_datagram(PROBE).is_ok() {
            sent.inc();
        }
    }
    std::future::pending::<()>().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_probe_waits_an_eighth_of_an_rtt_within_bounds() {
        let ms = Duration::from_millis;
        assert_eq!(probe_delay(0, ms(40)), ms(5));
        assert_eq!(probe_delay(0, ms(1)), ms(2), "loopback: not before 2 ms");
        assert_eq!(
            probe_delay(0, ms(300)),
            ms(10),
            "long paths: the tail left long ago"
        );
    }

    #[test]
    fn later_probes_follow_every_half_rtt_within_bounds() {
        let ms = Duration::from_millis;
        assert_eq!(probe_delay(1, ms(40)), ms(20));
        assert_eq!(probe_delay(2, ms(2)), ms(5));
        assert_eq!(probe_delay(1, ms(1000)), ms(100));
    }

    #[test]
    fn a_part_acknowledged_within_an_rtt_on_a_40_ms_path_sends_two_probes_at_most() {
        // Probes at 5 ms and 25 ms; the part's acknowledgement comes about 40 ms after its
        // tail, before the third at 45 ms.
        let rtt = Duration::from_millis(40);
        let times: Vec<Duration> = (0..MAX_PROBES_PER_PART)
            .scan(Duration::ZERO, |at, n| {
                *at += probe_delay(n, rtt);
                Some(*at)
            })
            .collect();
        assert_eq!(
            times,
            [5, 25, 45].map(Duration::from_millis).to_vec(),
            "probe times after the part"
        );
    }
}
