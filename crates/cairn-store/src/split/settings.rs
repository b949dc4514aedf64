//! How an engine keeps splits ([`SplitSettings`]: when to flush, merge, expire and delete)
//! and where tests may stop the split lifecycle ([`SplitFailpoint`]).
//!
//! The settings are plain values built in code: the server starts from
//! [`SplitSettings::new`]'s defaults and sets the flush thresholds from its validated config.

use std::sync::Arc;
use std::time::Duration;

use cairn_meta::SplitStore;
use object_store::ObjectStore;

/// Where the lifecycle may be stopped for a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitFailpoint {
    /// A flushed split's files are uploaded, not yet published.
    AfterUpload,
    /// A flushed split is published, its records still in memory and in the WAL.
    AfterPublish,
    /// A merged split's files are uploaded, the inputs still published.
    AfterMergeUpload,
    /// A merged split replaced its inputs in the catalog, their files not yet deleted.
    AfterMergePublish,
}

/// What happens at a failpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailpointAction {
    /// The process aborts (a real crash; for end-to-end tests of the server).
    Abort,
    /// The lifecycle task stops right there and does nothing more (for in-process tests,
    /// which then drop and reopen the engine).
    Halt,
}

/// How an engine keeps splits.
#[derive(Clone)]
pub struct SplitSettings {
    /// Where split files live.
    pub object_store: Arc<dyn ObjectStore>,
    /// The catalog of published splits.
    pub catalog: Arc<dyn SplitStore>,
    /// A logstore is flushed once its memory holds this many raw bytes. Default 64 MiB.
    pub flush_bytes: u64,
    /// … or once its oldest record in memory is this old. Default 60 s.
    pub flush_age: Duration,
    /// … or, for the logstores holding the most, while all logstores together hold more than
    /// this many raw bytes in memory. Default 512 MiB.
    pub memory_limit_bytes: u64,
    /// Adjacent splits are merged once at least this many small ones exist. Default 4.
    pub merge_min_inputs: usize,
    /// A merge produces at most this many raw bytes. Default 512 MiB.
    pub merge_max_raw_bytes: u64,
    /// How often the task looks for work. Default 1 s.
    pub tick: Duration,
    /// How often expired splits are looked for. Default 60 s.
    pub retention_interval: Duration,
    /// How long removed split files stay for readers that still see them. Default 60 s.
    pub deletion_grace: Duration,
    /// A failpoint, for tests.
    pub failpoint: Option<(SplitFailpoint, FailpointAction)>,
}

impl SplitSettings {
    /// Settings with the defaults above.
    pub fn new(object_store: Arc<dyn ObjectStore>, catalog: Arc<dyn SplitStore>) -> Self {
        Self {
            object_store,
            catalog,
            flush_bytes: 64 * 1024 * 1024,
            flush_age: Duration::from_secs(60),
            memory_limit_bytes: 512 * 1024 * 1024,
            merge_min_inputs: 4,
            merge_max_raw_bytes: 512 * 1024 * 1024,
            tick: Duration::from_secs(1),
            retention_interval: Duration::from_secs(60),
            deletion_grace: Duration::from_secs(60),
            failpoint: None,
        }
    }
}

impl std::fmt::Debug for SplitSettings {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SplitSettings")
            .field("flush_bytes", &self.flush_bytes)
            .field("flush_age", &self.flush_age)
            .field("memory_limit_bytes", &self.memory_limit_bytes)
            .field("merge_min_inputs", &self.merge_min_inputs)
            .field("merge_max_raw_bytes", &self.merge_max_raw_bytes)
            .field("tick", &self.tick)
            .field("retention_interval", &self.retention_interval)
            .field("deletion_grace", &self.deletion_grace)
            .field("failpoint", &self.failpoint)
            .finish()
    }
}
