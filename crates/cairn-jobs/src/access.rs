//! [`LogAccess`]: everything a job needs from the rest of the server, and
//! [`EngineLogAccess`], its implementation over the real log engine, metastore and IAM.
//!
//! Invariants:
//! - A job touches logstores only through ids returned by [`LogAccess::resolve`], which
//!   authorizes the action for the assumed role's principal first: a job can never read or
//!   write more than its roles allow.
//! - [`LogAccess::append`] is exactly-once per (logstore, producer key): a sequence id not
//!   above the last committed one writes nothing and answers
//!   [`AppendOutcome::AlreadyCommitted`] with the last committed id. An append of an empty
//!   group writes no record and only records its sequence id (or reports the last
//!   committed one): jobs use it to learn where a previous run of theirs got to.

use std::sync::Arc;

use async_trait::async_trait;
use cairn_iam::{authorize, Iam, Principal};
use cairn_meta::{EntityKind, Metastore};
use cairn_model::{LogGroupData, LogRecord, LogstoreId, LogstoreName, ProjectName, ResourceArn};
use cairn_store::{AppendRequest, LogEngine, ProducerSequence, StoreError};

use crate::JobError;

/// The shard jobs write to (part of the exactly-once key).
pub const JOB_SHARD: u32 = 0;

/// What became of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendOutcome {
    /// The group was stored now.
    Committed,
    /// The sequence id was not above the last committed one for the producer key, so nothing
    /// was written: the group (or a later one) was stored before.
    AlreadyCommitted {
        /// The last sequence id committed for the producer key.
        last_committed: u64,
    },
}

/// The boundary between jobs and the rest of the server.
#[async_trait]
pub trait LogAccess: Send + Sync {
    /// A session of `role_arn` for the job owner `owner`, named `session`. Fails with
    /// [`JobError::AssumeRole`] when the role is missing or does not trust `owner`, and with a
    /// transient error when IAM is unavailable.
    async fn assume(
        &self,
        owner: cairn_model::AccountId,
        role_arn: &str,
        session: &str,
    ) -> Result<Principal, JobError>;

    /// The id of `project`/`logstore`, once `principal` (a session of `role_arn`) is
    /// authorized to perform `action` on it; [`JobError::Denied`] naming the action, the
    /// logstore's ARN and the role otherwise, [`JobError::LogstoreNotFound`] if it does not
    /// exist. `side` (`source` / `destination`) words the not-found error.
    async fn resolve(
        &self,
        principal: &Principal,
        role_arn: &str,
        side: &'static str,
        project: &ProjectName,
        logstore: &LogstoreName,
        action: &str,
    ) -> Result<LogstoreId, JobError>;

    /// Up to `max` records of a logstore from `offset` on, with their offsets, and the offset
    /// to read next (see `LogEngine::read_from`).
    async fn read_from(
        &self,
        logstore: LogstoreId,
        offset: u64,
        max: usize,
    ) -> Result<(Vec<(u64, Arc<LogRecord>)>, u64), JobError>;

    /// The offset the next record of a logstore will get.
    fn next_offset(&self, logstore: LogstoreId) -> u64;

    /// Appends one group to a logstore, exactly once per (logstore, producer key, sequence
    /// id). Errors: [`JobError::TooLarge`] (split and retry), transient ones (retry), others
    /// end the job.
    async fn append(
        &self,
        logstore: LogstoreId,
        producer: ProducerSequence,
        group: LogGroupData,
    ) -> Result<AppendOutcome, JobError>;
}

/// [`LogAccess`] over the server's own components.
pub struct EngineLogAccess {
    engine: Arc<LogEngine>,
    meta: Arc<dyn Metastore>,
    iam: Arc<Iam>,
    region: String,
}

impl EngineLogAccess {
    /// The region written into resource ARNs unless [`EngineLogAccess::with_region`] says
    /// otherwise (the server's default).
    pub const DEFAULT_REGION: &'static str = "cairn";

