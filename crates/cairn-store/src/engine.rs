//! [`LogEngine`]: the public face of the durable ingest path.
//!
//! Invariants:
//! - `append` returns `Ok` only after its record is fsynced in the WAL and visible to reads.
//! - Reads never block on the WAL and never see an unacknowledged record; each works on one
//!   snapshot of a logstore (its published splits plus its records in memory), so it sees
//!   every record exactly once while flushes, merges and retention run.
//! - Offsets: every record of a logstore has an offset (0, 1, 2, ... in acknowledgement
//!   order, surviving restarts). [`LogEngine::read_from`] reads by offset and
//!   [`LogEngine::next_offset`] tells where the next record will go; a reader that resumes
//!   from a saved offset sees every record after it exactly once (see `crate::memtable`).
//! - All writes go through the one writer thread (see `crate::writer`); the engine itself
//!   holds only the channel to it and read access to the memtable, so it is cheap to share
//!   behind an `Arc`.
//! - Dropping the engine closes the channel and waits for the writer to finish the batch in
//!   flight, so the WAL directory's lock is free again when `drop` returns.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use cairn_meta::SplitRecord;
use cairn_model::{LogGroupData, LogRecord, LogTime, LogstoreId, TokenQuery};
use object_store::path::Path;
use object_store::ObjectStore;
use tokio::sync::{mpsc, oneshot, Notify};

use crate::memtable::Memtable;
use crate::split::deletion::sweep_orphans;
use crate::split::files::parquet_path;
use crate::split::lifecycle::SplitLifecycle;
use crate::split::reader::{SplitReader, TimeOrderedQuery};
use crate::state::IngestState;
use crate::wal::codec::{self, AppendEntry, EncodeError};
use crate::wal::{FsyncTimer, WalOptions, WalStats, WriteAheadLog};
use crate::writer::{Command, PreparedAppend, Writer};
use crate::{EngineConfig, StoreError};

/// Commands that may wait for the writer before appenders are held back.
const COMMAND_QUEUE_DEPTH: usize = 1024;

/// One PutLogs group to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendRequest {
    /// The logstore written.
    pub logstore: LogstoreId,
    /// The shard written (part of the exactly-once key).
    pub shard: u32,
    /// The producer's key and sequence id, for exactly-once delivery; `None` for clients
    /// that do not send one.
    pub producer: Option<ProducerSequence>,
    /// The records.
    pub group: LogGroupData,
}

/// A producer's identity and the sequence id of one of its requests.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProducerSequence {
    /// The producer key (an agent's or SDK producer's stable id), at most 4 KiB.
    pub key: String,
    /// Grows with every request of the producer; a request whose id is not above the last
    /// committed one is a replay.
    pub sequence_id: u64,
}

/// What an acknowledged append stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendReceipt {
    /// Number of records stored.
    pub records: usize,
    /// Their raw size, as SLS meters it ([`LogRecord::raw_size`]).
    pub raw_bytes: usize,
    /// The logstore-wide offset of the first record: offsets grow by one per record, in
    /// acknowledgement order, and survive restarts.
    pub first_offset: u64,
}

/// Where a query finds a logstore's records: split files in object storage, then records
/// still in memory. Together they hold every record of the time range exactly once.
#[derive(Clone)]
pub struct QuerySources {
    /// The store holding the files (`None` when the engine keeps no splits).
    pub object_store: Option<Arc<dyn ObjectStore>>,
    /// Parquet files of the splits overlapping the range, with their sizes.
    pub parquet_files: Vec<(Path, u64)>,
    /// Records in memory in the range, with their offsets.
    pub memory: Vec<(u64, Arc<LogRecord>)>,
    /// Rows in the chosen splits (before any filtering), for progress reporting.
    pub split_rows: u64,
}

impl std::fmt::Debug for QuerySources {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("QuerySources")
            .field("parquet_files", &self.parquet_files)
            .field("memory", &self.memory.len())
            .finish()
    }
}

/// A snapshot of the engine's sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EngineStats {
    /// Records held in memory (all logstores).
    pub records: u64,
    /// Their raw bytes.
    pub raw_bytes: u64,
    /// Bytes of all WAL segment files.
    pub wal_bytes: u64,
    /// Number of WAL segment files.
    pub segments: u64,
}

