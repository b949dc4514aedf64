//! The tasks behind [`super::Delivery`]: the batcher (cuts batches and runs their sends) and
//! the replayer (drains the disk buffer), and the state they share.
//!
//! Locks: `batcher` and `buffer` are never held together, and never across an `.await`; the
//! buffer and the checkpoint table do blocking file I/O, so they are used from
//! `spawn_blocking`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use cairn_model::{LogEntry, LogGroupData};
use tokio::sync::Notify;
use tokio::task::JoinSet;

use super::backoff::Backoff;
use super::batcher::{entry_size, Batch, BatchLimits, Batcher, Context, Item, SequenceRule};
use super::buffer_record::BufferedBatch;
use super::disk_buffer::{now_unix_ms, DiskBuffer};
use super::sink::{LogSink, PutOutcome, SinkError};
use super::{producer_key, DeliveryError, DeliveryOptions};
use crate::input::{CheckpointStore, FileCheckpoint, PendingBatch};
use crate::metrics::{AgentMetrics, DropReason};
use crate::source::SourceRecord;

/// Locks a mutex, recovering the data if a panicking thread poisoned it (every critical
/// section leaves the data consistent between statements that matter).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// State shared by `Delivery` and its tasks.
pub(crate) struct Shared {
    sink: Arc<dyn LogSink>,
    checkpoints: Arc<CheckpointStore>,
    buffer: Arc<Mutex<DiskBuffer>>,
    metrics: Arc<AgentMetrics>,
    options: DeliveryOptions,
    batcher: Mutex<Batcher>,
    /// Callers of `flush`: while any wait, every queue is due.
    flushing: Mutex<usize>,
    closed: AtomicBool,
    wake_batcher: Notify,
    wake_replayer: Notify,
    /// Something was resolved: wakes `flush` and back-pressured `submit`s.
    changed: Notify,
}

impl Shared {
    pub fn new(
        sink: Arc<dyn LogSink>,
        checkpoints: Arc<CheckpointStore>,
        buffer: DiskBuffer,
        metrics: Arc<AgentMetrics>,
        options: DeliveryOptions,
    ) -> Self {
        let shared = Self {
            sink,
            checkpoints,
            buffer: Arc::new(Mutex::new(buffer)),
            metrics,
            options,
            batcher: Mutex::new(Batcher::default()),
            flushing: Mutex::new(0),
            closed: AtomicBool::new(false),
            wake_batcher: Notify::new(),
            wake_replayer: Notify::new(),
            changed: Notify::new(),
        };
        let mut buffer = lock(&shared.buffer);
        shared.account_buffer(&mut buffer);
        drop(buffer);
        shared
    }

