//! Suite test for STS session policies ([`crate::StsSessionRecord::session_policy`]).

use cairn_model::RoleName;

use super::{account, account_id, key_id};
use crate::{Metastore, StoredRole, StsSessionRecord};

/// A session's policy is stored and read back as given; a session without one reads `None`.
pub async fn sts_session_policies_round_trip(metastore: &dyn Metastore) {
    metastore
        .create_account(&account(1, "first"))
        .await
        .expect("account");
    let role = RoleName::parse("AliyunServiceRoleForCairnAgent").expect("role name");
    metastore
        .create_role(&StoredRole {
            account: account_id(1),
            name: role.clone(),
            trust_policy: "{}".to_owned(),
            description: String::new(),
            max_session_seconds: 3600,
            created_at: 1_700_002_000,
            updated_at: 1_700_002_000,
        })
        .await
        .expect("role");
    let policy = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"log:PostLogStoreLogs","Resource":"acs:log:cairn:1000000000000001:project/web/logstore/access"}]}"#;
    for (id, session_policy) in [
        ("STS.aaaaaaaaaaaaaaaaaaaaaaaaaaaa", Some(policy.to_owned())),
        ("STS.bbbbbbbbbbbbbbbbbbbbbbbbbbbb", None),
    ] {
        let session = StsSessionRecord {
            access_key_id: key_id(id),
            account: account_id(1),
            role: role.clone(),
            session_name: "cairn-agent".to_owned(),
            assumed_by: account_id(1),
            secret_ciphertext: b"sealed".to_vec(),
            secret_nonce: vec![9; 12],
            token_sha256: vec![0xab; 32],
            expiration: 1_700_010_000,
            revoked: false,
            created_at: 1_700_004_000,
            session_policy,
        };
        metastore
            .create_sts_session(&session)
            .await
            .expect("session");
        let stored = metastore.get_sts_session(&key_id(id)).await.expect("get");
        assert_eq!(stored, session);
    }
}
