//! # The split lifecycle: flush, merge, retention, and cleaning up after crashes
//!
//! One background task per engine moves records through their life:
//!
//! ```text
//! memtable ──flush──▶ level-0 split ──merge──▶ larger split ──retention──▶ deleted
//! ```
//!
//! **Flush** (a logstore's memory holds `flush_bytes` raw bytes, or its oldest record is
//! `flush_age` old, or all logstores together hold more than `memory_limit_bytes`, largest
//! first): build the split from a snapshot of the records in memory, upload both
//! files, publish the split in the catalog, then — under the memtable's write lock — add it
//! to the logstore and drop its records from memory; finally tell the WAL writer, which
//! removes segments holding nothing newer.
//!
//! **Merge**: at least `merge_min_inputs` adjacent small splits become one (their column
//! chunks copied and token indexes concatenated, or their rows re-encoded when their columns
//! differ in type; uploaded, then swapped for the inputs in one catalog transaction).
//!
//! **Retention**: splits whose newest record is older than the logstore's TTL are removed
//! from the catalog, then from memory; their files go after a grace period, and never while a
//! snapshot taken before still holds the split (a query that started before a merge or an
//! expiry reads the files it planned to, however long it runs; `split::deletion` holds that
//! queue and the orphan sweep).
//!
//! ## What a crash leaves, and why nothing is lost or doubled
//!
//! | crash after…            | on restart                                                    |
//! |-------------------------|---------------------------------------------------------------|
//! | upload, before publish  | the files are orphans (deleted); the WAL still has the records |
//! | publish                 | replay skips records below the split's end; WAL kept until the next publish truncates it |
//! | WAL truncation          | nothing to do                                                 |
//! | merge upload            | orphans deleted; inputs still published                       |
//! | merge publish           | the catalog has the merged split only; input files are orphans |
//!
//! The catalog is the single source of truth: a record is readable from a split iff the
//! split is published, and published splits never overlap (the catalog checks it), so a
//! record is never in two places and never in none. Failpoints ([`SplitFailpoint`]) stop the
//! lifecycle at each of these steps so tests can prove it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use cairn_meta::{SplitRecord, SplitStoreError};
use cairn_model::{LogRecord, LogstoreId};
use futures::StreamExt;
use tokio::sync::{mpsc, Mutex, Notify};

use crate::memtable::Memtable;
use crate::split::deletion::SplitFileDeletions;
use crate::split::files::{
    build_split, parquet_path, stream_split_batches, upload_split, BuiltSplit,
};
use crate::split::merged::{union_schema, MergedSplitBuilder};
use crate::split::reader::SplitReader;
use crate::split::settings::{FailpointAction, SplitFailpoint, SplitSettings};
use crate::split::spliced::{can_splice, splice_splits};
use crate::writer::Command;
use crate::StoreError;

/// The lifecycle stopped at a failpoint.
#[derive(Debug)]
pub(crate) struct Halted;

/// The background worker and what it shares with the engine.
pub(crate) struct SplitLifecycle {
    pub settings: SplitSettings,
    pub memtable: Arc<Memtable>,
    pub reader: Arc<SplitReader>,
    /// Weak, so that the engine's drop closes the writer's channel even while this lives.
    pub commands: mpsc::WeakSender<Command>,
    /// Held by every change to a logstore's splits (flush, merge, retention, drop).
    pub changes: Arc<Mutex<()>>,
    pub shutdown: Arc<Notify>,
    /// Files to delete once their grace period ends and no snapshot holds their split.
    deletions: SplitFileDeletions,
    last_retention: std::sync::Mutex<Option<Instant>>,
}

fn catalog_error(error: impl std::fmt::Display) -> StoreError {
    StoreError::Catalog {
        reason: error.to_string(),
    }
}

impl SplitLifecycle {
    pub(crate) fn new(
        settings: SplitSettings,
        memtable: Arc<Memtable>,
        reader: Arc<SplitReader>,
        commands: mpsc::WeakSender<Command>,
        changes: Arc<Mutex<()>>,
        shutdown: Arc<Notify>,
    ) -> Self {
        Self {
            settings,
            memtable,
            reader,
            commands,
            changes,
            shutdown,
            deletions: SplitFileDeletions::default(),
            last_retention: std::sync::Mutex::new(None),
        }
    }

