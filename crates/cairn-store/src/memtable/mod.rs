//! The memtable: every durable record of every logstore, in arrival order, ready to scan.
//!
//! Invariants:
//! - Only the WAL writer (and replay, before the writer starts) inserts or removes, and only
//!   after the records are durable in the WAL; so a scan never sees a record that a crash
//!   could lose.
//! - Within a logstore, records are kept in the order their appends were acknowledged.
//! - Offsets: within a logstore the memtable holds every record from offset 0 on, in offset
//!   order, so a record's index in its logstore's vector *is* its offset. This holds because
//!   offsets are handed out only by the WAL writer, contiguously (each admitted append takes
//!   `next..next + records`, refused or rolled-back appends take none), and the writer applies
//!   admitted appends to the memtable in that same order; replay applies WAL records in the
//!   order they were written. [`Memtable::read_from`] and [`Memtable::next_offset`] rely on it.
//!   Once records move into a split, the vector starts at the logstore's `base_offset`
//!   instead: the record at index `i` has offset `base_offset + i`.
//! - Splits: each logstore also lists its published splits (by first offset). Publishing a
//!   split adds it and removes its records from memory under one write lock, so a reader
//!   (taking a [`LogstoreSnapshot`] under the read lock) sees every record exactly once:
//!   either in a split or in memory, never both, never neither.
//! - Records are shared (`Arc`) and never mutated: a scan's result is a snapshot, unaffected
//!   by later appends or drops. They are held in immutable chunks (see [`chunks`]), so a
//!   snapshot costs a pointer per append, not per record.
//! - Each logstore has its own lock, so a long scan of one logstore does not stall appends to
//!   the others; the map lock is held only to find or insert a logstore.
//!
//! Memory is bounded by the flush (see `crate::flush`), which moves records into splits.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Instant;

use cairn_meta::SplitRecord;
use cairn_model::{LogRecord, LogTime, LogstoreId};

mod chunks;

pub(crate) use chunks::MemoryRecords;

/// The records of one logstore.
#[derive(Debug, Default)]
struct LogstoreRecords {
    /// Offset of `records[0]`: every record below it is in a split.
    base_offset: u64,
    records: MemoryRecords,
    /// Published splits, by first offset.
    splits: Vec<Arc<SplitRecord>>,
    /// When the oldest record in memory arrived (for the flush's age limit).
    oldest_arrival: Option<Instant>,
}

/// What a reader sees of one logstore at one instant.
#[derive(Debug, Clone, Default)]
pub(crate) struct LogstoreSnapshot {
    /// Published splits, by first offset.
    pub splits: Vec<Arc<SplitRecord>>,
    /// Offset of the first record in memory.
    pub base_offset: u64,
    /// The records in memory, from `base_offset` on.
    pub records: MemoryRecords,
}

/// A logstore's memory use, for choosing what to flush.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MemoryUse {
    pub logstore: LogstoreId,
    pub records: usize,
    pub raw_bytes: u64,
    pub oldest_arrival: Option<Instant>,
}

/// All logstores' in-memory records.
#[derive(Debug, Default)]
pub(crate) struct Memtable {
    logstores: RwLock<HashMap<LogstoreId, Arc<RwLock<LogstoreRecords>>>>,
    records: AtomicU64,
    raw_bytes: AtomicU64,
}

impl Memtable {
    fn logstore(&self, logstore: LogstoreId) -> Option<Arc<RwLock<LogstoreRecords>>> {
        let logstores = self
            .logstores
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        logstores.get(&logstore).cloned()
    }

    /// Appends durable records of `logstore`, whose raw sizes add up to `raw_bytes`.
    pub(crate) fn append(
        &self,
        logstore: LogstoreId,
        records: Vec<Arc<LogRecord>>,
        raw_bytes: u64,
    ) {
        if records.is_empty() {
            return;
        }
        let table = self.table_or_insert(logstore);
        let count = records.len() as u64;
        let mut table = table.write().unwrap_or_else(PoisonError::into_inner);
        table.oldest_arrival.get_or_insert_with(Instant::now);
        table.records.push(records, raw_bytes);
        self.records.fetch_add(count, Ordering::Relaxed);
        self.raw_bytes.fetch_add(raw_bytes, Ordering::Relaxed);
    }