/// The split side of an engine.
struct SplitRuntime {
    reader: Arc<SplitReader>,
    lifecycle: Arc<SplitLifecycle>,
    task: Option<tokio::task::JoinHandle<()>>,
    shutdown: Arc<Notify>,
}

/// The durable ingest engine: a group-committed WAL in front of an in-memory table.
pub struct LogEngine {
    commands: mpsc::Sender<Command>,
    memtable: Arc<Memtable>,
    wal_stats: Arc<WalStats>,
    shutting_down: AtomicBool,
    writer_thread: Option<JoinHandle<()>>,
    splits: Option<SplitRuntime>,
}

impl LogEngine {
    /// Opens the WAL in `config.wal_dir` (creating it), replays every segment into the
    /// memtable and the producer table (cutting a torn tail away), and starts the writer.
    pub async fn open(config: EngineConfig) -> Result<Self, StoreError> {
        let memtable = Arc::new(Memtable::default());
        let mut flushed_ends: HashMap<LogstoreId, u64> = HashMap::new();
        let mut published: Vec<SplitRecord> = Vec::new();
        if let Some(settings) = &config.splits {
            published =
                settings
                    .catalog
                    .list_all_splits()
                    .await
                    .map_err(|error| StoreError::Catalog {
                        reason: error.to_string(),
                    })?;
            let ids: HashSet<String> = published
                .iter()
                .map(|split| split.split_id.clone())
                .collect();
            let swept = sweep_orphans(&*settings.object_store, &ids).await?;
            if swept > 0 {
                tracing::info!(files = swept, "orphaned split files deleted");
            }
            let mut by_logstore: HashMap<LogstoreId, Vec<Arc<SplitRecord>>> = HashMap::new();
            for split in &published {
                by_logstore
                    .entry(split.logstore)
                    .or_default()
                    .push(Arc::new(split.clone()));
            }
            for (logstore, splits) in by_logstore {
                let end = splits
                    .iter()
                    .map(|split| split.end_offset)
                    .max()
                    .unwrap_or(0);
                flushed_ends.insert(logstore, end);
                memtable.install_splits(logstore, splits);
            }
        }
        let replay_memtable = Arc::clone(&memtable);
        let replay_flushed = flushed_ends.clone();
        let opened = tokio::task::spawn_blocking(move || -> Result<Writer, StoreError> {
            let mut state = IngestState::new(replay_memtable);
            state.flushed_ends = replay_flushed;
            let wal = WriteAheadLog::open(
                WalOptions {
                    directory: config.wal_dir.clone(),
                    segment_max_bytes: config.segment_max_bytes,
                    fsync_timer: FsyncTimer::new(config.on_fsync.clone()),
                },
                &mut |record, path, offset| state.replay(record, path, offset),
            )?;
            // Offsets continue after the splits, also when no WAL record of a logstore is left.
            for (logstore, end) in state.flushed_ends.clone() {
                let next = state.next_offsets.entry(logstore).or_insert(end);
                *next = (*next).max(end);
            }
            Ok(Writer {
                wal,
                state,
                min_free_disk_bytes: config.min_free_disk_bytes,
                segment_max_bytes: config.segment_max_bytes,
                failure: None,
            })
        })
        .await
        .map_err(|error| StoreError::Io(std::io::Error::other(error)))?;
        let writer = opened?;
        let dropped_with_splits: Vec<LogstoreId> = published
            .iter()
            .map(|split| split.logstore)
            .filter(|logstore| writer.state.dropped.contains(logstore))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        for logstore in &dropped_with_splits {
            memtable.remove(*logstore);
        }
        let wal_stats = writer.wal.stats();
        tracing::info!(
            records = memtable.record_count(),
            producers = writer.state.producer_count(),
            "log engine opened"
        );
        let (commands, receiver) = mpsc::channel(COMMAND_QUEUE_DEPTH);
        let thread = std::thread::Builder::new()
            .name("cairn-wal-writer".to_owned())
            .spawn(move || writer.run(receiver))?;
        let splits = match config.splits {
            Some(settings) => {
                let reader = Arc::new(SplitReader::new(Arc::clone(&settings.object_store)));
                let shutdown = Arc::new(Notify::new());
                let lifecycle = Arc::new(SplitLifecycle::new(
                    settings,
                    Arc::clone(&memtable),
                    Arc::clone(&reader),
                    commands.downgrade(),
                    Arc::new(tokio::sync::Mutex::new(())),
                    Arc::clone(&shutdown),
                ));
                for logstore in dropped_with_splits {
                    lifecycle.drop_logstore(logstore).await?;
                }
                let task = tokio::spawn(Arc::clone(&lifecycle).run());
                Some(SplitRuntime {
                    reader,
                    lifecycle,
                    task: Some(task),
                    shutdown,
                })
            }
            None => None,
        };
        Ok(Self {
            commands,
            memtable,
            wal_stats,
            shutting_down: AtomicBool::new(false),
            writer_thread: Some(thread),
            splits,
        })
    }

