//! Building a split's two files from records, and reading records back from them.
//!
//! A split is `splits/<logstore>/<split id>.parquet` (the records, one row each, in offset
//! order; zstd; pages of [`PAGE_ROWS`] rows, so that a token-index block, which never crosses
//! a page, costs one page per column) and `splits/<logstore>/<split id>.tokens` (the token index). The Parquet file
//! is plain: DuckDB, Spark or DataFusion read it as it is.
//!
//! Invariants: both files are written before the split is published, and never modified
//! after; a reader only reads files of splits it found published.

use std::ops::Range;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::compute::filter_record_batch;
use bytes::Bytes;
use cairn_model::{LogRecord, LogstoreId, TokenQuery};
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, RowSelection, RowSelector,
};
// `ParquetObjectReader` is deprecated in parquet 59 in favour of a hand-written
// `AsyncFileReader`; it still works, and replacing it is tracked in ADR 0009.
#[allow(deprecated)]
use parquet::arrow::async_reader::ParquetObjectReader;
use parquet::arrow::{ArrowWriter, ParquetRecordBatchStreamBuilder};
use parquet::file::metadata::PageIndexPolicy;

use crate::split::columns::{batch_to_records, BatchLayout};
use crate::split::encoding::writer_properties;
use crate::split::row_filter::candidate_rows;
use crate::split::token_index::{build_token_index, PAGE_ROWS};
use crate::StoreError;

/// Rows converted to Arrow at a time while writing.
pub(crate) const WRITE_CHUNK_ROWS: usize = 8 * PAGE_ROWS;

/// The object path of a split's Parquet file.
pub fn parquet_path(logstore: LogstoreId, split_id: &str) -> Path {
    Path::from(format!("splits/{}/{split_id}.parquet", logstore.0))
}

/// The object path of a split's token index.
pub fn index_path(logstore: LogstoreId, split_id: &str) -> Path {
    Path::from(format!("splits/{}/{split_id}.tokens", logstore.0))
}

/// The prefix under which a logstore's split files live.
pub fn logstore_prefix(logstore: LogstoreId) -> Path {
    Path::from(format!("splits/{}", logstore.0))
}

/// A split built in memory, not yet uploaded.
#[derive(Debug, Clone)]
pub struct BuiltSplit {
    /// The Parquet file.
    pub parquet: Bytes,
    /// The token index file.
    pub index: Bytes,
    /// Offset of the first record.
    pub first_offset: u64,
    /// One past the last record's offset.
    pub end_offset: u64,
    /// Earliest record time, seconds.
    pub min_time: i64,
    /// Latest record time, seconds.
    pub max_time: i64,
    /// Number of records.
    pub row_count: u64,
    /// Raw bytes of the records, as SLS meters them.
    pub raw_bytes: u64,
}

impl BuiltSplit {
    /// The catalog's record of this split once uploaded as `split_id`.
    pub(crate) fn catalog_record(
        &self,
        split_id: String,
        logstore: LogstoreId,
        merge_level: u32,
        published_at: i64,
    ) -> cairn_meta::SplitRecord {
        cairn_meta::SplitRecord {
            split_id,
            logstore,
            first_offset: self.first_offset,
            end_offset: self.end_offset,
            min_time: self.min_time,
            max_time: self.max_time,
            row_count: self.row_count,
            raw_bytes: self.raw_bytes,
            parquet_bytes: self.parquet.len() as u64,
            index_bytes: self.index.len() as u64,
            merge_level,
            published_at,
        }
    }
}

