//! The error type of the store, and which of its errors a client should retry.
//!
//! Invariant: every error that reaches a caller of [`crate::LogEngine`] says whether anything
//! was written. Refusals ([`StoreError::InvalidSequenceId`], [`StoreError::DiskFull`],
//! [`StoreError::RecordTooLarge`], [`StoreError::InvalidAppend`],
//! [`StoreError::LogstoreDropped`], [`StoreError::ShuttingDown`]) wrote nothing. An
//! [`StoreError::Io`] or [`StoreError::WalFailed`] during an append leaves its outcome unknown
//! until the next start, when replay serves exactly what reached the disk.

use std::path::PathBuf;

use cairn_model::LogstoreId;

/// Why the store refused or failed an operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The producer's sequence id is not above the last one committed for the same
    /// (logstore, shard, producer key): the append is a replay of data already stored (or
    /// older), and nothing was written. SLS clients treat this as "already delivered".
    #[error(
        "sequence id {sequence_id} of producer {key:?} is a replay: the last committed sequence id is {last_committed}"
    )]
    InvalidSequenceId {
        /// The producer key of the refused append.
        key: String,
        /// The sequence id the append carried.
        sequence_id: u64,
        /// The last sequence id committed for this producer key, logstore and shard.
        last_committed: u64,
    },

    /// Writing would leave less free space on the WAL disk than the configured reserve, or
    /// the disk reported itself full; nothing was written. Retryable once space is freed.
    #[error(
        "the wal disk at {path} is nearly full: {available_bytes} bytes available, {required_bytes} bytes needed to stay above the reserve"
    )]
    DiskFull {
        /// The WAL directory whose file system is full.
        path: PathBuf,
        /// Bytes available to the server on that file system when the append was refused.
        available_bytes: u64,
        /// The configured reserve plus the bytes of the refused write.
        required_bytes: u64,
    },

    /// An operating-system I/O error on the WAL directory or its files.
    #[error("wal i/o error: {0}")]
    Io(#[from] std::io::Error),

    /// A WAL segment holds bytes that are not a valid record where a valid record must be:
    /// inside a segment that is not the last, a checksummed record that does not decode, or a
    /// gap between segments. Replay stops rather than silently skipping acknowledged data.
    #[error("wal segment {path} is corrupt at byte {offset}: {reason}")]
    Corrupt {
        /// The damaged segment file.
        path: PathBuf,
        /// Byte offset of the damaged record inside the file.
        offset: u64,
        /// What is wrong, in words an operator can act on.
        reason: String,
    },

    /// The engine is shutting down or has shut down; nothing was written. Retryable: the
    /// server will be back (or another node will answer).
    #[error("the log engine is shutting down")]
    ShuttingDown,

    /// The encoded group exceeds the largest WAL record the engine writes; nothing was written.
    #[error("the log group encodes to {bytes} bytes, above the {limit} byte record limit")]
    RecordTooLarge {
        /// Size of the encoded record.
        bytes: u64,
        /// The largest record the WAL accepts.
        limit: u64,
    },

    /// The append is malformed in a way the WAL cannot store (for example a producer key
    /// longer than the limit); nothing was written.
    #[error("invalid append: {reason}")]
    InvalidAppend {
        /// What is wrong with the request.
        reason: String,
    },

    /// The logstore was dropped (a tombstone is in the WAL); appends to it are refused and
    /// nothing was written.
    #[error("logstore {logstore} was dropped")]
    LogstoreDropped {
        /// The dropped logstore.
        logstore: LogstoreId,
    },

    /// An earlier fsync or a failed rollback left the WAL file in an unknown state, so the
    /// engine refuses every further write until the process restarts and replays what is
    /// really on disk.
    #[error("the wal is unavailable after an earlier failure: {reason}")]
    WalFailed {
        /// The failure that stopped the writer.
        reason: String,
    },

    /// Another engine (in this or another process) holds the WAL directory's lock file.
    #[error("the wal directory {path} is locked by another log engine")]
    Locked {
        /// The lock file.
        path: PathBuf,
    },

    /// A split could not be built, or a split file read back is damaged or inconsistent.
    #[error("split: {reason}")]
    Split {
        /// What went wrong.
        reason: String,
    },

    /// The object store holding split files failed (possibly transiently).
    #[error("object store: {reason}")]
    ObjectStore {
        /// What went wrong.
        reason: String,
    },

    /// The split catalog (metastore) failed (possibly transiently).
    #[error("split catalog: {reason}")]
    Catalog {
        /// What went wrong.
        reason: String,
    },
}

