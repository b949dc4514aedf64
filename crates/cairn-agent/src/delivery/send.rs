//! Sending one batch with the exactly-once steps (see the [protocol](super)), and writing
//! the "pending" step of a whole set of batches at once.
//!
//! Step 1 (the durable `pending`) is done for every batch the batcher cuts in one go by
//! [`write_pending`]: each batch's pending record is staged, then one write of the table
//! makes them all durable, together with every acknowledgement staged since the last write.
//! Only then are the batches sent. [`deliver`] writes `pending` itself when that did not
//! happen (the write failed, or a local failure made it retry).
//!
//! A batch's entries are moved, not copied, into the LogGroup it is sent as
//! ([`PreparedBatch`]); only a batch that goes to the disk buffer is copied (an outage).
//! Once resolved, the entries' field lists go back to [`crate::process::FieldLists`] for
//! the next records, instead of being freed.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use cairn_model::LogGroupData;

use super::batcher::{Batch, SequenceRule};
use super::buffer_record::BufferedBatch;
use super::disk_buffer::now_unix_ms;
use super::sink::{PutOutcome, SinkError, WriteTarget};
use super::worker::{lock, Shared};
use super::{producer_key, DeliveryError};
use crate::input::{FileCheckpoint, PendingBatch};
use crate::metrics::DropReason;
use crate::source::FileKey;

/// A batch ready to send: its entries moved into the LogGroup, its offsets and sizes kept.
pub(super) struct PreparedBatch {
    key: FileKey,
    path: PathBuf,
    start: u64,
    end: u64,
    /// Sum of the records' sizes (`entry_size`).
    bytes: u64,
    rule: SequenceRule,
    target: WriteTarget,
    producer_key: String,
    group: LogGroupData,
    /// Step 1 was made durable for this batch by [`write_pending`].
    pending_durable: bool,
}

impl PreparedBatch {
    pub(super) fn new(shared: &Shared, batch: Batch) -> Self {
        let (start, end, bytes) = (batch.start, batch.end, batch.bytes);
        let context = &batch.context;
        Self {
            producer_key: producer_key(&shared.options.host_id, &batch.key),
            key: batch.key,
            path: batch.path,
            start,
            end,
            bytes,
            rule: batch.sequence,
            target: context.target.clone(),
            group: LogGroupData {
                topic: context.topic.clone(),
                source: shared.source.clone(),
                tags: context.tags.clone(),
                logs: batch.logs,
            },
            pending_durable: false,
        }
    }

    /// A copy for the disk buffer.
    fn to_buffered(&self, sequence: u64) -> BufferedBatch {
        BufferedBatch {
            target: self.target.clone(),
            producer_key: self.producer_key.clone(),
            sequence,
            file: self.key.clone(),
            start_offset: self.start,
            end_offset: self.end,
            created_unix_ms: now_unix_ms(),
            group: self.group.clone(),
        }
    }
}

/// The sequence id `batch` is sent with, given its file's checkpoint, and its pending
/// record (`None` when every record was filtered out: nothing is sent).
fn plan(batch: &PreparedBatch, cp: &FileCheckpoint) -> (u64, Option<PendingBatch>) {
    let (start, end) = (batch.start, batch.end);
    let sequence = match (batch.rule, cp.pending) {
        (SequenceRule::Reuse(pending), _) => pending.sequence,
        // Our own earlier attempt at this very batch (a local failure made us retry).
        (_, Some(p)) if p.start_offset == start && p.end_offset == end => p.sequence,
        // A pending id that may be taken is never reused for other content.
        (SequenceRule::After(p), _) | (SequenceRule::Next, Some(p)) => {
            cp.next_sequence.max(p.sequence + 1)
        }
        (SequenceRule::Next, None) => cp.next_sequence,
    };
    let pending = (!batch.group.logs.is_empty()).then_some(PendingBatch {
        sequence,
        start_offset: start,
        end_offset: end,
    });
    (sequence, pending)
}

/// Step 1 for a set of batches: stages each one's pending record and makes them all durable
/// with one write of the checkpoint table. Batches it succeeded for are marked so.
pub(super) async fn write_pending(shared: &Shared, batches: &mut [PreparedBatch]) {
    for batch in batches.iter() {
        let Some(mut cp) = shared.checkpoints.get(&batch.key) else {
            continue; // `deliver` creates the checkpoint (and writes it).
        };
        let (sequence, Some(pending)) = plan(batch, &cp) else {
            continue;
        };
        if cp.pending != Some(pending) {
            cp.pending = Some(pending);
            cp.next_sequence = sequence;
            cp.path.clone_from(&batch.path);
            shared.checkpoints.stage(&batch.key, cp);
        }
    }
    tracing::debug!(
        batches = batches.len(),
        "writing the pending step of a set of batches"
    );
    match shared.sync_checkpoints().await {
        Ok(()) => batches.iter_mut().for_each(|b| b.pending_durable = true),
        Err(error) => {
            tracing::warn!(%error, "cannot write pending batches; each batch retries alone");
        }
    }
}

