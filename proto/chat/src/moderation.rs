//! [`Moderation`]: one room's rules (`docs/chat-protocol.md` §8). Rate limiting is the IO
//! layer's (governor), not this module's.
//!
//! Blocked words match **case-insensitively on whole words**: the text and each entry are
//! lowercased and split into words at every character that is not alphanumeric, and an entry
//! (one word or a phrase of several) matches a run of consecutive words. So `"bad"` blocks
//! `"BAD!"` and `"so bad"` but not `"badminton"` (substring matching would refuse innocent
//! words, the Scunthorpe problem); evasions like `"b.a.d"` are left to moderators.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::limits::{MAX_BLOCKED_WORDS, MAX_SLOW_MODE_USERS};
use crate::token::ChatClaims;
use crate::wire::ErrorCode;

/// A room's moderation state. The home relay is authoritative; edge relays MAY keep a copy fed
/// from the sequenced `system` events to refuse early.
#[derive(Debug, Clone)]
pub struct Moderation {
    max_text_chars: usize,
    /// User id → end of a timeout, or `None` for a permanent ban.
    bans: HashMap<String, Option<Instant>>,
    slow_mode: Duration,
    last_sent: HashMap<String, Instant>,
    words: HashSet<String>,
    phrases: Vec<Vec<String>>,
}

/// A change to the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModAction {
    /// Ban `user_id`; with a `duration`, a timeout that ends by itself.
    Ban {
        /// The user.
        user_id: String,
        /// Timeout length; `None` is permanent.
        duration: Option<Duration>,
    },
    /// Lift a ban or timeout.
    Unban {
        /// The user.
        user_id: String,
    },
    /// Set slow mode; `Duration::ZERO` turns it off.
    SlowMode {
        /// Minimum time between one viewer's messages.
        interval: Duration,
    },
    /// Block a word or phrase.
    BlockWord(String),
    /// Unblock a word or phrase.
    UnblockWord(String),
}

/// Why a message (or action) was refused. Maps to an [`ErrorCode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Permanently banned.
    #[error("banned")]
    Banned,
    /// Timed out for `remaining` more.
    #[error("timed out for {remaining:?}")]
    TimedOut {
        /// Time left.
        remaining: Duration,
    },
    /// Slow mode: the previous message was too recent.
    #[error("slow mode: retry in {retry_after:?}")]
    SlowMode {
        /// Time until the next message is allowed.
        retry_after: Duration,
    },
    /// The text contains a blocked word or phrase.
    #[error("blocked word")]
    BlockedWord,
    /// The text is longer than the room allows.
    #[error("text of {chars} characters exceeds {max}")]
    TooLarge {
        /// Its length in characters.
        chars: usize,
        /// The room's limit.
        max: usize,
    },
    /// The role may not do this (moderation by a viewer), or the word list is full.
    #[error("forbidden")]
    Forbidden,
}

impl Refusal {
    /// The error code sent to the client.
    pub fn code(self) -> ErrorCode {
        match self {
            Self::Banned => ErrorCode::Banned,
            Self::TimedOut { .. } => ErrorCode::TimedOut,
            Self::SlowMode { .. } => ErrorCode::SlowMode,
            Self::BlockedWord => ErrorCode::BlockedWord,
            Self::TooLarge { .. } => ErrorCode::TooLarge,
            Self::Forbidden => ErrorCode::Forbidden,
        }
    }

    /// When retrying may succeed, for the `error` frame's `retry_after_ms`.
    pub fn retry_after(self) -> Option<Duration> {
        match self {
            Self::TimedOut { remaining } => Some(remaining),
            Self::SlowMode { retry_after } => Some(retry_after),
            _ => None,
        }
    }
}

impl Moderation {
    /// A room with no bans, no slow mode and no blocked words, allowing texts of up to
    /// `max_text_chars` characters (at most [`crate::Limits::max_text_chars`] to matter).
    pub fn new(max_text_chars: usize) -> Self {
        Self {
            max_text_chars,
            bans: HashMap::new(),
            slow_mode: Duration::ZERO,
            last_sent: HashMap::new(),
            words: HashSet::new(),
            phrases: Vec::new(),
        }
    }

