//! The tasks behind [`super::Delivery`]: the batcher (cuts batches, writes their "pending"
//! step as a set, runs their sends, and makes staged checkpoints durable) and the replayer
//! (drains the disk buffer), and the state they share. One batch's steps are in [`super::send`].
//!
//! Locks: `batcher` and `buffer` are never held together, and never across an `.await`; the
//! buffer and the checkpoint table do blocking file I/O, so they are used from
//! `spawn_blocking` (except [`CheckpointStore::stage`], which touches memory only).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::Notify;
use tokio::task::JoinSet;

use super::backoff::Backoff;
use super::batcher::{entry_size, BatchLimits, Batcher, Context};
use super::disk_buffer::{now_unix_ms, DiskBuffer};
use super::send::{send_batch, write_pending, PreparedBatch};
use super::sink::{LogSink, SinkError};
use super::{DeliveryError, DeliveryOptions, ProcessedRecord};
use crate::input::{CheckpointStore, FileCheckpoint};
use crate::metrics::AgentMetrics;
use crate::process::FieldLists;
use crate::source::FileKey;

/// Locks a mutex, recovering the data if a panicking thread poisoned it (every critical
/// section leaves the data consistent between statements that matter).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// State shared by `Delivery` and its tasks.
pub(crate) struct Shared {
    pub(super) sink: Arc<dyn LogSink>,
    pub(super) checkpoints: Arc<CheckpointStore>,
    pub(super) buffer: Arc<Mutex<DiskBuffer>>,
    pub(super) metrics: Arc<AgentMetrics>,
    pub(super) options: DeliveryOptions,
    /// `options.source`, as every LogGroup carries it.
    pub(super) source: Bytes,
    pub(super) batcher: Mutex<Batcher>,
    /// Callers of `flush`: while any wait, every queue is due.
    pub(super) flushing: Mutex<usize>,
    pub(super) closed: AtomicBool,
    pub(super) wake_batcher: Notify,
    pub(super) wake_replayer: Notify,
    /// Something was resolved: wakes `flush` and back-pressured `submit`s.
    pub(super) changed: Notify,
    /// Where the field lists of sent batches go back to, for processing to reuse.
    pub(super) field_lists: Arc<FieldLists>,
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
            source: Bytes::from(options.source.clone()),
            options,
            batcher: Mutex::new(Batcher::default()),
            flushing: Mutex::new(0),
            closed: AtomicBool::new(false),
            wake_batcher: Notify::new(),
            wake_replayer: Notify::new(),
            changed: Notify::new(),
            field_lists: Arc::new(FieldLists::new()),
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
    pub(super) async fn with_buffer<T: Send + 'static>(
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

    /// Persists a checkpoint on a blocking thread (durable on return, with every change
    /// staged before it).
    pub(super) async fn persist(
        &self,
        key: &FileKey,
        cp: FileCheckpoint,
    ) -> Result<(), DeliveryError> {
        let store = self.checkpoints.clone();
        let key = key.clone();
        tokio::task::spawn_blocking(move || store.set(&key, cp))
            .await
            .map_err(|e| DeliveryError::Task(e.to_string()))??;
        Ok(())
    }

    /// Makes every staged checkpoint durable, on a blocking thread.
    pub async fn sync_checkpoints(&self) -> Result<(), DeliveryError> {
        if self.checkpoints.is_synced() {
            return Ok(());
        }
        let store = self.checkpoints.clone();
        tokio::task::spawn_blocking(move || store.sync())
            .await
            .map_err(|e| DeliveryError::Task(e.to_string()))??;
        Ok(())
    }

    /// Queues `records` of `key` (in file order), read at `path`.
    pub async fn submit(
        &self,
        context: Arc<Context>,
        key: &FileKey,
        path: PathBuf,
        records: Vec<ProcessedRecord>,
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
        let store = &self.checkpoints;
        let lookup = || store.get(key).and_then(|cp| cp.pending);
        lock(&self.batcher).push(key, path, context, records, Instant::now(), lookup);
        self.wake_batcher.notify_one();
        Ok(())
    }

    /// Waits until the queues are drained (and the buffer too, with `with_buffer`), then
    /// makes the checkpoints durable.
    pub async fn flush(&self, with_buffer: bool) -> Result<(), DeliveryError> {
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
        self.sync_checkpoints().await
    }

    fn limits(&self) -> BatchLimits {
        BatchLimits {
            max_bytes: self.options.max_batch_bytes,
            max_records: self.options.max_batch_records,
            max_delay: self.options.max_batch_delay,
        }
    }

    pub(super) fn backoff(&self) -> Backoff {
        Backoff::new(self.options.backoff_min, self.options.backoff_max)
    }
}

/// Cuts due batches and runs their sends until closed and drained. Staged checkpoints are
/// made durable at most `checkpoint_sync_delay` after they were staged (most are carried
/// sooner by the next batch's durable "pending" write).
pub(crate) async fn run_batcher(shared: Arc<Shared>) {
    let mut sends = JoinSet::new();
    let mut syncs = JoinSet::new();
    let mut sync_due: Option<Instant> = None;
    loop {
        // Sends that ended are joined first: `select!` below joins one per wake-up, and an
        // ended send still counted in `sends` would hold one of the `max_in_flight` places
        // (they accumulated until a single batch was in flight at a time).
        while sends.try_join_next().is_some() {}
        let force = *lock(&shared.flushing) > 0 || shared.closed.load(Ordering::Acquire);
        let room = shared
            .options
            .max_in_flight
            .max(1)
            .saturating_sub(sends.len());
        let (batches, deadline) = lock(&shared.batcher).take_ready(shared.limits(), force, room);
        if !batches.is_empty() {
            // One durable write for the whole set (and whatever was staged before it).
            let mut prepared: Vec<PreparedBatch> = batches
                .into_iter()
                .map(|batch| PreparedBatch::new(&shared, batch))
                .collect();
            write_pending(&shared, &mut prepared).await;
            for batch in prepared {
                sends.spawn(send_batch(shared.clone(), batch));
            }
        }
        if shared.closed.load(Ordering::Acquire)
            && sends.is_empty()
            && lock(&shared.batcher).is_drained()
        {
            break;
        }
        if shared.checkpoints.is_synced() {
            sync_due = None;
        } else if sync_due.is_none() {
            sync_due = Some(Instant::now() + shared.options.checkpoint_sync_delay);
        }
        if sync_due.is_some_and(|at| at <= Instant::now()) && syncs.is_empty() {
            sync_due = None;
            let shared = shared.clone();
            syncs.spawn(async move {
                if let Err(error) = shared.sync_checkpoints().await {
                    // Staged changes stay staged: the next write or sync retries them.
                    tracing::error!(%error, "cannot make checkpoints durable; will retry");
                }
            });
        }
        let wake_at = match (deadline, sync_due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let sleep = async {
            match wake_at {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = shared.wake_batcher.notified() => {}
            Some(_) = sends.join_next(), if !sends.is_empty() => {}
            Some(_) = syncs.join_next(), if !syncs.is_empty() => {}
            () = sleep => {}
        }
    }
    while syncs.join_next().await.is_some() {}
    if let Err(error) = shared.sync_checkpoints().await {
        tracing::error!(%error, "cannot make the last checkpoints durable");
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
                let records = batch.group.logs.len() as u64;
                let about = (batch.producer_key.as_str(), batch.sequence, records);
                shared.count_rejected(about, bytes, &code, &reason);
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
