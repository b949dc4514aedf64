//! The checkpoint table's on-disk encoding (`checkpoints.json`, version 1; the format is
//! described in the [parent module](super)): entries are written borrowed from the table
//! (no copy of it is made), and a table that does not parse is an error, never an empty one.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{CheckpointError, CheckpointStore, FileCheckpoint, PendingBatch, Table};
use super::{CHECKPOINT_FILE, FORMAT_VERSION};
use crate::source::FileKey;

#[derive(Debug, Serialize, Deserialize)]
struct DiskTable<C, E> {
    version: u32,
    #[serde(default = "Vec::new")]
    configs: Vec<C>,
    checkpoints: Vec<E>,
}

/// A table entry as read.
#[derive(Debug, Deserialize)]
struct DiskEntry {
    config: String,
    device: u64,
    inode: u64,
    fingerprint: String,
    fingerprint_len: u64,
    path: String,
    offset: u64,
    next_sequence: u64,
    pending: Option<PendingBatch>,
}

/// A table entry as written: the same fields, borrowed from the table.
#[derive(Debug, Serialize)]
struct DiskEntryRef<'a> {
    config: &'a str,
    device: u64,
    inode: u64,
    fingerprint: Fingerprint,
    fingerprint_len: u64,
    path: Cow<'a, str>,
    offset: u64,
    next_sequence: u64,
    pending: Option<PendingBatch>,
}

/// A key's fingerprint, written as 16 hex digits.
#[derive(Debug)]
struct Fingerprint(u64);

impl Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("{:016x}", self.0))
    }
}

impl CheckpointStore {
    pub(super) fn encode(&self, table: &Table) -> Result<Vec<u8>, CheckpointError> {
        let disk: DiskTable<&str, DiskEntryRef<'_>> = DiskTable {
            version: FORMAT_VERSION,
            configs: table.configs.iter().map(String::as_str).collect(),
            checkpoints: table
                .entries
                .iter()
                .map(|(key, cp)| DiskEntryRef {
                    config: &key.config,
                    device: key.device,
                    inode: key.inode,
                    fingerprint: Fingerprint(key.fingerprint),
                    fingerprint_len: cp.fingerprint_len,
                    path: cp.path.to_string_lossy(),
                    offset: cp.offset,
                    next_sequence: cp.next_sequence,
                    pending: cp.pending,
                })
                .collect(),
        };
        serde_json::to_vec(&disk).map_err(|error| CheckpointError::Corrupt {
            path: self.dir.join(CHECKPOINT_FILE),
            reason: format!("cannot serialise: {error}"),
        })
    }
}

pub(super) fn parse_table(path: &Path, bytes: &[u8]) -> Result<Table, CheckpointError> {
    let corrupt = |reason: String| CheckpointError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    let disk: DiskTable<String, DiskEntry> =
        serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    if disk.version != FORMAT_VERSION {
        return Err(corrupt(format!("unknown version {}", disk.version)));
    }
    let mut table = Table {
        configs: disk.configs.into_iter().collect(),
        ..Table::default()
    };
    for entry in disk.checkpoints {
        let fingerprint = u64::from_str_radix(&entry.fingerprint, 16)
            .map_err(|_| corrupt(format!("bad fingerprint {:?}", entry.fingerprint)))?;
        let key = FileKey {
            config: entry.config,
            device: entry.device,
            inode: entry.inode,
            fingerprint,
        };
        table.entries.insert(
            key,
            FileCheckpoint {
                path: PathBuf::from(entry.path),
                offset: entry.offset,
                next_sequence: entry.next_sequence,
                pending: entry.pending,
                fingerprint_len: entry.fingerprint_len,
            },
        );
    }
    Ok(table)
}
