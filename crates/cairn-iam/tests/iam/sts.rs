//! AssumeRole: who may assume which role (policies, trust, ExternalId), for how long, and
//! what the session may then do.

use cairn_iam::{
    authorize, AssumeRoleRequest, IamError, Principal, PrincipalIdentity, SystemPolicy,
    TemporaryCredentials,
};
use cairn_model::{AccountId, LogstoreName, ProjectName, ResourceArn};

use super::{fixture, role_name, root_arn, system, trust, Fixture, T0};

pub fn request(role_arn: &str) -> AssumeRoleRequest {
    AssumeRoleRequest {
        role_arn: role_arn.to_owned(),
        session_name: "session-1".to_owned(),
        duration_seconds: None,
        external_id: None,
    }
}

fn web_logstore(account: AccountId) -> ResourceArn {
    ResourceArn::logstore(
        "cairn",
        account,
        &ProjectName::parse("web").expect("project"),
        &LogstoreName::parse("app").expect("logstore"),
    )
}

/// A role `name` in `account` trusting `trusted` principals, with read-only log access.
pub async fn reader_role(
    f: &Fixture,
    account: AccountId,
    name: &str,
    trust_policy: &str,
    max: Option<u32>,
) -> String {
    let role = f
        .iam
        .create_role(account, role_name(name), trust_policy, String::new(), max)
        .await
        .expect("role");
    f.iam
        .attach_policy(
            account,
            &system(SystemPolicy::AliyunLogReadOnlyAccess),
            &cairn_iam::PolicyTarget::Role(role.name.clone()),
        )
        .await
        .expect("attach");
    role.arn().to_string()
}

pub async fn assume(
    f: &Fixture,
    caller: &Principal,
    request: AssumeRoleRequest,
) -> Result<TemporaryCredentials, IamError> {
    f.iam.assume_role(caller, request).await
}

