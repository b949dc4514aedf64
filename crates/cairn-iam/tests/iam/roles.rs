//! Roles, trust policies and service-linked roles.

use cairn_iam::{
    authorize, IamError, PolicyKind, PolicyTarget, PrincipalIdentity, ServiceLinkedRole,
    SystemPolicy, DEFAULT_SESSION_SECONDS,
};
use cairn_model::{LogstoreName, ProjectName, ResourceArn};

use super::{fixture, role_name, root_arn, system, trust, T0};

#[tokio::test]
async fn roles_are_created_read_updated_and_deleted() {
    let f = fixture().await;
    let account = f.account("acme").await;
    let trusted = trust(&[root_arn(account)]);

    let err = f
        .iam
        .create_role(
            account,
            role_name("r"),
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}"#,
            String::new(),
            None,
        )
        .await
        .expect_err("no principal");
    assert!(matches!(err, IamError::InvalidPolicy { .. }), "{err:?}");
    assert!(err.to_string().contains("Principal is required"), "{err}");
    let err = f
        .iam
        .create_role(
            account,
            role_name("r"),
            &trust(&["acs:ram::1:root".to_owned()]),
            String::new(),
            None,
        )
        .await
        .expect_err("bad principal");
    assert!(err.to_string().contains("RAM principal"), "{err}");
    for bad in [899, 43_201] {
        let err = f
            .iam
            .create_role(account, role_name("r"), &trusted, String::new(), Some(bad))
            .await
            .expect_err("out of range");
        assert!(
            matches!(
                err,
                IamError::InvalidParameter {
                    parameter: "MaxSessionDuration",
                    ..
                }
            ),
            "{err:?}"
        );
    }
    let err = f
        .iam
        .create_role(
            account,
            role_name("AliyunServiceRoleForMine"),
            &trusted,
            String::new(),
            None,
        )
        .await
        .expect_err("reserved");
    assert!(
        matches!(
            err,
            IamError::InvalidParameter {
                parameter: "RoleName",
                ..
            }
        ),
        "{err:?}"
    );

    let writer = f
        .iam
        .create_role(
            account,
            role_name("writer"),
            &trusted,
            "writes".to_owned(),
            None,
        )
        .await
        .expect("create");
    assert_eq!(writer.max_session_seconds, DEFAULT_SESSION_SECONDS);
    assert_eq!(
        writer.arn().to_string(),
        format!("acs:ram::{account}:role/writer")
    );
    assert_eq!(writer.created_at, T0);
    let auditor = f
        .iam
        .create_role(
            account,
            role_name("auditor"),
            &trusted,
            String::new(),
            Some(43_200),
        )
        .await
        .expect("create");
    let err = f
        .iam
        .create_role(account, role_name("writer"), &trusted, String::new(), None)
        .await
        .expect_err("duplicate");
    assert!(matches!(err, IamError::RoleAlreadyExists { .. }), "{err:?}");

    assert_eq!(
        f.iam
            .get_role(account, &role_name("writer"))
            .await
            .expect("get"),
        writer
    );
    assert_eq!(
        f.iam.list_roles(account).await.expect("list"),
        vec![auditor, writer.clone()]
    );

    let err = f
        .iam
        .update_role_trust_policy(account, &role_name("writer"), "{}")
        .await
        .expect_err("invalid");
    assert!(matches!(err, IamError::InvalidPolicy { .. }), "{err:?}");
    f.clock.advance(60);
    let other = f.account("other").await;
    let updated = f
        .iam
        .update_role_trust_policy(account, &role_name("writer"), &trust(&[root_arn(other)]))
        .await
        .expect("update");
    assert!(updated.trust_policy.contains(&other.to_string()));
    assert_eq!(updated.updated_at, T0 + 60);

    f.iam
        .attach_policy(
            account,
            &system(SystemPolicy::AliyunLogFullAccess),
            &PolicyTarget::Role(role_name("writer")),
        )
        .await
        .expect("attach");
    f.iam
        .delete_role(account, &role_name("writer"))
        .await
        .expect("delete");
    let err = f
        .iam
        .get_role(account, &role_name("writer"))
        .await
        .expect_err("gone");
    assert!(
        matches!(&err, IamError::RoleNotFound { role } if role == &format!("acs:ram::{account}:role/writer")),
        "{err:?}"
    );
    let err = f
        .iam
        .delete_role(account, &role_name("writer"))
        .await
        .expect_err("gone");
    assert!(matches!(err, IamError::RoleNotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn service_linked_roles_are_created_once_and_serve_their_service() {
    let f = fixture().await;
    let account = f.account("acme").await;
    let first = f
        .iam
        .ensure_service_linked_role(account, ServiceLinkedRole::TrailDelivery)
        .await
        .expect("ensure");
    assert_eq!(first.name.as_str(), "AliyunServiceRoleForCairnTrail");
    assert!(first.is_service_linked());
    assert!(
        first.trust_policy.contains("trail.cairn"),
        "{}",
        first.trust_policy
    );
    f.clock.advance(10);
    let second = f
        .iam
        .ensure_service_linked_role(account, ServiceLinkedRole::TrailDelivery)
        .await
        .expect("ensure again");
    assert_eq!(second, first, "idempotent");
    let target = PolicyTarget::Role(first.name.clone());
    let attached = f
        .iam
        .list_attached_policies(account, &target)
        .await
        .expect("list");
    assert_eq!(attached.len(), 1);
    assert_eq!(attached[0].name.as_str(), "AliyunLogFullAccess");
    assert_eq!(attached[0].kind, PolicyKind::System);
    assert_eq!(f.iam.list_roles(account).await.expect("roles").len(), 1);

    // A removed attachment is repaired.
    f.iam
        .detach_policy(account, &system(SystemPolicy::AliyunLogFullAccess), &target)
        .await
        .expect("detach");
    f.iam
        .ensure_service_linked_role(account, ServiceLinkedRole::TrailDelivery)
        .await
        .expect("repair");
    assert_eq!(
        f.iam
            .list_attached_policies(account, &target)
            .await
            .expect("list")
            .len(),
        1
    );

    // Users cannot retarget it.
    let err = f
        .iam
        .update_role_trust_policy(account, &first.name, &trust(&[root_arn(account)]))
        .await
        .expect_err("service-linked");
    assert!(matches!(err, IamError::InvalidParameter { .. }), "{err:?}");

    // The trail service acts through it; the audit service may not.
    let arn = first.arn().to_string();
    let principal = f
        .iam
        .assume_role_as_service("trail", &arn, "trail-delivery")
        .await
        .expect("trail assumes");
    assert_eq!(principal.account, account);
    assert!(
        matches!(&principal.identity, PrincipalIdentity::RoleSession { role, .. } if role == &first.name)
    );
    let trail_store = ResourceArn::logstore(
        "cairn",
        account,
        &ProjectName::parse("web").expect("project"),
        &LogstoreName::parse("actiontrail_main").expect("logstore"),
    );
    authorize(&principal, "log:PostLogStoreLogs", &trail_store).expect("delivers");
    f.iam
        .assume_role_as_service("trail.cairn", &arn, "trail-delivery")
        .await
        .expect("full service principal works too");
    let err = f
        .iam
        .assume_role_as_service("audit", &arn, "audit-sync")
        .await
        .expect_err("not trusted");
    assert!(matches!(err, IamError::AssumeRoleDenied { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("does not trust service audit.cairn"),
        "{err}"
    );

    let audit = f
        .iam
        .ensure_service_linked_role(account, ServiceLinkedRole::LogAuditCollection)
        .await
        .expect("audit role");
    assert_eq!(audit.name.as_str(), "AliyunServiceRoleForCairnAudit");
    f.iam
        .assume_role_as_service("audit", &audit.arn().to_string(), "audit-sync")
        .await
        .expect("audit assumes its own");
    // A user principal never matches a service trust.
    let root = f.root(account).await;
    let err = f
        .iam
        .assume_role(
            &root,
            cairn_iam::AssumeRoleRequest {
                role_arn: arn,
                session_name: "sneaky".to_owned(),
                duration_seconds: None,
                external_id: None,
            },
        )
        .await
        .expect_err("root is not the trail service");
    assert!(matches!(err, IamError::AssumeRoleDenied { .. }), "{err:?}");
}