    /// Access through `engine`, `meta` and `iam`, naming resources in
    /// [`EngineLogAccess::DEFAULT_REGION`].
    pub fn new(engine: Arc<LogEngine>, meta: Arc<dyn Metastore>, iam: Arc<Iam>) -> Self {
        Self {
            engine,
            meta,
            iam,
            region: Self::DEFAULT_REGION.to_owned(),
        }
    }

    /// The same access, writing `region` into the resource ARNs it authorizes (the server's
    /// configured region, so that policies naming it match).
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }
}

impl std::fmt::Debug for EngineLogAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineLogAccess")
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl LogAccess for EngineLogAccess {
    async fn assume(
        &self,
        owner: cairn_model::AccountId,
        role_arn: &str,
        session: &str,
    ) -> Result<Principal, JobError> {
        self.iam
            .principal_for_role(owner, role_arn, session, None)
            .await
            .map_err(|error| {
                if error.is_transient() {
                    JobError::Unavailable {
                        reason: error.to_string(),
                    }
                } else {
                    JobError::AssumeRole {
                        role_arn: role_arn.to_owned(),
                        owner,
                        reason: error.to_string(),
                    }
                }
            })
    }

    async fn resolve(
        &self,
        principal: &Principal,
        role_arn: &str,
        side: &'static str,
        project: &ProjectName,
        logstore: &LogstoreName,
        action: &str,
    ) -> Result<LogstoreId, JobError> {
        let not_found = || JobError::LogstoreNotFound {
            side,
            project: project.to_string(),
            logstore: logstore.to_string(),
        };
        let owner = match self.meta.get_project(project).await {
            Ok(record) => record.account,
            Err(error) if error.is_not_found(EntityKind::Project) => return Err(not_found()),
            Err(error) => return Err(JobError::from_meta(error)),
        };
        let resource = ResourceArn::logstore(&self.region, owner, project, logstore);
        if authorize(principal, action, &resource).is_err() {
            return Err(JobError::Denied {
                action: action.to_owned(),
                resource: resource.to_string(),
                role_arn: role_arn.to_owned(),
            });
        }
        match self.meta.get_logstore(project, logstore).await {
            Ok(record) => Ok(record.id),
            Err(error) if error.is_not_found(EntityKind::Logstore) => Err(not_found()),
            Err(error) if error.is_not_found(EntityKind::Project) => Err(not_found()),
            Err(error) => Err(JobError::from_meta(error)),
        }
    }

    async fn read_from(
        &self,
        logstore: LogstoreId,
        offset: u64,
        max: usize,
    ) -> Result<(Vec<(u64, Arc<LogRecord>)>, u64), JobError> {
        self.engine
            .read_from(logstore, offset, max)
            .await
            .map_err(|error| JobError::Unavailable {
                reason: format!("reading the source failed: {error}"),
            })
    }

    fn next_offset(&self, logstore: LogstoreId) -> u64 {
        self.engine.next_offset(logstore)
    }

    async fn append(
        &self,
        logstore: LogstoreId,
        producer: ProducerSequence,
        group: LogGroupData,
    ) -> Result<AppendOutcome, JobError> {
        let request = AppendRequest {
            logstore,
            shard: JOB_SHARD,
            producer: Some(producer),
            group,
        };
        match self.engine.append(request).await {
            Ok(_) => Ok(AppendOutcome::Committed),
            Err(error) => Err(match error {
                StoreError::InvalidSequenceId { last_committed, .. } => {
                    return Ok(AppendOutcome::AlreadyCommitted { last_committed })
                }
                StoreError::RecordTooLarge { bytes, limit } => JobError::TooLarge { bytes, limit },
                StoreError::LogstoreDropped { .. } | StoreError::InvalidAppend { .. } => {
                    JobError::SinkRefused {
                        reason: error.to_string(),
                    }
                }
                // Disk full, shutting down, and faults of the server's own WAL: none is the
                // job's doing, and the server comes back from each (at the latest after a
                // restart, when the job resumes from its checkpoint), so the job waits.
                other => JobError::Unavailable {
                    reason: other.to_string(),
                },
            }),
        }
    }
}
