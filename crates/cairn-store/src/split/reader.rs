//! Reading a logstore through its snapshot: published splits (from object storage, through
//! a cache of their token indexes and Parquet metadata) followed by the records in memory.
//!
//! Invariants:
//! - Reads work on one [`LogstoreSnapshot`], so they see every record exactly once even while
//!   a flush, merge or retention changes the logstore.
//! - Only blocks whose time range and token filter admit the search are read; records are
//!   then filtered by exact time (nanoseconds), never by the filter alone.
//! - The cache holds immutable data keyed by split id; an entry is dropped when its split is.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};

use cairn_meta::SplitRecord;
use cairn_model::{LogRecord, LogTime, TokenQuery};
use futures::StreamExt;
use object_store::ObjectStore;
use parquet::arrow::arrow_reader::ArrowReaderMetadata;

use crate::memtable::LogstoreSnapshot;
use crate::split::files::{
    index_path, load_parquet_metadata, parquet_path, read_object, read_split_records,
    read_split_rows, RowsRead,
};
use crate::split::read_plan::{
    next_step, row_group_ends, runs_within_row_groups, BLOCKS_PER_TASK, UNITS_PER_READ,
};
use crate::split::token_index::TokenIndex;
use crate::StoreError;

/// A block of a split (by position in the snapshot, and number), or the records in memory.
#[derive(Debug, Clone, Copy)]
struct ReadUnit {
    split: Option<(usize, usize)>,
    min_time: i64,
    max_time: i64,
}

/// A search for the first records by time: see [`SplitReader::top_by_time`].
#[derive(Clone, Copy)]
pub struct TimeOrderedQuery<'q> {
    /// Start of the time range (inclusive).
    pub from: LogTime,
    /// End of the time range (exclusive).
    pub to: LogTime,
    /// Blocks this rules out are not read.
    pub tokens: &'q TokenQuery,
    /// Whether a record matches (the search's matcher).
    pub accept: &'q (dyn Fn(&LogRecord) -> bool + Sync),
    /// Newest first (SLS `reverse=true`) or oldest first.
    pub newest_first: bool,
    /// How many records are wanted.
    pub limit: usize,
}

/// What is kept in memory per split.
#[derive(Debug)]
pub(crate) struct CachedSplit {
    pub index: TokenIndex,
    pub metadata: ArrowReaderMetadata,
}

/// Reads split files, caching each split's index and metadata.
#[derive(Debug)]
pub(crate) struct SplitReader {
    store: Arc<dyn ObjectStore>,
    cache: Mutex<HashMap<String, Arc<CachedSplit>>>,
}