    pub fn buffered_batches(&self) -> usize {
        lock(&self.buffer).len()
    }

    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.wake_batcher.notify_one();
        self.wake_replayer.notify_one();
    }

    /// Counts the buffer's drops and refreshes its gauges.
    fn account_buffer(&self, buffer: &mut DiskBuffer) {
        for drop in buffer.take_drops() {
            self.metrics
                .record_drop(drop.reason, drop.records, drop.bytes, &drop.context);
        }
        let gauges = [
            (&self.metrics.buffer_batches, buffer.len() as u64),
            (&self.metrics.buffer_bytes, buffer.bytes()),
        ];
        for (gauge, value) in gauges {
            gauge.store(value, Ordering::Relaxed);
        }
    }

    /// Runs `op` on the buffer on a blocking thread, then accounts its drops.
    async fn with_buffer<T: Send + 'static>(
        self: &Arc<Self>,
        op: impl FnOnce(&mut DiskBuffer) -> T + Send + 'static,
    ) -> Result<T, DeliveryError> {
        let shared = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut buffer = lock(&shared.buffer);
            let result = op(&mut buffer);
            shared.account_buffer(&mut buffer);
            result
        })
        .await
        .map_err(|e| DeliveryError::Task(e.to_string()))
    }

    /// Persists a checkpoint on a blocking thread.
    async fn persist(&self, key: &crate::FileKey, cp: FileCheckpoint) -> Result<(), DeliveryError> {
        let store = self.checkpoints.clone();
        let key = key.clone();
        tokio::task::spawn_blocking(move || store.set(&key, cp))
            .await
            .map_err(|e| DeliveryError::Task(e.to_string()))??;
        Ok(())
    }

    pub async fn submit(
        &self,
        context: Arc<Context>,
        records: Vec<(SourceRecord, Option<LogEntry>)>,
    ) -> Result<(), DeliveryError> {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.closed.load(Ordering::Acquire) {
                return Err(DeliveryError::Closed);
            }
            let queued = lock(&self.batcher).queued_bytes;
            if queued == 0 || queued < self.options.max_queued_bytes {
                break;
            }
            notified.await;
        }
        let now = std::time::Instant::now();
        let mut batcher = lock(&self.batcher);
        for (record, entry) in records {
            let item = Item {
                start: record.start_offset,
                end: record.end_offset,
                path: record.path,
                size: entry_size(entry.as_ref()),
                entry,
                context: context.clone(),
                queued_at: now,
            };
            let store = &self.checkpoints;
            let key = record.file;
            let lookup = || store.get(&key).and_then(|cp| cp.pending);
            batcher.push(key.clone(), item, lookup);
        }
        drop(batcher);
        self.wake_batcher.notify_one();
        Ok(())
    }

    /// Waits until the queues are drained (and the buffer too, with `with_buffer`).
    pub async fn flush(&self, with_buffer: bool) {
        *lock(&self.flushing) += 1;
        self.wake_batcher.notify_one();
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let drained = lock(&self.batcher).is_drained();
            if drained && (!with_buffer || lock(&self.buffer).is_empty()) {
                break;
            }
            notified.await;
        }
        *lock(&self.flushing) -= 1;
    }

    fn limits(&self) -> BatchLimits {
        BatchLimits {
            max_bytes: self.options.max_batch_bytes,
            max_records: self.options.max_batch_records,
            max_delay: self.options.max_batch_delay,
        }
    }

    fn backoff(&self) -> Backoff {
        Backoff::new(self.options.backoff_min, self.options.backoff_max)
    }
}

/// Cuts due batches and runs their sends until closed and drained.
pub(crate) async fn run_batcher(shared: Arc<Shared>) {
    let mut sends = JoinSet::new();
    loop {
        let force = *lock(&shared.flushing) > 0 || shared.closed.load(Ordering::Acquire);
        let room = shared
            .options
            .max_in_flight
            .max(1)
            .saturating_sub(sends.len());
        let (batches, deadline) = lock(&shared.batcher).take_ready(shared.limits(), force, room);
        for batch in batches {
            sends.spawn(send_batch(shared.clone(), batch));
        }
        if shared.closed.load(Ordering::Acquire)
            && sends.is_empty()
            && lock(&shared.batcher).is_drained()
        {
            break;
        }
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = shared.wake_batcher.notified() => {}
            Some(_) = sends.join_next(), if !sends.is_empty() => {}
            () = sleep => {}
        }
    }
}

/// Resolves one batch, retrying local failures forever (they never drop data).
async fn send_batch(shared: Arc<Shared>, batch: Batch) {
    let mut backoff = shared.backoff();
    loop {
        match deliver(&shared, &batch).await {
            Ok(()) => break,
            Err(error) => {
                tracing::error!(%error, config = %batch.key.config, "cannot resolve batch; retrying");
                tokio::time::sleep(backoff.next_delay()).await;
            }
        }
    }
    lock(&shared.batcher).finish(&batch.key);
    shared.changed.notify_waiters();
    shared.wake_batcher.notify_one();
}

