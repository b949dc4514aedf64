//! The write-token cache: latest per (project, logstore), never an expired one.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cairn_agent::control::{ControlUpdate, TokenCache, WriteToken};

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

fn token(logstore: &str, id: &str, expiration: i64) -> WriteToken {
    WriteToken {
        project: "web".into(),
        logstore: logstore.into(),
        access_key_id: id.into(),
        access_key_secret: format!("{id}-secret"),
        security_token: format!("{id}-token"),
        expiration,
        account: "1234567890123456".into(),
    }
}

#[test]
fn the_latest_fresh_token_is_handed_out() {
    let cache = TokenCache::new();
    assert!(cache.is_empty());
    cache.merge_at(
        &[token("nginx", "one", 2_000), token("app", "two", 2_000)],
        at(1_000),
    );
    assert_eq!(
        cache.credentials_for_at("web", "nginx", at(1_000)),
        Some(("one".into(), "one-secret".into(), "one-token".into()))
    );
    assert_eq!(cache.credentials_for_at("web", "other", at(1_000)), None);
    assert_eq!(cache.credentials_for_at("ops", "nginx", at(1_000)), None);

    // A renewal replaces; a stale answer that expires earlier does not.
    cache.merge_at(&[token("nginx", "three", 3_000)], at(1_500));
    cache.merge_at(&[token("nginx", "late", 2_500)], at(1_500));
    let held = cache.token_for_at("web", "nginx", at(1_500)).expect("held");
    assert_eq!(held.access_key_id, "three");
    // Merging keeps targets the answer did not mention.
    assert!(cache.credentials_for_at("web", "app", at(1_500)).is_some());
}

#[test]
fn expired_tokens_are_never_returned() {
    let cache = TokenCache::new();
    cache.merge_at(&[token("nginx", "one", 2_000)], at(1_000));
    assert!(cache
        .credentials_for_at("web", "nginx", at(1_989))
        .is_some());
    // Within the safety margin of its expiration, a token counts as expired.
    assert_eq!(cache.credentials_for_at("web", "nginx", at(1_990)), None);
    assert_eq!(cache.credentials_for_at("web", "nginx", at(5_000)), None);
    // Expired tokens are pruned at the next merge; one already expired is not taken.
    cache.merge_at(&[token("app", "old", 100)], at(3_000));
    assert!(cache.is_empty());
}

#[test]
fn a_replacing_answer_drops_what_it_does_not_mention() {
    let cache = TokenCache::new();
    let far = 4_000_000_000;
    cache.merge_at(
        &[token("nginx", "one", far), token("app", "two", far)],
        SystemTime::now(),
    );
    let replacing = ControlUpdate {
        write_tokens: vec![token("app", "three", far)],
        write_tokens_replaced: true,
        ..ControlUpdate::default()
    };
    cache.apply(&replacing);
    assert_eq!(cache.credentials_for("web", "nginx"), None);
    assert_eq!(
        cache.credentials_for("web", "app").map(|c| c.0),
        Some("three".into())
    );
    // A non-replacing empty answer keeps everything; a replacing empty one revokes all.
    cache.apply(&ControlUpdate::default());
    assert_eq!(cache.len(), 1);
    cache.apply(&ControlUpdate {
        write_tokens_replaced: true,
        ..ControlUpdate::default()
    });
    assert!(cache.is_empty());
}

#[test]
fn debug_output_hides_secrets() {
    let shown = format!("{:?}", token("nginx", "id", 1));
    assert!(
        !shown.contains("id-secret") && !shown.contains("id-token"),
        "{shown}"
    );
}
