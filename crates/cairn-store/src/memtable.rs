//! The memtable: every durable record of every logstore, in arrival order, ready to scan.
//!
//! Invariants:
//! - Only the WAL writer (and replay, before the writer starts) inserts or removes, and only
//!   after the records are durable in the WAL; so a scan never sees a record that a crash
//!   could lose.
//! - Within a logstore, records are kept in the order their appends were acknowledged.
//! - Records are shared (`Arc`) and never mutated: a scan's result is a snapshot, unaffected
//!   by later appends or drops.
//! - Each logstore has its own lock, so a long scan of one logstore does not stall appends to
//!   the others; the map lock is held only to find or insert a logstore.
//!
//! Memory is unbounded for now: the split flush (a later issue) will move records out.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use cairn_model::{LogRecord, LogTime, LogstoreId};

/// The records of one logstore.
#[derive(Debug, Default)]
struct LogstoreRecords {
    records: Vec<Arc<LogRecord>>,
    raw_bytes: u64,
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
        let table = match self.logstore(logstore) {
            Some(table) => table,
            None => {
                let mut logstores = self
                    .logstores
                    .write()
                    .unwrap_or_else(PoisonError::into_inner);
                Arc::clone(logstores.entry(logstore).or_default())
            }
        };
        let count = records.len() as u64;
        let mut table = table.write().unwrap_or_else(PoisonError::into_inner);
        table.records.extend(records);
        table.raw_bytes += raw_bytes;
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
            .iter()
            .filter(|record| {
                let time = record.time.as_nanos();
                from <= time && time < to
            })
            .cloned()
            .collect()
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
            self.raw_bytes.fetch_sub(table.raw_bytes, Ordering::Relaxed);
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
}