/// Resolves one batch, retrying local failures forever (they never drop data).
pub(super) async fn send_batch(shared: Arc<Shared>, mut batch: PreparedBatch) {
    let mut backoff = shared.backoff();
    let mut pending_durable = batch.pending_durable;
    loop {
        match deliver(&shared, &batch, pending_durable).await {
            Ok(()) => break,
            Err(error) => {
                tracing::error!(%error, config = %batch.key.config, "cannot resolve batch; retrying");
                pending_durable = false;
                tokio::time::sleep(backoff.next_delay()).await;
            }
        }
    }
    lock(&shared.batcher).finish(&batch.key);
    shared.changed.notify_waiters();
    shared.wake_batcher.notify_one();
    shared
        .field_lists
        .give_back(std::mem::take(&mut batch.group.logs));
}

/// The exactly-once steps for one batch (see the module docs of `delivery`).
/// `pending_durable`: the checkpoint's pending record, if it is this batch's, is on disk.
async fn deliver(
    shared: &Arc<Shared>,
    batch: &PreparedBatch,
    pending_durable: bool,
) -> Result<(), DeliveryError> {
    let mut cp = shared
        .checkpoints
        .get(&batch.key)
        .unwrap_or_else(|| FileCheckpoint::new(batch.path.clone(), batch.start, 0));
    let (sequence, pending) = plan(batch, &cp);
    cp.path.clone_from(&batch.path);
    let Some(pending) = pending else {
        // Everything was filtered out: advance without using a sequence id, unless this was
        // the pre-restart batch, whose id may be taken. Losing this in a crash only makes
        // the records be read and filtered again.
        if matches!(batch.rule, SequenceRule::Reuse(_)) {
            cp.next_sequence = cp.next_sequence.max(sequence + 1);
        }
        cp.offset = batch.end;
        cp.pending = None;
        shared.checkpoints.stage(&batch.key, cp);
        return Ok(());
    };
    if cp.pending != Some(pending) || !pending_durable {
        cp.pending = Some(pending);
        cp.next_sequence = sequence;
        // Durable before the send; the same write carries every acknowledgement staged
        // since the last one.
        shared.persist(&batch.key, cp.clone()).await?;
    }
    // While the buffer holds anything, new batches queue behind it (replay order).
    let behind_buffer = !shared.with_buffer(|b| b.is_empty()).await?;
    if behind_buffer {
        shared.to_buffer(batch.to_buffered(sequence)).await?;
    } else {
        send_direct(shared, batch, sequence).await?;
    }
    cp.offset = batch.end;
    cp.next_sequence = sequence + 1;
    cp.pending = None;
    // Staged, not written: a crash before the next write re-sends this batch with the same
    // sequence id, which the server refuses as already committed (or the buffer replays).
    shared.checkpoints.stage(&batch.key, cp);
    Ok(())
}

/// Sends with `direct_attempts` tries; a batch still failing goes to the disk buffer.
async fn send_direct(
    shared: &Arc<Shared>,
    batch: &PreparedBatch,
    sequence: u64,
) -> Result<(), DeliveryError> {
    let mut backoff = shared.backoff();
    let attempts = shared.options.direct_attempts.max(1);
    let records = batch.group.logs.len() as u64;
    for attempt in 1..=attempts {
        let result = shared
            .sink
            .put(&batch.target, &batch.producer_key, sequence, &batch.group)
            .await;
        match result {
            Ok(outcome) => {
                shared.count_delivered(outcome, records, batch.bytes);
                return Ok(());
            }
            Err(SinkError::Rejected { code, reason }) => {
                let about = (batch.producer_key.as_str(), sequence, records);
                shared.count_rejected(about, batch.bytes, &code, &reason);
                return Ok(());
            }
            Err(SinkError::Transient { reason }) => {
                shared.metrics.send_failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(producer_key = %batch.producer_key, sequence,
                    attempt, reason, "send failed");
                if attempt < attempts {
                    tokio::time::sleep(backoff.next_delay()).await;
                }
            }
        }
    }
    shared.to_buffer(batch.to_buffered(sequence)).await
}

impl Shared {
    pub(super) async fn to_buffer(
        self: &Arc<Self>,
        batch: BufferedBatch,
    ) -> Result<(), DeliveryError> {
        self.with_buffer(move |buffer| buffer.append(&batch))
            .await??;
        self.metrics
            .batches_buffered
            .fetch_add(1, Ordering::Relaxed);
        self.wake_replayer.notify_one();
        Ok(())
    }

    pub(super) fn count_delivered(&self, outcome: PutOutcome, records: u64, bytes: u64) {
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

    /// Counts a batch the server refused; `about` is (producer key, sequence, records).
    pub(super) fn count_rejected(
        &self,
        about: (&str, u64, u64),
        bytes: u64,
        code: &str,
        reason: &str,
    ) {
        let (producer_key, sequence, records) = about;
        let context = format!("{producer_key} sequence {sequence}: {code}: {reason}");
        self.metrics
            .record_drop(DropReason::RejectedByServer, records, bytes, &context);
    }
}
