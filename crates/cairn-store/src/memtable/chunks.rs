//! A logstore's records in memory as a list of immutable chunks, one per append.
//!
//! A reader takes a snapshot of the memtable many times a second while ingest runs (every
//! GetLogs, every freshness poll, every PullLogs at the tail). With one shared pointer per
//! record, a snapshot of a full memtable (hundreds of thousands of records) touched each
//! record's reference count twice, once to copy and once to drop. Here a snapshot copies
//! one pointer per chunk, and each chunk knows its time range, so a time-bounded scan skips
//! whole chunks without touching their records.
//!
//! Invariants:
//! - Chunks are never mutated once pushed; the list only grows at the back and shrinks at
//!   the front.
//! - `skip` records of the first chunk are no longer held (they moved into a split); every
//!   other record of every chunk is. `len` is the number of records held.
//! - A chunk's `min_nanos..=max_nanos` covers the times of all its records, including
//!   skipped ones, so it may be wider than the held records' range, never narrower.

use std::collections::VecDeque;
use std::sync::Arc;

use cairn_model::LogRecord;

/// Records appended together, with their time range and raw size.
#[derive(Debug)]
struct RecordChunk {
    records: Vec<Arc<LogRecord>>,
    raw_bytes: u64,
    min_nanos: u64,
    max_nanos: u64,
}

/// A logstore's records in memory, in offset order (see the module doc). Cloning it is a
/// snapshot: it costs one reference count per chunk.
#[derive(Debug, Clone, Default)]
pub(crate) struct MemoryRecords {
    chunks: VecDeque<Arc<RecordChunk>>,
    skip: usize,
    len: usize,
    /// Raw size of the held records.
    raw_bytes: u64,
}

impl MemoryRecords {
    /// Number of records held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether no record is held.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Raw size (as SLS meters it) of the held records.
    pub(crate) fn raw_bytes(&self) -> u64 {
        self.raw_bytes
    }

    /// Appends `records` (whose raw sizes add up to `raw_bytes`) as one chunk.
    pub(crate) fn push(&mut self, records: Vec<Arc<LogRecord>>, raw_bytes: u64) {
        if records.is_empty() {
            return;
        }
        let (min_nanos, max_nanos) = records.iter().fold((u64::MAX, 0), |(min, max), record| {
            let time = record.time.as_nanos();
            (min.min(time), max.max(time))
        });
        self.len += records.len();
        self.raw_bytes += raw_bytes;
        self.chunks.push_back(Arc::new(RecordChunk {
            records,
            raw_bytes,
            min_nanos,
            max_nanos,
        }));
    }

    /// Stops holding the first `count` records (fewer if fewer are held); returns their raw
    /// size.
    pub(crate) fn drop_front(&mut self, count: usize) -> u64 {
        let mut remaining = count.min(self.len);
        let mut removed_bytes = 0;
        self.len -= remaining;
        while remaining > 0 {
            let Some(first) = self.chunks.front() else {
                break;
            };
            let held = first.records.len() - self.skip;
            if remaining >= held {
                removed_bytes += if self.skip == 0 {
                    first.raw_bytes
                } else {
                    raw_size(&first.records[self.skip..])
                };
                remaining -= held;
                self.skip = 0;
                self.chunks.pop_front();
            } else {
                removed_bytes += raw_size(&first.records[self.skip..self.skip + remaining]);
                self.skip += remaining;
                remaining = 0;
            }
        }
        self.raw_bytes = self.raw_bytes.saturating_sub(removed_bytes);
        removed_bytes
    }

    /// The held records, in offset order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Arc<LogRecord>> + '_ {
        self.iter_from(0)
    }

    /// The held records from the `start`-th on, in offset order; whole chunks before it are
    /// skipped without being walked.
    pub(crate) fn iter_from(&self, start: usize) -> impl Iterator<Item = &Arc<LogRecord>> + '_ {
        let mut start = start.saturating_add(self.skip);
        let mut first_chunk = self.chunks.len();
        for (at, chunk) in self.chunks.iter().enumerate() {
            if start < chunk.records.len() {
                first_chunk = at;
                break;
            }
            start -= chunk.records.len();
        }
        self.chunks
            .range(first_chunk..)
            .enumerate()
            .flat_map(move |(at, chunk)| {
                let from = if at == 0 { start } else { 0 };
                chunk.records[from..].iter()
            })
    }

    /// The held records whose time is in `[from_nanos, to_nanos)`, each with its position
    /// among the held records, in offset order. Chunks entirely outside the range are
    /// skipped without touching their records.
    pub(crate) fn in_range(
        &self,
        from_nanos: u64,
        to_nanos: u64,
    ) -> impl Iterator<Item = (usize, &Arc<LogRecord>)> + '_ {
        let skip = self.skip;
        let mut position = 0usize;
        self.chunks
            .iter()
            .enumerate()
            .flat_map(move |(at, chunk)| {
                let from = if at == 0 { skip } else { 0 };
                let first = position;
                position += chunk.records.len() - from;
                let overlaps = chunk.max_nanos >= from_nanos && chunk.min_nanos < to_nanos;
                let records = if overlaps {
                    &chunk.records[from..]
                } else {
                    &[]
                };
                records.iter().enumerate().map(move |(i, r)| (first + i, r))
            })
            .filter(move |(_, record)| {
                let time = record.time.as_nanos();
                from_nanos <= time && time < to_nanos
            })
    }

    /// The smallest and largest record time, in seconds, over the held chunks (possibly
    /// wider than the held records' own range, see the module doc); `None` when empty.
    pub(crate) fn time_range_seconds(&self) -> Option<(i64, i64)> {
        if self.is_empty() {
            return None;
        }
        let seconds = |nanos: u64| i64::try_from(nanos / 1_000_000_000).unwrap_or(i64::MAX);
        let min = self.chunks.iter().map(|c| c.min_nanos).min()?;
        let max = self.chunks.iter().map(|c| c.max_nanos).max()?;
        Some((seconds(min), seconds(max)))
    }
}

