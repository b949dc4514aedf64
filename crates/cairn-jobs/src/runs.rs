//! Turning a batch of transformed records into appends: runs of consecutive records that
//! share topic, source and tags, each becoming one `LogGroupData`.
//!
//! Invariants: a run's entries keep source-offset order, and a run is identified for
//! exactly-once purposes by the offset of its last entry (its sequence id is that offset plus
//! one). Everything below a committed sequence id has been handled, so a run can always be
//! cut at a "horizon" offset: entries below it were written by an earlier attempt.

use bytes::Bytes;
use cairn_model::{Field, LogEntry, LogGroupData, LogRecord};

/// One entry of a run: the transformed record and where it came from.
#[derive(Debug, Clone)]
pub(crate) struct RunEntry {
    /// The source offset of the record.
    pub offset: u64,
    /// Its time and contents.
    pub entry: LogEntry,
    /// Its raw size as SLS meters it (with the run's topic, source and tags).
    pub raw_bytes: u64,
}

/// Consecutive records sharing topic, source and tags.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    pub topic: Bytes,
    pub source: Bytes,
    pub tags: Vec<Field>,
    pub entries: Vec<RunEntry>,
}

/// Records and bytes handled by part of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub records: u64,
    pub bytes: u64,
}

impl Tally {
    pub(crate) fn add(&mut self, other: Tally) {
        self.records += other.records;
        self.bytes += other.bytes;
    }
}

impl Run {
    /// The sequence id that commits this run: its last source offset plus one.
    pub(crate) fn sequence_id(&self) -> u64 {
        self.entries.last().map_or(0, |entry| entry.offset + 1)
    }

    /// What this run writes.
    pub(crate) fn tally(&self) -> Tally {
        Tally {
            records: self.entries.len() as u64,
            bytes: self.entries.iter().map(|entry| entry.raw_bytes).sum(),
        }
    }

    /// Cuts the entries below `horizon` off (they were written before) and returns what they
    /// were; the run keeps the rest, possibly nothing.
    pub(crate) fn cut_below(&mut self, horizon: u64) -> Tally {
        let below = self.entries.partition_point(|entry| entry.offset < horizon);
        let done: Vec<RunEntry> = self.entries.drain(..below).collect();
        Tally {
            records: done.len() as u64,
            bytes: done.iter().map(|entry| entry.raw_bytes).sum(),
        }
    }

    /// Splits a run of at least two entries into two halves, in order.
    pub(crate) fn halves(mut self) -> (Run, Run) {
        let second = self.entries.split_off(self.entries.len() / 2);
        let tail = Run {
            topic: self.topic.clone(),
            source: self.source.clone(),
            tags: self.tags.clone(),
            entries: second,
        };
        (self, tail)
    }

    /// The group to append.
    pub(crate) fn group(&self) -> LogGroupData {
        LogGroupData {
            topic: self.topic.clone(),
            source: self.source.clone(),
            tags: self.tags.clone(),
            logs: self
                .entries
                .iter()
                .map(|entry| entry.entry.clone())
                .collect(),
        }
    }
}

/// Groups transformed records (in source-offset order) into runs.
pub(crate) fn group_runs(records: Vec<(u64, LogRecord)>) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    for (offset, record) in records {
        let raw_bytes = record.raw_size() as u64;
        let LogRecord {
            time,
            topic,
            source,
            tags,
            contents,
        } = record;
        let entry = RunEntry {
            offset,
            entry: LogEntry { time, contents },
            raw_bytes,
        };
        match runs.last_mut() {
            Some(run) if run.topic == topic && run.source == source && run.tags == tags => {
                run.entries.push(entry);
            }
            _ => runs.push(Run {
                topic,
                source,
                tags,
                entries: vec![entry],
            }),
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use cairn_model::LogTime;

    use super::*;

    fn record(topic: &str, message: &str) -> LogRecord {
        LogRecord {
            time: LogTime::new(5, 0),
            topic: Bytes::copy_from_slice(topic.as_bytes()),
            contents: vec![Field::new("m", message)],
            ..LogRecord::default()
        }
    }

    #[test]
    fn runs_follow_changes_of_topic_and_cut_at_a_horizon() {
        let runs = group_runs(vec![
            (3, record("a", "1")),
            (4, record("a", "2")),
            (7, record("b", "3")),
            (9, record("a", "4")),
        ]);
        assert_eq!(runs.len(), 3);
        assert_eq!(runs[0].sequence_id(), 5);
        assert_eq!(runs[1].sequence_id(), 8);
        assert_eq!(runs[2].sequence_id(), 10);
        assert_eq!(runs[0].group().logs.len(), 2);
        assert_eq!(&runs[1].group().topic[..], b"b");

        let mut first = runs[0].clone();
        let whole = first.tally();
        assert_eq!(whole.records, 2);
        let cut = first.cut_below(4);
        assert_eq!(cut.records, 1);
        assert_eq!(first.entries.len(), 1);
        assert_eq!(first.sequence_id(), 5);
        assert_eq!(cut.bytes + first.tally().bytes, whole.bytes);
        assert_eq!(first.cut_below(100).records, 1);
        assert!(first.entries.is_empty());

        let (head, tail) = runs[0].clone().halves();
        assert_eq!(head.sequence_id(), 4);
        assert_eq!(tail.sequence_id(), 5);
    }
}