/// Builds a split of `records`: contiguous offsets in order, at least one record.
/// `raw_bytes` is their raw sizes summed ([`LogRecord::raw_size`]), which the memtable
/// already keeps: summing it again here cost 1 % of the ingest CPU.
pub fn build_split(
    records: &[(u64, &LogRecord)],
    raw_bytes: u64,
) -> Result<BuiltSplit, StoreError> {
    let (Some((first_offset, _)), Some((last_offset, _))) = (records.first(), records.last())
    else {
        return Err(StoreError::split("a split needs at least one record"));
    };
    if last_offset - first_offset + 1 != records.len() as u64 {
        return Err(StoreError::split("a split's offsets must be contiguous"));
    }
    let layout = BatchLayout::of(records.iter().map(|(_, record)| *record));
    let mut chunks = records.chunks(WRITE_CHUNK_ROWS);
    let first = layout.batch(chunks.next().unwrap_or_default())?;
    let properties = writer_properties(Some(&first))?;
    let mut writer = ArrowWriter::try_new(Vec::new(), layout.schema(), Some(properties))
        .map_err(|error| StoreError::split(format!("starting a parquet file: {error}")))?;
    let mut write = |batch: &RecordBatch| {
        writer
            .write(batch)
            .map_err(|error| StoreError::split(format!("writing a parquet file: {error}")))
    };
    write(&first)?;
    for chunk in chunks {
        write(&layout.batch(chunk)?)?;
    }
    let parquet = writer
        .into_inner()
        .map_err(|error| StoreError::split(format!("finishing a parquet file: {error}")))?;
    let plain: Vec<&LogRecord> = records.iter().map(|(_, record)| *record).collect();
    let index = build_token_index(&plain);
    let times = plain.iter().map(|record| i64::from(record.time.seconds));
    Ok(BuiltSplit {
        parquet: Bytes::from(parquet),
        index: Bytes::from(index),
        first_offset: *first_offset,
        end_offset: last_offset + 1,
        min_time: times.clone().min().unwrap_or(0),
        max_time: times.max().unwrap_or(0),
        row_count: records.len() as u64,
        raw_bytes,
    })
}

/// Maps an object store error.
pub fn object_error(action: &str, path: &Path, error: object_store::Error) -> StoreError {
    StoreError::ObjectStore {
        reason: format!("{action} {path}: {error}"),
    }
}

/// Writes both files of a built split.
pub async fn upload_split(
    store: &dyn ObjectStore,
    logstore: LogstoreId,
    split_id: &str,
    built: &BuiltSplit,
) -> Result<(), StoreError> {
    let parquet = parquet_path(logstore, split_id);
    store
        .put(&parquet, PutPayload::from_bytes(built.parquet.clone()))
        .await
        .map_err(|error| object_error("writing", &parquet, error))?;
    let index = index_path(logstore, split_id);
    store
        .put(&index, PutPayload::from_bytes(built.index.clone()))
        .await
        .map_err(|error| object_error("writing", &index, error))?;
    Ok(())
}

/// Reads a whole object.
pub async fn read_object(store: &dyn ObjectStore, path: &Path) -> Result<Bytes, StoreError> {
    let result = store
        .get(path)
        .await
        .map_err(|error| object_error("reading", path, error))?;
    result
        .bytes()
        .await
        .map_err(|error| object_error("reading", path, error))
}

/// Loads a split's Parquet metadata (with the page index, so row selections skip pages).
#[allow(deprecated)]
pub async fn load_parquet_metadata(
    store: Arc<dyn ObjectStore>,
    path: &Path,
    size: u64,
) -> Result<ArrowReaderMetadata, StoreError> {
    let mut reader = ParquetObjectReader::new(store, path.clone()).with_file_size(size);
    ArrowReaderMetadata::load_async(
        &mut reader,
        ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional),
    )
    .await
    .map_err(|error| StoreError::split(format!("reading the metadata of {path}: {error}")))
}

/// A selection of `ranges` (sorted, not overlapping) of a split of `row_count` rows.
fn row_selection(ranges: &[Range<u64>], row_count: u64) -> RowSelection {
    let mut selectors = Vec::new();
    let mut position = 0u64;
    for range in ranges {
        let start = range.start.clamp(position, row_count);
        let end = range.end.min(row_count);
        if start > position {
            selectors.push(RowSelector::skip((start - position) as usize));
        }
        if end > start {
            selectors.push(RowSelector::select((end - start) as usize));
            position = end;
        }
    }
    if position < row_count {
        selectors.push(RowSelector::skip((row_count - position) as usize));
    }
    RowSelection::from(selectors)
}

