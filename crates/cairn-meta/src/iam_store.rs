//! [`IamStore`]: the durable home of custom policies, policy attachments, roles and STS
//! sessions (records in [`crate::iam_records`]).
//!
//! The store keeps what `cairn-iam` validated and hands it back unchanged; it never parses a
//! policy document or a trust policy. Invariants every backend keeps (pinned by the shared
//! suite, `testsuite::iam`):
//! - policies and roles belong to an existing account; `(account, name)` is unique for each;
//! - an attachment names an existing target (user or role of the account) and, for a custom
//!   policy, an existing policy of the account; a pair is attached at most once;
//! - a custom policy is never deleted while attached ([`IamStoreError::PolicyInUse`]), checked
//!   and deleted in one transaction;
//! - deleting a role removes its attachments and revokes every session of the role in the same
//!   transaction; deleting a user (through [`Metastore::delete_user`](crate::Metastore))
//!   removes the user's attachments;
//! - a session is created only while its role exists (checked in the same transaction), so a
//!   session can never outlive a concurrently deleted role;
//! - session secrets are stored only sealed, security tokens only as SHA-256 digests.
//!
//! Lists are ordered by name (attachments: by policy name, then kind). Times are unix seconds
//! given by the caller. Refusals are typed [`IamStoreError`] variants; database faults come
//! wrapped as [`IamStoreError::Meta`].

use async_trait::async_trait;
use cairn_model::{AccessKeyId, AccountId, PolicyName, RoleName, UserName};

use crate::{
    AttachedPolicy, CustomPolicyRecord, MetaError, PolicyAttachment, PolicyKind, PolicyTarget,
    StoredRole, StsSessionRecord,
};

/// Why an IAM store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum IamStoreError {
    /// The account does not exist.
    #[error("account {account} does not exist")]
    AccountNotFound {
        /// The account looked for.
        account: AccountId,
    },
    /// The account has no user of this name (attaching to a missing user).
    #[error("user {name} does not exist")]
    UserNotFound {
        /// The user looked for.
        name: UserName,
    },
    /// The account has no custom policy of this name.
    #[error("policy {name} does not exist")]
    PolicyNotFound {
        /// The policy looked for.
        name: PolicyName,
    },
    /// The account already has a custom policy of this name.
    #[error("policy {name} already exists")]
    PolicyAlreadyExists {
        /// The name asked for.
        name: PolicyName,
    },
    /// The custom policy is still attached and cannot be deleted.
    #[error("policy {name} is attached to {attachments} user(s) or role(s); detach it first")]
    PolicyInUse {
        /// The policy.
        name: PolicyName,
        /// How many users and roles it is attached to.
        attachments: u64,
    },
    /// The policy is already attached to the target.
    #[error("policy {policy} is already attached to {target}")]
    AlreadyAttached {
        /// The policy.
        policy: PolicyName,
        /// The user or role.
        target: PolicyTarget,
    },
    /// The policy is not attached to the target.
    #[error("policy {policy} is not attached to {target}")]
    NotAttached {
        /// The policy.
        policy: PolicyName,
        /// The user or role.
        target: PolicyTarget,
    },
    /// The account has no role of this name.
    #[error("role {name} does not exist")]
    RoleNotFound {
        /// The role looked for.
        name: RoleName,
    },
    /// The account already has a role of this name.
    #[error("role {name} already exists")]
    RoleAlreadyExists {
        /// The name asked for.
        name: RoleName,
    },
    /// No STS session has this AccessKey id (in this account, for account-scoped calls).
    #[error("STS session {id} does not exist")]
    SessionNotFound {
        /// The temporary AccessKey id.
        id: AccessKeyId,
    },
    /// A session with this AccessKey id already exists (ids are random; retry with another).
    #[error("STS session {id} already exists")]
    SessionAlreadyExists {
        /// The temporary AccessKey id.
        id: AccessKeyId,
    },
    /// The database failed, or a stored value is corrupt; see [`MetaError::is_transient`].
    #[error(transparent)]
    Meta(#[from] MetaError),
}

impl IamStoreError {
    /// Whether retrying the same call may succeed: only database faults.
    pub fn is_transient(&self) -> bool {
        matches!(self, IamStoreError::Meta(meta) if meta.is_transient())
    }
}

