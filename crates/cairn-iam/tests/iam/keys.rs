//! `Iam` against a real SQLite metastore: AccessKey lifecycle, sealing at rest, refusal of
//! disabled, deleted and tampered keys, and authorisation of the resulting principals.

use std::net::{IpAddr, Ipv4Addr};

use cairn_iam::{
    authorize, AccessKeyStatus, Iam, IamError, MasterKey, PrincipalIdentity, SECRET_LEN,
};
use cairn_meta::{EntityKind, MetaError, Metastore};
use cairn_model::{AccessKeyId, LogstoreName, ProjectName, ResourceArn};

use super::{all_file_bytes, fixture, user_name, Captured};

#[tokio::test]
async fn accounts_get_sixteen_digit_ids() {
    let fixture = fixture().await;
    let first = fixture.iam.create_account("first").await.expect("create");
    let second = fixture.iam.create_account("second").await.expect("create");
    assert_ne!(first.id, second.id);
    assert_eq!(first.id.to_string().len(), 16);
    assert_eq!(fixture.iam.get_account(first.id).await.expect("get"), first);
}

#[tokio::test]
async fn free_text_names_are_checked() {
    let fixture = fixture().await;
    for bad in ["", "line\nbreak", &"x".repeat(129)] {
        let err = fixture.iam.create_account(bad).await.expect_err("invalid");
        assert!(matches!(err, IamError::Model(_)), "{err:?}");
    }
    let account = fixture
        .iam
        .create_account(String::from("ünïcode name"))
        .await
        .expect("valid");
    let err = fixture
        .iam
        .create_user(account.id, user_name("eve"), "tab\there")
        .await
        .expect_err("control character");
    assert!(matches!(err, IamError::Model(_)), "{err:?}");
    let user = fixture
        .iam
        .create_user(account.id, user_name("eve"), String::new())
        .await
        .expect("empty display name is fine");
    assert_eq!(user.display_name, "");
}

