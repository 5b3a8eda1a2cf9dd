use proptest::prelude::*;

use super::*;
use crate::token::ChatRole;

const S: Duration = Duration::from_secs(1);

fn claims(user: &str, role: ChatRole) -> ChatClaims {
    ChatClaims {
        user_id: user.into(),
        name: user.into(),
        role,
        room: None,
        exp: i64::MAX,
    }
}

#[test]
fn bans_and_timeouts() {
    let t0 = epoch();
    let mut rules = Moderation::new(500);
    let viewer = claims("v", ChatRole::Viewer);
    rules
        .apply(
            ModAction::Ban {
                user_id: "v".into(),
                duration: Some(60 * S),
            },
            t0,
        )
        .unwrap();
    let refusal = rules.check_chat(&viewer, "hi", t0 + 10 * S).unwrap_err();
    assert_eq!(refusal, Refusal::TimedOut { remaining: 50 * S });
    assert_eq!(
        (refusal.code(), refusal.retry_after()),
        (ErrorCode::TimedOut, Some(50 * S))
    );
    assert_eq!(rules.check_chat(&viewer, "hi", t0 + 60 * S), Ok(()));

    rules
        .apply(
            ModAction::Ban {
                user_id: "v".into(),
                duration: None,
            },
            t0,
        )
        .unwrap();
    assert_eq!(rules.check_user("v", t0 + 1000 * S), Err(Refusal::Banned));
    rules
        .apply(
            ModAction::Unban {
                user_id: "v".into(),
            },
            t0,
        )
        .unwrap();
    assert_eq!(rules.check_user("v", t0), Ok(()));
    // A timeout too long to represent is permanent.
    rules
        .apply(
            ModAction::Ban {
                user_id: "v".into(),
                duration: Some(Duration::MAX),
            },
            t0,
        )
        .unwrap();
    assert_eq!(rules.check_user("v", t0), Err(Refusal::Banned));
}

#[test]
fn slow_mode_spares_hosts_and_moderators() {
    let t0 = epoch();
    let mut rules = Moderation::new(500);
    rules
        .apply(ModAction::SlowMode { interval: 10 * S }, t0)
        .unwrap();
    let viewer = claims("v", ChatRole::Viewer);
    assert_eq!(rules.check_chat(&viewer, "one", t0), Ok(()));
    let refusal = rules.check_chat(&viewer, "two", t0 + 4 * S).unwrap_err();
    assert_eq!(refusal, Refusal::SlowMode { retry_after: 6 * S });
    // A refused message does not restart the interval.
    assert_eq!(rules.check_chat(&viewer, "two", t0 + 10 * S), Ok(()));
    for role in [ChatRole::Host, ChatRole::Moderator] {
        let staff = claims("s", role);
        assert_eq!(rules.check_chat(&staff, "a", t0), Ok(()));
        assert_eq!(rules.check_chat(&staff, "b", t0), Ok(()));
    }
    rules
        .apply(
            ModAction::SlowMode {
                interval: Duration::ZERO,
            },
            t0,
        )
        .unwrap();
    assert_eq!(rules.check_chat(&viewer, "three", t0 + 10 * S), Ok(()));
    assert_eq!(rules.slow_mode(), Duration::ZERO);
}

#[test]
fn blocked_words_are_whole_words_case_insensitive() {
    let t0 = epoch();
    let mut rules = Moderation::new(500);
    let viewer = claims("v", ChatRole::Viewer);
    rules.apply(ModAction::BlockWord("Bad".into()), t0).unwrap();
    rules
        .apply(ModAction::BlockWord("very  rude".into()), t0)
        .unwrap();
    for text in [
        "BAD!",
        "so bad",
        "bad,worse",
        "that is VERY rude",
        "ÉTÉ bad",
    ] {
        assert_eq!(
            rules.check_chat(&viewer, text, t0),
            Err(Refusal::BlockedWord),
            "{text}"
        );
    }
    for text in ["badminton", "very polite, not rude", "b.a.d"] {
        assert_eq!(rules.check_chat(&viewer, text, t0), Ok(()), "{text}");
    }
    rules
        .apply(ModAction::UnblockWord("BAD".into()), t0)
        .unwrap();
    rules
        .apply(ModAction::UnblockWord("Very Rude".into()), t0)
        .unwrap();
    assert_eq!(rules.check_chat(&viewer, "very rude and bad", t0), Ok(()));
    assert_eq!(
        rules.apply(ModAction::BlockWord(" !! ".into()), t0),
        Err(Refusal::Forbidden)
    );
}

#[test]
fn size_and_roles() {
    let t0 = epoch();
    let mut rules = Moderation::new(3);
    let viewer = claims("v", ChatRole::Viewer);
    let err = rules.check_chat(&viewer, "four", t0).unwrap_err();
    assert_eq!(
        (err, err.code()),
        (Refusal::TooLarge { chars: 4, max: 3 }, ErrorCode::TooLarge)
    );
    assert_eq!(rules.check_moderator(&viewer), Err(Refusal::Forbidden));
    assert_eq!(
        rules.check_moderator(&claims("m", ChatRole::Moderator)),
        Ok(())
    );
    assert_eq!(rules.check_moderator(&claims("h", ChatRole::Host)), Ok(()));
}

#[test]
fn prune_forgets_expired_state() {
    let t0 = epoch();
    let mut rules = Moderation::new(500);
    rules
        .apply(ModAction::SlowMode { interval: 5 * S }, t0)
        .unwrap();
    rules
        .apply(
            ModAction::Ban {
                user_id: "a".into(),
                duration: Some(S),
            },
            t0,
        )
        .unwrap();
    rules
        .apply(
            ModAction::Ban {
                user_id: "b".into(),
                duration: None,
            },
            t0,
        )
        .unwrap();
    rules
        .check_chat(&claims("v", ChatRole::Viewer), "x", t0)
        .unwrap();
    rules.prune(t0 + 10 * S);
    assert_eq!((rules.bans.len(), rules.last_sent.len()), (1, 0));
}

proptest! {
    /// Slow mode admits a viewer's message exactly when the previous admitted one is at least
    /// one interval old.
    #[test]
    fn slow_mode_admits_by_interval(interval_ms in 1u64..5000, gaps in proptest::collection::vec(0u64..6000, 1..50)) {
        let t0 = epoch();
        let interval = Duration::from_millis(interval_ms);
        let mut rules = Moderation::new(500);
        rules.apply(ModAction::SlowMode { interval }, t0).unwrap();
        let viewer = claims("v", ChatRole::Viewer);
        let (mut now, mut last_ok): (Instant, Option<Instant>) = (t0, None);
        for gap in gaps {
            now += Duration::from_millis(gap);
            let expect = last_ok.is_none_or(|t| now - t >= interval);
            prop_assert_eq!(rules.check_chat(&viewer, "m", now).is_ok(), expect);
            if expect {
                last_ok = Some(now);
            }
        }
    }
}

/// The virtual clock's origin; only durations from it matter.
fn epoch() -> Instant {
    #[expect(clippy::disallowed_methods, reason = "test epoch")]
    Instant::now()
}
