//! The WAL writer thread: batching, admission checks, group commit, acknowledgement.
//!
//! Appenders encode their record on their own task and send it here through a bounded
//! channel; one dedicated OS thread (fsync blocks, so it stays off the async runtime) takes
//! whatever is queued as one batch, checks every append, writes the batch with one write and
//! one fsync, applies it to the memtable, and only then answers each appender's oneshot.
//!
//! Invariants:
//! - Only this thread reads or changes the producer table, the logstore offsets and the set
//!   of dropped logstores (after replay built them), so a sequence-id check and the commit
//!   after it can never interleave with another append of the same producer key.
//! - An appender is answered `Ok` only after its record is fsynced and in the memtable.
//! - A refused append (replayed sequence id, dropped logstore, low disk space) writes nothing.
//! - Checks inside a batch see the batch's earlier appends (two appends with the same sequence
//!   id in one batch: the second is refused). If the batch's write fails, those tentative
//!   changes are undone, in reverse order, before anyone is answered.
//! - After a fatal WAL error nothing is written again by this process.

use std::collections::HashSet;
use std::sync::Arc;

use cairn_model::{LogRecord, LogstoreId};
use tokio::sync::{mpsc, oneshot};

use crate::state::IngestState;
use crate::wal::codec;
use crate::wal::{WalWriteError, WriteAheadLog};
use crate::{AppendReceipt, ProducerSequence, StoreError};

/// The most commands taken into one batch.
const MAX_BATCH_COMMANDS: usize = 1024;
/// The most frame bytes taken into one batch (further capped by the segment size).
const MAX_BATCH_BYTES: u64 = 16 * 1024 * 1024;

/// An append, encoded and split into records by its appender.
pub(crate) struct PreparedAppend {
    pub logstore: LogstoreId,
    pub shard: u32,
    pub producer: Option<ProducerSequence>,
    /// The encoded payload; the writer sets its index and first offset.
    pub payload: Vec<u8>,
    pub records: Vec<Arc<LogRecord>>,
    pub raw_bytes: u64,
}

