//! What a job is: its name, owner, source, destination, mode and transform.
//!
//! Invariants: a [`JobName`] is always valid (2 to 64 of `[a-z0-9_-]`); a [`JobDefinition`]
//! that passed [`JobDefinition::validate`] (every way of making one from user input calls
//! it) has role ARNs of the form `acs:ram::<account>:role/<name>`, a one-off range with
//! `from < to`, and a compiled transform. The SLS ETL JSON mapping lives in `etl_json`.

use std::fmt;

use cairn_model::{AccountId, LogstoreName, ProjectName, ResourceArn};
use serde::{Deserialize, Serialize};

use crate::{JobError, Transform};

/// A job's name: 2 to 64 lowercase letters, digits, `_` or `-`; unique inside its owner's
/// account.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct JobName(String);

impl JobName {
    /// Validates a job name.
    pub fn parse(text: &str) -> Result<Self, JobError> {
        let valid = (2..=64).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if valid {
            Ok(Self(text.to_owned()))
        } else {
            Err(JobError::invalid(format!(
                "name {:?}: a job name must be 2 to 64 lowercase letters, digits, '_' or '-'",
                text.chars().take(80).collect::<String>()
            )))
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JobName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for JobName {
    type Error = JobError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<JobName> for String {
    fn from(value: JobName) -> Self {
        value.0
    }
}

/// Where a job reads: a logstore, through a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSpec {
    /// The source project.
    pub project: ProjectName,
    /// The source logstore.
    pub logstore: LogstoreName,
    /// The role the job's owner assumes to read (`log:GetLogStoreLogs`), in any account that
    /// trusts the owner.
    pub role_arn: String,
}

/// Where a job writes: a logstore, through a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkSpec {
    /// The sink's name in the SLS shape (informational).
    pub name: String,
    /// The destination project (possibly another account's).
    pub project: ProjectName,
    /// The destination logstore.
    pub logstore: LogstoreName,
    /// The role the job's owner assumes to write (`log:PostLogStoreLogs`).
    pub role_arn: String,
}

/// Where a continuous job starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartPosition {
    /// From the first record the source holds.
    Begin,
    /// From the first record stored after the job started.
    End,
    /// From the first record the source holds, skipping records whose `__time__` is before
    /// this time (unix seconds).
    Time(u32),
}

/// How long a job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobMode {
    /// Copy the records whose `__time__` is in `[from, to)` (unix seconds) that the source
    /// holds when the job starts, then succeed.
    OneOff {
        /// Start of the range, inclusive.
        from: u32,
        /// End of the range, exclusive.
        to: u32,
    },
    /// Copy, then keep following new records until stopped.
    Continuous {
        /// Where to start.
        from: StartPosition,
    },
}

/// A copy/transform job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobDefinition {
    /// The job's name.
    pub name: JobName,
    /// A name for people.
    pub display_name: String,
    /// The account that owns the job and assumes its roles.
    pub owner: AccountId,
    /// What to read.
    pub source: SourceSpec,
    /// Where to write.
    pub sink: SinkSpec,
    /// One-off or continuous.
    pub mode: JobMode,
    /// What to do to each record.
    pub transform: Transform,
}

/// The longest display name, in characters.
pub const MAX_DISPLAY_NAME_CHARS: usize = 128;

impl JobDefinition {
    /// Checks the rules the types alone do not: role ARNs, the one-off range, the display
    /// name. (Names are valid by construction and the transform was validated when compiled.)
    pub fn validate(&self) -> Result<(), JobError> {
        check_role_arn("configuration.roleArn", &self.source.role_arn)?;
        check_role_arn("configuration.sinks[0].roleArn", &self.sink.role_arn)?;
        if let JobMode::OneOff { from, to } = self.mode {
            if from >= to {
                return Err(JobError::invalid(format!(
                    "configuration.fromTime {from} must be before configuration.toTime {to}"
                )));
            }
        }
        let chars = self.display_name.chars().count();
        if chars > MAX_DISPLAY_NAME_CHARS || self.display_name.chars().any(char::is_control) {
            return Err(JobError::invalid(format!(
                "displayName: at most {MAX_DISPLAY_NAME_CHARS} characters, without control \
                 characters"
            )));
        }
        if self.source.project == self.sink.project && self.source.logstore == self.sink.logstore {
            return Err(JobError::invalid(
                "configuration.sinks[0]: the destination is the source logstore itself; a job \
                 copying into its own source would never end",
            ));
        }
        Ok(())
    }

    /// The producer key the job writes with: one per job incarnation, so that a job deleted
    /// and created again under the same name starts a fresh sequence.
    pub(crate) fn producer_key(&self, incarnation: &str) -> String {
        format!("job:{}:{}:{incarnation}", self.owner, self.name)
    }

    /// Whether a record time (unix seconds) is inside the job's window.
    pub(crate) fn in_window(&self, seconds: u32) -> bool {
        match self.mode {
            JobMode::OneOff { from, to } => from <= seconds && seconds < to,
            JobMode::Continuous {
                from: StartPosition::Time(from),
            } => from <= seconds,
            JobMode::Continuous { .. } => true,
        }
    }
}

/// Checks that `arn` names a RAM role: `acs:ram::<account>:role/<name>`.
fn check_role_arn(path: &str, arn: &str) -> Result<(), JobError> {
    let problem = if arn.is_empty() {
        Some("a role ARN is required")
    } else {
        match ResourceArn::parse(arn) {
            Ok(parsed) if parsed.service == "ram" && role_name(&parsed.resource).is_some() => None,
            _ => Some("not a role ARN"),
        }
    };
    match problem {
        None => Ok(()),
        Some(problem) => Err(JobError::invalid(format!(
            "{path} {:?}: {problem}; write acs:ram::<account-id>:role/<role-name>",
            arn.chars().take(200).collect::<String>()
        ))),
    }
}

fn role_name(resource: &str) -> Option<&str> {
    resource
        .strip_prefix("role/")
        .filter(|name| !name.is_empty() && !name.contains('/'))
}