    /// Appends one PutLogs group. Returns only after the record is written and fsynced
    /// (concurrent appends share one fsync); after `Ok` the records are visible to
    /// [`LogEngine::search`]. A producer sequence id not above the last committed one for the
    /// same (logstore, shard, key) is refused with [`StoreError::InvalidSequenceId`], and
    /// nothing is written.
    ///
    /// Dropping the returned future after the request was queued does not cancel it: the
    /// group may still be stored, as when a client's connection breaks after sending.
    pub async fn append(&self, request: AppendRequest) -> Result<AppendReceipt, StoreError> {
        if self.shutting_down.load(Ordering::Acquire) {
            return Err(StoreError::ShuttingDown);
        }
        let AppendRequest {
            logstore,
            shard,
            producer,
            group,
        } = request;
        let entry = AppendEntry {
            logstore,
            first_offset: 0,
            shard,
            producer,
            group,
        };
        let payload = codec::encode_append(0, &entry).map_err(|error| match error {
            EncodeError::TooLarge { bytes, limit } => StoreError::RecordTooLarge { bytes, limit },
            EncodeError::ProducerKeyTooLong { .. } => StoreError::InvalidAppend {
                reason: error.to_string(),
            },
        })?;
        let AppendEntry {
            producer, group, ..
        } = entry;
        let records: Vec<Arc<LogRecord>> = group.into_records().into_iter().map(Arc::new).collect();
        let raw_bytes = records.iter().map(|record| record.raw_size() as u64).sum();
        let (reply, answer) = oneshot::channel();
        let append = PreparedAppend {
            logstore,
            shard,
            producer,
            payload,
            records,
            raw_bytes,
        };
        self.send(Command::Append { append, reply }).await?;
        answer.await.map_err(|_| self.writer_gone())?
    }

    /// Records of a logstore whose time is in `[from, to)` (compared in nanoseconds), in
    /// offset order, from splits and memory. Split blocks that `tokens` rules out are not
    /// read (pass [`TokenQuery::Everything`] for all records); the caller still matches the
    /// records it gets. The result is a snapshot: later appends do not change it.
    pub async fn search(
        &self,
        logstore: LogstoreId,
        from: LogTime,
        to: LogTime,
        tokens: &TokenQuery,
    ) -> Result<Vec<Arc<LogRecord>>, StoreError> {
        match &self.splits {
            Some(splits) => {
                let snapshot = self.memtable.snapshot(logstore);
                splits.reader.search(&snapshot, from, to, tokens).await
            }
            None => Ok(self.memtable.scan(logstore, from, to)),
        }
    }

    /// Calls `visit` with every record of a logstore in `[from, to)` that `tokens` admits
    /// (by block, then by row), a few blocks at a time, so memory stays bounded whatever
    /// the range holds. Returns how many records were examined.
    pub async fn visit(
        &self,
        logstore: LogstoreId,
        from: LogTime,
        to: LogTime,
        tokens: &TokenQuery,
        visit: &mut (dyn FnMut(&LogRecord) + Send),
    ) -> Result<u64, StoreError> {
        match &self.splits {
            Some(splits) => {
                let snapshot = self.memtable.snapshot(logstore);
                splits
                    .reader
                    .visit(&snapshot, from, to, tokens, visit)
                    .await
            }
            None => {
                let records = self.memtable.scan(logstore, from, to);
                for record in &records {
                    visit(record);
                }
                Ok(records.len() as u64)
            }
        }
    }

