//! File inputs: which files each config collects, where reading starts, and how files are
//! followed through rotation, truncation, inode reuse and deletion.
//!
//! The [`FileTailer`] is driven by the runtime: one [`FileTailer::poll`] per
//! [`TailerOptions::poll_interval`] (a blocking call: run it on a blocking thread). Each poll
//! reads every open file, then expands the configs' globs ([`discovery`]), opens what is
//! new and notices what went away. Records go to the processors and then to
//! [`crate::delivery`], which owns the checkpoints from there on.
//!
//! ## Rules
//!
//! * **Identity.** A file is (device, inode) plus a [`fingerprint`] of its first bytes; the
//!   [`FileKey`] adds the config. The key of a file is fixed when it is first keyed and stays
//!   the same however the file grows or is renamed.
//! * **Start position.** A file found by a config's *first* discovery round (ever: the set of
//!   configs that completed one is kept in the [`checkpoint`] table) starts `tail_size_kb`
//!   before its end, moved forward to the next line start (the whole file if smaller), unless
//!   `from_beginning`. Any file a config finds later — created after the agent started, or
//!   while it was down, or rotated in — is read from offset 0. A file with a checkpoint
//!   resumes at the checkpoint's acknowledged offset.
//! * **Rename rotation.** The reader keeps its file open: renamed away (no longer at a matched
//!   path) it is read to its end and closed once idle for `rotated_close_after` and fully
//!   acknowledged; the new file at the path is a new key read from 0. After a restart, a
//!   checkpointed file no longer at its path is looked for by inode in its directory and
//!   read to its end.
//! * **Truncation / copytruncate.** A file shorter than what we read, or whose first bytes
//!   changed, has been truncated: its old key ends (bytes we had seen but not read are counted
//!   as dropped, `truncated_before_read`), and its new content is a new key read from 0. A copy
//!   (same fingerprint as a file this config is reading, another inode) that appears later
//!   starts where the original's reading stands, so the copy is not read twice.
//! * **Inode reuse.** A (device, inode) whose first bytes do not match its checkpoint is a new
//!   file; the stale checkpoint is dropped.
//! * **Deletion.** An open file deleted is read to its end, then closed and forgotten. A
//!   checkpointed file gone when the agent starts is counted (`file_deleted_before_read`).
//! * **One config per file.** See [`discovery`]; a config whose spec is removed closes its
//!   readers (their checkpoints stay for when it returns).

mod buffers;
pub mod checkpoint;
pub mod discovery;
pub mod fingerprint;
mod reader;
mod round;
mod tailer;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use checkpoint::{
    initial_sequence, CheckpointError, CheckpointStore, FileCheckpoint, PendingBatch,
};
pub use tailer::FileTailer;

use crate::metrics::AgentMetrics;
pub use crate::source::{FileKey, FileRecords, RawRecord, SourceRecord};

/// One config's file input, as the pipeline config produces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInputSpec {
    /// The collection config's name.
    pub config: String,
    /// Absolute path globs: `*` in any component, at most one `**` right before the file name.
    pub paths: Vec<String>,
    /// How many directory levels `**` descends (0 = only the directory before it).
    pub max_depth: usize,
    /// Globs over full file paths to leave out.
    pub exclude_paths: Vec<String>,
    /// Globs over file names to leave out.
    pub exclude_files: Vec<String>,
    /// Globs over directory paths whose files (at any depth) are left out.
    pub exclude_dirs: Vec<String>,
    /// How far before the end a file found at the config's start begins (KiB).
    pub tail_size_kb: u64,
    /// Read files found at the config's start from their beginning instead.
    pub from_beginning: bool,
    /// Read matching files even when an earlier config already collects them.
    pub allow_multiple_configs: bool,
}

impl FileInputSpec {
    /// A spec for `config` reading `paths`, with loongcollector's defaults (depth 0, no
    /// exclusions, 1024 KiB tail, not from the beginning, one config per file).
    pub fn new(config: impl Into<String>, paths: Vec<String>) -> Self {
        Self {
            config: config.into(),
            paths,
            max_depth: 0,
            exclude_paths: Vec::new(),
            exclude_files: Vec::new(),
            exclude_dirs: Vec::new(),
            tail_size_kb: 1024,
            from_beginning: false,
            allow_multiple_configs: false,
        }
    }
}

/// How the tailer reads.
#[derive(Debug, Clone)]
pub struct TailerOptions {
    /// How often the runtime should call [`FileTailer::poll`] (the tailer itself never sleeps).
    pub poll_interval: Duration,
    /// Bytes per read call.
    pub read_chunk_bytes: usize,
    /// At most this many bytes are read from one file per poll (fairness, bounded memory).
    pub max_read_bytes_per_poll: u64,
    /// At most this many bytes are read over all files in one poll: what one poll holds in
    /// memory, however many files are behind. Files that got nothing wait for the next poll
    /// (each poll starts with the next file, in turn), which comes at once
    /// ([`FileTailer::is_behind`]).
    pub max_read_bytes_per_round: u64,
    /// How many leading bytes the fingerprint covers.
    pub fingerprint_bytes: u64,
    /// A final line without `'\n'` is emitted once the file has been idle this long.
    pub partial_line_timeout: Duration,
    /// Lines longer than this are cut into several records.
    pub max_line_bytes: usize,
    /// A rotated-away or deleted file is closed after being idle at its end this long.
    pub rotated_close_after: Duration,
    /// Where drops and reads are counted.
    pub metrics: Arc<AgentMetrics>,
}

impl Default for TailerOptions {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(1),
            read_chunk_bytes: 64 * 1024,
            max_read_bytes_per_poll: 2 * 1024 * 1024,
            max_read_bytes_per_round: 4 * 1024 * 1024,
            fingerprint_bytes: 1024,
            partial_line_timeout: Duration::from_secs(5),
            max_line_bytes: 512 * 1024,
            rotated_close_after: Duration::from_secs(5),
            metrics: Arc::new(AgentMetrics::new()),
        }
    }
}

/// Why the file input failed.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// A path or exclusion pattern is not valid.
    #[error("invalid path pattern {pattern:?}: {reason}")]
    InvalidPattern {
        /// The pattern.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Two specs share a config name.
    #[error("config {0:?} appears twice in the file input specs")]
    DuplicateConfig(String),
    /// The checkpoint table could not be written.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// A file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}
