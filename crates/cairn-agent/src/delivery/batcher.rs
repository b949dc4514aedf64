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
//! not once per record. Likewise the time records were queued is kept once per submit
//! (`Stream::arrivals`), not per record: a queued record is just the [`ProcessedRecord`]
//! (queued records are moved several times on their way to a batch, and every byte of them
//! moved costs when a backlog is read at hundreds of MB/s).

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cairn_model::{Field, LogEntry};

use super::sink::WriteTarget;
use super::ProcessedRecord;
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
pub(crate) type Item = ProcessedRecord;

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

/// Records cut from one file's queue, to be sent as one PutLogs: the file bytes
/// `[start, end)`, and the entries of those records the processors kept.
#[derive(Debug)]
pub(crate) struct Batch {
    pub key: FileKey,
    /// The path the file had when its latest records were read.
    pub path: PathBuf,
    pub context: Arc<Context>,
    pub start: u64,
    pub end: u64,
    pub logs: Vec<LogEntry>,
    /// Sum of the records' sizes ([`ProcessedRecord::size`]).
    pub bytes: u64,
    pub sequence: SequenceRule,
}

/// The first records of a queue, taken in one pass (they are moved once, into `logs`).
struct Drained {
    context: Arc<Context>,
    start: u64,
    end: u64,
    logs: Vec<LogEntry>,
    /// Sums of [`ProcessedRecord::size`] and [`queued_memory`].
    bytes: usize,
    memory: usize,
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
    /// When each submit still (partly) queued arrived, oldest first, with the end offset of
    /// its last record: the front one is when the oldest queued record was queued.
    arrivals: VecDeque<(u64, Instant)>,
    in_flight: bool,
    recovery: Option<PendingBatch>,
    path: PathBuf,
}

impl Stream {
    fn items(&self) -> impl Iterator<Item = &Item> {
        self.segments.iter().flat_map(|s| s.items.iter())
    }

    fn back(&self) -> Option<&Item> {
        self.segments.back().and_then(|s| s.items.back())
    }

    /// Takes the first `count` (at least one) records, with the context of the first one.
    fn drain(&mut self, count: usize) -> Option<Drained> {
        if count == 0 {
            return None;
        }
        let front = self.segments.front()?;
        let mut drained = Drained {
            context: front.context.clone(),
            start: front.items.front()?.start_offset,
            end: 0,
            logs: Vec::with_capacity(count),
            bytes: 0,
            memory: 0,
        };
        let mut taken = 0;
        while taken < count {
            let Some(segment) = self.segments.front_mut() else {
                break;
            };
            let take = (count - taken).min(segment.items.len());
            for item in segment.items.drain(..take) {
                drained.bytes += item.size();
                drained.memory += queued_memory(&item);
                drained.end = item.end_offset;
                drained.logs.extend(item.entry);
            }
            taken += take;
            if segment.items.is_empty() {
                self.segments.pop_front();
            }
        }
        self.records -= taken;
        while self
            .arrivals
            .front()
            .is_some_and(|(last, _)| *last <= drained.end)
        {
            self.arrivals.pop_front();
        }
        Some(drained)
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

/// Roughly the memory a queued record holds: its bytes ([`entry_size`]) plus the
/// structures around them, which for a record parsed into many small fields weigh more
/// than its bytes (bounding the queue by size alone let a regex-parsed backlog take three
/// times the intended memory).
pub(crate) fn queued_memory(item: &Item) -> usize {
    /// The queue item and the entry's field list.
    const PER_RECORD: usize = 96;
    /// One field: two byte slices.
    const PER_FIELD: usize = 64;
    let fields = item.entry.as_ref().map_or(0, |e| e.contents.len());
    item.size() + PER_RECORD + fields * PER_FIELD
}

impl Batcher {
    /// Queues `items` (consecutive records of `key`, in file order) under `context`, as
    /// arrived at `now`; the file's path is now `path`. A new queue asks `pending` for a
    /// pre-restart batch.
    pub fn push(
        &mut self,
        key: &FileKey,
        path: PathBuf,
        context: Arc<Context>,
        items: Vec<Item>,
        now: Instant,
        pending: impl FnOnce() -> Option<PendingBatch>,
    ) {
        let (Some(first_start), Some(last_end)) = (
            items.first().map(|i| i.start_offset),
            items.last().map(|i| i.end_offset),
        ) else {
            return;
        };
        if !self.streams.contains_key(key) {
            let recovery =
                pending().filter(|p| p.start_offset == first_start && p.end_offset > first_start);
            let stream = Stream {
                segments: VecDeque::new(),
                records: 0,
                bytes: 0,
                arrivals: VecDeque::new(),
                in_flight: false,
                recovery,
                path: PathBuf::new(),
            };
            self.streams.insert(key.clone(), stream);
        }
        let Some(stream) = self.streams.get_mut(key) else {
            return;
        };
        let (bytes, memory) = items.iter().fold((0, 0), |(bytes, memory), item| {
            (bytes + item.size(), memory + queued_memory(item))
        });
        self.queued_bytes += memory;
        stream.bytes += bytes;
        stream.records += items.len();
        stream.arrivals.push_back((last_end, now));
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
                    let due_at = stream
                        .arrivals
                        .front()
                        .map(|(_, at)| *at + limits.max_delay);
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
            let Some(drained) = stream.drain(count) else {
                continue;
            };
            tracing::trace!(
                records = count,
                bytes = drained.bytes,
                queued = stream.records,
                "batch cut"
            );
            stream.recovery = None;
            stream.bytes -= drained.bytes;
            self.queued_bytes -= drained.memory;
            stream.in_flight = true;
            self.in_flight += 1;
            batches.push(Batch {
                key: key.clone(),
                path: stream.path.clone(),
                context: drained.context,
                start: drained.start,
                end: drained.end,
                logs: drained.logs,
                bytes: drained.bytes as u64,
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
                        .is_some_and(|p| s.back().is_some_and(|i| i.end_offset < p.end_offset))
            })
    }
}

/// How many items the pre-restart batch `pending` takes, if enough have arrived.
fn recovery_cut(stream: &Stream, pending: PendingBatch) -> Option<(usize, SequenceRule)> {
    let (index, item) = stream
        .items()
        .enumerate()
        .find(|(_, i)| i.end_offset >= pending.end_offset)?;
    if item.end_offset == pending.end_offset {
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
        let fits = count == 0 || bytes + item.size() <= limits.max_bytes;
        if !fits || count >= max_records {
            break;
        }
        bytes += item.size();
        count += 1;
    }
    count
}