    /// Records of `logstore` whose time is in `[from, to)`, compared in nanoseconds, in
    /// arrival order.
    pub(crate) fn scan(
        &self,
        logstore: LogstoreId,
        from: LogTime,
        to: LogTime,
    ) -> Vec<Arc<LogRecord>> {
        let Some(table) = self.logstore(logstore) else {
            return Vec::new();
        };
        let (from, to) = (from.as_nanos(), to.as_nanos());
        let table = table.read().unwrap_or_else(PoisonError::into_inner);
        table
            .records
            .in_range(from, to)
            .map(|(_, record)| Arc::clone(record))
            .collect()
    }

    /// Up to `max_records` records of `logstore` from `offset` on, each with its offset, and
    /// the offset to read from next (`offset` plus the number returned). An offset at or past
    /// the end returns nothing and `offset` itself. The result is a snapshot.
    pub(crate) fn read_from(
        &self,
        logstore: LogstoreId,
        offset: u64,
        max_records: usize,
    ) -> (Vec<(u64, Arc<LogRecord>)>, u64) {
        let Some(table) = self.logstore(logstore) else {
            return (Vec::new(), offset);
        };
        let table = table.read().unwrap_or_else(PoisonError::into_inner);
        let offset = offset.max(table.base_offset);
        let start = usize::try_from(offset - table.base_offset).unwrap_or(usize::MAX);
        let records: Vec<(u64, Arc<LogRecord>)> = table
            .records
            .iter_from(start)
            .take(max_records)
            .zip(offset..)
            .map(|(record, at)| (at, Arc::clone(record)))
            .collect();
        let next = offset + records.len() as u64;
        (records, next)
    }

    /// The offset the next record of `logstore` will get: the number of its records held
    /// (0 for a logstore never written or dropped).
    pub(crate) fn next_offset(&self, logstore: LogstoreId) -> u64 {
        self.logstore(logstore).map_or(0, |table| {
            let table = table.read().unwrap_or_else(PoisonError::into_inner);
            table.base_offset + table.records.len() as u64
        })
    }

    fn table_or_insert(&self, logstore: LogstoreId) -> Arc<RwLock<LogstoreRecords>> {
        match self.logstore(logstore) {
            Some(table) => table,
            None => {
                let mut logstores = self
                    .logstores
                    .write()
                    .unwrap_or_else(PoisonError::into_inner);
                Arc::clone(logstores.entry(logstore).or_default())
            }
        }
    }

    /// Installs a logstore's published splits before replay: records below the end of the
    /// last one are in splits, so memory starts there.
    pub(crate) fn install_splits(&self, logstore: LogstoreId, splits: Vec<Arc<SplitRecord>>) {
        let table = self.table_or_insert(logstore);
        let mut table = table.write().unwrap_or_else(PoisonError::into_inner);
        table.base_offset = splits
            .iter()
            .map(|split| split.end_offset)
            .max()
            .unwrap_or(0);
        table.splits = splits;
    }

    /// A consistent view of a logstore: its splits and the records in memory.
    pub(crate) fn snapshot(&self, logstore: LogstoreId) -> LogstoreSnapshot {
        let Some(table) = self.logstore(logstore) else {
            return LogstoreSnapshot::default();
        };
        let table = table.read().unwrap_or_else(PoisonError::into_inner);
        LogstoreSnapshot {
            splits: table.splits.clone(),
            base_offset: table.base_offset,
            records: table.records.clone(),
        }
    }

    /// A logstore's published splits, by first offset.
    pub(crate) fn splits(&self, logstore: LogstoreId) -> Vec<Arc<SplitRecord>> {
        self.logstore(logstore).map_or_else(Vec::new, |table| {
            let table = table.read().unwrap_or_else(PoisonError::into_inner);
            table.splits.clone()
        })
    }