/// Reads the records of the rows in `rows` (sorted, not overlapping ranges of row numbers;
/// `None` for all) of a split's Parquet file, with their offsets, in offset order.
pub async fn read_split_records(
    store: Arc<dyn ObjectStore>,
    path: &Path,
    size: u64,
    metadata: ArrowReaderMetadata,
    row_count: u64,
    rows: Option<&[Range<u64>]>,
) -> Result<Vec<(u64, LogRecord)>, StoreError> {
    let read = read_split_rows(
        store,
        path,
        size,
        metadata,
        row_count,
        rows,
        &TokenQuery::Everything,
    )
    .await?;
    Ok(read.records)
}

/// Streams every row of a split's Parquet file as Arrow batches, in offset order (for
/// merges: no row becomes a record).
#[allow(deprecated)]
pub(crate) fn stream_split_batches(
    store: Arc<dyn ObjectStore>,
    path: &Path,
    size: u64,
    metadata: ArrowReaderMetadata,
) -> Result<
    impl futures::Stream<Item = Result<RecordBatch, parquet::errors::ParquetError>>,
    StoreError,
> {
    let reader = ParquetObjectReader::new(store, path.clone()).with_file_size(size);
    ParquetRecordBatchStreamBuilder::new_with_metadata(reader, metadata)
        .with_batch_size(WRITE_CHUNK_ROWS)
        .build()
        .map_err(|error| StoreError::split(format!("reading {path}: {error}")))
}

/// What [`read_split_rows`] returns.
#[derive(Debug, Default)]
pub struct RowsRead {
    /// The records that may satisfy the token query, with their offsets, in offset order.
    pub records: Vec<(u64, LogRecord)>,
    /// How many rows were read (before the token query's row filter).
    pub rows_read: u64,
}

