//! Suite tests for the [`IamStore`](crate::IamStore) part of a metastore: custom policies,
//! attachments, roles and STS sessions.

use cairn_model::{AccessKeyId, AccountId, PolicyName, RoleName};

use super::{account, account_id, key_id, user, user_name};
use crate::{
    CustomPolicyRecord, IamStoreError, Metastore, PolicyAttachment, PolicyKind, PolicyTarget,
    StoredRole, StsSessionRecord,
};

fn policy_name(name: &str) -> PolicyName {
    PolicyName::parse(name).expect("valid test policy name")
}

fn role_name(name: &str) -> RoleName {
    RoleName::parse(name).expect("valid test role name")
}

fn custom_policy(account: AccountId, name: &str) -> CustomPolicyRecord {
    CustomPolicyRecord {
        account,
        name: policy_name(name),
        document: format!(r#"{{"Version":"1","Statement":[],"Sid":"{name}"}}"#),
        description: format!("{name} description"),
        created_at: 1_700_001_000,
    }
}

fn role(account: AccountId, name: &str) -> StoredRole {
    StoredRole {
        account,
        name: role_name(name),
        trust_policy: format!(r#"{{"Version":"1","Statement":[],"Sid":"{name}"}}"#),
        description: format!("{name} role"),
        max_session_seconds: 3600,
        created_at: 1_700_002_000,
        updated_at: 1_700_002_000,
    }
}

fn attachment(
    account: AccountId,
    kind: PolicyKind,
    policy: &str,
    target: PolicyTarget,
) -> PolicyAttachment {
    PolicyAttachment {
        account,
        kind,
        policy: policy_name(policy),
        target,
        attached_at: 1_700_003_000,
    }
}

fn session(id: &str, account: AccountId, role: &str, expiration: i64) -> StsSessionRecord {
    StsSessionRecord {
        access_key_id: key_id(id),
        account,
        role: role_name(role),
        session_name: "alice-session".to_owned(),
        assumed_by: account_id(2),
        secret_ciphertext: format!("sealed-{id}").into_bytes(),
        secret_nonce: vec![9; 12],
        token_sha256: vec![0xab; 32],
        expiration,
        revoked: false,
        created_at: 1_700_004_000,
        session_policy: None,
    }
}

async fn two_accounts(metastore: &dyn Metastore) -> (AccountId, AccountId) {
    metastore
        .create_account(&account(1, "first"))
        .await
        .expect("account");
    metastore
        .create_account(&account(2, "second"))
        .await
        .expect("account");
    (account_id(1), account_id(2))
}

/// Custom policies: per-account names, round trip, listing by name, deletion.
pub async fn custom_policies_round_trip(metastore: &dyn Metastore) {
    let (first, second) = two_accounts(metastore).await;
    let orphan = metastore
        .create_policy(&custom_policy(account_id(99), "p"))
        .await
        .expect_err("no such account");
    assert!(
        matches!(orphan, IamStoreError::AccountNotFound { .. }),
        "{orphan:?}"
    );

    let zeta = custom_policy(first, "zeta");
    let alpha = custom_policy(first, "alpha");
    metastore.create_policy(&zeta).await.expect("zeta");
    metastore.create_policy(&alpha).await.expect("alpha");
    metastore
        .create_policy(&custom_policy(second, "alpha"))
        .await
        .expect("same name in another account");
    let clash = metastore.create_policy(&zeta).await.expect_err("duplicate");
    assert!(
        matches!(clash, IamStoreError::PolicyAlreadyExists { .. }),
        "{clash:?}"
    );
    assert!(!clash.is_transient());

    assert_eq!(
        metastore.get_policy(first, &zeta.name).await.expect("get"),
        zeta
    );
    assert_eq!(
        metastore.list_policies(first).await.expect("list"),
        vec![alpha.clone(), zeta.clone()]
    );
    metastore
        .delete_policy(first, &zeta.name)
        .await
        .expect("delete");
    let missing = metastore
        .get_policy(first, &zeta.name)
        .await
        .expect_err("deleted");
    assert!(
        matches!(missing, IamStoreError::PolicyNotFound { .. }),
        "{missing:?}"
    );
    let missing = metastore
        .delete_policy(first, &zeta.name)
        .await
        .expect_err("deleted twice");
    assert!(
        matches!(missing, IamStoreError::PolicyNotFound { .. }),
        "{missing:?}"
    );
    assert_eq!(
        metastore.list_policies(second).await.expect("list").len(),
        1
    );
}

/// Attachments: targets and custom policies must exist, one attachment per pair, listed with
/// the custom documents, attached policies cannot be deleted, detaching works once.
pub async fn policies_attach_to_users_and_roles(metastore: &dyn Metastore) {
    let (first, _) = two_accounts(metastore).await;
    let alice = PolicyTarget::User(user_name("alice"));
    let reader = PolicyTarget::Role(role_name("reader"));
    let policy = custom_policy(first, "read-web");

    let missing_user = metastore
        .attach_policy(&attachment(
            first,
            PolicyKind::System,
            "AliyunLogFullAccess",
            alice.clone(),
        ))
        .await
        .expect_err("no such user");
    assert!(
        matches!(missing_user, IamStoreError::UserNotFound { .. }),
        "{missing_user:?}"
    );
    let missing_role = metastore
        .list_attached_policies(first, &reader)
        .await
        .expect_err("no such role");
    assert!(
        matches!(missing_role, IamStoreError::RoleNotFound { .. }),
        "{missing_role:?}"
    );

    metastore
        .create_user(&user(first, "alice"))
        .await
        .expect("user");
    metastore
        .create_role(&role(first, "reader"))
        .await
        .expect("role");
    let missing_policy = metastore
        .attach_policy(&attachment(
            first,
            PolicyKind::Custom,
            "read-web",
            alice.clone(),
        ))
        .await
        .expect_err("no such custom policy");
    assert!(
        matches!(missing_policy, IamStoreError::PolicyNotFound { .. }),
        "{missing_policy:?}"
    );
    metastore.create_policy(&policy).await.expect("policy");

    let custom_on_alice = attachment(first, PolicyKind::Custom, "read-web", alice.clone());
    metastore
        .attach_policy(&custom_on_alice)
        .await
        .expect("attach custom");
    metastore
        .attach_policy(&attachment(
            first,
            PolicyKind::System,
            "AliyunLogFullAccess",
            alice.clone(),
        ))
        .await
        .expect("attach system");
    metastore
        .attach_policy(&attachment(
            first,
            PolicyKind::Custom,
            "read-web",
            reader.clone(),
        ))
        .await
        .expect("attach to role");
    let twice = metastore
        .attach_policy(&custom_on_alice)
        .await
        .expect_err("attached twice");
    assert!(
        matches!(twice, IamStoreError::AlreadyAttached { .. }),
        "{twice:?}"
    );

    let listed = metastore
        .list_attached_policies(first, &alice)
        .await
        .expect("list");
    let names: Vec<_> = listed.iter().map(|a| (a.kind, a.name.as_str())).collect();
    assert_eq!(
        names,
        vec![
            (PolicyKind::System, "AliyunLogFullAccess"),
            (PolicyKind::Custom, "read-web")
        ]
    );
    assert_eq!(listed[0].custom, None);
    assert_eq!(listed[1].custom.as_ref(), Some(&policy));

    let in_use = metastore
        .delete_policy(first, &policy.name)
        .await
        .expect_err("attached");
    assert!(
        matches!(in_use, IamStoreError::PolicyInUse { attachments: 2, .. }),
        "{in_use:?}"
    );
    metastore
        .detach_policy(first, PolicyKind::Custom, &policy.name, &alice)
        .await
        .expect("detach");
    let again = metastore
        .detach_policy(first, PolicyKind::Custom, &policy.name, &alice)
        .await
        .expect_err("detached twice");
    assert!(
        matches!(again, IamStoreError::NotAttached { .. }),
        "{again:?}"
    );
    metastore
        .detach_policy(first, PolicyKind::Custom, &policy.name, &reader)
        .await
        .expect("detach from role");
    metastore
        .delete_policy(first, &policy.name)
        .await
        .expect("no longer in use");

    // Deleting the user takes its attachments along: a new user of the same name starts bare.
    metastore
        .delete_user(first, &user_name("alice"))
        .await
        .expect("delete user");
    metastore
        .create_user(&user(first, "alice"))
        .await
        .expect("user again");
    assert_eq!(
        metastore
            .list_attached_policies(first, &alice)
            .await
            .expect("list"),
        vec![]
    );
}

/// Roles: per-account names, round trip, trust policy update, deletion with attachments.
pub async fn roles_round_trip(metastore: &dyn Metastore) {
    let (first, second) = two_accounts(metastore).await;
    let orphan = metastore
        .create_role(&role(account_id(99), "r"))
        .await
        .expect_err("no such account");
    assert!(
        matches!(orphan, IamStoreError::AccountNotFound { .. }),
        "{orphan:?}"
    );
    let writer = role(first, "writer");
    let auditor = role(first, "auditor");
    metastore.create_role(&writer).await.expect("writer");
    metastore.create_role(&auditor).await.expect("auditor");
    metastore
        .create_role(&role(second, "writer"))
        .await
        .expect("same name elsewhere");
    let clash = metastore.create_role(&writer).await.expect_err("duplicate");
    assert!(
        matches!(clash, IamStoreError::RoleAlreadyExists { .. }),
        "{clash:?}"
    );

    assert_eq!(
        metastore.get_role(first, &writer.name).await.expect("get"),
        writer
    );
    assert_eq!(
        metastore.list_roles(first).await.expect("list"),
        vec![auditor.clone(), writer.clone()]
    );
    let updated = metastore
        .update_role_trust_policy(first, &writer.name, r#"{"new":true}"#, 1_700_009_000)
        .await
        .expect("update");
    assert_eq!(updated.trust_policy, r#"{"new":true}"#);
    assert_eq!(updated.updated_at, 1_700_009_000);
    assert_eq!(updated.created_at, writer.created_at);
    assert_eq!(
        metastore.get_role(first, &writer.name).await.expect("get"),
        updated
    );
    let missing = metastore
        .update_role_trust_policy(first, &role_name("ghost"), "{}", 0)
        .await
        .expect_err("no such role");
    assert!(
        matches!(missing, IamStoreError::RoleNotFound { .. }),
        "{missing:?}"
    );

    metastore
        .attach_policy(&attachment(
            first,
            PolicyKind::System,
            "AliyunLogReadOnlyAccess",
            PolicyTarget::Role(writer.name.clone()),
        ))
        .await
        .expect("attach");
    metastore
        .delete_role(first, &writer.name)
        .await
        .expect("delete");
    let gone = metastore
        .get_role(first, &writer.name)
        .await
        .expect_err("deleted");
    assert!(
        matches!(gone, IamStoreError::RoleNotFound { .. }),
        "{gone:?}"
    );
    // Created again, the role has none of its predecessor's attachments.
    metastore.create_role(&writer).await.expect("recreate");
    assert_eq!(
        metastore
            .list_attached_policies(first, &PolicyTarget::Role(writer.name.clone()))
            .await
            .expect("list"),
        vec![]
    );
    assert!(metastore.get_role(second, &writer.name).await.is_ok());
}

/// STS sessions: need their role, round trip with sealed bytes as given, revocation scoped to
/// the role's account, revocation by role deletion, purge of expired ones.
pub async fn sts_sessions_live_with_their_role(metastore: &dyn Metastore) {
    let (first, second) = two_accounts(metastore).await;
    let id = "STS.aaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let orphan = metastore
        .create_sts_session(&session(id, first, "writer", 1_700_100_000))
        .await
        .expect_err("no such role");
    assert!(
        matches!(orphan, IamStoreError::RoleNotFound { .. }),
        "{orphan:?}"
    );

    metastore
        .create_role(&role(first, "writer"))
        .await
        .expect("role");
    let stored = session(id, first, "writer", 1_700_100_000);
    metastore
        .create_sts_session(&stored)
        .await
        .expect("session");
    let clash = metastore
        .create_sts_session(&stored)
        .await
        .expect_err("duplicate id");
    assert!(
        matches!(clash, IamStoreError::SessionAlreadyExists { .. }),
        "{clash:?}"
    );
    assert_eq!(
        metastore
            .get_sts_session(&stored.access_key_id)
            .await
            .expect("get"),
        stored
    );
    let unknown: AccessKeyId = key_id("STS.bbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    let missing = metastore
        .get_sts_session(&unknown)
        .await
        .expect_err("unknown");
    assert!(
        matches!(missing, IamStoreError::SessionNotFound { .. }),
        "{missing:?}"
    );

    // Revocation is scoped to the role's account, and idempotent.
    let foreign = metastore
        .revoke_sts_session(second, &stored.access_key_id)
        .await
        .expect_err("other account");
    assert!(
        matches!(foreign, IamStoreError::SessionNotFound { .. }),
        "{foreign:?}"
    );
    assert!(
        !metastore
            .get_sts_session(&stored.access_key_id)
            .await
            .expect("get")
            .revoked
    );
    metastore
        .revoke_sts_session(first, &stored.access_key_id)
        .await
        .expect("revoke");
    metastore
        .revoke_sts_session(first, &stored.access_key_id)
        .await
        .expect("revoke twice");
    assert!(
        metastore
            .get_sts_session(&stored.access_key_id)
            .await
            .expect("get")
            .revoked
    );

    // Deleting the role revokes its live sessions.
    let live = session(
        "STS.cccccccccccccccccccccccccccc",
        first,
        "writer",
        1_700_200_000,
    );
    metastore.create_sts_session(&live).await.expect("session");
    assert_eq!(
        metastore
            .delete_role(first, &role_name("writer"))
            .await
            .expect("delete"),
        1
    );
    assert!(
        metastore
            .get_sts_session(&live.access_key_id)
            .await
            .expect("get")
            .revoked
    );

    // Purge removes only sessions that expired before the cut-off.
    assert_eq!(
        metastore
            .purge_expired_sts_sessions(1_700_150_000)
            .await
            .expect("purge"),
        1
    );
    assert!(metastore
        .get_sts_session(&stored.access_key_id)
        .await
        .is_err());
    assert!(metastore.get_sts_session(&live.access_key_id).await.is_ok());
}
