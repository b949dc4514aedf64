//! [`JobScheduler`]: owns the running jobs of this server, one tokio task each.
//!
//! Invariants:
//! - The metastore is the source of truth: a job exists iff its row does, and a job whose
//!   saved state is `Running` is resumed by [`JobScheduler::start`] after a restart, from its
//!   saved checkpoint.
//! - At most one task runs per job in this process; [`JobScheduler::stop`] and
//!   [`JobScheduler::delete`] return only after the task has ended and saved.
//! - [`JobScheduler::shutdown`] stops every task cleanly (checkpoints saved, states left
//!   `Running`); dropping the scheduler aborts them at their next await, as a crash would,
//!   which exactly-once resumption is built to survive.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use cairn_meta::{JobProgress, JobRecord, JobState, MetaError, Metastore};
use cairn_model::{AccountId, ProjectName};
use rand::distributions::{Alphanumeric, DistString};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::runner::{JobTask, Signal};
use crate::{JobDefinition, JobError, JobName, JobStatus, LogAccess};

/// How jobs run. The defaults suit a server; tests shorten them.
#[derive(Debug, Clone)]
pub struct JobOptions {
    /// Most source records read per batch (one checkpoint per batch). Default 1000.
    pub batch_records: usize,
    /// How often an idle continuous job looks for new records. Default 200 ms.
    pub poll_interval: Duration,
    /// Roles are assumed again (and permissions checked again) this often. Default 10 min.
    pub reassume_after: Duration,
    /// The longest wait between retries of a transient fault. Default 5 s.
    pub max_backoff: Duration,
    /// Test failpoint: after this many committed appends (over all jobs of the scheduler),
    /// the job task that made the last one vanishes before saving its checkpoint, as if the
    /// process had been killed between the append and the checkpoint. Never set it outside
    /// tests.
    #[doc(hidden)]
    pub crash_after_appends: Option<u64>,
}

impl Default for JobOptions {
    fn default() -> Self {
        Self {
            batch_records: 1000,
            poll_interval: Duration::from_millis(200),
            reassume_after: Duration::from_secs(600),
            max_backoff: Duration::from_secs(5),
            crash_after_appends: None,
        }
    }
}

type JobKey = (AccountId, JobName);

/// A job this scheduler started (its task may have ended since).
struct RunningJob {
    incarnation: String,
    definition: Arc<JobDefinition>,
    status: watch::Receiver<JobStatus>,
    signal: watch::Sender<Signal>,
    handle: Option<JoinHandle<()>>,
}

impl RunningJob {
    fn is_running(&self) -> bool {
        self.handle
            .as_ref()
            .is_some_and(|handle| !handle.is_finished())
    }
}

/// Creates, runs, reports on and stops copy/transform jobs.
pub struct JobScheduler {
    access: Arc<dyn LogAccess>,
    meta: Arc<dyn Metastore>,
    options: JobOptions,
    jobs: Mutex<HashMap<JobKey, RunningJob>>,
    appends: Arc<AtomicU64>,
    closed: AtomicBool,
}

impl std::fmt::Debug for JobScheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobScheduler")
            .field("options", &self.options)
            .field("jobs", &self.lock().len())
            .finish_non_exhaustive()
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}

/// The definition stored in a job row.
fn stored_definition(record: &JobRecord) -> Result<JobDefinition, JobError> {
    let corrupt = |reason: String| {
        JobError::Storage(cairn_meta::JobStoreError::Meta(MetaError::Corrupt(
            format!("stored definition of job {}: {reason}", record.name),
        )))
    };
    let project = record
        .definition
        .pointer("/configuration/project")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| corrupt("configuration.project is missing".to_owned()))?;
    let project = ProjectName::parse(project).map_err(|error| corrupt(error.to_string()))?;
    JobDefinition::from_etl_json(record.owner, &project, &record.definition)
        .map_err(|error| corrupt(error.to_string()))
}

impl JobScheduler {
    /// A scheduler with the default options. Call [`JobScheduler::start`] to resume jobs.
    pub fn new(access: Arc<dyn LogAccess>, meta: Arc<dyn Metastore>) -> Self {
        Self::with_options(access, meta, JobOptions::default())
    }

