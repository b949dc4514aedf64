//! Temporary credentials after issue: authentication with the security token, expiry,
//! revocation, the role's deletion, lazy purging, and secrecy at rest and in logs.

use cairn_iam::IamError;

use super::sts::{assume, reader_role, request};
use super::{all_file_bytes, contains, fixture, role_name, root_arn, trust, Captured, T0};

#[tokio::test]
async fn temporary_credentials_are_refused_when_wrong_expired_revoked_or_orphaned() {
    let f = fixture().await;
    let account = f.account("acme").await;
    let other = f.account("other").await;
    let arn = reader_role(&f, account, "reader", &trust(&[root_arn(account)]), None).await;
    let root = f.root(account).await;
    let issue = || assume(&f, &root, request(&arn));

    let credentials = issue().await.expect("assume");
    let id = &credentials.access_key_id;
    let token = credentials.security_token.expose();
    let err = f
        .iam
        .authenticate(id, None, None)
        .await
        .expect_err("missing token");
    assert!(
        matches!(err, IamError::InvalidSecurityToken { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("x-acs-security-token"), "{err}");
    let err = f
        .iam
        .authenticate(id, Some("CAISwrong"), None)
        .await
        .expect_err("wrong token");
    assert!(
        matches!(err, IamError::InvalidSecurityToken { .. }),
        "{err:?}"
    );
    let other_credentials = issue().await.expect("second session");
    let err = f
        .iam
        .authenticate(id, Some(other_credentials.security_token.expose()), None)
        .await
        .expect_err("another session's token");
    assert!(
        matches!(err, IamError::InvalidSecurityToken { .. }),
        "{err:?}"
    );

    // Expiry: valid until the last second, refused from the expiration on.
    f.clock.advance(3_599);
    f.iam
        .authenticate(id, Some(token), None)
        .await
        .expect("still valid");
    f.clock.advance(1);
    let err = f
        .iam
        .authenticate(id, Some(token), None)
        .await
        .expect_err("expired");
    assert!(
        matches!(err, IamError::CredentialsExpired { expired_at, .. } if expired_at == T0 + 3_600),
        "{err:?}"
    );

    // Revocation, scoped to the role's account.
    let fresh = issue().await.expect("fresh");
    let fresh_token = fresh.security_token.expose();
    let err = f
        .iam
        .revoke_session(other, &fresh.access_key_id)
        .await
        .expect_err("other account");
    assert!(matches!(err, IamError::AccessKeyNotFound { .. }), "{err:?}");
    f.iam
        .authenticate(&fresh.access_key_id, Some(fresh_token), None)
        .await
        .expect("not revoked");
    f.iam
        .revoke_session(account, &fresh.access_key_id)
        .await
        .expect("revoke");
    let err = f
        .iam
        .authenticate(&fresh.access_key_id, Some(fresh_token), None)
        .await
        .expect_err("revoked");
    assert!(matches!(err, IamError::AccessKeyNotFound { .. }), "{err:?}");

    // Deleting the role kills its sessions, also when a role of the same name comes back.
    let orphan = issue().await.expect("orphan-to-be");
    f.iam
        .delete_role(account, &role_name("reader"))
        .await
        .expect("delete role");
    let err = f
        .iam
        .authenticate(
            &orphan.access_key_id,
            Some(orphan.security_token.expose()),
            None,
        )
        .await
        .expect_err("role deleted");
    assert!(matches!(err, IamError::AccessKeyNotFound { .. }), "{err:?}");
    reader_role(&f, account, "reader", &trust(&[root_arn(account)]), None).await;
    let err = f
        .iam
        .authenticate(
            &orphan.access_key_id,
            Some(orphan.security_token.expose()),
            None,
        )
        .await
        .expect_err("a new role of the same name does not revive it");
    assert!(matches!(err, IamError::AccessKeyNotFound { .. }), "{err:?}");

    let unknown = cairn_model::AccessKeyId::parse("STS.unknownunknownunknownunknow").expect("id");
    let err = f
        .iam
        .authenticate(&unknown, Some(token), None)
        .await
        .expect_err("unknown");
    assert!(matches!(err, IamError::AccessKeyNotFound { .. }), "{err:?}");

    // Long-expired sessions are purged lazily by later assumptions.
    f.clock.advance(2 * 86_400);
    issue().await.expect("triggers the purge");
    let err = f
        .iam
        .authenticate(id, Some(token), None)
        .await
        .expect_err("purged");
    assert!(matches!(err, IamError::AccessKeyNotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn session_secrets_and_tokens_are_neither_stored_nor_logged_in_clear() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let f = fixture().await;
    let account = f.account("acme").await;
    let arn = reader_role(&f, account, "reader", &trust(&[root_arn(account)]), None).await;
    let root = f.root(account).await;
    let credentials = assume(&f, &root, request(&arn)).await.expect("assume");
    let token = credentials.security_token.expose();
    f.iam
        .authenticate(&credentials.access_key_id, Some(token), None)
        .await
        .expect("authenticate");
    let _ = f
        .iam
        .authenticate(&credentials.access_key_id, Some("CAISwrong"), None)
        .await;
    f.iam
        .revoke_session(account, &credentials.access_key_id)
        .await
        .expect("revoke");

    for bytes in [all_file_bytes(f.dir.path()), {
        // Also after a checkpoint moved everything from the WAL into the main file.
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(
                &sqlx::SqlitePool::connect(&format!("sqlite://{}", f.db_path().display()))
                    .await
                    .expect("pool"),
            )
            .await
            .expect("checkpoint");
        all_file_bytes(f.dir.path())
    }] {
        assert!(
            contains(&bytes, credentials.access_key_id.as_str().as_bytes()),
            "the id is stored in clear"
        );
        assert!(
            !contains(&bytes, credentials.secret.expose().as_bytes()),
            "secret stored in clear"
        );
        assert!(!contains(&bytes, token.as_bytes()), "token stored in clear");
    }
    let logs = captured.text();
    assert!(
        logs.contains(credentials.access_key_id.as_str()),
        "the key id is logged: {logs}"
    );
    assert!(
        !logs.contains(credentials.secret.expose()),
        "secret logged: {logs}"
    );
    assert!(!logs.contains(token), "token logged: {logs}");
}