/// Reads the rows in `rows` (sorted, not overlapping ranges of row numbers; `None` for all)
/// of a split's Parquet file and turns into records only those that may satisfy `tokens`
/// (see `row_filter`).
#[allow(deprecated)]
pub async fn read_split_rows(
    store: Arc<dyn ObjectStore>,
    path: &Path,
    size: u64,
    metadata: ArrowReaderMetadata,
    row_count: u64,
    rows: Option<&[Range<u64>]>,
    tokens: &TokenQuery,
) -> Result<RowsRead, StoreError> {
    let reader = ParquetObjectReader::new(store, path.clone()).with_file_size(size);
    let mut builder = ParquetRecordBatchStreamBuilder::new_with_metadata(reader, metadata)
        .with_batch_size(8 * PAGE_ROWS);
    if let Some(rows) = rows {
        builder = builder.with_row_selection(row_selection(rows, row_count));
    }
    let stream = builder
        .build()
        .map_err(|error| StoreError::split(format!("reading {path}: {error}")))?;
    let batches: Vec<RecordBatch> = stream
        .try_collect()
        .await
        .map_err(|error| StoreError::split(format!("reading {path}: {error}")))?;
    let mut read = RowsRead::default();
    for batch in &batches {
        read.rows_read += batch.num_rows() as u64;
        match candidate_rows(batch, tokens) {
            None => read.records.extend(batch_to_records(batch)?),
            Some(rows) => {
                let kept = filter_record_batch(batch, &rows)
                    .map_err(|error| StoreError::split(format!("filtering {path}: {error}")))?;
                read.records.extend(batch_to_records(&kept)?);
            }
        }
    }
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_model::{Field, LogTime};
    use object_store::memory::InMemory;

    #[test]
    fn selections_cover_exactly_the_chosen_rows() {
        let page = PAGE_ROWS as u64;
        let selection = row_selection(&[page..2 * page, 3 * page..3 * page + 50], 3 * page + 10);
        let selected: usize = selection
            .iter()
            .filter(|selector| !selector.skip)
            .map(|selector| selector.row_count)
            .sum();
        assert_eq!(selected, PAGE_ROWS + 10);
        assert_eq!(selection.row_count(), PAGE_ROWS + 10);
    }

    #[tokio::test]
    async fn a_split_round_trips_whole_and_by_block() {
        let records: Vec<LogRecord> = (0..3000u32)
            .map(|row| LogRecord {
                time: LogTime::new(1_700_000_000 + row, row),
                contents: vec![
                    Field::new("row", row.to_string()),
                    Field::new("msg", format!("line {row}")),
                    Field::new("level", ["info", "warn", "error"][row as usize % 3]),
                ],
                ..LogRecord::default()
            })
            .collect();
        let with_offsets: Vec<(u64, &LogRecord)> = records
            .iter()
            .enumerate()
            .map(|(at, r)| (100 + at as u64, r))
            .collect();
        let raw_bytes = records.iter().map(|r| r.raw_size() as u64).sum();
        let built = build_split(&with_offsets, raw_bytes).expect("build");
        assert_eq!((built.first_offset, built.end_offset), (100, 3100));
        assert_eq!(built.row_count, 3000);
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        upload_split(&*store, LogstoreId(1), "s1", &built)
            .await
            .expect("upload");
        let path = parquet_path(LogstoreId(1), "s1");
        let size = built.parquet.len() as u64;
        let metadata = load_parquet_metadata(Arc::clone(&store), &path, size)
            .await
            .expect("metadata");
        // Columns of distinct values skip the dictionary, few-valued ones keep it and use
        // LZ4, offsets are delta-encoded (ADR 0011).
        for column in metadata.metadata().row_group(0).columns() {
            let name = column.column_path().string();
            let has_dictionary = column.dictionary_page_offset().is_some();
            match name.as_str() {
                "row" | "msg" | "__time_ns_part__" | "__offset__" => {
                    assert!(!has_dictionary, "{name} has a dictionary");
                    if name != "__offset__" {
                        assert!(column.statistics().is_none(), "{name} has statistics");
                    }
                }
                "level" | "__topic__" => {
                    assert!(has_dictionary, "{name} lacks a dictionary");
                    assert!(column.statistics().is_some(), "{name} lacks statistics");
                    assert_eq!(column.compression(), parquet::basic::Compression::LZ4_RAW);
                }
                _ => {}
            }
        }
        let offsets = metadata.metadata().row_group(0).column(2);
        assert_eq!(
            offsets.column_path().string(),
            crate::split::columns::OFFSET_COLUMN
        );
        assert!(offsets
            .encodings()
            .any(|encoding| encoding == parquet::basic::Encoding::DELTA_BINARY_PACKED));
        let all = read_split_records(
            Arc::clone(&store),
            &path,
            size,
            metadata.clone(),
            3000,
            None,
        )
        .await
        .expect("read all");
        assert_eq!(all.len(), 3000);
        for (at, (offset, record)) in all.iter().enumerate() {
            assert_eq!(*offset, 100 + at as u64);
            let mut expected = records[at].clone();
            expected.contents.sort_by(|a, b| a.key.cmp(&b.key));
            assert_eq!(record, &expected);
        }
        let page = PAGE_ROWS as u64;
        let some = read_split_records(
            store,
            &path,
            size,
            metadata,
            3000,
            Some(&[0..page, 2 * page..3000]),
        )
        .await
        .expect("read blocks");
        let offsets: Vec<u64> = some.iter().map(|(offset, _)| *offset).collect();
        let expected: Vec<u64> = (100..100 + PAGE_ROWS as u64)
            .chain(100 + 2 * PAGE_ROWS as u64..3100)
            .collect();
        assert_eq!(offsets, expected);
    }
}
