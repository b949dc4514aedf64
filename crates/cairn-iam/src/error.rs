//! The IAM error type.
//!
//! Invariant: no variant carries a secret (AccessKey secret, master key bytes, plaintext);
//! AccessKey ids, paths and action/resource names are public and may appear.

use std::path::PathBuf;

use cairn_meta::{EntityKind, IamStoreError, MetaError};
use cairn_model::{AccessKeyId, ModelError, PolicyName};

/// Why an identity or authorisation operation failed.
#[derive(Debug, thiserror::Error)]
pub enum IamError {
    /// No AccessKey has this id (never existed, or deleted). SLS: `Unauthorized` /
    /// `InvalidAccessKeyId`.
    #[error("AccessKey {id} does not exist")]
    AccessKeyNotFound {
        /// The id that was presented.
        id: AccessKeyId,
    },
    /// The AccessKey exists but is disabled.
    #[error("AccessKey {id} is disabled")]
    AccessKeyDisabled {
        /// The id that was presented.
        id: AccessKeyId,
    },
    /// The principal may not perform `action` on `resource`. The message is SLS's own.
    #[error("denied by sts or ram, action: {action}, resource: {resource}")]
    Unauthorized {
        /// The SLS action name, e.g. `log:PostLogStoreLogs`.
        action: String,
        /// The resource ARN, e.g. `acs:log:cairn:1234567890123456:project/p`.
        resource: String,
    },
    /// A policy document (or trust policy) is malformed or breaks a rule; `reason` says which
    /// and where (statement number, field). SLS/RAM: `MalformedPolicyDocument`.
    #[error("invalid policy document: {reason}")]
    InvalidPolicy {
        /// What is wrong, in words a policy author can act on.
        reason: String,
    },
    /// A request parameter other than a name or a policy is out of range or malformed (a
    /// session duration, a session name, a role ARN). SLS: `ParameterInvalid`.
    #[error("invalid {parameter}: {reason}")]
    InvalidParameter {
        /// The parameter, as the API names it (`DurationSeconds`, `RoleArn`, ...).
        parameter: &'static str,
        /// What is wrong and what is accepted.
        reason: String,
    },
    /// The account has no custom policy of this name (or no system policy has it).
    #[error("policy {name} does not exist")]
    PolicyNotFound {
        /// The policy looked for.
        name: PolicyName,
    },
    /// A custom policy of this name exists already, or the name is a system policy's.
    #[error("policy {name} already exists")]
    PolicyAlreadyExists {
        /// The name asked for.
        name: PolicyName,
    },
    /// The custom policy is attached to users or roles; detach it before deleting it.
    #[error("policy {name} is attached to {attachments} user(s) or role(s); detach it first")]
    PolicyInUse {
        /// The policy.
        name: PolicyName,
        /// How many users and roles it is attached to.
        attachments: u64,
    },
    /// Attach found the policy already attached to the target.
    #[error("policy {policy} is already attached to {target}")]
    PolicyAlreadyAttached {
        /// The policy.
        policy: PolicyName,
        /// `user/<name>` or `role/<name>`.
        target: String,
    },
    /// Detach found the policy not attached to the target.
    #[error("policy {policy} is not attached to {target}")]
    PolicyNotAttached {
        /// The policy.
        policy: PolicyName,
        /// `user/<name>` or `role/<name>`.
        target: String,
    },
    /// The role does not exist. SLS/RAM: `EntityNotExist.Role`.
    #[error("role {role} does not exist")]
    RoleNotFound {
        /// The role's ARN, `acs:ram::<account>:role/<name>`.
        role: String,
    },
    /// A role of this name exists already in the account.
    #[error("role {role} already exists")]
    RoleAlreadyExists {
        /// The role's ARN.
        role: String,
    },
    /// The role's trust policy does not let the caller assume it; `reason` says what is
    /// missing (an untrusted principal, a missing or wrong ExternalId). The message keeps
    /// SLS's denial form, naming `sts:AssumeRole` and the role.
    #[error("denied by sts or ram, action: sts:AssumeRole, resource: {role}: {reason}")]
    AssumeRoleDenied {
        /// The role's ARN.
        role: String,
        /// Why, e.g. "the role's trust policy requires an ExternalId".
        reason: String,
    },
    /// Temporary credentials whose expiry has passed. SLS: `SecurityTokenExpired`.
    #[error("the temporary credentials of AccessKey {id} expired at {expired_at} (unix seconds); assume the role again")]
    CredentialsExpired {
        /// The temporary AccessKey id.
        id: AccessKeyId,
        /// When they expired, unix seconds.
        expired_at: i64,
    },
    /// A temporary (`STS.`) AccessKey came without its security token, or with another one.
    /// SLS: `InvalidSecurityToken`.
    #[error("{reason} (AccessKey {id})")]
    InvalidSecurityToken {
        /// The temporary AccessKey id.
        id: AccessKeyId,
        /// Missing or mismatched, in words.
        reason: &'static str,
    },
    /// The master key given (environment value or file content) is not 32 base64-encoded bytes.
    #[error("invalid master key: {reason}")]
    InvalidMasterKey {
        /// What is wrong with it, never the key itself.
        reason: String,
    },
    /// The master key file can be read or written by group or others; the server refuses to
    /// start rather than trust (or keep exposing) such a key.
    #[error(
        "master key file {} is accessible by group or others (mode {mode:o}); run `chmod 600 {}`",
        path.display(),
        path.display()
    )]
    InsecureMasterKeyFile {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The master key file could not be read or created.
    #[error("master key file {}: {source}", path.display())]
    MasterKeyFile {
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// Sealing or unsealing a secret failed: a stored ciphertext was altered, moved to another
    /// row, or sealed under another master key.
    #[error("secret encryption failed: {0}")]
    Crypto(&'static str),
    /// A value given by the caller (an account name, a display name) is invalid.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The metastore failed; see [`MetaError::is_transient`].
    #[error(transparent)]
    Meta(#[from] MetaError),
}

impl From<IamStoreError> for IamError {
    /// Maps store refusals that carry no ARN context; callers map role and policy refusals
    /// themselves where they know the account.
    fn from(err: IamStoreError) -> Self {
        match err {
            IamStoreError::Meta(meta) => IamError::Meta(meta),
            IamStoreError::AccountNotFound { account } => IamError::Meta(MetaError::NotFound {
                kind: EntityKind::Account,
                name: account.to_string(),
            }),
            IamStoreError::UserNotFound { name } => IamError::Meta(MetaError::NotFound {
                kind: EntityKind::User,
                name: name.to_string(),
            }),
            IamStoreError::PolicyNotFound { name } => IamError::PolicyNotFound { name },
            IamStoreError::PolicyAlreadyExists { name } => IamError::PolicyAlreadyExists { name },
            IamStoreError::PolicyInUse { name, attachments } => {
                IamError::PolicyInUse { name, attachments }
            }
            IamStoreError::AlreadyAttached { policy, target } => IamError::PolicyAlreadyAttached {
                policy,
                target: target.to_string(),
            },
            IamStoreError::NotAttached { policy, target } => IamError::PolicyNotAttached {
                policy,
                target: target.to_string(),
            },
            IamStoreError::RoleNotFound { name } => IamError::RoleNotFound {
                role: format!("role/{name}"),
            },
            IamStoreError::RoleAlreadyExists { name } => IamError::RoleAlreadyExists {
                role: format!("role/{name}"),
            },
            IamStoreError::SessionNotFound { id } => IamError::AccessKeyNotFound { id },
            IamStoreError::SessionAlreadyExists { id } => {
                IamError::Meta(MetaError::AlreadyExists {
                    kind: EntityKind::AccessKey,
                    name: id.to_string(),
                })
            }
        }
    }
}

impl IamError {
    /// Whether retrying may succeed: only transient metastore faults.
    pub fn is_transient(&self) -> bool {
        match self {
            IamError::Meta(meta) => meta.is_transient(),
            _ => false,
        }
    }
}
