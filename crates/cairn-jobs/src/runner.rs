//! The task that runs one job: assume roles, read a batch from the checkpoint, transform,
//! append, save the checkpoint; repeat.
//!
//! Exactly-once, across crashes at any point:
//! - Every append carries the producer key of the job incarnation and, as sequence id, the
//!   source offset of its last record plus one. Sequence ids therefore grow with source
//!   offsets, and a committed id `S` means every source record below `S` has been handled.
//! - The checkpoint (next source offset and the counters up to it) is saved after the
//!   batch's appends. A crash in between leaves appends beyond the checkpoint.
//! - Before its first append, a run of the task *probes* the destination with an empty group
//!   carrying the checkpoint as sequence id: the answer is the "horizon", the last committed
//!   id (or the checkpoint itself). Records below the horizon are counted as written and not
//!   sent again, records above it are sent; so a batch re-read after a restart is never
//!   written twice, even when it is longer than the one that was cut short (a continuous job
//!   re-reads its tail after more records arrived).
//! - Batches whose records are all filtered out still advance the checkpoint.
//!
//! Failures: a role that cannot be assumed, a missing permission, a missing or recreated
//! logstore end the job as `Failed` with an actionable message. Transient faults (IAM,
//! metastore or store unavailable, a full disk) are retried with exponential backoff, for as
//! long as it takes. Stop and shutdown signals are honoured between batches and during
//! every wait; a stop saves the state `Stopped`, a shutdown leaves `Running` so the job
//! resumes on the next start.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_meta::{JobProgress, JobState, JobStoreError, Metastore};
use cairn_model::LogstoreId;
use tokio::sync::watch;

use crate::runs::{group_runs, Tally};

mod writes;
use crate::status::RateMeter;
use crate::{JobDefinition, JobError, JobMode, JobOptions, JobStatus, LogAccess, StartPosition};

/// What the scheduler asks of a running task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// Keep going.
    Run,
    /// Stop for good (state `Stopped`).
    Stop,
    /// The server is stopping: save the checkpoint, stay `Running`.
    Shutdown,
}

/// Why the loop ended.
enum Exit {
    Ended(JobState, Option<String>),
    Stopped,
    Shutdown,
    /// The job's row is gone (deleted): nothing to save.
    Deleted,
    /// The test failpoint fired: vanish without saving, as a killed process would.
    Crashed,
}

/// Roles assumed and logstores resolved.
struct Session {
    source: LogstoreId,
    sink: LogstoreId,
    at: Instant,
}

/// Exponential backoff between retries of a transient fault.
struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(100);

    fn new(max: Duration) -> Self {
        Self {
            next: Self::FIRST.min(max),
            max,
        }
    }

    fn step(&mut self) -> Duration {
        let now = self.next;
        self.next = (self.next * 2).min(self.max);
        now
    }

    fn reset(&mut self) {
        self.next = Self::FIRST.min(self.max);
    }
}

/// One job's task.
pub(crate) struct JobTask {
    pub access: Arc<dyn LogAccess>,
    pub meta: Arc<dyn Metastore>,
    pub definition: Arc<JobDefinition>,
    pub incarnation: String,
    pub progress: JobProgress,
    pub options: JobOptions,
    pub signal: watch::Receiver<Signal>,
    pub status: watch::Sender<JobStatus>,
    /// Committed appends of every job of the scheduler, for the crash failpoint.
    pub appends: Arc<AtomicU64>,
}

/// Source records counted per step when sizing a one-off job.
const COUNT_CHUNK: usize = 10_000;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}

impl JobTask {
    /// Runs the job until it ends, is stopped, or the server shuts down.
    pub(crate) async fn run(mut self) {
        let meter = RateMeter::new(self.progress.records_read);
        tracing::info!(
            owner = %self.definition.owner,
            job = %self.definition.name,
            checkpoint = self.progress.checkpoint_offset,
            "job started"
        );
        let exit = self.run_loop(&meter).await;
        match exit {
            Exit::Crashed | Exit::Deleted => return,
            Exit::Ended(state, error) => {
                self.progress.state = state;
                self.progress.error = error;
            }
            Exit::Stopped => self.progress.state = JobState::Stopped,
            Exit::Shutdown => {}
        }
        self.publish(&meter);
        // The final save is retried a few times, briefly: the checkpoint is only an
        // optimisation for exactly-once (the probe covers a lost one), the state is not.
        let mut backoff = Backoff::new(self.options.max_backoff);
        for _ in 0..5 {
            match self.save().await {
                Ok(()) => break,
                Err(error) if error.is_transient() => tokio::time::sleep(backoff.step()).await,
                Err(_) => break,
            }
        }
        tracing::info!(
            owner = %self.definition.owner,
            job = %self.definition.name,
            state = self.progress.state.as_str(),
            error = self.progress.error.as_deref().unwrap_or(""),
            records_read = self.progress.records_read,
            records_written = self.progress.records_written,
            "job task ended"
        );
    }