    /// The first `query.limit` matching records of a logstore by time (newest or oldest
    /// first), reading only as many blocks as can hold them. Returns them in that order, and
    /// how many records were examined.
    pub async fn first_by_time(
        &self,
        logstore: LogstoreId,
        query: &TimeOrderedQuery<'_>,
    ) -> Result<(Vec<Arc<LogRecord>>, u64), StoreError> {
        let snapshot = self.memtable.snapshot(logstore);
        match &self.splits {
            Some(splits) => splits.reader.top_by_time(&snapshot, query).await,
            None => {
                let mut records: Vec<Arc<LogRecord>> = self
                    .memtable
                    .scan(logstore, query.from, query.to)
                    .into_iter()
                    .collect();
                let examined = records.len() as u64;
                records.retain(|record| (query.accept)(record));
                records.sort_by_key(|record| record.time.as_nanos());
                if query.newest_first {
                    records.reverse();
                }
                records.truncate(query.limit);
                Ok((records, examined))
            }
        }
    }

    /// Where a query over `[from, to)` finds a logstore's records (see [`QuerySources`]).
    pub fn query_sources(&self, logstore: LogstoreId, from: LogTime, to: LogTime) -> QuerySources {
        let snapshot = self.memtable.snapshot(logstore);
        let (from_seconds, to_seconds) = (i64::from(from.seconds), i64::from(to.seconds));
        let chosen: Vec<&Arc<SplitRecord>> = snapshot
            .splits
            .iter()
            .filter(|split| split.max_time >= from_seconds && split.min_time <= to_seconds)
            .collect();
        let memory = snapshot
            .records
            .in_range(from.as_nanos(), to.as_nanos())
            .map(|(at, record)| (snapshot.base_offset + at as u64, Arc::clone(record)))
            .collect();
        QuerySources {
            object_store: self.splits.as_ref().map(|splits| splits.reader.store()),
            parquet_files: chosen
                .iter()
                .map(|split| {
                    (
                        parquet_path(split.logstore, &split.split_id),
                        split.parquet_bytes,
                    )
                })
                .collect(),
            split_rows: chosen.iter().map(|split| split.row_count).sum(),
            memory,
        }
    }

    /// The published splits of a logstore, by first offset.
    pub fn splits(&self, logstore: LogstoreId) -> Vec<Arc<SplitRecord>> {
        self.memtable.splits(logstore)
    }

    /// Flushes a logstore's records in memory into a split now (they would be flushed by
    /// size or age anyway). A no-op when the engine keeps no splits or nothing is in memory.
    pub async fn flush(&self, logstore: LogstoreId) -> Result<(), StoreError> {
        let Some(splits) = &self.splits else {
            return Ok(());
        };
        match splits.lifecycle.flush(logstore).await {
            Ok(result) => result,
            Err(_halted) => Err(StoreError::split("the flush stopped at a failpoint")),
        }
    }

    /// Runs one pass of the split lifecycle now, the same pass the background task runs every
    /// tick: flushes that are due, a merge per logstore, retention when its interval has
    /// passed, and deletions whose grace has ended. A pass that finds a flush or merge failing
    /// logs it and goes on, as the background one does. For tools and tests that must not
    /// depend on when the background pass runs; a no-op when the engine keeps no splits.
    pub async fn run_split_lifecycle_pass(&self) -> Result<(), StoreError> {
        let Some(splits) = &self.splits else {
            return Ok(());
        };
        splits
            .lifecycle
            .pass()
            .await
            .map_err(|_halted| StoreError::split("the lifecycle pass stopped at a failpoint"))
    }

    /// Removes splits past their logstore's TTL now (this also runs periodically).
    pub async fn apply_retention(&self) -> Result<(), StoreError> {
        match &self.splits {
            Some(splits) => splits.lifecycle.expire().await,
            None => Ok(()),
        }
    }

    /// Up to `max_records` records of a logstore starting at `offset`, each with its offset,
    /// in offset (acknowledgement) order, and the offset to read from next: the offset after
    /// the last record returned. An offset below [`LogEngine::first_offset`] (records removed
    /// by retention) reads from the first offset still held; an offset at or past the end
    /// returns no records and `offset` unchanged, so a follower polls with the same offset
    /// until more arrive. The result is a snapshot; records acknowledged later get higher
    /// offsets.
    pub async fn read_from(
        &self,
        logstore: LogstoreId,
        offset: u64,
        max_records: usize,
    ) -> Result<(Vec<(u64, Arc<LogRecord>)>, u64), StoreError> {
        match &self.splits {
            Some(splits) => {
                let snapshot = self.memtable.snapshot(logstore);
                splits
                    .reader
                    .read_from(&snapshot, offset, max_records)
                    .await
            }
            None => Ok(self.memtable.read_from(logstore, offset, max_records)),
        }
    }

