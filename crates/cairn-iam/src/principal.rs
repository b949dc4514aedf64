//! Who is making a request, once authentication has succeeded.
//!
//! A [`Principal`] comes from [`Iam::authenticate`](crate::Iam::authenticate) (with the secret
//! to verify the request signature with), or, for Cairn's own services and server-side jobs,
//! from [`Iam::assume_role_as_service`](crate::Iam::assume_role_as_service) and
//! [`Iam::principal_for_role`](crate::Iam::principal_for_role). From then on only the principal
//! travels (to [`authorize`](crate::authorize), to the audit trail), never a secret.
//!
//! Invariant: `policies` holds the effective identity policies at authentication time — the
//! policies attached to the user, or to the assumed role — and is empty for the root identity,
//! which needs none inside its own account. `session_policy` is set only for STS sessions
//! issued with one, and only narrows: [`authorize`](crate::authorize) allows what both the
//! identity and the session policy allow.

use std::net::IpAddr;
use std::sync::Arc;

use cairn_model::{AccessKeyId, AccountId, RoleName, UserName};

use crate::{PolicyDocument, SecretString};

/// The identity inside an account that signed a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PrincipalIdentity {
    /// The account's root identity (an AccessKey that belongs to no user).
    Root,
    /// A user of the account.
    User(UserName),
    /// A session of an assumed role: temporary `STS.` credentials, or a service acting through
    /// a role. The principal's account is the role's account.
    RoleSession {
        /// The assumed role.
        role: RoleName,
        /// The session name the caller chose (shows in the audit trail).
        session_name: String,
        /// The account of whoever assumed the role (equal to the role's account for
        /// same-account sessions and for Cairn's services).
        assumed_by: AccountId,
    },
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The account the caller acts in; for a role session, the role's account.
    pub account: AccountId,
    /// Who inside the account.
    pub identity: PrincipalIdentity,
    /// The AccessKey that signed the request (`STS.` for role sessions).
    pub access_key_id: AccessKeyId,
    /// The client's address, when known.
    pub source_ip: Option<IpAddr>,
    /// The effective identity policies; empty for root.
    pub policies: Arc<Vec<PolicyDocument>>,
    /// The session policy of an STS session issued with one; `None` otherwise (and for every
    /// principal built outside STS).
    pub session_policy: Option<Arc<PolicyDocument>>,
}

/// What the server needs to verify a request signed with a long-term AccessKey: the secret,
/// and whom the key stands for. Only [`Iam::authenticate_key`](crate::Iam::authenticate_key)
/// makes one, and only for an active key.
#[derive(Debug, Clone)]
pub struct KeyCredential {
    /// The AccessKey id.
    pub access_key_id: AccessKeyId,
    /// The account the key acts for.
    pub account: AccountId,
    /// The user the key belongs to; `None` for the account's root.
    pub user: Option<UserName>,
    /// The plain secret, to check the request signature with.
    pub secret: SecretString,
}

impl KeyCredential {
    /// The principal this credential authenticates, once the signature has been verified,
    /// **without** policies: a user principal made here is allowed nothing. Use
    /// [`Iam::authenticate`](crate::Iam::authenticate) to get a principal with its policies.
    pub fn principal(&self, source_ip: Option<IpAddr>) -> Principal {
        Principal {
            account: self.account,
            identity: match &self.user {
                None => PrincipalIdentity::Root,
                Some(user) => PrincipalIdentity::User(user.clone()),
            },
            access_key_id: self.access_key_id.clone(),
            source_ip,
            policies: Arc::default(),
            session_policy: None,
        }
    }
}