    /// The records in memory of a logstore, from its base offset (for the flush).
    pub(crate) fn unflushed(&self, logstore: LogstoreId) -> (u64, MemoryRecords) {
        let Some(table) = self.logstore(logstore) else {
            return (0, MemoryRecords::default());
        };
        let table = table.read().unwrap_or_else(PoisonError::into_inner);
        (table.base_offset, table.records.clone())
    }

    /// Adds a just-published split and drops its records from memory, atomically for
    /// readers. The split must start at the logstore's base offset.
    pub(crate) fn publish_split(&self, split: Arc<SplitRecord>) {
        let table = self.table_or_insert(split.logstore);
        let mut table = table.write().unwrap_or_else(PoisonError::into_inner);
        if split.first_offset != table.base_offset {
            tracing::error!(
                logstore = %split.logstore,
                split = %split.split_id,
                first_offset = split.first_offset,
                base_offset = table.base_offset,
                "a published split does not start at the memtable's base offset"
            );
            return;
        }
        let count = usize::try_from(split.end_offset - split.first_offset)
            .unwrap_or(usize::MAX)
            .min(table.records.len());
        let removed_bytes = table.records.drop_front(count);
        table.base_offset = split.end_offset;
        table.oldest_arrival = (!table.records.is_empty()).then(Instant::now);
        table.splits.push(split);
        self.records.fetch_sub(count as u64, Ordering::Relaxed);
        self.raw_bytes.fetch_sub(removed_bytes, Ordering::Relaxed);
    }

    /// Replaces published splits `inputs` by `merged` (a merge) or removes them (`None`,
    /// retention), keeping the list ordered. Returns the splits removed, as snapshots taken
    /// before hold them (their files must outlive those snapshots).
    pub(crate) fn replace_splits(
        &self,
        logstore: LogstoreId,
        inputs: &[String],
        merged: Option<Arc<SplitRecord>>,
    ) -> Vec<Arc<SplitRecord>> {
        let Some(table) = self.logstore(logstore) else {
            return Vec::new();
        };
        let mut table = table.write().unwrap_or_else(PoisonError::into_inner);
        let (removed, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut table.splits)
            .into_iter()
            .partition(|split| inputs.contains(&split.split_id));
        table.splits = kept;
        if let Some(merged) = merged {
            table.splits.push(merged);
        }
        table.splits.sort_by_key(|split| split.first_offset);
        removed
    }

    /// Every logstore's memory use.
    pub(crate) fn memory_use(&self) -> Vec<MemoryUse> {
        let logstores = self
            .logstores
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        logstores
            .iter()
            .map(|(logstore, table)| {
                let table = table.read().unwrap_or_else(PoisonError::into_inner);
                MemoryUse {
                    logstore: *logstore,
                    records: table.records.len(),
                    raw_bytes: table.records.raw_bytes(),
                    oldest_arrival: table.oldest_arrival,
                }
            })
            .collect()
    }

    /// The first offset still held (in a split or in memory).
    pub(crate) fn first_offset(&self, logstore: LogstoreId) -> u64 {
        self.logstore(logstore).map_or(0, |table| {
            let table = table.read().unwrap_or_else(PoisonError::into_inner);
            table
                .splits
                .first()
                .map_or(table.base_offset, |split| split.first_offset)
        })
    }

    /// The offset of the first record of `logstore` whose time is at or after `time`, or the
    /// next offset when there is none.
    pub(crate) fn offset_at_time(&self, logstore: LogstoreId, time: LogTime) -> u64 {
        let Some(table) = self.logstore(logstore) else {
            return 0;
        };
        let table = table.read().unwrap_or_else(PoisonError::into_inner);
        let wanted = time.as_nanos();
        let position = table
            .records
            .iter()
            .position(|record| record.time.as_nanos() >= wanted)
            .unwrap_or(table.records.len());
        table.base_offset + position as u64
    }

    /// Forgets every record of `logstore`.
    pub(crate) fn remove(&self, logstore: LogstoreId) {
        let removed = {
            let mut logstores = self
                .logstores
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            logstores.remove(&logstore)
        };
        if let Some(table) = removed {
            let table = table.read().unwrap_or_else(PoisonError::into_inner);
            self.records
                .fetch_sub(table.records.len() as u64, Ordering::Relaxed);
            self.raw_bytes
                .fetch_sub(table.records.raw_bytes(), Ordering::Relaxed);
        }
    }