/// The exactly-once steps for one batch (see the module docs of `delivery`).
async fn deliver(shared: &Arc<Shared>, batch: &Batch) -> Result<(), DeliveryError> {
    let (start, end) = (batch.start(), batch.end());
    let path: PathBuf = batch
        .items
        .last()
        .map(|i| i.path.clone())
        .unwrap_or_default();
    let mut cp = shared
        .checkpoints
        .get(&batch.key)
        .unwrap_or_else(|| FileCheckpoint::new(path.clone(), start, 0));
    let sequence = match (batch.sequence, cp.pending) {
        (SequenceRule::Reuse(pending), _) => pending.sequence,
        // Our own earlier attempt at this very batch (a local failure made us retry).
        (_, Some(p)) if p.start_offset == start && p.end_offset == end => p.sequence,
        // A pending id that may be taken is never reused for other content.
        (SequenceRule::After(p), _) | (SequenceRule::Next, Some(p)) => {
            cp.next_sequence.max(p.sequence + 1)
        }
        (SequenceRule::Next, None) => cp.next_sequence,
    };
    let logs: Vec<LogEntry> = batch.items.iter().filter_map(|i| i.entry.clone()).collect();
    cp.path = path;
    if logs.is_empty() {
        // Everything was filtered out: advance without using a sequence id, unless this was
        // the pre-restart batch, whose id may be taken.
        if matches!(batch.sequence, SequenceRule::Reuse(_)) {
            cp.next_sequence = cp.next_sequence.max(sequence + 1);
        }
        cp.offset = end;
        cp.pending = None;
        return shared.persist(&batch.key, cp).await;
    }
    let pending = PendingBatch {
        sequence,
        start_offset: start,
        end_offset: end,
    };
    if cp.pending != Some(pending) {
        cp.pending = Some(pending);
        cp.next_sequence = sequence;
        shared.persist(&batch.key, cp.clone()).await?;
    }
    let Some(first) = batch.items.first() else {
        return Ok(());
    };
    let context = &first.context;
    let group = LogGroupData {
        topic: context.topic.clone(),
        source: Bytes::from(shared.options.source.clone()),
        tags: context.tags.clone(),
        logs,
    };
    let key = producer_key(&shared.options.host_id, &batch.key);
    let bytes: u64 = batch.items.iter().map(|i| i.size as u64).sum();
    let buffered = BufferedBatch {
        target: context.target.clone(),
        producer_key: key,
        sequence,
        file: batch.key.clone(),
        start_offset: start,
        end_offset: end,
        created_unix_ms: now_unix_ms(),
        group,
    };
    // While the buffer holds anything, new batches queue behind it (replay order).
    let behind_buffer = !shared.with_buffer(|b| b.is_empty()).await?;
    if behind_buffer {
        shared.to_buffer(buffered).await?;
    } else {
        send_direct(shared, buffered, bytes).await?;
    }
    cp.offset = end;
    cp.next_sequence = sequence + 1;
    cp.pending = None;
    shared.persist(&batch.key, cp).await
}

/// Sends with `direct_attempts` tries; a batch still failing goes to the disk buffer.
async fn send_direct(
    shared: &Arc<Shared>,
    batch: BufferedBatch,
    bytes: u64,
) -> Result<(), DeliveryError> {
    let mut backoff = shared.backoff();
    let attempts = shared.options.direct_attempts.max(1);
    for attempt in 1..=attempts {
        let result = shared
            .sink
            .put(
                &batch.target,
                &batch.producer_key,
                batch.sequence,
                &batch.group,
            )
            .await;
        match result {
            Ok(outcome) => {
                shared.count_delivered(outcome, batch.group.logs.len() as u64, bytes);
                return Ok(());
            }
            Err(SinkError::Rejected { code, reason }) => {
                shared.count_rejected(&batch, bytes, &code, &reason);
                return Ok(());
            }
            Err(SinkError::Transient { reason }) => {
                shared.metrics.send_failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(producer_key = %batch.producer_key, sequence = batch.sequence,
                    attempt, reason, "send failed");
                if attempt < attempts {
                    tokio::time::sleep(backoff.next_delay()).await;
                }
            }
        }
    }
    shared.to_buffer(batch).await
}

