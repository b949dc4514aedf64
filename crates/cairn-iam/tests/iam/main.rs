//! `Iam` against a real SQLite metastore, in one test binary:
//! - [`keys`]: AccessKey lifecycle, sealing at rest, refusal of disabled, deleted and tampered
//!   keys, and authorisation of root principals;
//! - [`policies`]: custom and system policies, attachments, and the policies principals carry;
//! - [`roles`]: roles, trust policies and service-linked roles;
//! - [`sts`]: AssumeRole: permissions, trust, ExternalId, durations;
//! - [`sessions`]: temporary credentials after issue: authentication, expiry, revocation;
//! - [`write_tokens`]: agent write tokens, narrowed by a session policy.

mod keys;
mod policies;
mod roles;
mod sessions;
mod sts;
mod write_tokens;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use cairn_iam::{
    Iam, ManualClock, MasterKey, PolicyReference, PolicyTarget, Principal, SystemPolicy,
};
use cairn_meta::SqliteMetastore;
use cairn_model::{AccountId, PolicyName, RoleName, UserName};
use tempfile::TempDir;

/// The fixture clock's start, unix seconds.
pub const T0: i64 = 1_700_000_000;

pub struct Fixture {
    pub dir: TempDir,
    pub metastore: Arc<SqliteMetastore>,
    pub iam: Iam,
    pub clock: Arc<ManualClock>,
}

impl Fixture {
    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("meta.db")
    }

    /// A new account.
    pub async fn account(&self, name: &str) -> AccountId {
        self.iam.create_account(name).await.expect("account").id
    }

    /// The root principal of `account`, authenticated through a fresh root key.
    pub async fn root(&self, account: AccountId) -> Principal {
        let key = self
            .iam
            .create_access_key(account, None)
            .await
            .expect("root key");
        let (principal, _) = self
            .iam
            .authenticate(&key.id, None, None)
            .await
            .expect("authenticate root");
        principal
    }

    /// Creates user `name` with the given policies attached, and returns its principal.
    pub async fn user(
        &self,
        account: AccountId,
        name: &str,
        policies: &[PolicyReference],
    ) -> Principal {
        self.iam
            .create_user(account, user_name(name), "")
            .await
            .expect("user");
        let target = PolicyTarget::User(user_name(name));
        for policy in policies {
            self.iam
                .attach_policy(account, policy, &target)
                .await
                .expect("attach");
        }
        let key = self
            .iam
            .create_access_key(account, Some(user_name(name)))
            .await
            .expect("user key");
        let (principal, _) = self
            .iam
            .authenticate(&key.id, None, Some("10.0.0.7".parse().expect("ip")))
            .await
            .expect("authenticate user");
        principal
    }

    /// Creates a custom policy from a document and returns its reference.
    pub async fn custom_policy(
        &self,
        account: AccountId,
        name: &str,
        document: &str,
    ) -> PolicyReference {
        self.iam
            .create_policy(account, policy_name(name), document, String::new())
            .await
            .expect("create policy");
        PolicyReference::Custom(policy_name(name))
    }
}

pub async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let metastore = Arc::new(
        SqliteMetastore::open(&dir.path().join("meta.db"))
            .await
            .expect("open"),
    );
    let clock = Arc::new(ManualClock::new(T0));
    let iam = Iam::with_clock(metastore.clone(), MasterKey::generate(), clock.clone());
    Fixture {
        dir,
        metastore,
        iam,
        clock,
    }
}

pub fn user_name(name: &str) -> UserName {
    UserName::parse(name).expect("user name")
}

pub fn role_name(name: &str) -> RoleName {
    RoleName::parse(name).expect("role name")
}

pub fn policy_name(name: &str) -> PolicyName {
    PolicyName::parse(name).expect("policy name")
}

pub fn system(policy: SystemPolicy) -> PolicyReference {
    PolicyReference::System(policy)
}

/// A trust policy letting `principals` (RAM principal ARNs) assume a role.
pub fn trust(principals: &[String]) -> String {
    serde_json::json!({
        "Version": "1",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                       "Principal": {"RAM": principals}}],
    })
    .to_string()
}

/// `acs:ram::<account>:root`.
pub fn root_arn(account: AccountId) -> String {
    format!("acs:ram::{account}:root")
}

/// Every byte of every file in `dir` (the database, its WAL and shared-memory files).
pub fn all_file_bytes(dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            bytes.extend(std::fs::read(&path).expect("read file"));
        }
    }
    bytes
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// A `MakeWriter` that appends every log line to a shared buffer.
#[derive(Clone, Default)]
pub struct Captured(pub Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// Everything logged so far.
    pub fn text(&self) -> String {
        let bytes = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        String::from_utf8(bytes).expect("utf-8 logs")
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