    /// Checks a chat message in order: ban or timeout, size, blocked words, slow mode. Hosts and
    /// moderators are exempt from slow mode only. A message that passes counts as sent for slow
    /// mode, so check retries with [`crate::RoomSequencer::duplicate_of`] first.
    pub fn check_chat(
        &mut self,
        claims: &ChatClaims,
        text: &str,
        now: Instant,
    ) -> Result<(), Refusal> {
        self.check_user(&claims.user_id, now)?;
        let chars = text.chars().count();
        if chars > self.max_text_chars {
            return Err(Refusal::TooLarge {
                chars,
                max: self.max_text_chars,
            });
        }
        if self.contains_blocked(text) {
            return Err(Refusal::BlockedWord);
        }
        if self.slow_mode > Duration::ZERO && !claims.role.can_moderate() {
            if let Some(last) = self.last_sent.get(&claims.user_id) {
                let since = now.saturating_duration_since(*last);
                if since < self.slow_mode {
                    return Err(Refusal::SlowMode {
                        retry_after: self.slow_mode - since,
                    });
                }
            }
            self.last_sent.insert(claims.user_id.clone(), now);
            if self.last_sent.len() > MAX_SLOW_MODE_USERS {
                let interval = self.slow_mode;
                self.last_sent
                    .retain(|_, t| now.saturating_duration_since(*t) < interval);
            }
        }
        Ok(())
    }

    /// Refuses banned or timed-out users (for gifts and likes as well as chat). An expired
    /// timeout is forgotten here.
    pub fn check_user(&mut self, user_id: &str, now: Instant) -> Result<(), Refusal> {
        match self.bans.get(user_id) {
            None => Ok(()),
            Some(None) => Err(Refusal::Banned),
            Some(Some(until)) if *until > now => Err(Refusal::TimedOut {
                remaining: *until - now,
            }),
            Some(Some(_)) => {
                self.bans.remove(user_id);
                Ok(())
            }
        }
    }

    /// Whether `claims` may send moderation frames.
    pub fn check_moderator(&self, claims: &ChatClaims) -> Result<(), Refusal> {
        if claims.role.can_moderate() {
            Ok(())
        } else {
            Err(Refusal::Forbidden)
        }
    }

    /// Applies a rule change. Fails only for a full or empty word list entry.
    pub fn apply(&mut self, action: ModAction, now: Instant) -> Result<(), Refusal> {
        match action {
            ModAction::Ban { user_id, duration } => {
                // A timeout too long to represent is a permanent ban.
                let until = duration.and_then(|d| now.checked_add(d));
                self.bans.insert(user_id, until);
            }
            ModAction::Unban { user_id } => {
                self.bans.remove(&user_id);
            }
            ModAction::SlowMode { interval } => {
                self.slow_mode = interval;
                if interval.is_zero() {
                    self.last_sent.clear();
                }
            }
            ModAction::BlockWord(entry) => {
                let words = split_words(&entry);
                if words.is_empty() || self.words.len() + self.phrases.len() >= MAX_BLOCKED_WORDS {
                    return Err(Refusal::Forbidden);
                }
                match <[String; 1]>::try_from(words) {
                    Ok([word]) => {
                        self.words.insert(word);
                    }
                    Err(phrase) if !self.phrases.contains(&phrase) => self.phrases.push(phrase),
                    Err(_) => {}
                }
            }
            ModAction::UnblockWord(entry) => {
                let words = split_words(&entry);
                if let [word] = words.as_slice() {
                    self.words.remove(word);
                }
                self.phrases.retain(|p| *p != words);
            }
        }
        Ok(())
    }

    /// The slow-mode interval; zero when off.
    pub fn slow_mode(&self) -> Duration {
        self.slow_mode
    }

    /// Forgets expired timeouts and slow-mode entries older than the interval.
    pub fn prune(&mut self, now: Instant) {
        self.bans.retain(|_, until| until.is_none_or(|u| u > now));
        let interval = self.slow_mode;
        self.last_sent
            .retain(|_, t| now.saturating_duration_since(*t) < interval);
    }

    fn contains_blocked(&self, text: &str) -> bool {
        if self.words.is_empty() && self.phrases.is_empty() {
            return false;
        }
        let words = split_words(text);
        words.iter().any(|w| self.words.contains(w))
            || self
                .phrases
                .iter()
                .any(|p| words.windows(p.len()).any(|w| w == p.as_slice()))
    }
}

/// Lowercased words: maximal runs of alphanumeric characters.
fn split_words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests;
