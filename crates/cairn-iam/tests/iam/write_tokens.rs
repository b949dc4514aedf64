//! Agent write tokens: `log:PostLogStoreLogs` on exactly the listed logstores of one account,
//! nothing else; they expire, are revoked like any session, and stay bounded by their role.

use cairn_iam::{
    authorize, IamError, PolicyReference, PolicyTarget, ServiceLinkedRole, SystemPolicy,
    WRITE_TOKEN_SESSION_NAME,
};
use cairn_model::{AccountId, LogstoreName, ProjectName, ResourceArn};

use super::{fixture, role_name};

fn logstore(account: AccountId, project: &str, logstore: &str) -> ResourceArn {
    ResourceArn::logstore(
        "cairn",
        account,
        &ProjectName::parse(project).expect("project"),
        &LogstoreName::parse(logstore).expect("logstore"),
    )
}

#[tokio::test]
async fn a_write_token_may_post_to_exactly_its_logstores() {
    let f = fixture().await;
    let account = f.account("acme").await;
    let other = f.account("other").await;
    let access = logstore(account, "web", "access");
    let errors = logstore(account, "web", "errors");
    let credentials = f
        .iam
        .issue_write_token(account, &[access.clone(), errors.clone()], 3600)
        .await
        .expect("issue");
    assert!(credentials.access_key_id.as_str().starts_with("STS."));
    assert_eq!(
        credentials.role_arn,
        format!("acs:ram::{account}:role/AliyunServiceRoleForCairnAgent")
    );
    assert!(credentials
        .assumed_role_id
        .ends_with(WRITE_TOKEN_SESSION_NAME));
    let (principal, _) = f
        .iam
        .authenticate(
            &credentials.access_key_id,
            Some(credentials.security_token.expose()),
            None,
        )
        .await
        .expect("authenticate");
    assert_eq!(principal.account, account);
    assert!(principal.session_policy.is_some());

    for allowed in [&access, &errors] {
        authorize(&principal, "log:PostLogStoreLogs", allowed).expect("may post");
    }
    for (action, resource) in [
        ("log:GetLogStoreLogs", access.clone()),
        ("log:DeleteLogStore", access.clone()),
        ("log:PostLogStoreLogs", logstore(account, "web", "audit")),
        (
            "log:PostLogStoreLogs",
            logstore(account, "other-project", "access"),
        ),
        ("log:PostLogStoreLogs", logstore(other, "web", "access")),
        (
            "log:GetProject",
            ResourceArn::project("cairn", account, &ProjectName::parse("web").expect("p")),
        ),
    ] {
        let err = authorize(&principal, action, &resource).expect_err("denied");
        assert!(matches!(err, IamError::Unauthorized { .. }), "{err:?}");
    }

    // The service-linked role was created once, with its trust policy and full log access;
    // the token is bounded by it too: with the policy detached it can post nowhere.
    let role = f
        .iam
        .get_role(account, &role_name("AliyunServiceRoleForCairnAgent"))
        .await
        .expect("role");
    assert!(role.is_service_linked());
    assert!(role.trust_policy.contains("agent.cairn"));
    f.iam
        .detach_policy(
            account,
            &PolicyReference::System(SystemPolicy::AliyunLogFullAccess),
            &PolicyTarget::Role(role.name.clone()),
        )
        .await
        .expect("detach");
    let (narrowed, _) = f
        .iam
        .authenticate(
            &credentials.access_key_id,
            Some(credentials.security_token.expose()),
            None,
        )
        .await
        .expect("authenticate");
    assert!(authorize(&narrowed, "log:PostLogStoreLogs", &access).is_err());
    // Issuing again repairs the role.
    f.iam
        .issue_write_token(account, std::slice::from_ref(&access), 3600)
        .await
        .expect("issue again");
    f.iam
        .ensure_service_linked_role(account, ServiceLinkedRole::AgentDelivery)
        .await
        .expect("role is there");
}

#[tokio::test]
async fn write_tokens_expire_and_are_revoked_like_sessions() {
    let f = fixture().await;
    let account = f.account("acme").await;
    let access = logstore(account, "web", "access");
    let credentials = f
        .iam
        .issue_write_token(account, std::slice::from_ref(&access), 900)
        .await
        .expect("issue");
    let token = credentials.security_token.expose();
    f.clock.advance(899);
    f.iam
        .authenticate(&credentials.access_key_id, Some(token), None)
        .await
        .expect("still valid");
    f.clock.advance(1);
    let err = f
        .iam
        .authenticate(&credentials.access_key_id, Some(token), None)
        .await
        .expect_err("expired");
    assert!(
        matches!(err, IamError::CredentialsExpired { .. }),
        "{err:?}"
    );

    let fresh = f
        .iam
        .issue_write_token(account, std::slice::from_ref(&access), 3600)
        .await
        .expect("issue");
    f.iam
        .revoke_session(account, &fresh.access_key_id)
        .await
        .expect("revoke");
    let err = f
        .iam
        .authenticate(
            &fresh.access_key_id,
            Some(fresh.security_token.expose()),
            None,
        )
        .await
        .expect_err("revoked");
    assert!(matches!(err, IamError::AccessKeyNotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn write_tokens_are_refused_for_bad_scopes_and_durations() {
    let f = fixture().await;
    let account = f.account("acme").await;
    let other = f.account("other").await;
    for (arns, ttl) in [
        (vec![], 3600),
        (vec![logstore(other, "web", "access")], 3600),
        (
            vec![ResourceArn::project(
                "cairn",
                account,
                &ProjectName::parse("web").expect("p"),
            )],
            3600,
        ),
        (vec![logstore(account, "web", "access")], 60),
        (vec![logstore(account, "web", "access")], 7200),
    ] {
        let err = f
            .iam
            .issue_write_token(account, &arns, ttl)
            .await
            .expect_err("refused");
        assert!(matches!(err, IamError::InvalidParameter { .. }), "{err:?}");
    }
}