    async fn run_loop(&mut self, meter: &RateMeter) -> Exit {
        let mut session: Option<Session> = None;
        let mut horizon: Option<u64> = None;
        let mut backoff = Backoff::new(self.options.max_backoff);
        loop {
            if let Some(exit) = self.signalled() {
                return exit;
            }
            let stale = session
                .as_ref()
                .is_none_or(|session| session.at.elapsed() >= self.options.reassume_after);
            if stale {
                match self.open_session().await {
                    Ok(fresh) => {
                        if session.as_ref().is_some_and(|old| old.sink != fresh.sink) {
                            horizon = None;
                        }
                        session = Some(fresh);
                        backoff.reset();
                    }
                    Err(error) if error.is_transient() => {
                        tracing::warn!(
                            job = %self.definition.name,
                            error = %error,
                            "job waits for a transient fault"
                        );
                        match self.pause(backoff.step()).await {
                            Some(exit) => return exit,
                            None => continue,
                        }
                    }
                    Err(error) => return Exit::Ended(JobState::Failed, Some(error.to_string())),
                }
            }
            let Some((source, sink)) = session.as_ref().map(|open| (open.source, open.sink)) else {
                continue;
            };
            match self.progress.source_logstore {
                None => {
                    if let Err(error) = self.position(source).await {
                        tracing::warn!(
                            job = %self.definition.name,
                            error = %error,
                            "job waits for its source to be readable"
                        );
                        match self.pause(backoff.step()).await {
                            Some(exit) => return exit,
                            None => continue,
                        }
                    }
                    if let Err(exit) = self.checkpoint(meter).await {
                        return exit;
                    }
                }
                Some(id) if id != source.0 => {
                    let error = JobError::SourceChanged {
                        project: self.definition.source.project.to_string(),
                        logstore: self.definition.source.logstore.to_string(),
                    };
                    return Exit::Ended(JobState::Failed, Some(error.to_string()));
                }
                Some(_) => {}
            }
            let mut max = self.options.batch_records.max(1);
            if let Some(end) = self.progress.end_offset {
                let left = end.saturating_sub(self.progress.checkpoint_offset);
                if left == 0 {
                    return Exit::Ended(JobState::Succeeded, None);
                }
                max = max.min(usize::try_from(left).unwrap_or(usize::MAX));
            }
            let read = self
                .access
                .read_from(source, self.progress.checkpoint_offset, max)
                .await;
            let (batch, next) = match read {
                Ok(read) => read,
                Err(error) => {
                    tracing::warn!(
                        job = %self.definition.name,
                        error = %error,
                        "job waits for its source to be readable"
                    );
                    match self.pause(backoff.step()).await {
                        Some(exit) => return exit,
                        None => continue,
                    }
                }
            };
            if batch.is_empty() {
                if self.progress.end_offset.is_some() {
                    // A one-off job below its end finds nothing: the source lost records
                    // (it was dropped). Look it up again, which reports what happened.
                    session = None;
                }
                match self.pause(self.options.poll_interval).await {
                    Some(exit) => return exit,
                    None => continue,
                }
            }
            let mut read = 0;
            let mut kept = Vec::new();
            for (offset, record) in batch {
                if self.definition.in_window(record.time.seconds) {
                    read += 1;
                    if let Some(out) = self.definition.transform.apply(&record) {
                        kept.push((offset, out));
                    }
                }
            }
            let mut written = Tally::default();
            for run in group_runs(kept) {
                match self.write_run(sink, run, &mut horizon, &mut backoff).await {
                    Ok(tally) => written.add(tally),
                    Err(exit) => return exit,
                }
            }
            self.progress.records_read += read;
            self.progress.records_written += written.records;
            self.progress.bytes_written += written.bytes;
            self.progress.checkpoint_offset = next;
            if let Err(exit) = self.checkpoint(meter).await {
                return exit;
            }
        }
    }

