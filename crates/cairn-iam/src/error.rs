//! The IAM error type.
//!
//! Invariant: no variant carries a secret (AccessKey secret, master key bytes, plaintext);
//! AccessKey ids, paths and action/resource names are public and may appear.

use std::path::PathBuf;

use cairn_meta::MetaError;
use cairn_model::{AccessKeyId, ModelError};

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

impl IamError {
    /// Whether retrying may succeed: only transient metastore faults.
    pub fn is_transient(&self) -> bool {
        match self {
            IamError::Meta(meta) => meta.is_transient(),
            _ => false,
        }
    }
}
