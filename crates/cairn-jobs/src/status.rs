//! [`JobStatus`]: what a job reports about itself (state, counters, rate, ETA), as the HTTP
//! API serves it (camelCase JSON).
//!
//! Counters have one meaning everywhere: `recordsRead` counts source records inside the job's
//! time window that the job has handled; `recordsTotal` (one-off jobs) counts the source
//! records inside the range when the job started, so `recordsRead / recordsTotal` is the
//! progress; `recordsWritten` and `bytesWritten` count what reached the destination (after
//! the filter). The rate is measured over the current run (since the last start or resume),
//! so it is never inflated by work a previous run did.

use std::time::Instant;

use cairn_meta::{JobProgress, JobState};
use serde::{Deserialize, Serialize};

/// A job's state and progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobStatus {
    /// Where the job is in its life.
    pub state: JobState,
    /// Source records inside the job's window handled so far.
    pub records_read: u64,
    /// Records written to the destination.
    pub records_written: u64,
    /// Raw bytes (as SLS meters them) written to the destination.
    pub bytes_written: u64,
    /// One-off jobs: source records inside the range when the job started; `None` for
    /// continuous jobs, and until a one-off job first reached its source.
    pub records_total: Option<u64>,
    /// Source records handled per second over the current run.
    pub rate_records_per_second: f64,
    /// One-off jobs that are running: seconds until done at the current rate.
    pub eta_seconds: Option<f64>,
    /// The source offset the job resumes from: every record below it has been handled.
    pub checkpoint_offset: u64,
    /// Why the job failed, and what to change.
    pub error: Option<String>,
    /// When the job started, unix seconds.
    pub started_at: i64,
    /// When the status last changed, unix seconds.
    pub updated_at: i64,
}

impl JobStatus {
    /// The status of a job that is not running in this process: its saved progress, with no
    /// rate.
    pub fn from_progress(progress: &JobProgress) -> Self {
        Self {
            state: progress.state,
            records_read: progress.records_read,
            records_written: progress.records_written,
            bytes_written: progress.bytes_written,
            records_total: progress.records_total,
            rate_records_per_second: 0.0,
            eta_seconds: None,
            checkpoint_offset: progress.checkpoint_offset,
            error: progress.error.clone(),
            started_at: progress.started_at,
            updated_at: progress.updated_at,
        }
    }

    /// Fraction of a one-off job done, in `[0, 1]`; `None` when unknown.
    pub fn fraction_done(&self) -> Option<f64> {
        let total = self.records_total?;
        if self.state == JobState::Succeeded || total == 0 {
            return Some(1.0);
        }
        Some((self.records_read as f64 / total as f64).min(1.0))
    }
}

/// Measures the rate of the current run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RateMeter {
    started: Instant,
    read_at_start: u64,
}

impl RateMeter {
    /// A meter for a run that starts with `records_read` already counted.
    pub(crate) fn new(records_read: u64) -> Self {
        Self {
            started: Instant::now(),
            read_at_start: records_read,
        }
    }

    /// The live status for `progress`: the rate over this run, and the ETA of a running
    /// one-off job.
    pub(crate) fn status(&self, progress: &JobProgress) -> JobStatus {
        let mut status = JobStatus::from_progress(progress);
        let elapsed = self.started.elapsed().as_secs_f64();
        let done = progress.records_read.saturating_sub(self.read_at_start);
        if elapsed > 0.0 {
            status.rate_records_per_second = done as f64 / elapsed;
        }
        status.eta_seconds = match (progress.state, progress.records_total) {
            (JobState::Running, Some(total)) => {
                let left = total.saturating_sub(progress.records_read);
                if left == 0 {
                    Some(0.0)
                } else if status.rate_records_per_second > 0.0 {
                    Some(left as f64 / status.rate_records_per_second)
                } else {
                    None
                }
            }
            (JobState::Succeeded, Some(_)) => Some(0.0),
            _ => None,
        };
        status
    }
}
