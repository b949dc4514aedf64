//! # Delivery: batches, exactly-once sends, and the outage buffer
//!
//! [`Delivery`] takes the records the inputs read (after processing), batches them per file,
//! sends each batch as one SLS PutLogs with a producer key and sequence id, and moves the
//! file's checkpoint only once the batch is safe: committed by the server, or owned by the
//! durable [`disk_buffer`].
//!
//! ## Shape
//!
//! [`Delivery::submit_file`] appends one file's records to its queue and returns (waiting
//! only while more than `max_queued_bytes` are queued: backpressure on the tailer). A worker task
//! cuts batches — at `max_batch_bytes`, `max_batch_records`, `max_batch_delay` after the
//! oldest queued record, on a change of target/topic/tags, or on [`Delivery::flush`] — and
//! runs up to `max_in_flight` sends at once, **at most one per file**. A replayer task
//! drains the disk buffer. [`Delivery::shutdown`] flushes and stops both; dropping a
//! `Delivery` aborts them (that is what a crash looks like, and the protocol below is built
//! to survive it).
//!
//! ## Exactly-once protocol
//!
//! The server keeps, per (logstore, shard, producer key), the last sequence id it committed,
//! commits it atomically with the records, and answers `InvalidSequenceId` to any sequence id
//! not above it. The agent uses, for each file:
//!
//! * `producer_key = "<host_id>:<config>:<device>:<inode>:<fingerprint as 16 hex digits>"`;
//! * sequence ids from the checkpoint's `next_sequence`, strictly increasing, starting at the
//!   checkpoint's creation time in microseconds ([`crate::input::initial_sequence`]: a key
//!   that returns after its checkpoint was forgotten must not reuse ids the server already
//!   holds); batches of one file are sent one at a time, in file order.
//!
//! For a batch covering file bytes `[start, end)` with sequence `n`:
//!
//! 1. persist `pending = {n, start, end}` in the checkpoint (durable) — *before* any send;
//! 2. send it (or, during an outage, append it to the disk buffer, durably);
//! 3. on `Acked` or `AlreadyCommitted` (or once buffered, or once counted as rejected),
//!    record `{offset: end, next_sequence: n + 1, pending: None}`.
//!
//! Step 3 is *staged* ([`CheckpointStore::stage`]): it is in the table at once but written
//! only with the next durable write — normally step 1 of the file's next batch (or of any
//! other file's), else a sync at most `checkpoint_sync_delay` later, at [`Delivery::flush`]
//! and at shutdown. So one checkpoint write per batch instead of two, and fewer under load,
//! where concurrent writes coalesce. The table on disk only ever holds states the protocol
//! already allows: losing a staged step 3 in a crash leaves step 1's `pending`, which the
//! restart handles exactly as a crash between send and acknowledgement (below).
//!
//! After a crash the tailer resumes the file at `offset` (= `start`) and cuts a record at
//! `end` (a forced boundary), and delivery forms the file's first batch to end exactly at
//! `pending.end_offset` and sends it with `pending.sequence`: if the first attempt had landed
//! the server answers `InvalidSequenceId` ([`PutOutcome::AlreadyCommitted`]) and nothing is
//! duplicated; if not, it lands now. Either way every line is committed once.
//!
//! A batch whose records were all filtered out by processors is not sent, but its offsets
//! still advance (without using a sequence id). A rejected batch (4xx data error) is dropped
//! — counted as `rejected_by_server` and logged — and its sequence id is not reused.
//!
//! ## Outages
//!
//! A send that fails transiently is retried `direct_attempts` times with jittered exponential
//! back-off ([`backoff`]), then the batch goes to the disk buffer and the checkpoint advances,
//! so reading continues (and a rotated or deleted file's data is safe). While the buffer holds
//! anything, every new batch is appended behind it rather than sent directly: the buffer is
//! replayed strictly in append order, which keeps each producer key's sequence ids in order
//! (the server would take a later id first and then refuse the earlier one as a replay). The
//! buffer is bounded by size and age; what it drops (oldest first) is counted by reason
//! (`buffer_full`, `buffer_expired`) in [`AgentMetrics`] and logged.
//!
//! Replay is one global queue: a batch the server keeps refusing transiently (say, expired
//! credentials for one project) holds the others back until it succeeds or expires.
//!
//! Local failures (a checkpoint or buffer write failing, e.g. a full disk) are retried with
//! back-off forever, holding the batch: nothing is dropped for them.

