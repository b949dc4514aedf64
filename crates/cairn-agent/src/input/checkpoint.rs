//! Durable per-file checkpoints: how far each file is acknowledged, and the batch in flight.
//!
//! ## Invariants
//!
//! * [`CheckpointStore::set`] (and every other mutating call but `stage`) returns only once
//!   the change is durable: the whole table is written to `checkpoints.json.tmp`, fsynced,
//!   renamed over `checkpoints.json`, and the directory is fsynced. A crash at any point
//!   leaves either the old or the new table, never a mix.
//! * [`CheckpointStore::stage`] changes the table in memory only; the change becomes durable
//!   with the next write, whoever makes it (a durable change of any file, or
//!   [`CheckpointStore::sync`]). Readers ([`CheckpointStore::get`]) see it at once. A crash
//!   before that write loses it, so only changes whose loss is harmless are staged: delivery
//!   stages acknowledgements, which a crash merely turns into a resend that the server
//!   answers with `InvalidSequenceId`. One durable write thus carries the acknowledgements
//!   of every batch resolved since the last one.
//! * Writes are group-committed: concurrent callers coalesce into one write of the latest
//!   table, and a call returns when a write that includes its change is durable. Writes
//!   never go backwards (each writes a snapshot taken after every change it covers).
//! * A leftover `checkpoints.json.tmp` belongs to a write whose caller never got `Ok`, so it is
//!   ignored (and removed) on open: nothing was acted upon because of it.
//! * A table that does not parse is an error, not an empty table: silently forgetting every
//!   offset would re-send (or skip) whole files.
//!
//! ## On-disk format (`checkpoints.json`, version 1)
//!
//! ```json
//! {"version":1,
//!  "configs":["nginx"],
//!  "checkpoints":[{"config":"nginx","device":2049,"inode":1234,
//!                  "fingerprint":"9f3c0a1b2c3d4e5f","fingerprint_len":1024,
//!                  "path":"/var/log/nginx/access.log","offset":40960,"next_sequence":12,
//!                  "pending":{"sequence":12,"start_offset":40960,"end_offset":45056}}]}
//! ```
//!
//! `configs` lists the configs that have completed a discovery round: a file such a config
//! finds for the first time appeared after it started, and is read from its beginning.
//! `path` is informational (lossy for non-UTF-8 names); identity is (device, inode,
//! fingerprint over `fingerprint_len` bytes).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use crate::source::FileKey;
use format::parse_table;

mod format;

/// The table's file name inside the checkpoint directory.
pub const CHECKPOINT_FILE: &str = "checkpoints.json";
const TMP_FILE: &str = "checkpoints.json.tmp";
const FORMAT_VERSION: u32 = 1;

/// Where a file stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCheckpoint {
    /// The path the file had when last seen.
    pub path: PathBuf,
    /// Everything before this offset is acknowledged (or owned by the disk buffer).
    pub offset: u64,
    /// The sequence id the next batch of this file will carry.
    pub next_sequence: u64,
    /// The batch that was about to be sent when this was written, if its fate is unknown.
    pub pending: Option<PendingBatch>,
    /// How many leading bytes the key's fingerprint covers (see [`super::fingerprint`]).
    pub fingerprint_len: u64,
}

impl FileCheckpoint {
    /// A checkpoint for a file first read at `offset`, before any batch. Its first sequence
    /// id is [`initial_sequence`].
    pub fn new(path: PathBuf, offset: u64, fingerprint_len: u64) -> Self {
        Self {
            path,
            offset,
            next_sequence: initial_sequence(),
            pending: None,
            fingerprint_len,
        }
    }
}

/// The first sequence id of a new checkpoint: the current time in microseconds since the
/// epoch (at least 1).
///
/// The server refuses any id not above the last it committed for a producer key, and a key
/// can come back after its checkpoint was forgotten (the checkpoint directory was deleted to
/// re-read files, an inode was reused by a file with the same first bytes, a truncated file
/// was rewritten with the same header). Restarting at 1 would have every batch of the new
/// stream answered `InvalidSequenceId` — silently lost. Starting at the clock keeps each new
/// stream above every earlier stream of the same key, as long as the earlier one issued
/// fewer than one id per microsecond of its life and the clock did not step back past its
/// start.
pub fn initial_sequence() -> u64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    now.map_or(1, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .max(1)
}

/// A batch persisted as "about to be sent": on restart it is re-formed over exactly
/// `[start_offset, end_offset)` and re-sent with `sequence`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingBatch {
    /// Its producer sequence id.
    pub sequence: u64,
    /// The file offset of its first byte.
    pub start_offset: u64,
    /// The file offset just past its last record.
    pub end_offset: u64,
}