    /// Assumes both roles (session `cairn-job-<name>`) and resolves both logstores.
    async fn open_session(&self) -> Result<Session, JobError> {
        let definition = &*self.definition;
        let name = format!("cairn-job-{}", definition.name);
        let source = &definition.source;
        let reader = self
            .access
            .assume(definition.owner, &source.role_arn, &name)
            .await?;
        let source_id = self
            .access
            .resolve(
                &reader,
                &source.role_arn,
                "source",
                &source.project,
                &source.logstore,
                "log:GetLogStoreLogs",
            )
            .await?;
        let sink = &definition.sink;
        let writer = self
            .access
            .assume(definition.owner, &sink.role_arn, &name)
            .await?;
        let sink_id = self
            .access
            .resolve(
                &writer,
                &sink.role_arn,
                "destination",
                &sink.project,
                &sink.logstore,
                "log:PostLogStoreLogs",
            )
            .await?;
        Ok(Session {
            source: source_id,
            sink: sink_id,
            at: Instant::now(),
        })
    }

    /// Fixes where the job starts (and a one-off job's end and total) on first contact with
    /// its source.
    async fn position(&mut self, source: LogstoreId) -> Result<(), JobError> {
        let next = self.access.next_offset(source);
        self.progress.checkpoint_offset = match self.definition.mode {
            JobMode::Continuous {
                from: StartPosition::End,
            } => next,
            _ => 0,
        };
        if let JobMode::OneOff { .. } = self.definition.mode {
            let mut total = 0;
            let mut offset = 0;
            while offset < next {
                let want = usize::try_from(next - offset)
                    .unwrap_or(usize::MAX)
                    .min(COUNT_CHUNK);
                let (records, after) = self.access.read_from(source, offset, want).await?;
                if records.is_empty() {
                    break;
                }
                total += records
                    .iter()
                    .filter(|(_, record)| self.definition.in_window(record.time.seconds))
                    .count() as u64;
                offset = after;
                tokio::task::yield_now().await;
            }
            self.progress.end_offset = Some(next);
            self.progress.records_total = Some(total);
        }
        // Set last: a read failure above leaves the job unpositioned, to try again.
        self.progress.source_logstore = Some(source.0);
        tracing::info!(
            job = %self.definition.name,
            source = %source,
            checkpoint = self.progress.checkpoint_offset,
            end_offset = self.progress.end_offset,
            records_total = self.progress.records_total,
            "job positioned on its source"
        );
        Ok(())
    }

    /// Whether the crash failpoint fires after this append.
    fn crash_now(&self) -> bool {
        let count = self.appends.fetch_add(1, Ordering::SeqCst) + 1;
        self.options.crash_after_appends == Some(count)
    }

    /// Saves the progress and publishes the status.
    async fn checkpoint(&mut self, meter: &RateMeter) -> Result<(), Exit> {
        self.publish(meter);
        match self.save().await {
            Ok(()) => Ok(()),
            Err(JobStoreError::JobNotFound { .. }) => Err(Exit::Deleted),
            Err(error) => {
                // The next batch saves again; exactly-once does not depend on this save.
                tracing::warn!(
                    job = %self.definition.name,
                    error = %error,
                    "job checkpoint not saved"
                );
                Ok(())
            }
        }
    }

    async fn save(&mut self) -> Result<(), JobStoreError> {
        self.progress.updated_at = now();
        let definition = &*self.definition;
        self.meta
            .save_job_progress(
                definition.owner,
                definition.name.as_str(),
                &self.incarnation,
                &self.progress,
            )
            .await
    }

    fn publish(&self, meter: &RateMeter) {
        let mut status = meter.status(&self.progress);
        status.updated_at = now();
        self.status.send_replace(status);
    }

    fn signalled(&self) -> Option<Exit> {
        match *self.signal.borrow() {
            Signal::Run => None,
            Signal::Stop => Some(Exit::Stopped),
            Signal::Shutdown => Some(Exit::Shutdown),
        }
    }

    /// Waits `duration`, or less if a signal arrives; returns the exit it asks for.
    async fn pause(&mut self, duration: Duration) -> Option<Exit> {
        tokio::select! {
            () = tokio::time::sleep(duration) => None,
            changed = self.signal.changed() => match changed {
                Ok(()) => self.signalled(),
                // The scheduler is gone: behave as on shutdown.
                Err(_) => Some(Exit::Shutdown),
            },
        }
    }
}