#[tokio::test]
async fn created_key_authenticates_with_the_same_secret() {
    let fixture = fixture().await;
    let account = fixture.iam.create_account("acme").await.expect("account");
    let new_key = fixture
        .iam
        .create_access_key(account.id, None)
        .await
        .expect("key");
    assert_eq!(new_key.secret.expose().len(), SECRET_LEN);
    assert!(new_key
        .secret
        .expose()
        .bytes()
        .all(|b| b.is_ascii_alphanumeric()));

    let credential = fixture
        .iam
        .authenticate_key(&new_key.id)
        .await
        .expect("authenticate");
    assert_eq!(credential.secret.expose(), new_key.secret.expose());
    assert_eq!(credential.account, account.id);
    assert_eq!(credential.user, None);
    let principal = credential.principal(Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    assert_eq!(principal.identity, PrincipalIdentity::Root);
    assert_eq!(principal.access_key_id, new_key.id);

    // Debug output of everything holding the secret is redacted.
    for printed in [format!("{new_key:?}"), format!("{credential:?}")] {
        assert!(!printed.contains(new_key.secret.expose()), "{printed}");
        assert!(printed.contains("***"), "{printed}");
    }
}

#[tokio::test]
async fn the_secret_is_not_stored_in_clear() {
    let fixture = fixture().await;
    let account = fixture.iam.create_account("acme").await.expect("account");
    let new_key = fixture
        .iam
        .create_access_key(account.id, None)
        .await
        .expect("key");
    let secret = new_key.secret.expose().as_bytes().to_vec();
    // The id is stored in clear (it is looked up), which proves we read the right bytes.
    let on_disk = all_file_bytes(fixture.dir.path());
    assert!(on_disk
        .windows(new_key.id.as_str().len())
        .any(|w| w == new_key.id.as_str().as_bytes()));
    assert!(!on_disk
        .windows(secret.len())
        .any(|w| w == secret.as_slice()));

    fixture.metastore.close().await;
    let after_checkpoint = all_file_bytes(fixture.dir.path());
    assert!(!after_checkpoint
        .windows(secret.len())
        .any(|w| w == secret.as_slice()));
}

#[tokio::test]
async fn listing_keys_never_shows_secrets() {
    let fixture = fixture().await;
    let account = fixture.iam.create_account("acme").await.expect("account");
    fixture
        .iam
        .create_user(account.id, user_name("alice"), "Alice")
        .await
        .expect("user");
    let root_key = fixture
        .iam
        .create_access_key(account.id, None)
        .await
        .expect("key");
    let user_key = fixture
        .iam
        .create_access_key(account.id, Some(user_name("alice")))
        .await
        .expect("key");
    let listed = fixture
        .iam
        .list_access_keys(account.id)
        .await
        .expect("list");
    assert_eq!(listed.len(), 2);
    let json = serde_json::to_string(&listed).expect("json");
    for secret in [root_key.secret.expose(), user_key.secret.expose()] {
        assert!(!json.contains(secret));
        assert!(!format!("{listed:?}").contains(secret));
    }
    let alice = listed
        .iter()
        .find(|key| key.id == user_key.id)
        .expect("alice's key listed");
    assert_eq!(alice.user, Some(user_name("alice")));
    assert_eq!(alice.status, AccessKeyStatus::Active);
}

#[tokio::test]
async fn disabled_deleted_and_unknown_keys_are_refused() {
    let fixture = fixture().await;
    let account = fixture.iam.create_account("acme").await.expect("account");
    let other = fixture.iam.create_account("other").await.expect("account");
    let key = fixture
        .iam
        .create_access_key(account.id, None)
        .await
        .expect("key");

    fixture
        .iam
        .set_access_key_status(account.id, &key.id, AccessKeyStatus::Disabled)
        .await
        .expect("disable");
    let err = fixture
        .iam
        .authenticate_key(&key.id)
        .await
        .expect_err("disabled");
    assert!(matches!(err, IamError::AccessKeyDisabled { .. }), "{err:?}");

    fixture
        .iam
        .set_access_key_status(account.id, &key.id, AccessKeyStatus::Active)
        .await
        .expect("enable");
    fixture
        .iam
        .authenticate_key(&key.id)
        .await
        .expect("active again");

    // Another account cannot touch the key.
    let err = fixture
        .iam
        .delete_access_key(other.id, &key.id)
        .await
        .expect_err("not theirs");
    assert!(matches!(err, IamError::AccessKeyNotFound { .. }), "{err:?}");

    fixture
        .iam
        .delete_access_key(account.id, &key.id)
        .await
        .expect("delete");
    let err = fixture
        .iam
        .authenticate_key(&key.id)
        .await
        .expect_err("deleted");
    assert!(matches!(err, IamError::AccessKeyNotFound { .. }), "{err:?}");

    let unknown = AccessKeyId::parse("LTAIunknownunknownunkn").expect("id");
    let err = fixture
        .iam
        .authenticate_key(&unknown)
        .await
        .expect_err("unknown");
    assert!(matches!(err, IamError::AccessKeyNotFound { .. }), "{err:?}");
    assert!(!err.is_transient());
}

#[tokio::test]
async fn user_keys_go_with_their_user() {
    let fixture = fixture().await;
    let account = fixture.iam.create_account("acme").await.expect("account");
    let err = fixture
        .iam
        .create_access_key(account.id, Some(user_name("ghost")))
        .await
        .expect_err("no such user");
    assert!(
        matches!(&err, IamError::Meta(meta) if meta.is_not_found(EntityKind::User)),
        "{err:?}"
    );

    fixture
        .iam
        .create_user(account.id, user_name("bob"), "Bob")
        .await
        .expect("user");
    let key = fixture
        .iam
        .create_access_key(account.id, Some(user_name("bob")))
        .await
        .expect("key");
    let credential = fixture.iam.authenticate_key(&key.id).await.expect("auth");
    assert_eq!(
        credential.principal(None).identity,
        PrincipalIdentity::User(user_name("bob"))
    );

    let deleted = fixture
        .iam
        .delete_user(account.id, &user_name("bob"))
        .await
        .expect("delete user");
    assert_eq!(deleted, vec![key.id.clone()]);
    let err = fixture
        .iam
        .authenticate_key(&key.id)
        .await
        .expect_err("gone");
    assert!(matches!(err, IamError::AccessKeyNotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn a_ciphertext_moved_to_another_row_or_another_master_key_fails() {
    let fixture = fixture().await;
    let account = fixture.iam.create_account("acme").await.expect("account");
    let victim = fixture
        .iam
        .create_access_key(account.id, None)
        .await
        .expect("key");
    let attacker = fixture
        .iam
        .create_access_key(account.id, None)
        .await
        .expect("key");

    // Copy the attacker's sealed secret onto the victim's row, behind IAM's back.
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", fixture.db_path().display()))
        .await
        .expect("raw connection");
    sqlx::query(
        "UPDATE access_keys SET (secret_ciphertext, secret_nonce) = \
         (SELECT secret_ciphertext, secret_nonce FROM access_keys WHERE id = ?) WHERE id = ?",
    )
    .bind(attacker.id.as_str())
    .bind(victim.id.as_str())
    .execute(&pool)
    .await
    .expect("swap");
    pool.close().await;
    let err = fixture
        .iam
        .authenticate_key(&victim.id)
        .await
        .expect_err("swapped ciphertext");
    assert!(matches!(err, IamError::Crypto(_)), "{err:?}");

    // The same metastore read with another master key cannot open anything.
    let stranger = Iam::new(fixture.metastore.clone(), MasterKey::generate());
    let err = stranger
        .authenticate_key(&attacker.id)
        .await
        .expect_err("other master key");
    assert!(matches!(err, IamError::Crypto(_)), "{err:?}");
}

#[tokio::test]
async fn key_use_is_recorded() {
    let fixture = fixture().await;
    let account = fixture.iam.create_account("acme").await.expect("account");
    let key = fixture
        .iam
        .create_access_key(account.id, None)
        .await
        .expect("key");
    fixture.iam.record_key_use(&key.id).await.expect("record");
    fixture
        .iam
        .record_key_use(&key.id)
        .await
        .expect("throttled");
    let stored = fixture
        .metastore
        .get_access_key(&key.id)
        .await
        .expect("stored");
    assert!(stored.last_used_at.is_some());
}

#[tokio::test]
async fn principals_are_authorised_within_their_account_only() {
    let fixture = fixture().await;
    let mine = fixture.iam.create_account("mine").await.expect("account");
    let theirs = fixture.iam.create_account("theirs").await.expect("account");
    let key = fixture
        .iam
        .create_access_key(mine.id, None)
        .await
        .expect("key");
    let principal = fixture
        .iam
        .authenticate_key(&key.id)
        .await
        .expect("auth")
        .principal(None);
    let project = ProjectName::parse("web").expect("project");
    let logstore = LogstoreName::parse("access_log").expect("logstore");

    authorize(
        &principal,
        "log:PostLogStoreLogs",
        &ResourceArn::logstore("cairn", mine.id, &project, &logstore),
    )
    .expect("own account");
    let err = authorize(
        &principal,
        "log:PostLogStoreLogs",
        &ResourceArn::project("cairn", theirs.id, &project),
    )
    .expect_err("other account");
    assert_eq!(
        err.to_string(),
        format!(
            "denied by sts or ram, action: log:PostLogStoreLogs, resource: acs:log:cairn:{}:project/web",
            theirs.id
        )
    );
}

#[tokio::test]
async fn secrets_never_reach_the_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let fixture = fixture().await;
    let account = fixture.iam.create_account("acme").await.expect("account");
    let key = fixture
        .iam
        .create_access_key(account.id, None)
        .await
        .expect("key");
    fixture.iam.authenticate_key(&key.id).await.expect("auth");
    fixture.iam.record_key_use(&key.id).await.expect("use");
    let other = fixture.iam.create_account("other").await.expect("account");
    let principal = fixture
        .iam
        .authenticate_key(&key.id)
        .await
        .expect("auth")
        .principal(None);
    let _ = authorize(
        &principal,
        "log:ListProject",
        &ResourceArn::all_projects("cairn", other.id),
    );
    fixture
        .iam
        .delete_access_key(account.id, &key.id)
        .await
        .expect("delete");

    let logs = String::from_utf8(
        captured
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone(),
    )
    .expect("utf-8 logs");
    assert!(
        logs.contains(key.id.as_str()),
        "the key id is logged: {logs}"
    );
    assert!(!logs.contains(key.secret.expose()), "secret leaked: {logs}");
}

#[test]
fn meta_errors_keep_their_transience() {
    let err = IamError::from(MetaError::Corrupt("x".to_owned()));
    assert!(!err.is_transient());
    let err = IamError::from(MetaError::Database(sqlx::Error::PoolTimedOut));
    assert!(err.is_transient());
}