/// Why the checkpoint table could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Reading or writing the table failed.
    #[error("checkpoint i/o on {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The table exists but is not a valid version-1 table.
    #[error("checkpoint table {path} is corrupt: {reason}")]
    Corrupt {
        /// The table's path.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

#[derive(Debug, Default)]
struct Table {
    entries: BTreeMap<FileKey, FileCheckpoint>,
    configs: BTreeSet<String>,
}

#[derive(Debug, Default)]
struct Memory {
    table: Table,
    /// Bumped by every change.
    generation: u64,
}

/// The agent's checkpoint table; share it as `Arc<CheckpointStore>`.
#[derive(Debug)]
pub struct CheckpointStore {
    dir: PathBuf,
    memory: Mutex<Memory>,
    /// The generation known durable; held while writing, which serialises writes.
    durable: Mutex<u64>,
    /// Writes of the table so far.
    writes: AtomicU64,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves consistent data (every change is one assignment).
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl CheckpointStore {
    /// Opens (creating if needed) the table in `dir`.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, CheckpointError> {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let tmp = dir.join(TMP_FILE);
        if tmp.exists() {
            tracing::warn!(path = %tmp.display(), "ignoring checkpoint table of an unfinished write");
            fs::remove_file(&tmp).map_err(io_err(&tmp))?;
        }
        let path = dir.join(CHECKPOINT_FILE);
        let table = match fs::read(&path) {
            Ok(bytes) => parse_table(&path, &bytes)?,
            Err(error) if error.kind() == io::ErrorKind::NotFound => Table::default(),
            Err(error) => return Err(io_err(&path)(error)),
        };
        tracing::info!(
            path = %path.display(),
            checkpoints = table.entries.len(),
            "checkpoint table loaded"
        );
        Ok(Self {
            dir,
            memory: Mutex::new(Memory {
                table,
                generation: 0,
            }),
            durable: Mutex::new(0),
            writes: AtomicU64::new(0),
        })
    }

    /// The checkpoint of `key`, if any.
    pub fn get(&self, key: &FileKey) -> Option<FileCheckpoint> {
        lock(&self.memory).table.entries.get(key).cloned()
    }

    /// Every checkpoint.
    pub fn all(&self) -> Vec<(FileKey, FileCheckpoint)> {
        let memory = lock(&self.memory);
        let entries = memory.table.entries.iter();
        entries.map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// The checkpoints of `config` for the file at (`device`, `inode`), whatever their
    /// fingerprints.
    pub fn find_inode(
        &self,
        config: &str,
        device: u64,
        inode: u64,
    ) -> Vec<(FileKey, FileCheckpoint)> {
        let memory = lock(&self.memory);
        let entries = memory.table.entries.iter();
        entries
            .filter(|(k, _)| k.config == config && k.device == device && k.inode == inode)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Stores `checkpoint` for `key`; durable on return.
    pub fn set(&self, key: &FileKey, checkpoint: FileCheckpoint) -> Result<(), CheckpointError> {
        self.change(|table| {
            table.entries.insert(key.clone(), checkpoint);
            true
        })
    }

    /// Stores `checkpoint` unless `key` already has one; returns the checkpoint in force.
    /// Durable on return.
    pub fn init(
        &self,
        key: &FileKey,
        checkpoint: FileCheckpoint,
    ) -> Result<FileCheckpoint, CheckpointError> {
        let mut current = checkpoint.clone();
        self.change(|table| match table.entries.get(key) {
            Some(existing) => {
                current = existing.clone();
                false
            }
            None => {
                table.entries.insert(key.clone(), checkpoint);
                true
            }
        })?;
        Ok(current)
    }

    /// Forgets `key`; durable on return. Returns what it held.
    pub fn remove(&self, key: &FileKey) -> Result<Option<FileCheckpoint>, CheckpointError> {
        let mut removed = None;
        self.change(|table| {
            removed = table.entries.remove(key);
            removed.is_some()
        })?;
        Ok(removed)
    }

    /// Whether `config` has completed a discovery round before (in this run or an earlier).
    pub fn config_known(&self, config: &str) -> bool {
        lock(&self.memory).table.configs.contains(config)
    }

    /// Records that `config` has completed a discovery round; durable on return.
    pub fn mark_config_known(&self, config: &str) -> Result<(), CheckpointError> {
        self.change(|table| table.configs.insert(config.to_owned()))
    }

    /// Stores `checkpoint` for `key` in memory only: it becomes durable with the next write
    /// of the table (any durable change, or [`CheckpointStore::sync`]). For changes whose
    /// loss in a crash is harmless, such as an acknowledgement (see the exactly-once
    /// protocol in [`crate::delivery`]: a lost acknowledgement only makes the batch be sent
    /// again, and the server answers `InvalidSequenceId`).
    pub fn stage(&self, key: &FileKey, checkpoint: FileCheckpoint) {
        let mut memory = lock(&self.memory);
        memory.table.entries.insert(key.clone(), checkpoint);
        memory.generation += 1;
    }

    /// Makes every change made so far durable (nothing to do when none is staged).
    pub fn sync(&self) -> Result<(), CheckpointError> {
        let generation = lock(&self.memory).generation;
        self.write_through(generation)
    }

    /// How many times the table was written (each write: temp file, fsync, rename, fsync of
    /// the directory).
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    /// Whether every change made so far is durable.
    pub fn is_synced(&self) -> bool {
        let generation = lock(&self.memory).generation;
        *lock(&self.durable) >= generation
    }

    /// Applies `edit` (which says whether it changed anything) and makes the result durable.
    fn change(&self, edit: impl FnOnce(&mut Table) -> bool) -> Result<(), CheckpointError> {
        let generation = {
            let mut memory = lock(&self.memory);
            if !edit(&mut memory.table) {
                return Ok(());
            }
            memory.generation += 1;
            memory.generation
        };
        self.write_through(generation)
    }

    /// Returns once a write covering `generation` is durable: an earlier caller's write, or
    /// one of the table as it is now (covering every change made before it, staged ones
    /// included).
    fn write_through(&self, generation: u64) -> Result<(), CheckpointError> {
        let mut durable = lock(&self.durable);
        if *durable >= generation {
            return Ok(()); // Another caller's write already covered this change.
        }
        // Serialised under the lock (a few microseconds for a table of open files) rather
        // than cloning the table: the snapshot is the bytes.
        let (bytes, snapshot_generation) = {
            let memory = lock(&self.memory);
            (self.encode(&memory.table)?, memory.generation)
        };
        self.write(&bytes)?;
        tracing::debug!(generation = snapshot_generation, "checkpoint table written");
        self.writes.fetch_add(1, Ordering::Relaxed);
        *durable = snapshot_generation;
        Ok(())
    }

    fn write(&self, bytes: &[u8]) -> Result<(), CheckpointError> {
        let tmp = self.dir.join(TMP_FILE);
        let path = self.dir.join(CHECKPOINT_FILE);
        let mut file = File::create(&tmp).map_err(io_err(&tmp))?;
        file.write_all(bytes).map_err(io_err(&tmp))?;
        file.sync_all().map_err(io_err(&tmp))?;
        drop(file);
        fs::rename(&tmp, &path).map_err(io_err(&path))?;
        sync_dir(&self.dir)
    }
}

/// Fsyncs a directory, making a rename or a file creation in it durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), CheckpointError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(inode: u64) -> FileKey {
        FileKey {
            config: "c".into(),
            device: 1,
            inode,
            fingerprint: 0xabc,
        }
    }

    #[test]
    fn changes_survive_reopen_and_corruption_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = CheckpointStore::open(dir.path()).expect("open");
        let mut cp = FileCheckpoint::new("/a".into(), 10, 5);
        cp.pending = Some(PendingBatch {
            sequence: 1,
            start_offset: 10,
            end_offset: 20,
        });
        store.set(&key(1), cp.clone()).expect("set");
        store.set(&key(2), cp.clone()).expect("set");
        store.remove(&key(2)).expect("remove");
        store.mark_config_known("c").expect("mark");
        assert_eq!(
            store
                .init(&key(1), FileCheckpoint::new("/b".into(), 0, 1))
                .expect("init"),
            cp
        );
        drop(store);

        let store = CheckpointStore::open(dir.path()).expect("reopen");
        assert_eq!(store.get(&key(1)), Some(cp));
        assert_eq!(store.get(&key(2)), None);
        assert!(store.config_known("c"));
        assert_eq!(store.find_inode("c", 1, 1).len(), 1);

        fs::write(dir.path().join(CHECKPOINT_FILE), b"{not json").expect("corrupt");
        assert!(matches!(
            CheckpointStore::open(dir.path()),
            Err(CheckpointError::Corrupt { .. })
        ));
    }

    #[test]
    fn concurrent_sets_all_become_durable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = std::sync::Arc::new(CheckpointStore::open(dir.path()).expect("open"));
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for offset in 0..20 {
                        let cp = FileCheckpoint::new("/x".into(), offset, 1);
                        store.set(&key(i), cp).expect("set");
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("join");
        }
        let reopened = CheckpointStore::open(dir.path()).expect("reopen");
        for i in 0..8 {
            assert_eq!(reopened.get(&key(i)).map(|cp| cp.offset), Some(19));
        }
    }
}