#[tokio::test]
async fn root_assumes_a_role_of_its_account_and_the_credentials_work() {
    let f = fixture().await;
    let account = f.account("acme").await;
    let arn = reader_role(&f, account, "reader", &trust(&[root_arn(account)]), None).await;
    let root = f.root(account).await;

    let credentials = assume(&f, &root, request(&arn)).await.expect("assume");
    let id = credentials.access_key_id.as_str();
    assert!(id.starts_with("STS.") && id.len() == 32, "{id}");
    assert!(id[4..].bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
    assert_eq!(
        credentials.expiration,
        T0 + 3600,
        "default duration is one hour"
    );
    assert_eq!(credentials.role_arn, arn);
    assert_eq!(
        credentials.assumed_role_id,
        format!("{account}:reader:session-1")
    );
    let printed = format!("{credentials:?}");
    assert!(
        !printed.contains(credentials.secret.expose())
            && !printed.contains(credentials.security_token.expose())
    );

    let (principal, secret) = f
        .iam
        .authenticate(
            &credentials.access_key_id,
            Some(credentials.security_token.expose()),
            Some("10.1.1.1".parse().expect("ip")),
        )
        .await
        .expect("authenticate");
    assert_eq!(secret.expose(), credentials.secret.expose());
    assert_eq!(principal.account, account);
    assert_eq!(
        principal.identity,
        PrincipalIdentity::RoleSession {
            role: role_name("reader"),
            session_name: "session-1".to_owned(),
            assumed_by: account,
        }
    );
    assert_eq!(principal.policies.len(), 1, "the role's policies");
    authorize(&principal, "log:GetLogStoreLogs", &web_logstore(account)).expect("read");
    authorize(&principal, "log:PostLogStoreLogs", &web_logstore(account)).expect_err("no write");
}

#[tokio::test]
async fn users_need_permission_to_assume_and_trust_is_checked() {
    let f = fixture().await;
    let owner = f.account("owner").await;
    let partner = f.account("partner").await;
    let stranger = f.account("stranger").await;
    let arn = reader_role(
        &f,
        owner,
        "shared",
        &trust(&[root_arn(owner), root_arn(partner)]),
        None,
    )
    .await;

    // A user of the owner without sts:AssumeRole is refused by its own policies.
    let bob = f
        .user(owner, "bob", &[system(SystemPolicy::AliyunLogFullAccess)])
        .await;
    let err = assume(&f, &bob, request(&arn))
        .await
        .expect_err("no permission");
    assert!(matches!(err, IamError::Unauthorized { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("denied by sts or ram, action: sts:AssumeRole, resource: {arn}")
    );
    let assumer = f
        .custom_policy(owner, "assume-shared", &format!(r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"{arn}"}}]}}"#))
        .await;
    let carol = f.user(owner, "carol", &[assumer]).await;
    assume(&f, &carol, request(&arn))
        .await
        .expect("allowed by policy and trust");

    // Another account: trusted partner yes, stranger no.
    let partner_root = f.root(partner).await;
    let credentials = assume(&f, &partner_root, request(&arn))
        .await
        .expect("trusted account");
    let (principal, _) = f
        .iam
        .authenticate(
            &credentials.access_key_id,
            Some(credentials.security_token.expose()),
            None,
        )
        .await
        .expect("authenticate");
    assert_eq!(
        principal.account, owner,
        "the session acts in the role's account"
    );
    assert!(
        matches!(principal.identity, PrincipalIdentity::RoleSession { assumed_by, .. } if assumed_by == partner)
    );
    authorize(&principal, "log:GetLogStoreLogs", &web_logstore(owner))
        .expect("cross-account read via role");
    authorize(&principal, "log:GetLogStoreLogs", &web_logstore(partner))
        .expect_err("not its own account any more");

    let stranger_root = f.root(stranger).await;
    let err = assume(&f, &stranger_root, request(&arn))
        .await
        .expect_err("untrusted");
    assert!(matches!(err, IamError::AssumeRoleDenied { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("denied by sts or ram, action: sts:AssumeRole, resource: {arn}: the role's trust policy does not trust acs:ram::{stranger}:root")
    );

    // A trust naming one user admits that user only.
    let only_dave = reader_role(
        &f,
        owner,
        "for-dave",
        &trust(&[format!("acs:ram::{partner}:user/dave")]),
        None,
    )
    .await;
    let anyone = f
        .custom_policy(partner, "assume-any", r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"acs:ram:*:*:role/*"}]}"#)
        .await;
    let dave = f.user(partner, "dave", std::slice::from_ref(&anyone)).await;
    let erin = f.user(partner, "erin", &[anyone]).await;
    assume(&f, &dave, request(&only_dave))
        .await
        .expect("dave is trusted");
    let err = assume(&f, &erin, request(&only_dave))
        .await
        .expect_err("erin is not");
    assert!(
        err.to_string()
            .contains(&format!("does not trust acs:ram::{partner}:user/erin")),
        "{err}"
    );
    let err = assume(&f, &partner_root, request(&only_dave))
        .await
        .expect_err("nor is root");
    assert!(matches!(err, IamError::AssumeRoleDenied { .. }), "{err:?}");

    // Parameters and existence.
    let err = assume(
        &f,
        &partner_root,
        request(&format!("acs:ram::{owner}:role/ghost")),
    )
    .await
    .expect_err("missing");
    assert!(matches!(err, IamError::RoleNotFound { .. }), "{err:?}");
    for bad in [
        "acs:ram::1:role/x",
        "acs:log:cairn:1234567890123456:role/x",
        "role/x",
        "acs:ram::1234567890123456:user/x",
    ] {
        let err = assume(&f, &partner_root, request(bad))
            .await
            .expect_err(bad);
        assert!(
            matches!(
                err,
                IamError::InvalidParameter {
                    parameter: "RoleArn",
                    ..
                }
            ),
            "{bad}: {err:?}"
        );
    }
    for bad in ["x", "has space", &"s".repeat(65)] {
        let err = assume(
            &f,
            &partner_root,
            AssumeRoleRequest {
                session_name: bad.to_owned(),
                ..request(&arn)
            },
        )
        .await
        .expect_err("bad session name");
        assert!(
            matches!(
                err,
                IamError::InvalidParameter {
                    parameter: "RoleSessionName",
                    ..
                }
            ),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn external_id_is_required_when_the_trust_policy_asks() {
    let f = fixture().await;
    let owner = f.account("owner").await;
    let vendor = f.account("vendor").await;
    let trust_policy = serde_json::json!({
        "Version": "1",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                       "Principal": {"RAM": [root_arn(vendor)]},
                       "Condition": {"StringEquals": {"sts:ExternalId": "owner-42"}}}],
    })
    .to_string();
    let arn = reader_role(&f, owner, "vendor-access", &trust_policy, None).await;
    let vendor_root = f.root(vendor).await;

    let err = assume(&f, &vendor_root, request(&arn))
        .await
        .expect_err("missing");
    assert!(
        err.to_string()
            .contains("the role's trust policy requires an ExternalId"),
        "{err}"
    );
    let wrong = AssumeRoleRequest {
        external_id: Some("owner-43".to_owned()),
        ..request(&arn)
    };
    let err = assume(&f, &vendor_root, wrong).await.expect_err("wrong");
    assert!(
        err.to_string().contains("the ExternalId does not match"),
        "{err}"
    );
    let right = AssumeRoleRequest {
        external_id: Some("owner-42".to_owned()),
        ..request(&arn)
    };
    assume(&f, &vendor_root, right)
        .await
        .expect("right ExternalId");

    // Server-side jobs acting as the vendor's root go through the same checks.
    let err = f
        .iam
        .principal_for_role(vendor, &arn, "copy-job", None)
        .await
        .expect_err("no id");
    assert!(matches!(err, IamError::AssumeRoleDenied { .. }), "{err:?}");
    let principal = f
        .iam
        .principal_for_role(vendor, &arn, "copy-job", Some("owner-42"))
        .await
        .expect("job principal");
    assert_eq!(principal.account, owner);
    assert_eq!(principal.policies.len(), 1);
    authorize(&principal, "log:GetLogStoreLogs", &web_logstore(owner)).expect("job reads");
    let err = f
        .iam
        .principal_for_role(owner, &arn, "copy-job", Some("owner-42"))
        .await
        .expect_err("owner not trusted");
    assert!(matches!(err, IamError::AssumeRoleDenied { .. }), "{err:?}");
}

#[tokio::test]
async fn session_durations_are_bounded() {
    let f = fixture().await;
    let account = f.account("acme").await;
    let trusted = trust(&[root_arn(account)]);
    let long = reader_role(&f, account, "long", &trusted, Some(43_200)).await;
    let short = reader_role(&f, account, "short", &trusted, Some(7_200)).await;
    let tiny = reader_role(&f, account, "tiny", &trusted, Some(900)).await;
    let root = f.root(account).await;
    let with = |arn: &str, seconds: Option<u32>| AssumeRoleRequest {
        duration_seconds: seconds,
        ..request(arn)
    };

    for (arn, seconds, expected) in [
        (&long, None, Some(3_600)),
        (&long, Some(900), Some(900)),
        (&long, Some(43_200), Some(43_200)),
        (&long, Some(899), None),
        (&long, Some(43_201), None),
        (&short, Some(7_200), Some(7_200)),
        (&short, Some(7_201), None),
        (&tiny, None, Some(900)),
    ] {
        let result = assume(&f, &root, with(arn, seconds)).await;
        match expected {
            Some(duration) => assert_eq!(
                result.expect("in range").expiration,
                T0 + duration,
                "{arn} {seconds:?}"
            ),
            None => {
                let err = result.expect_err("out of range");
                assert!(
                    matches!(
                        err,
                        IamError::InvalidParameter {
                            parameter: "DurationSeconds",
                            ..
                        }
                    ),
                    "{err:?}"
                );
            }
        }
    }
}