impl StoreError {
    /// A [`StoreError::Split`] for `reason`.
    pub(crate) fn split(reason: impl Into<String>) -> StoreError {
        StoreError::Split {
            reason: reason.into(),
        }
    }

    /// True when the same request may succeed if sent again later, without any change:
    /// the HTTP edge answers these with a 5xx `ServerBusy`, and other errors with a 4xx (bad
    /// data) or a 500.
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::DiskFull { .. }
            | StoreError::ShuttingDown
            | StoreError::ObjectStore { .. }
            | StoreError::Catalog { .. } => true,
            StoreError::InvalidSequenceId { .. }
            | StoreError::Io(_)
            | StoreError::Corrupt { .. }
            | StoreError::RecordTooLarge { .. }
            | StoreError::InvalidAppend { .. }
            | StoreError::LogstoreDropped { .. }
            | StoreError::WalFailed { .. }
            | StoreError::Locked { .. }
            | StoreError::Split { .. } => false,
        }
    }

    /// A copy of the error for answering several waiters of one failed batch; I/O errors keep
    /// their kind and message.
    pub(crate) fn duplicate(&self) -> StoreError {
        match self {
            StoreError::InvalidSequenceId {
                key,
                sequence_id,
                last_committed,
            } => StoreError::InvalidSequenceId {
                key: key.clone(),
                sequence_id: *sequence_id,
                last_committed: *last_committed,
            },
            StoreError::DiskFull {
                path,
                available_bytes,
                required_bytes,
            } => StoreError::DiskFull {
                path: path.clone(),
                available_bytes: *available_bytes,
                required_bytes: *required_bytes,
            },
            StoreError::Io(error) => {
                StoreError::Io(std::io::Error::new(error.kind(), error.to_string()))
            }
            StoreError::Corrupt {
                path,
                offset,
                reason,
            } => StoreError::Corrupt {
                path: path.clone(),
                offset: *offset,
                reason: reason.clone(),
            },
            StoreError::ShuttingDown => StoreError::ShuttingDown,
            StoreError::RecordTooLarge { bytes, limit } => StoreError::RecordTooLarge {
                bytes: *bytes,
                limit: *limit,
            },
            StoreError::InvalidAppend { reason } => StoreError::InvalidAppend {
                reason: reason.clone(),
            },
            StoreError::LogstoreDropped { logstore } => StoreError::LogstoreDropped {
                logstore: *logstore,
            },
            StoreError::WalFailed { reason } => StoreError::WalFailed {
                reason: reason.clone(),
            },
            StoreError::Locked { path } => StoreError::Locked { path: path.clone() },
            StoreError::Split { reason } => StoreError::Split {
                reason: reason.clone(),
            },
            StoreError::ObjectStore { reason } => StoreError::ObjectStore {
                reason: reason.clone(),
            },
            StoreError::Catalog { reason } => StoreError::Catalog {
                reason: reason.clone(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_refusals_are_retryable() {
        let disk_full = StoreError::DiskFull {
            path: PathBuf::from("wal"),
            available_bytes: 1,
            required_bytes: 2,
        };
        assert!(disk_full.is_retryable());
        assert!(disk_full.duplicate().is_retryable());
        assert!(StoreError::ShuttingDown.is_retryable());
        let replay = StoreError::InvalidSequenceId {
            key: "k".into(),
            sequence_id: 1,
            last_committed: 1,
        };
        assert!(!replay.is_retryable());
        assert!(!StoreError::Io(std::io::Error::other("x")).is_retryable());
        assert!(!StoreError::WalFailed { reason: "x".into() }.is_retryable());
        let io = StoreError::Io(std::io::Error::new(std::io::ErrorKind::NotFound, "gone"));
        match io.duplicate() {
            StoreError::Io(copy) => {
                assert_eq!(copy.kind(), std::io::ErrorKind::NotFound);
                assert!(copy.to_string().contains("gone"));
            }
            other => panic!("unexpected copy {other:?}"),
        }
    }
}
