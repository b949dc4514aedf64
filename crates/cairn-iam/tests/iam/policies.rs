//! Custom and system policies, attachments, and the policies a principal carries.

use cairn_iam::{
    authorize, IamError, PolicyKind, PolicyReference, PolicyTarget, PrincipalIdentity,
    SystemPolicy, SYSTEM_POLICY_CREATED_AT,
};
use cairn_meta::EntityKind;
use cairn_model::{LogstoreName, ProjectName, ResourceArn};

use super::{fixture, policy_name, role_name, root_arn, system, trust, user_name, T0};

const READ_WEB: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["log:Get*","log:List*"],"Resource":"acs:log:*:*:project/web/*"}]}"#;

fn logstore(account: cairn_model::AccountId, project: &str) -> ResourceArn {
    ResourceArn::logstore(
        "cairn",
        account,
        &ProjectName::parse(project).expect("project"),
        &LogstoreName::parse("app").expect("logstore"),
    )
}

#[tokio::test]
async fn custom_policies_are_validated_listed_and_deleted() {
    let f = fixture().await;
    let account = f.account("acme").await;

    let err = f
        .iam
        .create_policy(
            account,
            policy_name("bad"),
            r#"{"Version":"1"}"#,
            String::new(),
        )
        .await
        .expect_err("invalid document");
    assert!(matches!(err, IamError::InvalidPolicy { .. }), "{err:?}");
    let err = f
        .iam
        .create_policy(
            account,
            policy_name("AliyunLogFullAccess"),
            READ_WEB,
            String::new(),
        )
        .await
        .expect_err("system name");
    assert!(
        matches!(err, IamError::PolicyAlreadyExists { .. }),
        "{err:?}"
    );
    let err = f
        .iam
        .create_policy(account, policy_name("p"), READ_WEB, "x".repeat(1025))
        .await
        .expect_err("long description");
    assert!(
        matches!(
            err,
            IamError::InvalidParameter {
                parameter: "Description",
                ..
            }
        ),
        "{err:?}"
    );

    let created = f
        .iam
        .create_policy(
            account,
            policy_name("read-web"),
            READ_WEB,
            "web readers".to_owned(),
        )
        .await
        .expect("create");
    assert_eq!(created.kind, PolicyKind::Custom);
    assert_eq!(created.document, READ_WEB);
    assert_eq!(created.created_at, T0);
    let err = f
        .iam
        .create_policy(account, policy_name("read-web"), READ_WEB, String::new())
        .await
        .expect_err("duplicate");
    assert!(
        matches!(err, IamError::PolicyAlreadyExists { .. }),
        "{err:?}"
    );

    let reference = PolicyReference::Custom(policy_name("read-web"));
    assert_eq!(
        f.iam.get_policy(account, &reference).await.expect("get"),
        created
    );
    let admin = f
        .iam
        .get_policy(account, &system(SystemPolicy::AdministratorAccess))
        .await
        .expect("system policy");
    assert_eq!(admin.kind, PolicyKind::System);
    assert_eq!(admin.created_at, SYSTEM_POLICY_CREATED_AT);
    assert!(
        admin.document.contains(r#""Action":"*""#),
        "{}",
        admin.document
    );

    let listed = f.iam.list_policies(account).await.expect("list");
    let names: Vec<_> = listed.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "AdministratorAccess",
            "AliyunLogFullAccess",
            "AliyunLogReadOnlyAccess",
            "CairnSystemAdministrator",
            "CairnSecurityAdministrator",
            "CairnAuditAdministrator",
            "read-web"
        ]
    );
    // Another account does not see it.
    let other = f.account("other").await;
    assert_eq!(f.iam.list_policies(other).await.expect("list").len(), 6);
    let err = f
        .iam
        .get_policy(other, &reference)
        .await
        .expect_err("not theirs");
    assert!(matches!(err, IamError::PolicyNotFound { .. }), "{err:?}");

    f.iam
        .delete_policy(account, &policy_name("read-web"))
        .await
        .expect("delete");
    let err = f
        .iam
        .delete_policy(account, &policy_name("read-web"))
        .await
        .expect_err("gone");
    assert!(matches!(err, IamError::PolicyNotFound { .. }), "{err:?}");

    let err = PolicyReference::from_parts(PolicyKind::System, policy_name("NoSuchPolicy"))
        .expect_err("unknown system policy");
    assert!(matches!(err, IamError::PolicyNotFound { .. }), "{err:?}");
    assert_eq!(
        PolicyReference::from_parts(PolicyKind::System, policy_name("AliyunLogFullAccess"))
            .expect("known"),
        system(SystemPolicy::AliyunLogFullAccess)
    );
}

