//! Cairn's identity and authorisation.
//!
//! - [`MasterKey`]: the server key that seals AccessKey secrets (AES-256-GCM), loaded from
//!   `CAIRN_MASTER_KEY` or a private key file.
//! - [`Iam`]: accounts, users, AccessKeys, policies, roles and STS over the metastore.
//!   [`Iam::authenticate`] turns a presented AccessKey id (and, for temporary `STS.` keys, the
//!   security token) into a [`Principal`] with its policies, and the secret to check the
//!   request signature with.
//! - [`Principal`]: who made a verified request — root, a user, or a role session.
//! - [`authorize`]: the single decision point for "may this principal do this action on this
//!   resource", over [`PolicyDocument`]s and [`SystemPolicy`]s (see [`policy`]).
//! - [`TrustPolicy`]: who may assume a role; [`Iam::assume_role`] issues temporary credentials.
//! - [`Iam::issue_write_token`]: an agent's write token, temporary credentials narrowed by a
//!   session policy to `log:PostLogStoreLogs` on given logstores.
//! - [`ResourceDirectory`]: organisations of accounts and the membership events services follow.
//!
//! Invariant across the crate: secrets (AccessKey secrets, security tokens, the master key)
//! never appear in `Debug` output, errors or tracing fields; they are stored only sealed
//! (secrets) or hashed (tokens).

mod authn;
mod clock;
mod directory;
mod error;
mod master_key;
mod policies;
pub mod policy;
mod principal;
mod roles;
mod secret;
mod service;
mod sts;
mod trust;
mod write_tokens;

pub use clock::{Clock, ManualClock, SystemClock};
pub use directory::{DirectoryError, DirectoryRole, ResourceDirectory};
pub use error::IamError;
pub use master_key::{MasterKey, MASTER_KEY_LEN, NONCE_LEN};
pub use policies::{
    PolicyKind, PolicyRecord, PolicyReference, PolicyTarget, MAX_DESCRIPTION_LEN,
    SYSTEM_POLICY_CREATED_AT,
};
pub use policy::{
    authorize, Decision, Effect, PolicyDocument, SystemPolicy, AUDIT_RESOURCE_PATTERNS,
    MAX_POLICY_BYTES, MAX_SESSION_POLICY_BYTES,
};
pub use principal::{KeyCredential, Principal, PrincipalIdentity};
pub use roles::{
    RoleRecord, ServiceLinkedRole, DEFAULT_SESSION_SECONDS, MAX_SESSION_SECONDS,
    MIN_SESSION_SECONDS, SERVICE_LINKED_ROLE_PREFIX,
};
pub use secret::SecretString;
pub use service::{AccessKeySummary, Iam, NewAccessKey, MAX_FREE_TEXT_NAME_LEN, SECRET_LEN};
pub use sts::{authorize_assume_role, AssumeRoleRequest, TemporaryCredentials, STS_KEY_PREFIX};
pub use trust::{TrustPolicy, SERVICE_PRINCIPAL_SUFFIX};
pub use write_tokens::{WRITE_TOKEN_ACTION, WRITE_TOKEN_SESSION_NAME};

// Re-exported so callers of `Iam` need not name cairn-meta for these.
pub use cairn_meta::{AccessKeyStatus, Account, User};
pub use cairn_meta::{
    DirectoryEvent, DirectoryMembership, DirectoryRecord, DirectoryService, InvitationRecord,
    InvitationStatus, JoinMethod, MemberRecord, SequencedEvent,
};