    /// Removes every split of a dropped logstore: catalog records first, then files.
    pub(crate) async fn drop_logstore(&self, logstore: LogstoreId) -> Result<(), StoreError> {
        let _changes = Arc::clone(&self.changes).lock_owned().await;
        let splits = self
            .settings
            .catalog
            .list_splits(logstore)
            .await
            .map_err(catalog_error)?;
        let ids: Vec<String> = splits.iter().map(|split| split.split_id.clone()).collect();
        self.settings
            .catalog
            .delete_splits(&ids)
            .await
            .map_err(catalog_error)?;
        self.reader.evict(&ids);
        for id in &ids {
            self.deletions.schedule(logstore, id, Duration::ZERO);
        }
        self.deletions
            .delete_due(&*self.settings.object_store, &self.reader)
            .await;
        Ok(())
    }

    /// Runs until shutdown (or a halting failpoint).
    pub(crate) async fn run(self: Arc<Self>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.settings.tick) => {}
                _ = self.shutdown.notified() => break,
            }
            if self.pass().await.is_err() {
                tracing::warn!("split lifecycle halted at a failpoint");
                return;
            }
        }
    }

    fn failpoint(&self, step: SplitFailpoint) -> Result<(), Halted> {
        match self.settings.failpoint {
            Some((at, FailpointAction::Abort)) if at == step => {
                tracing::error!(step = ?step, "split failpoint reached: aborting");
                std::process::abort();
            }
            Some((at, FailpointAction::Halt)) if at == step => Err(Halted),
            _ => Ok(()),
        }
    }

    /// One round of work: flushes due, one merge per logstore, retention when due, and
    /// deletions whose grace ended. The background task runs one every `tick`; the engine
    /// runs one on request ([`crate::LogEngine::run_split_lifecycle_pass`]).
    pub(crate) async fn pass(&self) -> Result<(), Halted> {
        let mut uses = self.memtable.memory_use();
        uses.sort_by_key(|usage| std::cmp::Reverse(usage.raw_bytes));
        // Largest first: while the total is over the limit, the largest logstores flush.
        let mut in_memory: u64 = uses.iter().map(|usage| usage.raw_bytes).sum();
        for usage in &uses {
            let over_limit = in_memory > self.settings.memory_limit_bytes;
            let due = usage.records > 0
                && (over_limit
                    || usage.raw_bytes >= self.settings.flush_bytes
                    || usage
                        .oldest_arrival
                        .is_some_and(|at| at.elapsed() >= self.settings.flush_age));
            if due {
                in_memory = in_memory.saturating_sub(usage.raw_bytes);
                if let Err(error) = self.flush(usage.logstore).await? {
                    tracing::warn!(logstore = %usage.logstore, error = %error, "split flush failed; will retry");
                }
            }
        }
        for usage in &uses {
            if let Err(error) = self.merge(usage.logstore).await? {
                tracing::warn!(logstore = %usage.logstore, error = %error, "split merge failed; will retry");
            }
        }
        let retention_due = {
            let mut last = self
                .last_retention
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let due = last.is_none_or(|at| at.elapsed() >= self.settings.retention_interval);
            if due {
                *last = Some(Instant::now());
            }
            due
        };
        if retention_due {
            if let Err(error) = self.expire().await {
                tracing::warn!(error = %error, "split retention failed; will retry");
            }
        }
        self.deletions
            .delete_due(&*self.settings.object_store, &self.reader)
            .await;
        Ok(())
    }

    /// Flushes everything in memory of `logstore` into one split.
    pub(crate) async fn flush(
        &self,
        logstore: LogstoreId,
    ) -> Result<Result<(), StoreError>, Halted> {
        let _changes = Arc::clone(&self.changes).lock_owned().await;
        let (base, records) = self.memtable.unflushed(logstore);
        if records.is_empty() {
            return Ok(Ok(()));
        }
        let built = self
            .build_and_upload(logstore, 0, move || {
                let with_offsets: Vec<(u64, &LogRecord)> = records
                    .iter()
                    .zip(base..)
                    .map(|(record, offset)| (offset, record.as_ref()))
                    .collect();
                build_split(&with_offsets, records.raw_bytes())
            })
            .await;
        let record = match built {
            Ok(record) => record,
            Err(error) => return Ok(Err(error)),
        };
        let split_id = record.split_id.clone();
        self.failpoint(SplitFailpoint::AfterUpload)?;
        if let Err(error) = self.settings.catalog.publish_split(&record).await {
            self.deletions.schedule(logstore, &split_id, Duration::ZERO);
            return Ok(Err(catalog_error(error)));
        }
        self.failpoint(SplitFailpoint::AfterPublish)?;
        self.memtable.publish_split(Arc::new(record.clone()));
        if let Some(commands) = self.commands.upgrade() {
            let _ = commands
                .send(Command::SplitPublished {
                    logstore,
                    end_offset: record.end_offset,
                })
                .await;
        }
        tracing::info!(
            logstore = %logstore,
            split = %split_id,
            rows = record.row_count,
            raw_bytes = record.raw_bytes,
            parquet_bytes = record.parquet_bytes,
            index_bytes = record.index_bytes,
            "split flushed"
        );
        Ok(Ok(()))
    }

    /// Builds a split on a blocking thread, uploads its files under a fresh id, and returns
    /// its catalog record (not yet published).
    async fn build_and_upload(
        &self,
        logstore: LogstoreId,
        merge_level: u32,
        build: impl FnOnce() -> Result<BuiltSplit, StoreError> + Send + 'static,
    ) -> Result<SplitRecord, StoreError> {
        let built = tokio::task::spawn_blocking(build)
            .await
            .map_err(|error| StoreError::split(format!("the split builder panicked: {error}")))??;
        self.upload_built(logstore, merge_level, built).await
    }

    /// Uploads a built split's files under a fresh id and returns its catalog record (not
    /// yet published).
    async fn upload_built(
        &self,
        logstore: LogstoreId,
        merge_level: u32,
        built: BuiltSplit,
    ) -> Result<SplitRecord, StoreError> {
        let split_id = uuid::Uuid::new_v4().simple().to_string();
        upload_split(&*self.settings.object_store, logstore, &split_id, &built).await?;
        Ok(built.catalog_record(split_id, logstore, merge_level, unix_now()))
    }

    /// Merges the first run of small adjacent splits of `logstore`, if there is one.
    async fn merge(&self, logstore: LogstoreId) -> Result<Result<(), StoreError>, Halted> {
        let _changes = Arc::clone(&self.changes).lock_owned().await;
        let splits = self.memtable.splits(logstore);
        let Some(inputs) = merge_candidates(&splits, &self.settings) else {
            return Ok(Ok(()));
        };
        let level = inputs
            .iter()
            .map(|split| split.merge_level)
            .max()
            .unwrap_or(0)
            + 1;
        let built = match self.merge_inputs(&inputs).await {
            Ok(built) => self.upload_built(logstore, level, built).await,
            Err(error) => Err(error),
        };
        let merged = match built {
            Ok(record) => record,
            Err(error) => return Ok(Err(error)),
        };
        let split_id = merged.split_id.clone();
        self.failpoint(SplitFailpoint::AfterMergeUpload)?;
        let input_ids: Vec<String> = inputs.iter().map(|split| split.split_id.clone()).collect();
        match self
            .settings
            .catalog
            .replace_splits(&input_ids, &merged)
            .await
        {
            Ok(()) => {}
            Err(error @ SplitStoreError::NotPublished { .. }) => {
                // Retention removed an input meanwhile: drop the merge, try again later.
                self.deletions.schedule(logstore, &split_id, Duration::ZERO);
                tracing::info!(logstore = %logstore, error = %error, "split merge abandoned");
                return Ok(Ok(()));
            }
            Err(error) => {
                self.deletions.schedule(logstore, &split_id, Duration::ZERO);
                return Ok(Err(catalog_error(error)));
            }
        }
        self.failpoint(SplitFailpoint::AfterMergePublish)?;
        let replaced =
            self.memtable
                .replace_splits(logstore, &input_ids, Some(Arc::new(merged.clone())));
        self.reader.evict(&input_ids);
        for split in &replaced {
            self.deletions
                .schedule_after_readers(split, self.settings.deletion_grace);
        }
        tracing::info!(
            logstore = %logstore,
            split = %split_id,
            inputs = input_ids.len(),
            rows = merged.row_count,
            level = merged.merge_level,
            "splits merged"
        );
        Ok(Ok(()))
    }

    /// Builds the merge of `inputs` (adjacent, in offset order): by copying their column
    /// chunks when their columns allow (see `split::spliced`), else their batches stream from
    /// the files to a builder on a blocking thread, a few at a time (see `split::merged`).
    async fn merge_inputs(&self, inputs: &[Arc<SplitRecord>]) -> Result<BuiltSplit, StoreError> {
        let (Some(first), Some(last)) = (inputs.first(), inputs.last()) else {
            return Err(StoreError::split("a merge needs at least one input"));
        };
        let mut metadata = Vec::with_capacity(inputs.len());
        for split in inputs {
            metadata.push(self.reader.metadata(split).await?);
        }
        let schemas: Vec<_> = metadata.iter().map(|m| Arc::clone(m.schema())).collect();
        let schema = union_schema(&schemas)?;
        if can_splice(&schema, &metadata)? {
            return splice_splits(&self.reader, inputs, &schema).await;
        }
        let (first_offset, end_offset) = (first.first_offset, last.end_offset);
        let raw_bytes = inputs.iter().map(|split| split.raw_bytes).sum();
        let (sender, mut receiver) = tokio::sync::mpsc::channel::<RecordBatch>(2);
        let builder = tokio::task::spawn_blocking(move || {
            let mut builder = MergedSplitBuilder::new(schema, first_offset, end_offset, raw_bytes)?;
            while let Some(batch) = receiver.blocking_recv() {
                builder.push(&batch)?;
            }
            builder.finish()
        });
        let fed: Result<(), StoreError> = async {
            for (split, metadata) in inputs.iter().zip(metadata) {
                let path = parquet_path(split.logstore, &split.split_id);
                let mut batches = stream_split_batches(
                    Arc::clone(&self.settings.object_store),
                    &path,
                    split.parquet_bytes,
                    metadata,
                )?;
                while let Some(batch) = batches.next().await {
                    let batch = batch
                        .map_err(|error| StoreError::split(format!("reading {path}: {error}")))?;
                    if sender.send(batch).await.is_err() {
                        // The builder stopped: its error says why.
                        return Ok(());
                    }
                }
            }
            Ok(())
        }
        .await;
        drop(sender);
        let built = builder
            .await
            .map_err(|error| StoreError::split(format!("the merge builder panicked: {error}")))?;
        fed?;
        built
    }

    /// Removes splits past their logstore's TTL.
    pub(crate) async fn expire(&self) -> Result<(), StoreError> {
        let expired = self
            .settings
            .catalog
            .expired_splits(unix_now())
            .await
            .map_err(catalog_error)?;
        if expired.is_empty() {
            return Ok(());
        }
        let _changes = Arc::clone(&self.changes).lock_owned().await;
        let ids: Vec<String> = expired.iter().map(|split| split.split_id.clone()).collect();
        self.settings
            .catalog
            .delete_splits(&ids)
            .await
            .map_err(catalog_error)?;
        let mut by_logstore: HashMap<LogstoreId, Vec<String>> = HashMap::new();
        for split in &expired {
            by_logstore
                .entry(split.logstore)
                .or_default()
                .push(split.split_id.clone());
        }
        let mut removed: HashMap<String, Arc<SplitRecord>> = HashMap::new();
        for (logstore, ids) in &by_logstore {
            for split in self.memtable.replace_splits(*logstore, ids, None) {
                removed.insert(split.split_id.clone(), split);
            }
        }
        self.reader.evict(&ids);
        for split in &expired {
            match removed.get(&split.split_id) {
                Some(held) => self
                    .deletions
                    .schedule_after_readers(held, self.settings.deletion_grace),
                None => self.deletions.schedule(
                    split.logstore,
                    &split.split_id,
                    self.settings.deletion_grace,
                ),
            }
        }
        tracing::info!(splits = expired.len(), "expired splits removed");
        Ok(())
    }
}

/// The first run of at least `merge_min_inputs` adjacent splits, each below half the merge
/// size, whose total stays within it.
fn merge_candidates(
    splits: &[Arc<SplitRecord>],
    settings: &SplitSettings,
) -> Option<Vec<Arc<SplitRecord>>> {
    let small = |split: &SplitRecord| split.raw_bytes < settings.merge_max_raw_bytes / 2;
    let mut run: Vec<Arc<SplitRecord>> = Vec::new();
    let mut total = 0u64;
    for split in splits {
        let adjacent = run
            .last()
            .is_none_or(|last| last.end_offset == split.first_offset);
        if !small(split) || !adjacent || total + split.raw_bytes > settings.merge_max_raw_bytes {
            if run.len() >= settings.merge_min_inputs.max(2) {
                return Some(run);
            }
            run.clear();
            total = 0;
            if !small(split) {
                continue;
            }
        }
        total += split.raw_bytes;
        run.push(Arc::clone(split));
    }
    (run.len() >= settings.merge_min_inputs.max(2)).then_some(run)
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}
