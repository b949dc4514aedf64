//! The error type of jobs, and which errors a job rides out by retrying.
//!
//! Invariant: every variant that ends a job ([`JobError::AssumeRole`], [`JobError::Denied`],
//! [`JobError::LogstoreNotFound`], [`JobError::SourceChanged`], [`JobError::SinkRefused`])
//! says in its message what is wrong *and* what to change, naming the role ARN, the action
//! and the resource involved; these messages are shown to users as the job's `error`.
//! [`JobError::is_transient`] errors never end a job: its task retries them with backoff.

use cairn_meta::{JobStoreError, MetaError};
use cairn_model::AccountId;

/// Why a job operation failed, or why a job stopped.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The job definition is malformed or breaks a rule; `message` names the field (as a
    /// JSON path into the SLS ETL shape) and, for filters and regexes, the position.
    #[error("invalid job definition: {message}")]
    Invalid {
        /// What is wrong, and where.
        message: String,
    },

    /// The account has no job of this name.
    #[error("job {name} does not exist")]
    NotFound {
        /// The job's name.
        name: String,
    },

    /// The account already has a job of this name.
    #[error("job {name} already exists")]
    AlreadyExists {
        /// The job's name.
        name: String,
    },

    /// The job's owner could not assume a role: the role does not exist, or its trust policy
    /// does not trust the owner's account.
    #[error(
        "cannot assume role {role_arn} as account {owner}: {reason}. Check that the role \
         exists and that its trust policy trusts account {owner}"
    )]
    AssumeRole {
        /// The role ARN from the job definition.
        role_arn: String,
        /// The job's owner, who assumes the role.
        owner: AccountId,
        /// Why IAM refused.
        reason: String,
    },

    /// An assumed role lacks a permission the job needs.
    #[error(
        "role {role_arn} is not allowed to perform {action} on {resource}: grant {action} on \
         {resource} to role {role_arn} (attach a policy allowing it to the role)"
    )]
    Denied {
        /// The action refused, e.g. `log:PostLogStoreLogs`.
        action: String,
        /// The resource ARN it was refused on.
        resource: String,
        /// The role whose session was refused.
        role_arn: String,
    },

    /// A logstore named by the job does not exist.
    #[error(
        "the {side} logstore {project}/{logstore} does not exist: create it, or change the job"
    )]
    LogstoreNotFound {
        /// `source` or `destination`.
        side: &'static str,
        /// The project named.
        project: String,
        /// The logstore named.
        logstore: String,
    },

    /// The source logstore was deleted and created again while the job ran, so its saved
    /// offsets no longer mean anything.
    #[error(
        "the source logstore {project}/{logstore} was deleted and created again since the job \
         started; its checkpoint no longer applies: create a new job"
    )]
    SourceChanged {
        /// The source project.
        project: String,
        /// The source logstore.
        logstore: String,
    },

    /// The destination refused a write in a way retrying cannot fix (the logstore was
    /// dropped, or one record alone is larger than a write may be).
    #[error("the destination logstore refused the write: {reason}")]
    SinkRefused {
        /// What the store said.
        reason: String,
    },

    /// One append was larger than the destination accepts; the job splits it and tries again.
    #[error("the write is {bytes} bytes, above the {limit} byte limit")]
    TooLarge {
        /// Size of the refused write.
        bytes: u64,
        /// The largest write accepted.
        limit: u64,
    },

    /// A component the job depends on (IAM, metastore, log store) is temporarily unavailable;
    /// the job retries.
    #[error("temporarily unavailable: {reason}")]
    Unavailable {
        /// What failed.
        reason: String,
    },

    /// Reading or writing the job's own record in the metastore failed.
    #[error("job storage: {0}")]
    Storage(#[source] JobStoreError),
}

impl JobError {
    /// Whether retrying the same step later may succeed; such errors never end a job.
    pub fn is_transient(&self) -> bool {
        match self {
            JobError::Unavailable { .. } => true,
            JobError::Storage(error) => error.is_transient(),
            _ => false,
        }
    }

    /// `Invalid` with a message.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        JobError::Invalid {
            message: message.into(),
        }
    }

    /// Maps a metastore error met while looking something up for a job.
    pub(crate) fn from_meta(error: MetaError) -> Self {
        if error.is_transient() {
            JobError::Unavailable {
                reason: error.to_string(),
            }
        } else {
            JobError::Storage(JobStoreError::Meta(error))
        }
    }

    /// Maps a job-store error for the job `name`.
    pub(crate) fn from_store(error: JobStoreError, name: &str) -> Self {
        match error {
            JobStoreError::JobNotFound { .. } => JobError::NotFound {
                name: name.to_owned(),
            },
            JobStoreError::JobAlreadyExists { .. } => JobError::AlreadyExists {
                name: name.to_owned(),
            },
            JobStoreError::AccountNotFound { account } => {
                JobError::invalid(format!("the owner account {account} does not exist"))
            }
            other => JobError::Storage(other),
        }
    }
}