    /// A scheduler with `options`.
    pub fn with_options(
        access: Arc<dyn LogAccess>,
        meta: Arc<dyn Metastore>,
        options: JobOptions,
    ) -> Self {
        Self {
            access,
            meta,
            options,
            jobs: Mutex::new(HashMap::new()),
            appends: Arc::new(AtomicU64::new(0)),
            closed: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<JobKey, RunningJob>> {
        self.jobs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn refuse_if_closed(&self) -> Result<(), JobError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(JobError::Unavailable {
                reason: "the job scheduler is shutting down".to_owned(),
            });
        }
        Ok(())
    }

    /// Resumes every job saved as `Running` (after a restart) that is not running here yet;
    /// returns how many were resumed.
    pub async fn start(&self) -> Result<usize, JobError> {
        self.refuse_if_closed()?;
        let records = self
            .meta
            .list_jobs_in_state(JobState::Running)
            .await
            .map_err(JobError::Storage)?;
        let mut resumed = 0;
        for record in records {
            let running = JobName::parse(&record.name).ok().is_some_and(|name| {
                self.lock()
                    .get(&(record.owner, name))
                    .is_some_and(RunningJob::is_running)
            });
            if !running {
                self.spawn(record).await;
                resumed += 1;
            }
        }
        tracing::info!(resumed, "job scheduler started");
        Ok(resumed)
    }

    /// Stores a new job and starts it. A role or permission problem does not fail the call:
    /// the job then ends `Failed` with an actionable error, visible through
    /// [`JobScheduler::get`].
    pub async fn create(&self, definition: JobDefinition) -> Result<JobStatus, JobError> {
        self.refuse_if_closed()?;
        definition.validate()?;
        let at = now();
        let record = JobRecord {
            owner: definition.owner,
            name: definition.name.to_string(),
            incarnation: Alphanumeric.sample_string(&mut rand::thread_rng(), 16),
            definition: definition.to_etl_json(),
            progress: JobProgress {
                state: JobState::Running,
                error: None,
                records_read: 0,
                records_written: 0,
                bytes_written: 0,
                records_total: None,
                checkpoint_offset: 0,
                end_offset: None,
                source_logstore: None,
                started_at: at,
                updated_at: at,
            },
            created_at: at,
        };
        self.meta
            .create_job(&record)
            .await
            .map_err(|error| JobError::from_store(error, definition.name.as_str()))?;
        tracing::info!(owner = %definition.owner, job = %definition.name, "job created");
        Ok(self.spawn(record).await)
    }

    /// Starts the task of a stored job; a definition that no longer parses fails the job.
    async fn spawn(&self, mut record: JobRecord) -> JobStatus {
        let definition = match stored_definition(&record) {
            Ok(definition) => Arc::new(definition),
            Err(error) => {
                tracing::error!(
                    owner = %record.owner,
                    job = %record.name,
                    error = %error,
                    "job cannot be resumed"
                );
                record.progress.state = JobState::Failed;
                record.progress.error = Some(error.to_string());
                record.progress.updated_at = now();
                let saved = self
                    .meta
                    .save_job_progress(
                        record.owner,
                        &record.name,
                        &record.incarnation,
                        &record.progress,
                    )
                    .await;
                if let Err(error) = saved {
                    tracing::warn!(job = %record.name, error = %error, "job failure not saved");
                }
                return JobStatus::from_progress(&record.progress);
            }
        };
        let status = JobStatus::from_progress(&record.progress);
        let (signal, signal_receiver) = watch::channel(Signal::Run);
        let (status_sender, status_receiver) = watch::channel(status.clone());
        let task = JobTask {
            access: Arc::clone(&self.access),
            meta: Arc::clone(&self.meta),
            definition: Arc::clone(&definition),
            incarnation: record.incarnation.clone(),
            progress: record.progress,
            options: self.options.clone(),
            signal: signal_receiver,
            status: status_sender,
            appends: Arc::clone(&self.appends),
        };
        let handle = tokio::spawn(task.run());
        let key = (definition.owner, definition.name.clone());
        let job = RunningJob {
            incarnation: record.incarnation,
            definition,
            status: status_receiver,
            signal,
            handle: Some(handle),
        };
        if let Some(previous) = self.lock().insert(key, job) {
            if let Some(handle) = previous.handle {
                handle.abort();
            }
        }
        status
    }

    /// The job's definition and status: live for a job running here, as saved otherwise.
    pub async fn get(
        &self,
        owner: AccountId,
        name: &JobName,
    ) -> Result<(JobDefinition, JobStatus), JobError> {
        let record = self
            .meta
            .get_job(owner, name.as_str())
            .await
            .map_err(|error| JobError::from_store(error, name.as_str()))?;
        self.describe(record)
    }

    /// Every job of `owner`, ordered by name.
    pub async fn list(
        &self,
        owner: AccountId,
    ) -> Result<Vec<(JobDefinition, JobStatus)>, JobError> {
        let records = self
            .meta
            .list_jobs(owner)
            .await
            .map_err(JobError::Storage)?;
        records
            .into_iter()
            .map(|record| self.describe(record))
            .collect()
    }

    fn describe(&self, record: JobRecord) -> Result<(JobDefinition, JobStatus), JobError> {
        if let Ok(name) = JobName::parse(&record.name) {
            let jobs = self.lock();
            if let Some(job) = jobs.get(&(record.owner, name)) {
                if job.incarnation == record.incarnation {
                    return Ok(((*job.definition).clone(), job.status.borrow().clone()));
                }
            }
        }
        let status = JobStatus::from_progress(&record.progress);
        Ok((stored_definition(&record)?, status))
    }

    /// A receiver of the job's status, updated after every batch while it runs here (for
    /// progress bars); for a job not running here it holds the saved status and never
    /// changes.
    pub async fn watch(
        &self,
        owner: AccountId,
        name: &JobName,
    ) -> Result<watch::Receiver<JobStatus>, JobError> {
        if let Some(job) = self.lock().get(&(owner, name.clone())) {
            return Ok(job.status.clone());
        }
        let (_, status) = self.get(owner, name).await?;
        Ok(watch::channel(status).1)
    }

    /// Stops a job for good (state `Stopped`, checkpoint saved) and returns its status. A job
    /// that already ended keeps its state.
    pub async fn stop(&self, owner: AccountId, name: &JobName) -> Result<JobStatus, JobError> {
        let handle = {
            let mut jobs = self.lock();
            jobs.get_mut(&(owner, name.clone())).and_then(|job| {
                job.signal.send_replace(Signal::Stop);
                job.handle.take()
            })
        };
        if let Some(handle) = handle {
            if let Err(error) = handle.await {
                tracing::error!(job = %name, error = %error, "job task panicked");
            }
        }
        let mut record = self
            .meta
            .get_job(owner, name.as_str())
            .await
            .map_err(|error| JobError::from_store(error, name.as_str()))?;
        if record.progress.state == JobState::Running {
            // Not running here (a task that vanished, or a scheduler that was never started).
            record.progress.state = JobState::Stopped;
            record.progress.updated_at = now();
            self.meta
                .save_job_progress(owner, name.as_str(), &record.incarnation, &record.progress)
                .await
                .map_err(|error| JobError::from_store(error, name.as_str()))?;
        }
        tracing::info!(
            owner = %owner,
            job = %name,
            state = record.progress.state.as_str(),
            "job stopped"
        );
        self.describe(record).map(|(_, status)| status)
    }

    /// Runs a `Stopped` or `Failed` job again from its checkpoint (after fixing a role, for
    /// instance), without copying anything twice. A running or succeeded job is left as it
    /// is. Returns the status.
    pub async fn resume(&self, owner: AccountId, name: &JobName) -> Result<JobStatus, JobError> {
        self.refuse_if_closed()?;
        let running = self
            .lock()
            .get(&(owner, name.clone()))
            .is_some_and(RunningJob::is_running);
        let mut record = self
            .meta
            .get_job(owner, name.as_str())
            .await
            .map_err(|error| JobError::from_store(error, name.as_str()))?;
        if running || record.progress.state == JobState::Succeeded {
            return self.describe(record).map(|(_, status)| status);
        }
        if record.progress.state != JobState::Running {
            record.progress.state = JobState::Running;
            record.progress.error = None;
            record.progress.updated_at = now();
            self.meta
                .save_job_progress(owner, name.as_str(), &record.incarnation, &record.progress)
                .await
                .map_err(|error| JobError::from_store(error, name.as_str()))?;
        }
        tracing::info!(owner = %owner, job = %name, "job resumed");
        Ok(self.spawn(record).await)
    }

    /// Stops a job and deletes it.
    pub async fn delete(&self, owner: AccountId, name: &JobName) -> Result<(), JobError> {
        self.stop(owner, name).await?;
        self.meta
            .delete_job(owner, name.as_str())
            .await
            .map_err(|error| JobError::from_store(error, name.as_str()))?;
        self.lock().remove(&(owner, name.clone()));
        tracing::info!(owner = %owner, job = %name, "job deleted");
        Ok(())
    }

    /// Stops every task cleanly: each finishes its batch, saves its checkpoint and keeps the
    /// state `Running`, so the next [`JobScheduler::start`] resumes it. Later calls that would
    /// start a job are refused.
    pub async fn shutdown(&self) {
        self.closed.store(true, Ordering::Release);
        let handles: Vec<JoinHandle<()>> = {
            let mut jobs = self.lock();
            jobs.values_mut()
                .filter_map(|job| {
                    job.signal.send_replace(Signal::Shutdown);
                    job.handle.take()
                })
                .collect()
        };
        let count = handles.len();
        for handle in handles {
            if let Err(error) = handle.await {
                tracing::error!(error = %error, "job task panicked");
            }
        }
        tracing::info!(jobs = count, "job scheduler shut down");
    }
}

impl Drop for JobScheduler {
    fn drop(&mut self) {
        for job in self.lock().values_mut() {
            if let Some(handle) = job.handle.take() {
                handle.abort();
            }
        }
    }
}