impl Shared {
    async fn to_buffer(self: &Arc<Self>, batch: BufferedBatch) -> Result<(), DeliveryError> {
        self.with_buffer(move |buffer| buffer.append(&batch))
            .await??;
        self.metrics
            .batches_buffered
            .fetch_add(1, Ordering::Relaxed);
        self.wake_replayer.notify_one();
        Ok(())
    }

    fn count_delivered(&self, outcome: PutOutcome, records: u64, bytes: u64) {
        let m = &self.metrics;
        match outcome {
            PutOutcome::Acked => {
                m.batches_acked.fetch_add(1, Ordering::Relaxed);
                m.records_delivered.fetch_add(records, Ordering::Relaxed);
                m.bytes_delivered.fetch_add(bytes, Ordering::Relaxed);
            }
            PutOutcome::AlreadyCommitted => {
                m.batches_already_committed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn count_rejected(&self, batch: &BufferedBatch, bytes: u64, code: &str, reason: &str) {
        let context = format!(
            "{} sequence {}: {code}: {reason}",
            batch.producer_key, batch.sequence
        );
        let records = batch.group.logs.len() as u64;
        self.metrics
            .record_drop(DropReason::RejectedByServer, records, bytes, &context);
    }
}

/// Replays the disk buffer in order until closed.
pub(crate) async fn run_replayer(shared: Arc<Shared>) {
    let mut backoff = shared.backoff();
    while !shared.closed.load(Ordering::Acquire) {
        let head = shared
            .with_buffer(|buffer| {
                buffer.expire(now_unix_ms())?;
                buffer.front()
            })
            .await;
        let batch = match head {
            Ok(Ok(Some(batch))) => batch,
            Ok(Ok(None)) => {
                shared.changed.notify_waiters();
                let tick = tokio::time::sleep(std::time::Duration::from_secs(1));
                tokio::select! {
                    () = shared.wake_replayer.notified() => {}
                    () = tick => {}
                }
                continue;
            }
            Ok(Err(error)) => {
                tracing::error!(%error, "disk buffer read failed");
                tokio::time::sleep(backoff.next_delay()).await;
                continue;
            }
            Err(error) => {
                tracing::error!(%error, "disk buffer task failed");
                tokio::time::sleep(backoff.next_delay()).await;
                continue;
            }
        };
        let bytes: u64 = batch
            .group
            .logs
            .iter()
            .map(|l| entry_size(Some(l)) as u64)
            .sum();
        let result = shared
            .sink
            .put(
                &batch.target,
                &batch.producer_key,
                batch.sequence,
                &batch.group,
            )
            .await;
        let consumed = match result {
            Ok(outcome) => {
                shared.count_delivered(outcome, batch.group.logs.len() as u64, bytes);
                backoff.reset();
                true
            }
            Err(SinkError::Rejected { code, reason }) => {
                shared.count_rejected(&batch, bytes, &code, &reason);
                true
            }
            Err(SinkError::Transient { reason }) => {
                shared.metrics.send_failures.fetch_add(1, Ordering::Relaxed);
                let delay = backoff.next_delay();
                tracing::warn!(producer_key = %batch.producer_key, sequence = batch.sequence,
                    reason, retry_in_ms = delay.as_millis() as u64, "buffered batch not sent");
                let _ = shared.with_buffer(|buffer| buffer.unpin()).await;
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = wait_closed(&shared) => {}
                }
                false
            }
        };
        if consumed {
            match shared.with_buffer(|buffer| buffer.pop_front()).await {
                Ok(Ok(())) => shared.changed.notify_waiters(),
                Ok(Err(error)) => tracing::error!(%error, "disk buffer cursor write failed"),
                Err(error) => tracing::error!(%error, "disk buffer task failed"),
            }
        }
    }
}

async fn wait_closed(shared: &Shared) {
    while !shared.closed.load(Ordering::Acquire) {
        shared.wake_replayer.notified().await;
    }
}