    /// Number of records held.
    pub(crate) fn record_count(&self) -> u64 {
        self.records.load(Ordering::Relaxed)
    }

    /// Raw bytes (as SLS meters them) of the records held.
    pub(crate) fn raw_bytes(&self) -> u64 {
        self.raw_bytes.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seconds: u32, nanos: u32, tag: &str) -> Arc<LogRecord> {
        Arc::new(LogRecord {
            time: LogTime { seconds, nanos },
            contents: vec![cairn_model::Field::new("tag", tag)],
            ..LogRecord::default()
        })
    }

    fn tags(records: &[Arc<LogRecord>]) -> Vec<String> {
        records
            .iter()
            .map(|record| record.contents[0].value_text().into_owned())
            .collect()
    }

    #[test]
    fn scans_filter_half_open_ranges_in_nanoseconds_and_keep_arrival_order() {
        let memtable = Memtable::default();
        let logstore = LogstoreId(1);
        memtable.append(
            logstore,
            vec![
                record(10, 5, "late"),
                record(10, 0, "start"),
                record(9, 999_999_999, "before"),
            ],
            30,
        );
        memtable.append(logstore, vec![record(11, 0, "end")], 10);
        memtable.append(LogstoreId(2), vec![record(10, 1, "other")], 7);
        let scanned = memtable.scan(logstore, LogTime::new(10, 0), LogTime::new(11, 0));
        assert_eq!(tags(&scanned), vec!["late", "start"]);
        let everything = memtable.scan(logstore, LogTime::new(0, 0), LogTime::new(u32::MAX, 0));
        assert_eq!(tags(&everything), vec!["late", "start", "before", "end"]);
        assert!(memtable
            .scan(LogstoreId(3), LogTime::new(0, 0), LogTime::new(99, 0))
            .is_empty());
        assert_eq!(memtable.record_count(), 5);
        assert_eq!(memtable.raw_bytes(), 47);

        memtable.remove(logstore);
        assert!(memtable
            .scan(logstore, LogTime::new(0, 0), LogTime::new(99, 0))
            .is_empty());
        assert_eq!(memtable.record_count(), 1);
        assert_eq!(memtable.raw_bytes(), 7);
        // The earlier scan is a snapshot and still holds its records.
        assert_eq!(everything.len(), 4);
    }

    #[test]
    fn reads_from_an_offset_return_offsets_and_the_next_offset() {
        let memtable = Memtable::default();
        let logstore = LogstoreId(1);
        assert_eq!(memtable.next_offset(logstore), 0);
        assert_eq!(memtable.read_from(logstore, 0, 10), (Vec::new(), 0));
        memtable.append(logstore, vec![record(1, 0, "a"), record(1, 0, "b")], 2);
        memtable.append(LogstoreId(2), vec![record(1, 0, "other")], 1);
        memtable.append(logstore, vec![record(1, 0, "c")], 1);
        assert_eq!(memtable.next_offset(logstore), 3);
        assert_eq!(memtable.next_offset(LogstoreId(2)), 1);

        let (first, next) = memtable.read_from(logstore, 0, 2);
        assert_eq!(next, 2);
        assert_eq!(first.iter().map(|(at, _)| *at).collect::<Vec<_>>(), [0, 1]);
        let records: Vec<Arc<LogRecord>> = first.into_iter().map(|(_, r)| r).collect();
        assert_eq!(tags(&records), ["a", "b"]);

        let (rest, next) = memtable.read_from(logstore, 2, 100);
        assert_eq!(next, 3);
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].0, 2);
        assert_eq!(rest[0].1.contents[0].value_text(), "c");

        assert_eq!(memtable.read_from(logstore, 3, 100), (Vec::new(), 3));
        assert_eq!(memtable.read_from(logstore, 99, 100), (Vec::new(), 99));
        assert_eq!(memtable.read_from(logstore, 1, 0), (Vec::new(), 1));
        assert_eq!(
            memtable.read_from(logstore, u64::MAX, 5),
            (Vec::new(), u64::MAX)
        );
    }
}
