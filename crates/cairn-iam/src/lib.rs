//! Cairn's identity and authorisation.
//!
//! - [`MasterKey`]: the server key that seals AccessKey secrets (AES-256-GCM), loaded from
//!   `CAIRN_MASTER_KEY` or a private key file.
//! - [`Iam`]: accounts, users and AccessKeys over the metastore; [`Iam::authenticate_key`] turns
//!   a presented AccessKey id into a [`KeyCredential`] (secret included) for signature checks.
//! - [`Principal`]: who made a verified request.
//! - [`authorize`]: the single decision point for "may this principal do this action on this
//!   resource", built to take policies and roles later (see [`policy`]).
//!
//! Invariant across the crate: secrets (AccessKey secrets, the master key) never appear in
//! `Debug` output, errors or tracing fields.

mod error;
mod master_key;
pub mod policy;
mod principal;
mod secret;
mod service;

pub use error::IamError;
pub use master_key::{MasterKey, MASTER_KEY_LEN, NONCE_LEN};
pub use policy::{authorize, Decision};
pub use principal::{KeyCredential, Principal, PrincipalIdentity};
pub use secret::SecretString;
pub use service::{AccessKeySummary, Iam, NewAccessKey, MAX_FREE_TEXT_NAME_LEN, SECRET_LEN};

// Re-exported so callers of `Iam` need not name cairn-meta for these.
pub use cairn_meta::{AccessKeyStatus, Account, User};
