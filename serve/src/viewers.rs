//! Counting viewers of a stateless protocol: a player is a viewer while it keeps fetching the
//! media playlist (every part target with LL-HLS, every target duration without). Players are
//! told apart by a hash of their address and user agent, so viewers behind one NAT with the
//! same browser count once — an undercount the control plane can live with for routing.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::time::Duration;

/// A player that has not fetched a playlist for this long is gone.
pub const VIEWER_WINDOW: Duration = Duration::from_secs(10);

/// Most players remembered per stream (bounds memory under a flood of spoofed clients; beyond
/// it new clients are not counted until old ones expire).
pub const MAX_TRACKED_VIEWERS: usize = 1_000_000;

/// Recently seen players of one stream: client hash → last seen, wall-clock ms.
#[derive(Debug, Default)]
pub struct ViewerSet {
    seen: HashMap<u64, u64>,
    last_sweep_ms: u64,
}

impl ViewerSet {
    /// `client` fetched a playlist at `now_ms`.
    pub fn note(&mut self, client: u64, now_ms: u64) {
        if self.seen.len() >= MAX_TRACKED_VIEWERS && !self.seen.contains_key(&client) {
            self.sweep(now_ms);
            if self.seen.len() >= MAX_TRACKED_VIEWERS {
                return;
            }
        }
        self.seen.insert(client, now_ms);
    }

    /// Players seen within [`VIEWER_WINDOW`] of `now_ms`.
    pub fn count(&mut self, now_ms: u64) -> u64 {
        self.sweep(now_ms);
        self.seen.len() as u64
    }

    fn sweep(&mut self, now_ms: u64) {
        if now_ms.saturating_sub(self.last_sweep_ms) < 1000 && self.last_sweep_ms != 0 {
            return;
        }
        self.last_sweep_ms = now_ms;
        let window = VIEWER_WINDOW.as_millis() as u64;
        self.seen
            .retain(|_, seen| now_ms.saturating_sub(*seen) < window);
    }
}

/// The client hash of a request from `ip` with `user_agent`.
pub fn client_key(ip: Option<std::net::IpAddr>, user_agent: Option<&[u8]>) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    ip.hash(&mut hasher);
    user_agent.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::{ViewerSet, client_key};

    #[test]
    fn players_count_while_they_poll_and_leave_after_the_window() {
        let mut set = ViewerSet::default();
        let a = client_key(Some([10, 0, 0, 1].into()), Some(b"hls.js"));
        let b = client_key(Some([10, 0, 0, 2].into()), Some(b"hls.js"));
        let a_other_browser = client_key(Some([10, 0, 0, 1].into()), Some(b"ffmpeg"));
        for t in (1_000..9_000).step_by(500) {
            set.note(a, t);
            set.note(b, t);
            set.note(a, t + 100);
        }
        set.note(a_other_browser, 9_000);
        assert_eq!(set.count(9_000), 3);
        // b stops polling; 10 s after its last poll it is gone.
        for t in (9_500..20_000).step_by(500) {
            set.note(a, t);
        }
        assert_eq!(set.count(20_000), 1);
    }
}