fn raw_size(records: &[Arc<LogRecord>]) -> u64 {
    records.iter().map(|record| record.raw_size() as u64).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_model::{Field, LogTime};

    fn record(seconds: u32, tag: &str) -> Arc<LogRecord> {
        Arc::new(LogRecord {
            time: LogTime { seconds, nanos: 0 },
            contents: vec![Field::new("t", tag)],
            ..LogRecord::default()
        })
    }

    fn tags<'a>(records: impl Iterator<Item = &'a Arc<LogRecord>>) -> Vec<String> {
        records
            .map(|record| record.contents[0].value_text().into_owned())
            .collect()
    }

    fn three_chunks() -> MemoryRecords {
        let mut memory = MemoryRecords::default();
        memory.push(vec![record(10, "a"), record(11, "b"), record(12, "c")], 30);
        memory.push(Vec::new(), 0);
        memory.push(vec![record(20, "d")], 10);
        memory.push(vec![record(30, "e"), record(5, "f")], 20);
        memory
    }

    #[test]
    fn iterates_from_any_position_across_chunks() {
        let memory = three_chunks();
        assert_eq!(memory.len(), 6);
        assert_eq!(tags(memory.iter()), ["a", "b", "c", "d", "e", "f"]);
        for start in 0..8 {
            let expected: Vec<String> = tags(memory.iter()).into_iter().skip(start).collect();
            assert_eq!(tags(memory.iter_from(start)), expected, "from {start}");
        }
    }

    #[test]
    fn dropping_from_the_front_counts_raw_bytes_of_whole_and_partial_chunks() {
        let mut memory = three_chunks();
        let snapshot = memory.clone();
        assert_eq!(memory.raw_bytes(), 60);
        // Part of the first chunk: measured record by record (each record's raw size is
        // 8 + key + value = 10).
        assert_eq!(memory.drop_front(2), 20);
        assert_eq!(tags(memory.iter()), ["c", "d", "e", "f"]);
        assert_eq!(tags(memory.iter_from(1)), ["d", "e", "f"]);
        assert_eq!(memory.raw_bytes(), 40);
        // The rest of the first chunk and all of the second.
        assert_eq!(memory.drop_front(2), 20);
        assert_eq!(tags(memory.iter()), ["e", "f"]);
        // A whole chunk counts as it was appended.
        assert_eq!(memory.drop_front(5), 20);
        assert!(memory.is_empty());
        assert_eq!(memory.raw_bytes(), 0);
        assert_eq!(memory.iter().count(), 0);
        assert_eq!(memory.time_range_seconds(), None);
        // The snapshot taken earlier is unaffected.
        assert_eq!(snapshot.len(), 6);
        assert_eq!(snapshot.raw_bytes(), 60);
        assert_eq!(tags(snapshot.iter()), ["a", "b", "c", "d", "e", "f"]);
    }

    #[test]
    fn ranges_skip_chunks_outside_and_keep_positions() {
        let mut memory = three_chunks();
        let in_range = |memory: &MemoryRecords, from: u32, to: u32| -> Vec<(usize, String)> {
            memory
                .in_range(
                    LogTime::new(from, 0).as_nanos(),
                    LogTime::new(to, 0).as_nanos(),
                )
                .map(|(at, record)| (at, record.contents[0].value_text().into_owned()))
                .collect()
        };
        assert_eq!(
            in_range(&memory, 11, 21),
            [(1, "b".into()), (2, "c".into()), (3, "d".into())]
        );
        assert_eq!(in_range(&memory, 0, 10), [(5, "f".into())]);
        assert_eq!(memory.time_range_seconds(), Some((5, 30)));
        memory.drop_front(1);
        assert_eq!(in_range(&memory, 0, 12), [(0, "b".into()), (4, "f".into())]);
    }
}
