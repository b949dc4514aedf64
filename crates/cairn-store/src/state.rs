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

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use cairn_model::{LogRecord, LogstoreId};

use crate::memtable::Memtable;
use crate::producers::ProducerTable;
use crate::wal::codec::{WalEntry, WalRecord};
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
}

impl IngestState {
    /// Empty state feeding `memtable`.
    pub(crate) fn new(memtable: Arc<Memtable>) -> Self {
        Self {
            memtable,
            producers: ProducerTable::default(),
            next_offsets: HashMap::new(),
            dropped: HashSet::new(),
        }
    }

    /// Applies one replayed record; `path` and `offset` locate it for errors.
    pub(crate) fn replay(
        &mut self,
        record: WalRecord,
        path: &Path,
        offset: u64,
    ) -> Result<(), StoreError> {
        let append = match record.entry {
            WalEntry::Append(append) => append,
            WalEntry::DropLogstore { logstore } => {
                self.apply_drop(logstore);
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
        let records: Vec<Arc<LogRecord>> = append
            .group
            .into_records()
            .into_iter()
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