impl SplitReader {
    pub(crate) fn new(store: Arc<dyn ObjectStore>) -> Self {
        Self {
            store,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The object store holding the files.
    pub(crate) fn store(&self) -> Arc<dyn ObjectStore> {
        Arc::clone(&self.store)
    }

    /// Forgets cached data of splits that are gone.
    pub(crate) fn evict(&self, split_ids: &[String]) {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        for id in split_ids {
            cache.remove(id);
        }
    }

    /// Whether the cache holds `split_id`.
    #[cfg(test)]
    pub(crate) fn is_cached(&self, split_id: &str) -> bool {
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(split_id)
    }

    /// A split's token index and Parquet metadata, from the cache or loaded into it.
    pub(crate) async fn cached(&self, split: &SplitRecord) -> Result<Arc<CachedSplit>, StoreError> {
        if let Some(hit) = self
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&split.split_id)
        {
            return Ok(Arc::clone(hit));
        }
        let index_bytes =
            read_object(&*self.store, &index_path(split.logstore, &split.split_id)).await?;
        let index = TokenIndex::parse(&index_bytes)?;
        if index.row_count() != split.row_count {
            return Err(StoreError::split(format!(
                "split {} has {} rows in its index but {} in the catalog",
                split.split_id,
                index.row_count(),
                split.row_count
            )));
        }
        let metadata = load_parquet_metadata(
            self.store(),
            &parquet_path(split.logstore, &split.split_id),
            split.parquet_bytes,
        )
        .await?;
        let entry = Arc::new(CachedSplit { index, metadata });
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(split.split_id.clone(), Arc::clone(&entry));
        Ok(entry)
    }

    /// Reads the rows in `rows` (sorted ranges of row numbers; `None` for all) of a split.
    async fn read_rows(
        &self,
        split: &SplitRecord,
        cached: &CachedSplit,
        rows: Option<&[Range<u64>]>,
    ) -> Result<Vec<(u64, LogRecord)>, StoreError> {
        read_split_records(
            self.store(),
            &parquet_path(split.logstore, &split.split_id),
            split.parquet_bytes,
            cached.metadata.clone(),
            split.row_count,
            rows,
        )
        .await
    }

    /// Reads the rows in `rows` (sorted ranges of row numbers; `None` for all) of a split,
    /// keeping the rows `tokens` admits, in a task of its own (spawned when first polled), so
    /// several run in parallel.
    fn read_job(
        &self,
        split: &SplitRecord,
        cached: &CachedSplit,
        rows: Option<Vec<Range<u64>>>,
        tokens: &Arc<TokenQuery>,
    ) -> impl std::future::Future<Output = Result<Result<RowsRead, StoreError>, tokio::task::JoinError>>
    {
        let store = self.store();
        let path = parquet_path(split.logstore, &split.split_id);
        let (size, row_count) = (split.parquet_bytes, split.row_count);
        let metadata = cached.metadata.clone();
        let tokens = Arc::clone(tokens);
        async move {
            tokio::spawn(async move {
                read_split_rows(
                    store,
                    &path,
                    size,
                    metadata,
                    row_count,
                    rows.as_deref(),
                    &tokens,
                )
                .await
            })
            .await
        }
    }

    /// A split's Parquet metadata (cached).
    pub(crate) async fn metadata(
        &self,
        split: &SplitRecord,
    ) -> Result<ArrowReaderMetadata, StoreError> {
        Ok(self.cached(split).await?.metadata.clone())
    }

    /// Records of the snapshot whose time is in `[from, to)` and whose blocks `tokens`
    /// admits, in offset order.
    pub(crate) async fn search(
        &self,
        snapshot: &LogstoreSnapshot,
        from: LogTime,
        to: LogTime,
        tokens: &TokenQuery,
    ) -> Result<Vec<Arc<LogRecord>>, StoreError> {
        let units = self.candidate_units(snapshot, from, to, tokens).await?;
        let (records, _) = self.read_units(snapshot, &units, from, to, tokens).await?;
        Ok(records)
    }

    /// The blocks of the snapshot's splits that may hold matches in `[from, to)`, each with
    /// its time range, and the records in memory as one last pseudo-block.
    async fn candidate_units(
        &self,
        snapshot: &LogstoreSnapshot,
        from: LogTime,
        to: LogTime,
        tokens: &TokenQuery,
    ) -> Result<Vec<ReadUnit>, StoreError> {
        let (from_seconds, to_seconds) = (i64::from(from.seconds), i64::from(to.seconds) + 1);
        let mut units = Vec::new();
        for (position, split) in snapshot.splits.iter().enumerate() {
            if split.max_time < from_seconds || split.min_time >= to_seconds {
                continue;
            }
            let cached = self.cached(split).await?;
            for block in cached
                .index
                .candidate_blocks(tokens, from_seconds, to_seconds)
            {
                let (min_time, max_time) = cached
                    .index
                    .block_time_range(block)
                    .unwrap_or((split.min_time, split.max_time));
                units.push(ReadUnit {
                    split: Some((position, block)),
                    min_time,
                    max_time,
                });
            }
        }
        if let Some((min_time, max_time)) = snapshot.records.time_range_seconds() {
            units.push(ReadUnit {
                split: None,
                min_time,
                max_time,
            });
        }
        Ok(units)
    }

    /// Reads a run of units (blocks of splits, or memory) into records in `[from, to)`, in
    /// offset order, leaving out split rows that cannot satisfy `tokens`. Also returns how
    /// many rows were examined (read from splits, or in memory in range).
    async fn read_units(
        &self,
        snapshot: &LogstoreSnapshot,
        units: &[ReadUnit],
        from: LogTime,
        to: LogTime,
        tokens: &TokenQuery,
    ) -> Result<(Vec<Arc<LogRecord>>, u64), StoreError> {
        let in_range = |record: &LogRecord| {
            let time = record.time.as_nanos();
            from.as_nanos() <= time && time < to.as_nanos()
        };
        let mut found = Vec::new();
        let mut examined = 0u64;
        let mut by_split: std::collections::BTreeMap<usize, Vec<usize>> =
            std::collections::BTreeMap::new();
        let mut memory = false;
        for unit in units {
            match unit.split {
                Some((split, block)) => by_split.entry(split).or_default().push(block),
                None => memory = true,
            }
        }
        // Each split's blocks, in runs of a few within one row group, read in parallel (in
        // order of offsets). A task opens every column chunk of each row group it touches,
        // decompression contexts and dictionaries included: a row group shared by two tasks
        // pays that twice.
        let tokens = Arc::new(tokens.clone());
        let mut jobs = Vec::new();
        for (position, mut blocks) in by_split {
            let split = &snapshot.splits[position];
            blocks.sort_unstable();
            blocks.dedup();
            let cached = self.cached(split).await?;
            if blocks.len() == cached.index.block_count() && blocks.len() <= BLOCKS_PER_TASK {
                jobs.push(self.read_job(split, &cached, None, &tokens));
                continue;
            }
            let group_ends = row_group_ends(&cached.metadata);
            let ranges: Vec<Range<u64>> = blocks
                .iter()
                .filter_map(|&block| cached.index.block_rows(block))
                .collect();
            for run in runs_within_row_groups(&ranges, &group_ends) {
                jobs.push(self.read_job(split, &cached, Some(run.to_vec()), &tokens));
            }
        }
        let parallelism = std::thread::available_parallelism().map_or(1, usize::from);
        let mut reads = futures::stream::iter(jobs).buffered(parallelism);
        while let Some(read) = reads.next().await {
            let read =
                read.map_err(|error| StoreError::split(format!("a read task failed: {error}")))??;
            examined += read.rows_read;
            found.extend(
                read.records
                    .into_iter()
                    .filter(|(_, record)| in_range(record))
                    .map(|(_, record)| Arc::new(record)),
            );
        }
        // Memory last: its records have the highest offsets, so the result is in offset order.
        if memory {
            let before = found.len();
            found.extend(
                snapshot
                    .records
                    .in_range(from.as_nanos(), to.as_nanos())
                    .map(|(_, record)| Arc::clone(record)),
            );
            examined += (found.len() - before) as u64;
        }
        Ok((found, examined))
    }

    /// Calls `visit` with every record in `[from, to)` that `tokens` admits (by block, then
    /// by row), a few blocks at a time (memory stays bounded); returns the number of rows
    /// examined.
    pub(crate) async fn visit(
        &self,
        snapshot: &LogstoreSnapshot,
        from: LogTime,
        to: LogTime,
        tokens: &TokenQuery,
        visit: &mut (dyn FnMut(&LogRecord) + Send),
    ) -> Result<u64, StoreError> {
        let units = self.candidate_units(snapshot, from, to, tokens).await?;
        let mut examined = 0u64;
        for chunk in units.chunks(UNITS_PER_READ) {
            let (records, read) = self.read_units(snapshot, chunk, from, to, tokens).await?;
            examined += read;
            for record in records {
                visit(&record);
            }
        }
        Ok(examined)
    }

    /// The `limit` newest (or oldest) records in `[from, to)` that `accept` takes, reading
    /// blocks from the newest (oldest) on and stopping as soon as no unread block can hold a
    /// better one. Returns them best first, and how many records were examined.
    pub(crate) async fn top_by_time(
        &self,
        snapshot: &LogstoreSnapshot,
        query: &TimeOrderedQuery<'_>,
    ) -> Result<(Vec<Arc<LogRecord>>, u64), StoreError> {
        let TimeOrderedQuery {
            from,
            to,
            tokens,
            accept,
            newest_first,
            limit,
        } = *query;
        let mut units = self.candidate_units(snapshot, from, to, tokens).await?;
        if newest_first {
            units.sort_by_key(|unit| std::cmp::Reverse(unit.max_time));
        } else {
            units.sort_by_key(|unit| unit.min_time);
        }
        let key = |record: &LogRecord| record.time.as_nanos();
        let mut best: Vec<Arc<LogRecord>> = Vec::new();
        let mut examined = 0u64;
        let mut next = 0;
        let mut accepted = 0usize;
        // Start with one block: a common token (or no search at all) fills the page from
        // the first block or two. Then size each step by the matches per block so far.
        let mut step = 1;
        while next < units.len() {
            if best.len() >= limit && limit > 0 {
                let worst = key(&best[best.len() - 1]) / 1_000_000_000;
                let unit = &units[next];
                let hopeless = if newest_first {
                    (unit.max_time as u64) < worst
                } else {
                    (unit.min_time as u64) > worst
                };
                if hopeless {
                    break;
                }
            }
            let end = (next + step).min(units.len());
            let (records, read) = self
                .read_units(snapshot, &units[next..end], from, to, tokens)
                .await?;
            next = end;
            examined += read;
            let before = best.len();
            best.extend(records.into_iter().filter(|record| accept(record)));
            accepted += best.len() - before;
            step = next_step(step, limit.saturating_sub(best.len()), accepted, next);
            if newest_first {
                best.sort_by_key(|record| std::cmp::Reverse(key(record)));
            } else {
                best.sort_by_key(|record| key(record));
            }
            best.truncate(limit);
        }
        Ok((best, examined))
    }

    /// Up to `max_records` records from `offset` on (see `LogEngine::read_from`).
    pub(crate) async fn read_from(
        &self,
        snapshot: &LogstoreSnapshot,
        offset: u64,
        max_records: usize,
    ) -> Result<(Vec<(u64, Arc<LogRecord>)>, u64), StoreError> {
        let first = snapshot
            .splits
            .first()
            .map_or(snapshot.base_offset, |split| split.first_offset);
        let mut position = offset.max(first);
        let mut out: Vec<(u64, Arc<LogRecord>)> = Vec::new();
        for split in &snapshot.splits {
            if out.len() >= max_records {
                break;
            }
            if split.end_offset <= position {
                continue;
            }
            // A gap (a split removed by retention) is skipped.
            position = position.max(split.first_offset);
            let wanted = (max_records - out.len()) as u64;
            let end = split.end_offset.min(position.saturating_add(wanted));
            let rows = position - split.first_offset..end - split.first_offset;
            let cached = self.cached(split).await?;
            let records = self.read_rows(split, &cached, Some(&[rows])).await?;
            out.extend(
                records
                    .into_iter()
                    .map(|(at, record)| (at, Arc::new(record))),
            );
            position = end;
        }
        if out.len() < max_records {
            position = position.max(snapshot.base_offset);
            let start = usize::try_from(position - snapshot.base_offset).unwrap_or(usize::MAX);
            out.extend(
                snapshot
                    .records
                    .iter_from(start)
                    .take(max_records - out.len())
                    .zip(position..)
                    .map(|(record, at)| (at, Arc::clone(record))),
            );
        }
        let next = out.last().map_or(offset.max(first), |(at, _)| at + 1);
        Ok((out, next))
    }

    /// The offset of the first record (in offset order) whose time is at or after `time`,
    /// or the snapshot's end.
    pub(crate) async fn offset_at_time(
        &self,
        snapshot: &LogstoreSnapshot,
        time: LogTime,
    ) -> Result<u64, StoreError> {
        let seconds = i64::from(time.seconds);
        for split in &snapshot.splits {
            if split.max_time < seconds {
                continue;
            }
            let cached = self.cached(split).await?;
            let blocks = cached
                .index
                .candidate_blocks(&TokenQuery::Everything, seconds, i64::MAX);
            for rows in blocks
                .into_iter()
                .filter_map(|block| cached.index.block_rows(block))
            {
                let records = self.read_rows(split, &cached, Some(&[rows])).await?;
                if let Some((at, _)) = records
                    .iter()
                    .find(|(_, record)| record.time.as_nanos() >= time.as_nanos())
                {
                    return Ok(*at);
                }
            }
        }
        let in_memory = snapshot
            .records
            .iter()
            .position(|record| record.time.as_nanos() >= time.as_nanos())
            .unwrap_or(snapshot.records.len());
        Ok(snapshot.base_offset + in_memory as u64)
    }
}