mod backoff;
mod batcher;
mod buffer_files;
mod buffer_record;
pub mod disk_buffer;
mod http_sink;
mod send;
mod sink;
mod worker;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use cairn_model::{Field, LogEntry};
use tokio::task::JoinHandle;

pub use backoff::Backoff;
pub use buffer_record::BufferedBatch;
pub use disk_buffer::{BufferDrop, BufferError, DiskBuffer, DiskBufferOptions};
pub use http_sink::{CredentialSource, HttpLogSink, StaticCredentials};
pub use sink::{LogSink, NullSink, PutOutcome, SinkError, WriteCredentials, WriteTarget};

use crate::input::{CheckpointError, CheckpointStore};
use crate::metrics::AgentMetrics;
use crate::process::FieldLists;
use crate::source::{FileKey, SourceRecord};
use batcher::Context;
use worker::Shared;

/// How delivery batches and retries.
#[derive(Debug, Clone)]
pub struct DeliveryOptions {
    /// A batch is cut once its contents reach this many bytes (default 1 MiB: with
    /// `max_batch_records`, one batch of typical lines; every batch costs a durable
    /// checkpoint write, so smaller batches cost CPU, see `BENCHMARKS.md`).
    pub max_batch_bytes: usize,
    /// ... or this many records (default 4096).
    pub max_batch_records: usize,
    /// ... or when its oldest record has waited this long (default 1 s).
    pub max_batch_delay: Duration,
    /// This host's id, the first part of every producer key.
    pub host_id: String,
    /// `__source__` of every group (the host's IP, usually).
    pub source: String,
    /// Sends running at once, over all files (default 16).
    pub max_in_flight: usize,
    /// `submit` waits while queued records hold more than this much memory (estimated:
    /// their bytes and the structures around them; default 16 MiB). With what one poll
    /// reads (`max_read_bytes_per_round`) and the batches in flight, this bounds the memory
    /// a backlog takes.
    pub max_queued_bytes: usize,
    /// Direct send attempts before a batch goes to the disk buffer (default 2).
    pub direct_attempts: u32,
    /// Back-off floor (default 200 ms).
    pub backoff_min: Duration,
    /// Back-off ceiling (default 30 s).
    pub backoff_max: Duration,
    /// An acknowledgement no other checkpoint write has carried is written this long after
    /// it (default 1 s; see the exactly-once protocol above).
    pub checkpoint_sync_delay: Duration,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        Self {
            max_batch_bytes: 1024 * 1024,
            max_batch_records: 4096,
            max_batch_delay: Duration::from_secs(1),
            host_id: String::new(),
            source: String::new(),
            max_in_flight: 16,
            max_queued_bytes: 16 * 1024 * 1024,
            direct_attempts: 2,
            backoff_min: Duration::from_millis(200),
            backoff_max: Duration::from_secs(30),
            checkpoint_sync_delay: Duration::from_secs(1),
        }
    }
}

/// Why delivery failed.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// `submit` after `shutdown`.
    #[error("delivery is shut down")]
    Closed,
    /// The checkpoint table could not be written.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The disk buffer could not be written.
    #[error(transparent)]
    Buffer(#[from] BufferError),
    /// A background task ended abnormally.
    #[error("delivery task failed: {0}")]
    Task(String),
}

/// A record after processing, as delivery queues it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessedRecord {
    /// The offset in the file where the record starts.
    pub start_offset: u64,
    /// The offset just past the record.
    pub end_offset: u64,
    /// What to send, or `None` when the processors dropped the record (its offsets still
    /// advance the checkpoint).
    pub entry: Option<LogEntry>,
    /// What the record adds to a batch (`entry_size` of `entry`), measured once, while the
    /// entry is fresh in the cache (measuring it at queueing time was a cache miss per
    /// record).
    size: u32,
}

impl ProcessedRecord {
    /// The record at `[start_offset, end_offset)` of its file, sending `entry`.
    pub fn new(start_offset: u64, end_offset: u64, entry: Option<LogEntry>) -> Self {
        let size = u32::try_from(batcher::entry_size(entry.as_ref())).unwrap_or(u32::MAX);
        Self {
            start_offset,
            end_offset,
            entry,
            size,
        }
    }

    /// What the record adds to a batch, in rough bytes.
    pub(crate) fn size(&self) -> usize {
        self.size as usize
    }
}

