//! Who is making a request, once authentication has succeeded.
//!
//! A [`Principal`] is built by the server from a [`KeyCredential`] after the request signature
//! has been verified with the credential's secret; from then on only the principal travels (to
//! [`authorize`](crate::authorize), to the audit trail), never the secret.

use std::net::IpAddr;

use cairn_model::{AccessKeyId, AccountId, UserName};

use crate::SecretString;

/// The identity inside an account that signed a request.
///
/// Non-exhaustive: assumed-role sessions (STS) will be added as another variant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PrincipalIdentity {
    /// The account's root identity (an AccessKey that belongs to no user).
    Root,
    /// A user of the account.
    User(UserName),
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The account the caller acts in.
    pub account: AccountId,
    /// Who inside the account.
    pub identity: PrincipalIdentity,
    /// The AccessKey that signed the request.
    pub access_key_id: AccessKeyId,
    /// The client's address, when known.
    pub source_ip: Option<IpAddr>,
}

/// What the server needs to verify a request signed with an AccessKey: the secret, and whom
/// the key stands for. Only [`Iam::authenticate_key`](crate::Iam::authenticate_key) makes one,
/// and only for an active key.
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
    /// The principal this credential authenticates, once the signature has been verified.
    pub fn principal(&self, source_ip: Option<IpAddr>) -> Principal {
        Principal {
            account: self.account,
            identity: match &self.user {
                None => PrincipalIdentity::Root,
                Some(user) => PrincipalIdentity::User(user.clone()),
            },
            access_key_id: self.access_key_id.clone(),
            source_ip,
        }
    }
}
