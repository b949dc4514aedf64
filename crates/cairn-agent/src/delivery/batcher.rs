//! Per-file queues and the rules that cut them into batches.
//!
//! Invariants: a file has at most one batch in flight; a batch holds consecutive records of
//! one file sharing one [`Context`]; a file whose checkpoint holds a pending batch from before
//! a restart gets, as its first batch, exactly the records up to that batch's end (see the
//! [exactly-once protocol](super)).
//!
//! A file's queue is a list of [`Segment`]s, runs of records sharing one context: a submit
//! whose context equals the last segment's extends it, so the context is held once per run
//! rather than once per record, and the queue is found once per submitted group of records,
//! not once per record.

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
    pub entry: Option<LogEntry>,
    /// [`entry_size`]: what the record adds to a batch.
    pub size: usize,
    /// [`queued_memory`]: what the record holds in memory while queued.
    pub memory: usize,
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
    /// The path the file had when its latest records were read.
    pub path: PathBuf,
    pub context: Arc<Context>,
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

/// Consecutive queued records of one file sharing one context.
#[derive(Debug)]
struct Segment {
    context: Arc<Context>,
    items: VecDeque<Item>,
}

#[derive(Debug)]
struct Stream {
    segments: VecDeque<Segment>,
    /// Records queued, over all segments.
    records: usize,
    bytes: usize,
    in_flight: bool,
    recovery: Option<PendingBatch>,
    path: PathBuf,
}

impl Stream {
    fn items(&self) -> impl Iterator<Item = &Item> {
        self.segments.iter().flat_map(|s| s.items.iter())
    }

    fn front(&self) -> Option<&Item> {
        self.segments.front().and_then(|s| s.items.front())
    }

    fn back(&self) -> Option<&Item> {
        self.segments.back().and_then(|s| s.items.back())
    }

    /// Takes the first `count` records, with the context of the first one.
    fn drain(&mut self, count: usize) -> Option<(Arc<Context>, Vec<Item>)> {
        let context = self.segments.front()?.context.clone();
        let mut items = Vec::with_capacity(count);
        while items.len() < count {
            let Some(segment) = self.segments.front_mut() else {
                break;
            };
            let take = (count - items.len()).min(segment.items.len());
            items.extend(segment.items.drain(..take));
            if segment.items.is_empty() {
                self.segments.pop_front();
            }
        }
        self.records -= items.len();
        Some((context, items))
    }
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
    /// [`queued_memory`] of every queued record (the backpressure measure).
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

/// Roughly the memory a queued record of `size` ([`entry_size`]) holds: its bytes plus the
/// structures around them, which for a record parsed into many small fields weigh more
/// than its bytes (bounding the queue by `size` alone let a regex-parsed backlog take three
/// times the intended memory).
pub(crate) fn queued_memory(entry: Option<&LogEntry>, size: usize) -> usize {
    /// The queue item and the entry's field list.
    const PER_RECORD: usize = 96;
    /// One field: two byte slices.
    const PER_FIELD: usize = 64;
    size + PER_RECORD + entry.map_or(0, |e| e.contents.len() * PER_FIELD)
}

impl Batcher {
    /// Queues `items` (consecutive records of `key`, in file order) under `context`; the
    /// file's path is now `path`. A new queue asks `pending` for a pre-restart batch.
    pub fn push(
        &mut self,
        key: &FileKey,
        path: PathBuf,
        context: Arc<Context>,
        items: Vec<Item>,
        pending: impl FnOnce() -> Option<PendingBatch>,
    ) {
        let Some(first_start) = items.first().map(|i| i.start) else {
            return;
        };
        if !self.streams.contains_key(key) {
            let recovery =
                pending().filter(|p| p.start_offset == first_start && p.end_offset > first_start);
            let stream = Stream {
                segments: VecDeque::new(),
                records: 0,
                bytes: 0,
                in_flight: false,
                recovery,
                path: PathBuf::new(),
            };
            self.streams.insert(key.clone(), stream);
        }
        let Some(stream) = self.streams.get_mut(key) else {
            return;
        };
        let bytes: usize = items.iter().map(|i| i.size).sum();
        self.queued_bytes += items.iter().map(|i| i.memory).sum::<usize>();
        stream.bytes += bytes;
        stream.records += items.len();
        stream.path = path;
        match stream.segments.back_mut() {
            Some(last) if Arc::ptr_eq(&last.context, &context) || last.context == context => {
                last.items.extend(items);
            }
            _ => stream.segments.push_back(Segment {
                context,
                items: VecDeque::from(items),
            }),
        }
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
            if stream.in_flight || stream.records == 0 {
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
                    let due_at = stream.front().map(|i| i.queued_at + limits.max_delay);
                    let due = force
                        || stream.bytes >= limits.max_bytes
                        || stream.records >= limits.max_records
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
            let Some((context, items)) = stream.drain(count) else {
                continue;
            };
            stream.recovery = None;
            stream.bytes -= items.iter().map(|i| i.size).sum::<usize>();
            self.queued_bytes -= items.iter().map(|i| i.memory).sum::<usize>();
            stream.in_flight = true;
            self.in_flight += 1;
            batches.push(Batch {
                key: key.clone(),
                path: stream.path.clone(),
                context,
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
            if stream.records == 0 {
                self.streams.remove(key);
            }
        }
    }

    /// Whether nothing is queued or in flight, except files waiting for re-read records.
    pub fn is_drained(&self) -> bool {
        self.in_flight == 0
            && self.streams.values().all(|s| {
                s.records == 0
                    || s.recovery
                        .is_some_and(|p| s.back().is_some_and(|i| i.end < p.end_offset))
            })
    }
}

/// How many items the pre-restart batch `pending` takes, if enough have arrived.
fn recovery_cut(stream: &Stream, pending: PendingBatch) -> Option<(usize, SequenceRule)> {
    let (index, item) = stream
        .items()
        .enumerate()
        .find(|(_, i)| i.end >= pending.end_offset)?;
    if item.end == pending.end_offset {
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

/// How many items a due batch takes within the limits (at least one), all from the first
/// segment (consecutive segments have different contexts).
fn limit_cut(stream: &Stream, limits: BatchLimits) -> usize {
    let Some(segment) = stream.segments.front() else {
        return 0;
    };
    let max_records = limits.max_records.max(1);
    let mut bytes = 0;
    let mut count = 0;
    for item in &segment.items {
        let fits = count == 0 || bytes + item.size <= limits.max_bytes;
        if !fits || count >= max_records {
            break;
        }
        bytes += item.size;
        count += 1;
    }
    count
}
