//! The state the WAL determines: memtable contents, the exactly-once table, logstore
//! offsets and tombstones; and how one replayed record changes it.
//!
//! Invariants:
//! - Replaying the WAL from the start rebuilds exactly the state the writer had when it last
//!   fsynced: every change the writer makes is carried by a WAL record.
//! - Offsets of a logstore only grow; an append replayed out of order, or after its
//!   logstore's tombstone, is [`StoreError::Corrupt`] (the writer never writes either).
//! - After replay, only the writer thread touches this state (the memtable is shared for
//!   reading).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn_model::{LogRecord, LogstoreId};

use crate::memtable::Memtable;
use crate::producers::ProducerTable;
use crate::wal::codec::{WalCheckpoint, WalEntry, WalRecord};
use crate::StoreError;

/// Everything derived from the WAL: rebuilt by replay, then owned by the writer.
pub(crate) struct IngestState {
    /// The records, for scans.
    pub memtable: Arc<Memtable>,
    /// Last committed sequence ids.
    pub producers: ProducerTable,
    /// Per logstore, the offset the next record gets.
    pub next_offsets: HashMap<LogstoreId, u64>,
    /// Logstores with a tombstone: appends to them are refused.
    pub dropped: HashSet<LogstoreId>,
    /// Per logstore, the end offset of its last published split: records below it are in
    /// splits (replay skips them; WAL segments holding only such records may be removed).
    pub flushed_ends: HashMap<LogstoreId, u64>,
    /// Per WAL segment (by first record index), the end offset of the last record it holds
    /// of each logstore.
    pub segment_ends: BTreeMap<u64, HashMap<LogstoreId, u64>>,
    /// Segments (by first record index) whose first record is a checkpoint, so that replay
    /// may start there.
    pub checkpointed_segments: HashSet<u64>,
    /// The segment being replayed: its path and first record index.
    replaying: Option<(PathBuf, u64)>,
}

impl IngestState {
    /// Empty state feeding `memtable`.
    pub(crate) fn new(memtable: Arc<Memtable>) -> Self {
        Self {
            memtable,
            producers: ProducerTable::default(),
            next_offsets: HashMap::new(),
            dropped: HashSet::new(),
            flushed_ends: HashMap::new(),
            segment_ends: BTreeMap::new(),
            checkpointed_segments: HashSet::new(),
            replaying: None,
        }
    }

    /// The exactly-once table and tombstones, for the checkpoint that starts a segment.
    pub(crate) fn checkpoint(&self) -> WalCheckpoint {
        WalCheckpoint {
            producers: self.producers.entries(),
            dropped: self.dropped.iter().copied().collect(),
        }
    }

    /// Notes that `logstore`'s records up to `end_offset` were appended in the segment
    /// starting at `segment`.
    pub(crate) fn note_segment_end(&mut self, segment: u64, logstore: LogstoreId, end_offset: u64) {
        let ends = self.segment_ends.entry(segment).or_default();
        let end = ends.entry(logstore).or_insert(end_offset);
        *end = (*end).max(end_offset);
    }

    /// The first record index of the oldest segment that must be kept, given the segments'
    /// first indexes (oldest first, the last one active): every segment before it holds
    /// only records already in splits (or of dropped logstores), and it starts with a
    /// checkpoint. `None` when nothing can be removed.
    pub(crate) fn truncation_point(&self, segments: &[u64]) -> Option<u64> {
        let mut keep = None;
        for (position, &segment) in segments.iter().enumerate() {
            let Some(&next) = segments.get(position + 1) else {
                break;
            };
            let flushed = self.segment_ends.get(&segment).is_none_or(|ends| {
                ends.iter().all(|(logstore, end)| {
                    self.dropped.contains(logstore)
                        || self.flushed_ends.get(logstore).is_some_and(|f| f >= end)
                })
            });
            if !flushed {
                break;
            }
            if self.checkpointed_segments.contains(&next) {
                keep = Some(next);
            }
        }
        keep
    }

    /// Applies one replayed record; `path` and `offset` locate it for errors.
    pub(crate) fn replay(
        &mut self,
        record: WalRecord,
        path: &Path,
        offset: u64,
    ) -> Result<(), StoreError> {
        let segment_changed = self
            .replaying
            .as_ref()
            .is_none_or(|(replaying, _)| replaying != path);
        if segment_changed {
            self.replaying = Some((path.to_path_buf(), record.index));
            if matches!(record.entry, WalEntry::Checkpoint(_)) {
                self.checkpointed_segments.insert(record.index);
            }
        }
        let segment = self.replaying.as_ref().map_or(0, |(_, first)| *first);
        let append = match record.entry {
            WalEntry::Append(append) => append,
            WalEntry::DropLogstore { logstore } => {
                self.apply_drop(logstore);
                return Ok(());
            }
            WalEntry::Checkpoint(checkpoint) => {
                for (logstore, shard, key, sequence_id) in checkpoint.producers {
                    self.producers.commit(logstore, shard, &key, sequence_id);
                }
                for logstore in checkpoint.dropped {
                    self.apply_drop(logstore);
                }
                return Ok(());
            }
        };
        let logstore = append.logstore;
        let corrupt = |reason: String| StoreError::Corrupt {
            path: path.to_path_buf(),
            offset,
            reason,
        };
        if self.dropped.contains(&logstore) {
            return Err(corrupt(format!(
                "an append to logstore {logstore} follows its tombstone"
            )));
        }
        let next_offset = self.next_offsets.get(&logstore).copied().unwrap_or(0);
        let count = append.group.logs.len() as u64;
        let end_offset = append.first_offset.checked_add(count);
        match end_offset {
            Some(end_offset) if append.first_offset >= next_offset => {
                self.next_offsets.insert(logstore, end_offset);
            }
            _ => {
                return Err(corrupt(format!(
                "first offset {} of logstore {logstore} is out of order (next is {next_offset})",
                append.first_offset
            )))
            }
        }
        if let Some(producer) = &append.producer {
            self.producers
                .commit(logstore, append.shard, &producer.key, producer.sequence_id);
        }
        if let Some(end_offset) = end_offset {
            self.note_segment_end(segment, logstore, end_offset);
        }
        // Records already in a published split stay there; only the rest return to memory.
        let flushed_end = self.flushed_ends.get(&logstore).copied().unwrap_or(0);
        let skip =
            usize::try_from(flushed_end.saturating_sub(append.first_offset)).unwrap_or(usize::MAX);
        let records: Vec<Arc<LogRecord>> = append
            .group
            .into_records()
            .into_iter()
            .skip(skip)
            .map(Arc::new)
            .collect();
        let raw_bytes = records.iter().map(|record| record.raw_size() as u64).sum();
        self.memtable.append(logstore, records, raw_bytes);
        Ok(())
    }

    /// Number of (logstore, shard, producer key) entries in the exactly-once table.
    pub(crate) fn producer_count(&self) -> usize {
        self.producers.len()
    }

    /// Forgets a dropped logstore's records and producers, and refuses it from now on.
    pub(crate) fn apply_drop(&mut self, logstore: LogstoreId) {
        self.memtable.remove(logstore);
        self.producers.forget_logstore(logstore);
        self.dropped.insert(logstore);
    }
}