#[tokio::test]
async fn attach_detach_list_and_policy_in_use() {
    let f = fixture().await;
    let account = f.account("acme").await;
    let read_web = f.custom_policy(account, "read-web", READ_WEB).await;
    let alice = PolicyTarget::User(user_name("alice"));
    let reader = PolicyTarget::Role(role_name("reader"));

    let err = f
        .iam
        .attach_policy(account, &read_web, &alice)
        .await
        .expect_err("no such user");
    assert!(
        matches!(&err, IamError::Meta(meta) if meta.is_not_found(EntityKind::User)),
        "{err:?}"
    );
    let err = f
        .iam
        .attach_policy(account, &read_web, &reader)
        .await
        .expect_err("no such role");
    assert!(
        matches!(&err, IamError::RoleNotFound { role } if role.ends_with(":role/reader")),
        "{err:?}"
    );

    f.iam
        .create_user(account, user_name("alice"), "")
        .await
        .expect("user");
    f.iam
        .create_role(
            account,
            role_name("reader"),
            &trust(&[root_arn(account)]),
            String::new(),
            None,
        )
        .await
        .expect("role");
    let err = f
        .iam
        .attach_policy(
            account,
            &PolicyReference::Custom(policy_name("ghost")),
            &alice,
        )
        .await
        .expect_err("no such policy");
    assert!(matches!(err, IamError::PolicyNotFound { .. }), "{err:?}");

    f.iam
        .attach_policy(account, &read_web, &alice)
        .await
        .expect("attach");
    f.iam
        .attach_policy(
            account,
            &system(SystemPolicy::AliyunLogReadOnlyAccess),
            &alice,
        )
        .await
        .expect("attach system");
    f.iam
        .attach_policy(account, &read_web, &reader)
        .await
        .expect("attach to role");
    let err = f
        .iam
        .attach_policy(account, &read_web, &alice)
        .await
        .expect_err("twice");
    assert!(
        matches!(err, IamError::PolicyAlreadyAttached { .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "policy read-web is already attached to user/alice"
    );

    let attached = f
        .iam
        .list_attached_policies(account, &alice)
        .await
        .expect("list");
    let names: Vec<_> = attached.iter().map(|p| (p.name.as_str(), p.kind)).collect();
    assert_eq!(
        names,
        [
            ("AliyunLogReadOnlyAccess", PolicyKind::System),
            ("read-web", PolicyKind::Custom)
        ]
    );
    assert_eq!(attached[1].document, READ_WEB);

    let err = f
        .iam
        .delete_policy(account, &policy_name("read-web"))
        .await
        .expect_err("in use");
    assert!(
        matches!(err, IamError::PolicyInUse { attachments: 2, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "policy read-web is attached to 2 user(s) or role(s); detach it first"
    );

    f.iam
        .detach_policy(account, &read_web, &alice)
        .await
        .expect("detach");
    let err = f
        .iam
        .detach_policy(account, &read_web, &alice)
        .await
        .expect_err("not attached");
    assert!(matches!(err, IamError::PolicyNotAttached { .. }), "{err:?}");
    f.iam
        .detach_policy(account, &read_web, &reader)
        .await
        .expect("detach role");
    f.iam
        .delete_policy(account, &policy_name("read-web"))
        .await
        .expect("deletable now");
    assert_eq!(
        f.iam
            .list_attached_policies(account, &reader)
            .await
            .expect("list"),
        vec![]
    );
}

#[tokio::test]
async fn principals_carry_their_policies() {
    let f = fixture().await;
    let account = f.account("acme").await;
    let read_web = f.custom_policy(account, "read-web", READ_WEB).await;

    let root = f.root(account).await;
    assert_eq!(root.identity, PrincipalIdentity::Root);
    assert!(root.policies.is_empty());
    authorize(&root, "log:PostLogStoreLogs", &logstore(account, "web")).expect("root");

    let bare = f.user(account, "bare", &[]).await;
    assert!(bare.policies.is_empty());
    let err = authorize(&bare, "log:GetLogStoreLogs", &logstore(account, "web"))
        .expect_err("a user without policies may do nothing");
    assert!(matches!(err, IamError::Unauthorized { .. }), "{err:?}");

    let alice = f
        .user(account, "alice", std::slice::from_ref(&read_web))
        .await;
    assert_eq!(alice.policies.len(), 1);
    assert_eq!(alice.source_ip, Some("10.0.0.7".parse().expect("ip")));
    authorize(&alice, "log:GetLogStoreLogs", &logstore(account, "web")).expect("read web");
    let err =
        authorize(&alice, "log:PostLogStoreLogs", &logstore(account, "web")).expect_err("no write");
    assert_eq!(
        err.to_string(),
        format!(
            "denied by sts or ram, action: log:PostLogStoreLogs, resource: \
             acs:log:cairn:{account}:project/web/logstore/app"
        )
    );
    authorize(&alice, "log:GetLogStoreLogs", &logstore(account, "api")).expect_err("other project");

    // Policies are read at authentication: a detach takes effect on the next request.
    let key = f
        .iam
        .create_access_key(account, Some(user_name("alice")))
        .await
        .expect("key");
    f.iam
        .detach_policy(account, &read_web, &PolicyTarget::User(user_name("alice")))
        .await
        .expect("detach");
    let (after, secret) = f.iam.authenticate(&key.id, None, None).await.expect("auth");
    assert_eq!(secret.expose(), key.secret.expose());
    assert!(after.policies.is_empty());
    authorize(&after, "log:GetLogStoreLogs", &logstore(account, "web")).expect_err("detached");
}