/// What appenders send to the writer.
pub(crate) enum Command {
    Append {
        append: PreparedAppend,
        reply: oneshot::Sender<Result<AppendReceipt, StoreError>>,
    },
    DropLogstore {
        logstore: LogstoreId,
        payload: Vec<u8>,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    Shutdown {
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    /// A split holding `logstore`'s records below `end_offset` was published: WAL segments
    /// holding nothing newer may go.
    SplitPublished {
        logstore: LogstoreId,
        end_offset: u64,
    },
}

impl Command {
    fn frame_bytes(&self) -> u64 {
        let payload = match self {
            Command::Append { append, .. } => append.payload.len(),
            Command::DropLogstore { payload, .. } => payload.len(),
            Command::Shutdown { .. } | Command::SplitPublished { .. } => return 0,
        };
        8 + payload as u64
    }

    /// Answers the command with `error` without doing it.
    fn refuse(self, error: StoreError) {
        // A dropped receiver means the appender gave up waiting; nothing to tell.
        match self {
            Command::Append { reply, .. } => {
                let _ = reply.send(Err(error));
            }
            Command::DropLogstore { reply, .. } | Command::Shutdown { reply } => {
                let _ = reply.send(Err(error));
            }
            Command::SplitPublished { .. } => {}
        }
    }
}

/// An append that passed its checks.
struct AdmittedAppend {
    logstore: LogstoreId,
    end_offset: u64,
    records: Vec<Arc<LogRecord>>,
    raw_bytes: u64,
    receipt: AppendReceipt,
}

/// An admitted command waiting for its batch to be durable.
enum Staged {
    Append {
        admitted: AdmittedAppend,
        reply: oneshot::Sender<Result<AppendReceipt, StoreError>>,
    },
    DropLogstore {
        logstore: LogstoreId,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
}

/// A tentative change to undo if the batch is not written.
enum Undo {
    Producer {
        logstore: LogstoreId,
        shard: u32,
        key: String,
        previous: Option<u64>,
    },
    Offset {
        logstore: LogstoreId,
        previous: Option<u64>,
    },
}

/// The batch being assembled.
#[derive(Default)]
struct Batch {
    payloads: Vec<Vec<u8>>,
    staged: Vec<Staged>,
    undo: Vec<Undo>,
    dropped: HashSet<LogstoreId>,
    admitted_bytes: u64,
    /// Free bytes on the WAL file system, read once per batch when it holds an append.
    available_bytes: Option<u64>,
}

/// The writer: the WAL, the state, and the rules for admitting appends.
pub(crate) struct Writer {
    pub wal: WriteAheadLog,
    pub state: IngestState,
    pub min_free_disk_bytes: u64,
    pub segment_max_bytes: u64,
    /// Why the WAL stopped accepting writes, after a fatal error.
    pub failure: Option<String>,
}

impl Writer {
    /// Serves commands until a shutdown or until every sender is gone.
    pub(crate) fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let batch_limit = self.segment_max_bytes.clamp(1, MAX_BATCH_BYTES);
        let mut carried: Option<Command> = None;
        loop {
            let Some(first) = carried.take().or_else(|| commands.blocking_recv()) else {
                break;
            };
            let mut bytes = first.frame_bytes();
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH_COMMANDS && bytes < batch_limit {
                let Ok(command) = commands.try_recv() else {
                    break;
                };
                let frame_bytes = command.frame_bytes();
                if bytes + frame_bytes > batch_limit {
                    carried = Some(command);
                    break;
                }
                bytes += frame_bytes;
                batch.push(command);
            }
            if let Some(shutdown_replies) = self.process(batch) {
                self.stop(commands, carried, shutdown_replies);
                return;
            }
        }
        if let Err(error) = self.wal.sync() {
            tracing::error!(error = %error, "final wal fsync failed");
        }
    }

    /// Finishes a shutdown: refuses what is still queued, fsyncs, closes the WAL (releasing
    /// its lock), then answers every shutdown request.
    fn stop(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        carried: Option<Command>,
        mut shutdown_replies: Vec<oneshot::Sender<Result<(), StoreError>>>,
    ) {
        commands.close();
        let mut queued: Vec<Command> = carried.into_iter().collect();
        while let Some(command) = commands.blocking_recv() {
            queued.push(command);
        }
        let result = match (&self.failure, self.wal.sync()) {
            (Some(reason), _) => Err(StoreError::WalFailed {
                reason: reason.clone(),
            }),
            (None, Err(error)) => Err(StoreError::Io(error)),
            (None, Ok(())) => Ok(()),
        };
        drop(self);
        for command in queued {
            match command {
                Command::Shutdown { reply } => shutdown_replies.push(reply),
                other => other.refuse(StoreError::ShuttingDown),
            }
        }
        tracing::info!(ok = result.is_ok(), "wal writer stopped");
        for reply in shutdown_replies {
            let answer = match &result {
                Ok(()) => Ok(()),
                Err(error) => Err(error.duplicate()),
            };
            let _ = reply.send(answer);
        }
    }

    /// Admits, writes and answers one batch; returns the shutdown requests it held, if any.
    fn process(
        &mut self,
        commands: Vec<Command>,
    ) -> Option<Vec<oneshot::Sender<Result<(), StoreError>>>> {
        let mut batch = Batch::default();
        let mut shutdown_replies = Vec::new();
        let mut truncate = false;
        for command in commands {
            match command {
                Command::Shutdown { reply } => shutdown_replies.push(reply),
                Command::SplitPublished {
                    logstore,
                    end_offset,
                } => {
                    let flushed = self.state.flushed_ends.entry(logstore).or_insert(0);
                    *flushed = (*flushed).max(end_offset);
                    truncate = true;
                }
                other if !shutdown_replies.is_empty() => other.refuse(StoreError::ShuttingDown),
                other if self.failure.is_some() => {
                    let reason = self.failure.clone().unwrap_or_default();
                    other.refuse(StoreError::WalFailed { reason });
                }
                Command::Append { append, reply } => match self.admit(append, &mut batch) {
                    Ok(admitted) => batch.staged.push(Staged::Append { admitted, reply }),
                    Err(error) => {
                        let _ = reply.send(Err(error));
                    }
                },
                Command::DropLogstore {
                    logstore,
                    payload,
                    reply,
                } => {
                    batch.payloads.push(payload);
                    batch.dropped.insert(logstore);
                    batch.staged.push(Staged::DropLogstore { logstore, reply });
                }
            }
        }
        self.commit(batch);
        if self.failure.is_none() && self.wal.is_full() {
            self.roll();
        }
        if truncate && self.failure.is_none() {
            self.truncate();
        }
        (!shutdown_replies.is_empty()).then_some(shutdown_replies)
    }

    /// Starts a new segment whose first record is a checkpoint of the committed state.
    fn roll(&mut self) {
        let checkpoint = self.state.checkpoint();
        let result = codec::encode_checkpoint(0, &checkpoint)
            .map_err(|error| std::io::Error::other(error.to_string()))
            .map_err(WalWriteError::Fatal)
            .and_then(|payload| self.wal.roll_with(payload));
        match result {
            Ok(()) => {
                let first = self.wal.active_first_index();
                self.state.checkpointed_segments.insert(first);
                tracing::debug!(segment = first, "wal segment started with a checkpoint");
            }
            Err(WalWriteError::Rejected(error) | WalWriteError::Fatal(error)) => {
                tracing::error!(error = %error, "starting a wal segment failed; refusing writes");
                self.failure = Some(error.to_string());
            }
        }
    }

    /// Removes the WAL segments whose records are all in published splits.
    fn truncate(&mut self) {
        let segments = self.wal.segment_first_indexes();
        let Some(keep) = self.state.truncation_point(&segments) else {
            return;
        };
        match self.wal.remove_segments_before(keep) {
            Ok(removed) => {
                self.state.segment_ends.retain(|first, _| *first >= keep);
                self.state
                    .checkpointed_segments
                    .retain(|first| *first >= keep);
                if removed > 0 {
                    tracing::info!(
                        removed,
                        first_kept = keep,
                        "wal truncated after split publish"
                    );
                }
            }
            Err(error) => {
                // Nothing is lost: the segments stay and are replayed (and skipped) later.
                tracing::warn!(error = %error, "removing flushed wal segments failed");
            }
        }
    }

    /// Checks an append against the producer table, tombstones and free space; on success
    /// makes its tentative changes and queues its payload.
    fn admit(
        &mut self,
        append: PreparedAppend,
        batch: &mut Batch,
    ) -> Result<AdmittedAppend, StoreError> {
        let PreparedAppend {
            logstore,
            shard,
            producer,
            mut payload,
            records,
            raw_bytes,
        } = append;
        if self.state.dropped.contains(&logstore) || batch.dropped.contains(&logstore) {
            return Err(StoreError::LogstoreDropped { logstore });
        }
        if let Some(producer) = &producer {
            let last = self
                .state
                .producers
                .last_committed(logstore, shard, &producer.key);
            if let Some(last_committed) = last.filter(|last| producer.sequence_id <= *last) {
                return Err(StoreError::InvalidSequenceId {
                    key: producer.key.clone(),
                    sequence_id: producer.sequence_id,
                    last_committed,
                });
            }
        }
        let available_bytes = match batch.available_bytes {
            Some(available) => available,
            None => {
                let available = fs2::available_space(self.wal.directory())?;
                batch.available_bytes = Some(available);
                available
            }
        };
        let frame_bytes = 8 + payload.len() as u64;
        let required_bytes = self
            .min_free_disk_bytes
            .saturating_add(batch.admitted_bytes)
            .saturating_add(frame_bytes);
        if available_bytes < required_bytes {
            tracing::warn!(
                wal_dir = %self.wal.directory().display(),
                available_bytes,
                required_bytes,
                "append refused: the wal disk is nearly full"
            );
            return Err(StoreError::DiskFull {
                path: self.wal.directory().to_path_buf(),
                available_bytes,
                required_bytes,
            });
        }
        batch.admitted_bytes += frame_bytes;
        if let Some(producer) = producer {
            let previous =
                self.state
                    .producers
                    .commit(logstore, shard, &producer.key, producer.sequence_id);
            batch.undo.push(Undo::Producer {
                logstore,
                shard,
                key: producer.key,
                previous,
            });
        }
        let previous_offset = self.state.next_offsets.get(&logstore).copied();
        let first_offset = previous_offset.unwrap_or(0);
        self.state
            .next_offsets
            .insert(logstore, first_offset + records.len() as u64);
        batch.undo.push(Undo::Offset {
            logstore,
            previous: previous_offset,
        });
        codec::set_first_offset(&mut payload, first_offset);
        batch.payloads.push(payload);
        let receipt = AppendReceipt {
            records: records.len(),
            raw_bytes: raw_bytes as usize,
            first_offset,
        };
        Ok(AdmittedAppend {
            logstore,
            end_offset: first_offset + records.len() as u64,
            records,
            raw_bytes,
            receipt,
        })
    }

    /// Writes the batch; then applies and acknowledges it, or undoes it and reports why.
    fn commit(&mut self, mut batch: Batch) {
        if batch.payloads.is_empty() {
            return;
        }
        let error = match self.wal.append_batch_in_active(&mut batch.payloads) {
            Ok(()) => {
                let segment = self.wal.active_first_index();
                for staged in batch.staged {
                    match staged {
                        Staged::Append { admitted, reply } => {
                            let AdmittedAppend {
                                logstore,
                                end_offset,
                                records,
                                raw_bytes,
                                receipt,
                            } = admitted;
                            self.state.note_segment_end(segment, logstore, end_offset);
                            self.state.memtable.append(logstore, records, raw_bytes);
                            let _ = reply.send(Ok(receipt));
                        }
                        Staged::DropLogstore { logstore, reply } => {
                            self.state.apply_drop(logstore);
                            tracing::info!(logstore = %logstore, "logstore dropped");
                            let _ = reply.send(Ok(()));
                        }
                    }
                }
                return;
            }
            Err(WalWriteError::Rejected(error))
                if error.kind() == std::io::ErrorKind::StorageFull =>
            {
                let directory = self.wal.directory();
                StoreError::DiskFull {
                    path: directory.to_path_buf(),
                    available_bytes: fs2::available_space(directory).unwrap_or(0),
                    required_bytes: self
                        .min_free_disk_bytes
                        .saturating_add(batch.admitted_bytes),
                }
            }
            Err(WalWriteError::Rejected(error)) => {
                tracing::error!(error = %error, "wal write failed and was rolled back");
                StoreError::Io(error)
            }
            Err(WalWriteError::Fatal(error)) => {
                tracing::error!(
                    error = %error,
                    "wal write or fsync failed; refusing all writes until restart"
                );
                let reason = error.to_string();
                self.failure = Some(reason.clone());
                StoreError::WalFailed { reason }
            }
        };
        for undo in batch.undo.into_iter().rev() {
            match undo {
                Undo::Producer {
                    logstore,
                    shard,
                    key,
                    previous,
                } => self
                    .state
                    .producers
                    .restore(logstore, shard, &key, previous),
                Undo::Offset { logstore, previous } => {
                    if let Some(offset) = previous {
                        self.state.next_offsets.insert(logstore, offset);
                    } else {
                        self.state.next_offsets.remove(&logstore);
                    }
                }
            }
        }
        for staged in batch.staged {
            match staged {
                Staged::Append { reply, .. } => {
                    let _ = reply.send(Err(error.duplicate()));
                }
                Staged::DropLogstore { reply, .. } => {
                    let _ = reply.send(Err(error.duplicate()));
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
