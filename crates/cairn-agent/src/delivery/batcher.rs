//! Per-file queues and the rules that cut them into batches.
//!
//! Invariants: a file has at most one batch in flight; a batch holds consecutive records of
//! one file sharing one [`Context`]; a file whose checkpoint holds a pending batch from before
//! a restart gets, as its first batch, exactly the records up to that batch's end (see the
//! [exactly-once protocol](super)).

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cairn_model::{Field, LogEntry};

use super::sink::WriteTarget;
use crate::input::PendingBatch;
use crate::source::FileKey;

/// What a submit's records share.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Context {
    pub target: WriteTarget,
    pub topic: Bytes,
    pub tags: Vec<Field>,
}

/// One queued record.
#[derive(Debug)]
pub(crate) struct Item {
    pub start: u64,
    pub end: u64,
    pub path: PathBuf,
    pub entry: Option<LogEntry>,
    pub context: Arc<Context>,
    pub size: usize,
    pub queued_at: Instant,
}

/// Which sequence id a batch carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SequenceRule {
    /// The checkpoint's `next_sequence`.
    Next,
    /// Re-send of the pending batch from before a restart.
    Reuse(PendingBatch),
    /// The pending batch could not be re-formed exactly: skip past its sequence id.
    After(PendingBatch),
}

/// Records cut from one file's queue, to be sent as one PutLogs.
#[derive(Debug)]
pub(crate) struct Batch {
    pub key: FileKey,
    pub items: Vec<Item>,
    pub sequence: SequenceRule,
}

impl Batch {
    pub fn start(&self) -> u64 {
        self.items.first().map_or(0, |i| i.start)
    }

    pub fn end(&self) -> u64 {
        self.items.last().map_or(0, |i| i.end)
    }
}

#[derive(Debug, Default)]
struct Stream {
    items: VecDeque<Item>,
    bytes: usize,
    in_flight: bool,
    recovery: Option<PendingBatch>,
}

/// Limits a batch is cut by.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchLimits {
    pub max_bytes: usize,
    pub max_records: usize,
    pub max_delay: Duration,
}

/// Every file's queue.
#[derive(Debug, Default)]
pub(crate) struct Batcher {
    streams: HashMap<FileKey, Stream>,
    pub queued_bytes: usize,
    pub in_flight: usize,
}

/// The rough size a record adds to a batch.
pub(crate) fn entry_size(entry: Option<&LogEntry>) -> usize {
    let fields = |e: &LogEntry| {
        e.contents
            .iter()
            .map(|f| f.key.len() + f.value.len() + 4)
            .sum()
    };
    16 + entry.map_or(0, fields)
}

impl Batcher {
    /// Queues `item` for `key`; a new queue asks `pending` for a pre-restart batch.
    pub fn push(
        &mut self,
        key: FileKey,
        item: Item,
        pending: impl FnOnce() -> Option<PendingBatch>,
    ) {
        let stream = self.streams.entry(key).or_insert_with(|| Stream {
            recovery: pending()
                .filter(|p| p.start_offset == item.start && p.end_offset > item.start),
            ..Stream::default()
        });
        self.queued_bytes += item.size;
        stream.bytes += item.size;
        stream.items.push_back(item);
    }

    /// Cuts the batches that are due (all non-empty ones when `force`), at most `max_new`.
    /// Also returns when the next one falls due.
    pub fn take_ready(
        &mut self,
        limits: BatchLimits,
        force: bool,
        max_new: usize,
    ) -> (Vec<Batch>, Option<Instant>) {
        let now = Instant::now();
        let mut batches = Vec::new();
        let mut deadline: Option<Instant> = None;
        for (key, stream) in &mut self.streams {
            if stream.in_flight || stream.items.is_empty() {
                continue;
            }
            if batches.len() >= max_new {
                break;
            }
            let (count, sequence) = match stream.recovery {
                Some(pending) => match recovery_cut(stream, pending) {
                    Some(cut) => cut,
                    None => continue, // Its records are still being re-read.
                },
                None => {
                    let due_at = stream.items.front().map(|i| i.queued_at + limits.max_delay);
                    let due = force
                        || stream.bytes >= limits.max_bytes
                        || stream.items.len() >= limits.max_records
                        || due_at.is_some_and(|at| at <= now);
                    if !due {
                        deadline = match (deadline, due_at) {
                            (Some(d), Some(at)) => Some(d.min(at)),
                            (d, at) => d.or(at),
                        };
                        continue;
                    }
                    (limit_cut(stream, limits), SequenceRule::Next)
                }
            };
            stream.recovery = None;
            let items: Vec<Item> = stream.items.drain(..count).collect();
            let bytes: usize = items.iter().map(|i| i.size).sum();
            stream.bytes -= bytes;
            self.queued_bytes -= bytes;
            stream.in_flight = true;
            self.in_flight += 1;
            batches.push(Batch {
                key: key.clone(),
                items,
                sequence,
            });
        }
        (batches, deadline)
    }

    /// A batch of `key` is resolved.
    pub fn finish(&mut self, key: &FileKey) {
        if let Some(stream) = self.streams.get_mut(key) {
            stream.in_flight = false;
            self.in_flight = self.in_flight.saturating_sub(1);
            if stream.items.is_empty() {
                self.streams.remove(key);
            }
        }
    }

    /// Whether nothing is queued or in flight, except files waiting for re-read records.
    pub fn is_drained(&self) -> bool {
        self.in_flight == 0
            && self.streams.values().all(|s| {
                s.items.is_empty()
                    || s.recovery
                        .is_some_and(|p| s.items.back().is_some_and(|i| i.end < p.end_offset))
            })
    }
}

/// How many items the pre-restart batch `pending` takes, if enough have arrived.
fn recovery_cut(stream: &Stream, pending: PendingBatch) -> Option<(usize, SequenceRule)> {
    let index = stream
        .items
        .iter()
        .position(|i| i.end >= pending.end_offset)?;
    if stream.items[index].end == pending.end_offset {
        return Some((index + 1, SequenceRule::Reuse(pending)));
    }
    tracing::warn!(
        sequence = pending.sequence,
        end_offset = pending.end_offset,
        "records no longer end where the pre-restart batch did; part of it may be sent twice"
    );
    if index == 0 {
        Some((1, SequenceRule::After(pending)))
    } else {
        Some((index, SequenceRule::Reuse(pending)))
    }
}

/// How many items a due batch takes within the limits (at least one).
fn limit_cut(stream: &Stream, limits: BatchLimits) -> usize {
    let Some(first) = stream.items.front() else {
        return 0;
    };
    let mut bytes = 0;
    let mut count = 0;
    for item in &stream.items {
        let same = Arc::ptr_eq(&item.context, &first.context) || item.context == first.context;
        let fits = count == 0 || bytes + item.size <= limits.max_bytes;
        if !same || !fits || count >= limits.max_records.max(1) {
            break;
        }
        bytes += item.size;
        count += 1;
    }
    count
}
