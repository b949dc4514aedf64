//! Cairn's copy/transform jobs (SLS `/etls`): read a source logstore through one role, write
//! a destination logstore through another (possibly in another account), optionally
//! transforming each record; once over a time range with progress, or continuously.
//!
//! ```text
//! JobScheduler ── one task per job ──▶ assume roles ─▶ resolve + authorize logstores
//!      │                                   │
//!      │ JobStore (metastore)              ▼
//!      └── definitions, states,     read batch at checkpoint ─▶ window ─▶ transform
//!          counters, checkpoints           │
//!                                          ▼
//!                         append runs (producer key + sequence id = last offset + 1)
//!                                          │
//!                                          ▼
//!                                  save checkpoint + counters
//! ```
//!
//! - [`JobDefinition`]: what a job is, read from and written to the SLS ETL JSON shape
//!   ([`JobDefinition::from_etl_json`], [`JobDefinition::to_etl_json`]).
//! - [`Transform`]: filter / extract / rename / drop / add, in that order (see `transform`).
//! - [`LogAccess`]: the boundary to the rest of the server (roles, authorization, the log
//!   engine); [`EngineLogAccess`] implements it over `LogEngine`, the metastore and `Iam`.
//! - [`JobScheduler`]: creates, resumes after a restart, reports, stops and deletes jobs.
//! - [`JobStatus`]: state, counters, rate and ETA, as the HTTP API shows them.
//!
//! Guarantees: every source record in a job's window is written to the destination exactly
//! once, across crashes and restarts at any point (see `runner` for how); a job reads and
//! writes only what its roles are authorized for, and a role that cannot be assumed or lacks
//! a permission fails the job with a message naming the role, the action, the resource and
//! the fix.

mod access;
mod definition;
mod error;
mod etl_json;
mod runner;
mod runs;
mod scheduler;
mod status;
mod transform;

pub use access::{AppendOutcome, EngineLogAccess, LogAccess, JOB_SHARD};
pub use cairn_meta::JobState;
pub use definition::{
    JobDefinition, JobMode, JobName, SinkSpec, SourceSpec, StartPosition, MAX_DISPLAY_NAME_CHARS,
};
pub use error::JobError;
pub use scheduler::{JobOptions, JobScheduler};
pub use status::JobStatus;
pub use transform::{
    ExtractSpec, Transform, TransformSpec, MAX_REGEX_BYTES, MAX_TRANSFORM_ENTRIES,
};