    /// The offset the next acknowledged record of a logstore will get, i.e. the number of
    /// records it ever held (0 for a logstore never written, or dropped).
    pub fn next_offset(&self, logstore: LogstoreId) -> u64 {
        self.memtable.next_offset(logstore)
    }

    /// The lowest offset of a logstore still held: 0 until retention removes old records.
    pub fn first_offset(&self, logstore: LogstoreId) -> u64 {
        self.memtable.first_offset(logstore)
    }

    /// The offset of the first record (in offset order) whose time is at or after `time`,
    /// or [`LogEngine::next_offset`] when there is none: where a reader that wants records
    /// from `time` on starts.
    pub async fn offset_at_time(
        &self,
        logstore: LogstoreId,
        time: LogTime,
    ) -> Result<u64, StoreError> {
        match &self.splits {
            Some(splits) => {
                let snapshot = self.memtable.snapshot(logstore);
                splits.reader.offset_at_time(&snapshot, time).await
            }
            None => Ok(self.memtable.offset_at_time(logstore, time)),
        }
    }

    /// Forgets a logstore's records and producer sequence ids (the logstore was deleted):
    /// writes a durable tombstone first, so replay does not resurrect them. Later appends
    /// to the logstore are refused with [`StoreError::LogstoreDropped`].
    pub async fn drop_logstore(&self, logstore: LogstoreId) -> Result<(), StoreError> {
        if self.shutting_down.load(Ordering::Acquire) {
            return Err(StoreError::ShuttingDown);
        }
        let payload = codec::encode_drop_logstore(0, logstore);
        let (reply, answer) = oneshot::channel();
        self.send(Command::DropLogstore {
            logstore,
            payload,
            reply,
        })
        .await?;
        answer.await.map_err(|_| self.writer_gone())??;
        if let Some(splits) = &self.splits {
            // The tombstone is durable: a crash from here on finishes this at the next start.
            splits.lifecycle.drop_logstore(logstore).await?;
        }
        Ok(())
    }

    /// Stops accepting writes, lets every append already queued complete, fsyncs and closes
    /// the WAL. Called on SIGTERM; calling it again returns `Ok`.
    pub async fn shutdown(&self) -> Result<(), StoreError> {
        self.shutting_down.store(true, Ordering::Release);
        if let Some(splits) = &self.splits {
            splits.shutdown.notify_one();
        }
        let (reply, answer) = oneshot::channel();
        if self
            .commands
            .send(Command::Shutdown { reply })
            .await
            .is_err()
        {
            // The writer already stopped after an earlier shutdown.
            return Ok(());
        }
        answer.await.unwrap_or(Ok(()))
    }

    /// Current sizes: records and raw bytes in memory, WAL bytes and segment files.
    pub fn stats(&self) -> EngineStats {
        EngineStats {
            records: self.memtable.record_count(),
            raw_bytes: self.memtable.raw_bytes(),
            wal_bytes: self.wal_stats.bytes(),
            segments: self.wal_stats.segments(),
        }
    }

    async fn send(&self, command: Command) -> Result<(), StoreError> {
        self.commands
            .send(command)
            .await
            .map_err(|_| self.writer_gone())
    }

    /// The error for a writer that no longer answers.
    fn writer_gone(&self) -> StoreError {
        if self.shutting_down.load(Ordering::Acquire) {
            StoreError::ShuttingDown
        } else {
            StoreError::WalFailed {
                reason: "the wal writer thread stopped".to_owned(),
            }
        }
    }
}

impl Drop for LogEngine {
    fn drop(&mut self) {
        if let Some(task) = self.splits.as_mut().and_then(|splits| splits.task.take()) {
            task.abort();
        }
        // Close the channel (the writer then drains it and exits), and wait, so that the
        // directory lock is released when the engine is gone.
        let (closed, _) = mpsc::channel(1);
        drop(std::mem::replace(&mut self.commands, closed));
        if let Some(thread) = self.writer_thread.take() {
            if thread.join().is_err() {
                tracing::error!("the wal writer thread panicked");
            }
        }
    }
}

impl std::fmt::Debug for LogEngine {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("LogEngine")
            .field("stats", &self.stats())
            .field("shutting_down", &self.shutting_down.load(Ordering::Relaxed))
            .finish()
    }
}