impl From<sqlx::Error> for IamStoreError {
    fn from(error: sqlx::Error) -> Self {
        IamStoreError::Meta(MetaError::Database(error))
    }
}

/// Storage of policies, roles and STS sessions. Part of every [`Metastore`](crate::Metastore).
#[async_trait]
pub trait IamStore: Send + Sync {
    // ---- custom policies ----

    /// Stores a new custom policy. `AccountNotFound`, `PolicyAlreadyExists`.
    async fn create_policy(&self, policy: &CustomPolicyRecord) -> Result<(), IamStoreError>;

    /// The custom policy `name` of `account`. `PolicyNotFound`.
    async fn get_policy(
        &self,
        account: AccountId,
        name: &PolicyName,
    ) -> Result<CustomPolicyRecord, IamStoreError>;

    /// The custom policies of an account, ordered by name (empty for an unknown account).
    async fn list_policies(
        &self,
        account: AccountId,
    ) -> Result<Vec<CustomPolicyRecord>, IamStoreError>;

    /// Deletes a custom policy. `PolicyNotFound`; `PolicyInUse` while it is attached.
    async fn delete_policy(
        &self,
        account: AccountId,
        name: &PolicyName,
    ) -> Result<(), IamStoreError>;

    // ---- attachments ----

    /// Attaches a policy to a user or role. `UserNotFound` / `RoleNotFound` for a missing
    /// target, `PolicyNotFound` for a missing custom policy (system policy names are not
    /// checked here: `cairn-iam` owns that list), `AlreadyAttached`.
    async fn attach_policy(&self, attachment: &PolicyAttachment) -> Result<(), IamStoreError>;

    /// Detaches a policy from a user or role. `NotAttached`.
    async fn detach_policy(
        &self,
        account: AccountId,
        kind: PolicyKind,
        policy: &PolicyName,
        target: &PolicyTarget,
    ) -> Result<(), IamStoreError>;

    /// The policies attached to a user or role, ordered by name then kind, custom ones with
    /// their records. `UserNotFound` / `RoleNotFound` for a missing target.
    async fn list_attached_policies(
        &self,
        account: AccountId,
        target: &PolicyTarget,
    ) -> Result<Vec<AttachedPolicy>, IamStoreError>;

    // ---- roles ----

    /// Stores a new role. `AccountNotFound`, `RoleAlreadyExists`.
    async fn create_role(&self, role: &StoredRole) -> Result<(), IamStoreError>;

    /// The role `name` of `account`. `RoleNotFound`.
    async fn get_role(
        &self,
        account: AccountId,
        name: &RoleName,
    ) -> Result<StoredRole, IamStoreError>;

    /// The roles of an account, ordered by name (empty for an unknown account).
    async fn list_roles(&self, account: AccountId) -> Result<Vec<StoredRole>, IamStoreError>;

    /// Replaces a role's trust policy and sets `updated_at`; returns the updated role.
    /// `RoleNotFound`.
    async fn update_role_trust_policy(
        &self,
        account: AccountId,
        name: &RoleName,
        trust_policy: &str,
        updated_at: i64,
    ) -> Result<StoredRole, IamStoreError>;

    /// Deletes a role with its attachments and revokes its sessions, atomically; returns how
    /// many sessions were revoked. `RoleNotFound`.
    async fn delete_role(&self, account: AccountId, name: &RoleName) -> Result<u64, IamStoreError>;

    // ---- STS sessions ----

    /// Stores a new session. `RoleNotFound` if its role does not exist (any more),
    /// `SessionAlreadyExists` if the id is taken.
    async fn create_sts_session(&self, session: &StsSessionRecord) -> Result<(), IamStoreError>;

    /// The session with this temporary AccessKey id, whatever its account, revoked or expired
    /// ones included (the caller decides). `SessionNotFound`.
    async fn get_sts_session(&self, id: &AccessKeyId) -> Result<StsSessionRecord, IamStoreError>;

    /// Revokes a session of `account` (the role's account). Revoking twice is fine.
    /// `SessionNotFound` if there is no such session in that account.
    async fn revoke_sts_session(
        &self,
        account: AccountId,
        id: &AccessKeyId,
    ) -> Result<(), IamStoreError>;

    /// Deletes every session that expired before `before`; returns how many.
    async fn purge_expired_sts_sessions(&self, before: i64) -> Result<u64, IamStoreError>;
}