/// The producer key of `file` on host `host_id` (see the module docs).
pub fn producer_key(host_id: &str, file: &FileKey) -> String {
    format!(
        "{host_id}:{}:{}:{}:{:016x}",
        file.config, file.device, file.inode, file.fingerprint
    )
}

/// Batches, sends and buffers; see the module docs.
pub struct Delivery {
    shared: Arc<Shared>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery").finish_non_exhaustive()
    }
}

impl Delivery {
    /// Starts delivery (spawns its worker and replayer on the current tokio runtime).
    pub fn new(
        sink: Arc<dyn LogSink>,
        checkpoints: Arc<CheckpointStore>,
        buffer: DiskBuffer,
        metrics: Arc<AgentMetrics>,
        options: DeliveryOptions,
    ) -> Self {
        let shared = Arc::new(Shared::new(sink, checkpoints, buffer, metrics, options));
        let tasks = vec![
            tokio::spawn(worker::run_batcher(shared.clone())),
            tokio::spawn(worker::run_replayer(shared.clone())),
        ];
        Self {
            shared,
            tasks: Mutex::new(tasks),
        }
    }

    /// Queues `records` for `target`. Each comes with its processed entry, or `None` when
    /// processors filtered it out (its offsets must still advance). `tags` and `topic` apply
    /// to all of them. Records of one file must be submitted in file order. (The runtime
    /// uses [`Delivery::submit_file`], which takes one file's records without a copy of the
    /// file's key per record.)
    pub async fn submit(
        &self,
        target: WriteTarget,
        records: Vec<(SourceRecord, Option<LogEntry>)>,
        tags: Vec<Field>,
        topic: Bytes,
    ) -> Result<(), DeliveryError> {
        let context = Arc::new(Context {
            target,
            topic,
            tags,
        });
        let mut groups: Vec<(FileKey, PathBuf, Vec<ProcessedRecord>)> = Vec::new();
        for (record, entry) in records {
            let processed = ProcessedRecord::new(record.start_offset, record.end_offset, entry);
            match groups.last_mut() {
                Some((file, path, group)) if *file == record.file => {
                    *path = record.path;
                    group.push(processed);
                }
                _ => groups.push((record.file, record.path, vec![processed])),
            }
        }
        for (file, path, group) in groups {
            self.shared
                .submit(context.clone(), &file, path, group)
                .await?;
        }
        Ok(())
    }

    /// Queues records of one file (in file order, after any submitted before), read at
    /// `path`, for `target`; see [`Delivery::submit`].
    pub async fn submit_file(
        &self,
        target: WriteTarget,
        file: &FileKey,
        path: PathBuf,
        records: Vec<ProcessedRecord>,
        tags: Vec<Field>,
        topic: Bytes,
    ) -> Result<(), DeliveryError> {
        let context = Arc::new(Context {
            target,
            topic,
            tags,
        });
        self.shared.submit(context, file, path, records).await
    }

    /// Waits until every record submitted so far is resolved: acknowledged, buffered, or
    /// counted as dropped, and the checkpoints saying so are durable. (A file whose
    /// pre-crash batch is still being re-read is waited for only once its records arrive.)
    pub async fn flush(&self) -> Result<(), DeliveryError> {
        self.shared.flush(false).await
    }

    /// Like [`Delivery::flush`], and also waits until the disk buffer is empty.
    pub async fn wait_idle(&self) -> Result<(), DeliveryError> {
        self.shared.flush(true).await
    }

    /// The pool the field lists of sent batches return to: build entries in lists taken
    /// from it ([`crate::process::Pipeline::process_text_in`]) to spare an allocation and a
    /// free per record.
    pub fn field_lists(&self) -> Arc<FieldLists> {
        self.shared.field_lists.clone()
    }

    /// Batches held by the disk buffer.
    pub fn buffered_batches(&self) -> usize {
        self.shared.buffered_batches()
    }

    /// Flushes, then stops the tasks. What the buffer holds stays on disk for the next start.
    pub async fn shutdown(&self) -> Result<(), DeliveryError> {
        self.shared.flush(false).await?;
        self.shared.close();
        let tasks: Vec<JoinHandle<()>> = std::mem::take(&mut *worker::lock(&self.tasks));
        for task in tasks {
            task.await.map_err(|e| DeliveryError::Task(e.to_string()))?;
        }
        Ok(())
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        for task in worker::lock(&self.tasks).iter() {
            task.abort();
        }
    }
}
