//! The engine's configuration.
//!
//! Invariant: every field has a safe default ([`EngineConfig::default`]); none needs to be
//! set for a single-node server that keeps its WAL in `./wal`.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::split::SplitSettings;

/// Called after every fsync (of a segment file or of the WAL directory) with its latency.
pub type FsyncObserver = Arc<dyn Fn(Duration) + Send + Sync>;

/// How a [`crate::LogEngine`] stores its write-ahead log.
#[derive(Clone)]
pub struct EngineConfig {
    /// Directory of the WAL segments; created on open. One engine at a time may use it
    /// (a lock file inside enforces this).
    pub wal_dir: PathBuf,
    /// A segment is closed and a new one started once it would grow past this size (a
    /// single group-commit batch is never split, so one oversized record may exceed it).
    /// Default 64 MiB.
    pub segment_max_bytes: u64,
    /// Appends are refused with the retryable [`crate::StoreError::DiskFull`] when writing
    /// them would leave less than this many bytes available on the WAL's file system.
    /// Default 256 MiB.
    pub min_free_disk_bytes: u64,
    /// Called after every fsync with its latency, for metrics.
    pub on_fsync: Option<FsyncObserver>,
    /// Where records go when they leave memory; `None` keeps everything in memory (and the
    /// WAL is never truncated), as unit tests of the ingest path want.
    pub splits: Option<SplitSettings>,
}

impl EngineConfig {
    /// Default segment size: 64 MiB.
    pub const DEFAULT_SEGMENT_MAX_BYTES: u64 = 64 * 1024 * 1024;
    /// Default free-space reserve: 256 MiB.
    pub const DEFAULT_MIN_FREE_DISK_BYTES: u64 = 256 * 1024 * 1024;
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            wal_dir: PathBuf::from("wal"),
            segment_max_bytes: Self::DEFAULT_SEGMENT_MAX_BYTES,
            min_free_disk_bytes: Self::DEFAULT_MIN_FREE_DISK_BYTES,
            on_fsync: None,
            splits: None,
        }
    }
}

impl fmt::Debug for EngineConfig {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("EngineConfig")
            .field("wal_dir", &self.wal_dir)
            .field("segment_max_bytes", &self.segment_max_bytes)
            .field("min_free_disk_bytes", &self.min_free_disk_bytes)
            .field("on_fsync", &self.on_fsync.as_ref().map(|_| "callback"))
            .field("splits", &self.splits)
            .finish()
    }
}
