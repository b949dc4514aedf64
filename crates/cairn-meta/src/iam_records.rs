//! The records of [`IamStore`](crate::IamStore): custom policies, policy attachments, roles and
//! STS sessions.
//!
//! Data only, like [`crate::records`]. Policy documents and trust policies are kept as the JSON
//! text `cairn-iam` validated; the metastore never interprets them. An STS session's secret is
//! stored only sealed under the master key, and its security token only as a SHA-256 digest.

use cairn_model::{AccessKeyId, AccountId, PolicyName, RoleName, UserName};
use serde::{Deserialize, Serialize};

/// Whether a policy is one of Cairn's built-in system policies or an account's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum PolicyKind {
    /// A built-in policy, the same in every account; its document lives in `cairn-iam`.
    System,
    /// A policy an account created; its document is stored.
    Custom,
}

impl PolicyKind {
    /// The kind as stored and as RAM spells it (`System`, `Custom`).
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyKind::System => "System",
            PolicyKind::Custom => "Custom",
        }
    }

    /// Parses the stored form; `None` for anything else.
    pub fn from_stored(text: &str) -> Option<Self> {
        match text {
            "System" => Some(PolicyKind::System),
            "Custom" => Some(PolicyKind::Custom),
            _ => None,
        }
    }
}

/// What a policy is attached to: a user or a role of the policy's account.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum PolicyTarget {
    /// A user: the policy applies to every request the user signs.
    User(UserName),
    /// A role: the policy applies to every session of the role.
    Role(RoleName),
}

impl PolicyTarget {
    /// The target's kind as stored (`User`, `Role`).
    pub fn kind_str(&self) -> &'static str {
        match self {
            PolicyTarget::User(_) => "User",
            PolicyTarget::Role(_) => "Role",
        }
    }

    /// The target's name.
    pub fn name_str(&self) -> &str {
        match self {
            PolicyTarget::User(name) => name.as_str(),
            PolicyTarget::Role(name) => name.as_str(),
        }
    }
}

impl std::fmt::Display for PolicyTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PolicyTarget::User(name) => write!(f, "user/{name}"),
            PolicyTarget::Role(name) => write!(f, "role/{name}"),
        }
    }
}

/// A custom policy as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomPolicyRecord {
    /// The owning account.
    pub account: AccountId,
    /// The policy's name, unique inside its account.
    pub name: PolicyName,
    /// The policy document, JSON text validated by `cairn-iam`.
    pub document: String,
    /// Free-form description.
    pub description: String,
    /// When the policy was created, unix seconds.
    pub created_at: i64,
}

/// One attachment of a policy to a user or role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyAttachment {
    /// The account of the policy (for a custom one) and of the target.
    pub account: AccountId,
    /// System or custom.
    pub kind: PolicyKind,
    /// The policy's name.
    pub policy: PolicyName,
    /// The user or role it is attached to.
    pub target: PolicyTarget,
    /// When it was attached, unix seconds.
    pub attached_at: i64,
}

/// A policy attached to a target, as listed: a custom policy comes with its stored record, so
/// the documents of a principal are read in one query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachedPolicy {
    /// System or custom.
    pub kind: PolicyKind,
    /// The policy's name.
    pub name: PolicyName,
    /// When it was attached, unix seconds.
    pub attached_at: i64,
    /// The custom policy itself; `None` for a system policy.
    pub custom: Option<CustomPolicyRecord>,
}

/// A role as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRole {
    /// The account the role lives in.
    pub account: AccountId,
    /// The role's name, unique inside its account.
    pub name: RoleName,
    /// Who may assume the role: a trust policy, JSON text validated by `cairn-iam`.
    pub trust_policy: String,
    /// Free-form description.
    pub description: String,
    /// Longest session a caller may ask for, in seconds.
    pub max_session_seconds: u32,
    /// When the role was created, unix seconds.
    pub created_at: i64,
    /// When the role was last changed, unix seconds.
    pub updated_at: i64,
}

/// The temporary credentials of one assumed-role session, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StsSessionRecord {
    /// The temporary AccessKey id (`STS.` + alphanumerics), unique across the server.
    pub access_key_id: AccessKeyId,
    /// The account of the assumed role (the account the session acts in).
    pub account: AccountId,
    /// The assumed role.
    pub role: RoleName,
    /// The session name the caller chose.
    pub session_name: String,
    /// The account of the caller that assumed the role.
    pub assumed_by: AccountId,
    /// The secret, AES-256-GCM-sealed under the master key with the key id as associated data.
    pub secret_ciphertext: Vec<u8>,
    /// The nonce the secret was sealed with.
    pub secret_nonce: Vec<u8>,
    /// SHA-256 of the security token; the token itself is never stored.
    pub token_sha256: Vec<u8>,
    /// When the credentials stop working, unix seconds.
    pub expiration: i64,
    /// Whether the session was revoked (explicitly, or by deleting its role).
    pub revoked: bool,
    /// When the session was created, unix seconds.
    pub created_at: i64,
    /// The session policy (JSON text validated by `cairn-iam`), if the session has one: the
    /// session may do only what both its role's policies and this policy allow.
    pub session_policy: Option<String>,
}
