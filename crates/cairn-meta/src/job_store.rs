//! [`JobStore`]: the durable home of copy/transform jobs (definitions, state, counters and
//! checkpoints), and the records it reads and writes.
//!
//! The metastore knows a job only as data: its owner, its name, the definition as the jobs
//! crate encodes it (opaque JSON here), and the progress the job's task saves after every
//! batch. Validation of names and definitions is the jobs crate's; the metastore only keeps
//! what it is given, and hands back exactly that.
//!
//! Invariants every backend keeps (pinned by the shared suite):
//! - a job belongs to an existing account; `(owner, name)` is unique;
//! - [`JobStore::save_job_progress`] changes only the job incarnation it names: a task of a
//!   job that was deleted (and perhaps created again under the same name) can never
//!   overwrite its successor's progress;
//! - progress is saved atomically: the checkpoint and the counters that go with it are
//!   never seen apart.
//!
//! Refusals are typed [`JobStoreError`] variants; database faults come wrapped as
//! [`JobStoreError::Meta`].

use async_trait::async_trait;
use cairn_model::AccountId;
use serde::{Deserialize, Serialize};

use crate::MetaError;

/// Why a job store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum JobStoreError {
    /// The owner account does not exist.
    #[error("account {account} does not exist")]
    AccountNotFound {
        /// The account looked for.
        account: AccountId,
    },
    /// The owner has no job of this name (or, when saving progress, no longer the same
    /// incarnation of it).
    #[error("job {name} of account {owner} does not exist")]
    JobNotFound {
        /// The job's owner.
        owner: AccountId,
        /// The job's name.
        name: String,
    },
    /// The owner already has a job of this name.
    #[error("job {name} of account {owner} already exists")]
    JobAlreadyExists {
        /// The job's owner.
        owner: AccountId,
        /// The job's name.
        name: String,
    },
    /// The database failed, or a stored value is corrupt; see [`MetaError::is_transient`].
    #[error(transparent)]
    Meta(#[from] MetaError),
}

impl JobStoreError {
    /// Whether retrying the same call may succeed: only database faults.
    pub fn is_transient(&self) -> bool {
        matches!(self, JobStoreError::Meta(meta) if meta.is_transient())
    }
}

impl From<sqlx::Error> for JobStoreError {
    fn from(error: sqlx::Error) -> Self {
        JobStoreError::Meta(MetaError::Database(error))
    }
}

/// Where a job is in its life. Serialised (and stored) as its variant name, `Running`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JobState {
    /// Copying (or waiting for new data, for a continuous job); resumed after a restart.
    Running,
    /// A one-off job copied its whole range.
    Succeeded,
    /// The job stopped on an error it cannot get past by retrying (a role that cannot be
    /// assumed, a missing permission, a deleted logstore); the error says what to fix.
    Failed,
    /// Stopped on request; not resumed after a restart.
    Stopped,
}

impl JobState {
    /// The state as stored (`Running`, `Succeeded`, `Failed`, `Stopped`).
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Running => "Running",
            JobState::Succeeded => "Succeeded",
            JobState::Failed => "Failed",
            JobState::Stopped => "Stopped",
        }
    }

    /// Parses the stored form; `None` for anything else.
    pub fn from_stored(text: &str) -> Option<Self> {
        match text {
            "Running" => Some(JobState::Running),
            "Succeeded" => Some(JobState::Succeeded),
            "Failed" => Some(JobState::Failed),
            "Stopped" => Some(JobState::Stopped),
            _ => None,
        }
    }

    /// Whether the job has ended (anything but [`JobState::Running`]).
    pub fn is_finished(self) -> bool {
        self != JobState::Running
    }
}

/// What a job's task saves after every batch: its state, counters and checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobProgress {
    /// Where the job is in its life.
    pub state: JobState,
    /// Why the job failed, in words that say what to fix; `None` unless `Failed`.
    pub error: Option<String>,
    /// Source records inside the job's time window read so far.
    pub records_read: u64,
    /// Records written to the destination so far (after the transform's filter).
    pub records_written: u64,
    /// Raw bytes (as SLS meters them) written to the destination so far.
    pub bytes_written: u64,
    /// One-off jobs: the source records inside the time range when the job started.
    pub records_total: Option<u64>,
    /// The source offset to read next: everything below it has been handled.
    pub checkpoint_offset: u64,
    /// One-off jobs: the source offset at which the job ends (the source's next offset when
    /// it started).
    pub end_offset: Option<u64>,
    /// The id of the source logstore incarnation the offsets refer to; `None` until the job
    /// first reached its source.
    pub source_logstore: Option<i64>,
    /// When the job (first) started, unix seconds.
    pub started_at: i64,
    /// When this progress was saved, unix seconds.
    pub updated_at: i64,
}

/// A stored job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    /// The account that owns the job (and whose identity assumes its roles).
    pub owner: AccountId,
    /// The job's name, unique inside the owner's account (validated by the jobs crate).
    pub name: String,
    /// A random id chosen when the job is created: a job deleted and created again under the
    /// same name is another incarnation.
    pub incarnation: String,
    /// The definition, as the jobs crate encodes it.
    pub definition: serde_json::Value,
    /// The latest saved progress.
    pub progress: JobProgress,
    /// When the job was created, unix seconds.
    pub created_at: i64,
}

/// Storage of copy/transform jobs. A supertrait of [`crate::Metastore`].
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Stores a new job. [`JobStoreError::AccountNotFound`] if the owner is missing,
    /// [`JobStoreError::JobAlreadyExists`] if the owner already has a job of that name.
    async fn create_job(&self, job: &JobRecord) -> Result<(), JobStoreError>;

    /// The job `name` of `owner`; [`JobStoreError::JobNotFound`] if there is none.
    async fn get_job(&self, owner: AccountId, name: &str) -> Result<JobRecord, JobStoreError>;

    /// The jobs of an account, ordered by name (empty for an unknown account).
    async fn list_jobs(&self, owner: AccountId) -> Result<Vec<JobRecord>, JobStoreError>;

    /// Every job in `state`, of all accounts, ordered by owner then name (a starting server
    /// resumes the `Running` ones).
    async fn list_jobs_in_state(&self, state: JobState) -> Result<Vec<JobRecord>, JobStoreError>;

    /// Replaces the progress of the job `name` of `owner`, if it is still the incarnation
    /// `incarnation`; [`JobStoreError::JobNotFound`] otherwise (the job was deleted, or
    /// deleted and created again).
    async fn save_job_progress(
        &self,
        owner: AccountId,
        name: &str,
        incarnation: &str,
        progress: &JobProgress,
    ) -> Result<(), JobStoreError>;

    /// Deletes the job `name` of `owner`; [`JobStoreError::JobNotFound`] if there is none.
    async fn delete_job(&self, owner: AccountId, name: &str) -> Result<(), JobStoreError>;
}
