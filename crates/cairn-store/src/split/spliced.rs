//! Merging splits by splicing: the inputs' encoded column chunks are copied into the merged
//! Parquet file byte for byte, row group by row group, and their token indexes are
//! concatenated.
//!
//! No row is decoded, re-encoded or re-tokenized, so a merge costs about what moving its
//! bytes costs. The merged file's row groups and pages are exactly its inputs' (so a token
//! index block, which never crosses a page of its input, never crosses one of the merged
//! file). Page statistics and offset indexes are carried over with their offsets moved.
//!
//! Invariants:
//! - The merged file has the union of the inputs' columns ([`union_schema`] order); a column
//!   an input lacks is written as an all-NULL chunk for each of that input's row groups.
//! - Only inputs whose columns have the same Parquet type as the union's are spliced
//!   ([`can_splice`]); for others the caller re-encodes (`split::merged`).
//! - Rows keep their offsets (the `__offset__` chunks are copied): inputs must be adjacent
//!   and appended in offset order, which [`SplicedSplitBuilder::finish`] checks.
//!
//! Memory: the merged file being built plus the one input being appended.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use bytes::Bytes;
use cairn_meta::SplitRecord;
use parquet::arrow::arrow_reader::ArrowReaderMetadata;
use parquet::arrow::{add_encoded_arrow_schema_to_metadata, ArrowSchemaConverter};
use parquet::basic::Type as PhysicalType;
use parquet::column::writer::ColumnCloseResult;
use parquet::data_type::ByteArrayType;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::SchemaDescriptor;

use crate::split::encoding::writer_properties;
use crate::split::files::{parquet_path, read_object, BuiltSplit};
use crate::split::reader::{CachedSplit, SplitReader};
use crate::split::token_index::{TokenIndex, PAGE_ROWS};
use crate::StoreError;

fn parquet_error(context: &str) -> impl Fn(parquet::errors::ParquetError) -> StoreError + '_ {
    move |error| StoreError::split(format!("{context}: {error}"))
}

/// The Parquet schema the merged file of `schema` has (as `ArrowWriter` would write it).
fn parquet_schema(schema: &SchemaRef) -> Result<SchemaDescriptor, StoreError> {
    let properties = writer_properties(None)?;
    ArrowSchemaConverter::new()
        .with_coerce_types(properties.coerce_types())
        .convert(schema)
        .map_err(parquet_error("converting the merged schema"))
}

/// Where each column of the merged file comes from in an input with columns `input`: its
/// position there, or `None` for a column the input lacks (written as NULLs). `None` overall
/// if the input cannot be spliced: one of its columns is not in the merged file with the same
/// descriptor, or a column it lacks is not nullable text.
fn column_sources(
    merged: &SchemaDescriptor,
    input: &SchemaDescriptor,
) -> Option<Vec<Option<usize>>> {
    let all_known = input
        .columns()
        .iter()
        .all(|column| merged.columns().contains(column));
    let sources: Vec<Option<usize>> = merged
        .columns()
        .iter()
        .map(|merged_column| {
            input
                .columns()
                .iter()
                .position(|column| column == merged_column)
        })
        .collect();
    let missing_are_text = merged
        .columns()
        .iter()
        .zip(&sources)
        .all(|(column, source)| {
            source.is_some()
                || (column.physical_type() == PhysicalType::BYTE_ARRAY
                    && column.max_def_level() == 1
                    && column.max_rep_level() == 0)
        });
    (all_known && missing_are_text).then_some(sources)
}

/// Whether inputs with `metadata` can be spliced into a file of `schema`: their columns fit
/// (see [`column_sources`]) and every input has its page index.
pub(crate) fn can_splice(
    schema: &SchemaRef,
    metadata: &[ArrowReaderMetadata],
) -> Result<bool, StoreError> {
    let merged = parquet_schema(schema)?;
    Ok(metadata.iter().all(|input| {
        let parquet = input.metadata();
        parquet.offset_index().is_some()
            && parquet.column_index().is_some()
            && column_sources(&merged, parquet.file_metadata().schema_descr()).is_some()
    }))
}

/// Builds a merged split by appending its inputs' files in offset order.
pub(crate) struct SplicedSplitBuilder {
    writer: SerializedFileWriter<Vec<u8>>,
    merged: SchemaDescriptor,
    inputs: Vec<Arc<CachedSplit>>,
    first_offset: u64,
    next_offset: u64,
    raw_bytes: u64,
    min_time: i64,
    max_time: i64,
}

/// One input of a spliced merge.
pub(crate) struct SpliceInput {
    /// The input's whole Parquet file.
    pub parquet: Bytes,
    pub split: Arc<SplitRecord>,
    /// Its Parquet metadata (with the page index) and token index.
    pub cached: Arc<CachedSplit>,
}

impl SplicedSplitBuilder {
    /// A builder of a split with columns `schema` (see [`can_splice`]) starting at
    /// `first_offset`.
    pub(crate) fn new(schema: &SchemaRef, first_offset: u64) -> Result<Self, StoreError> {
        let merged = parquet_schema(schema)?;
        let mut properties = writer_properties(None)?;
        add_encoded_arrow_schema_to_metadata(schema, &mut properties);
        let writer =
            SerializedFileWriter::new(Vec::new(), merged.root_schema_ptr(), Arc::new(properties))
                .map_err(parquet_error("starting a merged file"))?;
        Ok(SplicedSplitBuilder {
            writer,
            merged,
            inputs: Vec::new(),
            first_offset,
            next_offset: first_offset,
            raw_bytes: 0,
            min_time: i64::MAX,
            max_time: i64::MIN,
        })
    }

    /// Appends the next input (its offsets must follow the previous input's).
    pub(crate) fn append(&mut self, input: SpliceInput) -> Result<(), StoreError> {
        let split = &input.split;
        if split.first_offset != self.next_offset {
            return Err(StoreError::split(format!(
                "a spliced merge got offsets from {} where {} was due",
                split.first_offset, self.next_offset
            )));
        }
        let parquet = input.cached.metadata.metadata();
        let rows: i64 = parquet
            .row_groups()
            .iter()
            .map(|group| group.num_rows())
            .sum();
        if rows as u64 != split.end_offset - split.first_offset
            || input.cached.index.row_count() != rows as u64
        {
            return Err(StoreError::split(
                "a merge input's file, index and offsets disagree on its rows",
            ));
        }
        let (Some(offset_index), Some(column_index)) =
            (parquet.offset_index(), parquet.column_index())
        else {
            return Err(StoreError::split("a merge input has no page index"));
        };
        let sources = column_sources(&self.merged, parquet.file_metadata().schema_descr())
            .ok_or_else(|| {
                StoreError::split("a merge input's columns do not fit the merged file")
            })?;
        let nulls = vec![0i16; PAGE_ROWS];
        for (group_number, group) in parquet.row_groups().iter().enumerate() {
            let mut row_group = self
                .writer
                .next_row_group()
                .map_err(parquet_error("starting a merged row group"))?;
            for source in &sources {
                match *source {
                    Some(at) => {
                        let chunk = group.column(at);
                        let close = ColumnCloseResult {
                            bytes_written: chunk.compressed_size() as u64,
                            rows_written: group.num_rows() as u64,
                            metadata: chunk.clone(),
                            bloom_filter: None,
                            column_index: column_index
                                .get(group_number)
                                .and_then(|columns| columns.get(at))
                                .cloned(),
                            offset_index: offset_index
                                .get(group_number)
                                .and_then(|columns| columns.get(at))
                                .cloned(),
                        };
                        row_group
                            .append_column(&input.parquet, close)
                            .map_err(parquet_error("copying a column chunk"))?;
                    }
                    None => {
                        let mut column = row_group
                            .next_column()
                            .map_err(parquet_error("starting a NULL column"))?
                            .ok_or_else(|| {
                                StoreError::split("the merged file ran out of columns")
                            })?;
                        let mut left = group.num_rows() as usize;
                        while left > 0 {
                            let rows = left.min(PAGE_ROWS);
                            column
                                .typed::<ByteArrayType>()
                                .write_batch(&[], Some(&nulls[..rows]), None)
                                .map_err(parquet_error("writing a NULL column"))?;
                            left -= rows;
                        }
                        column
                            .close()
                            .map_err(parquet_error("closing a NULL column"))?;
                    }
                }
            }
            row_group
                .close()
                .map_err(parquet_error("closing a merged row group"))?;
        }
        self.next_offset = split.end_offset;
        self.raw_bytes += split.raw_bytes;
        self.min_time = self.min_time.min(split.min_time);
        self.max_time = self.max_time.max(split.max_time);
        self.inputs.push(input.cached);
        Ok(())
    }

    /// The merged split's files and facts; `end_offset` is where the last input must end.
    pub(crate) fn finish(self, end_offset: u64) -> Result<BuiltSplit, StoreError> {
        if self.next_offset != end_offset || self.inputs.is_empty() {
            return Err(StoreError::split(format!(
                "a spliced merge covers offsets {}..{}, not ..{end_offset}",
                self.first_offset, self.next_offset
            )));
        }
        let indexes: Vec<&TokenIndex> = self.inputs.iter().map(|input| &input.index).collect();
        let index = TokenIndex::concatenate(&indexes)?;
        let parquet = self
            .writer
            .into_inner()
            .map_err(parquet_error("finishing a merged file"))?;
        Ok(BuiltSplit {
            parquet: Bytes::from(parquet),
            index: Bytes::from(index),
            first_offset: self.first_offset,
            end_offset,
            min_time: self.min_time,
            max_time: self.max_time,
            row_count: end_offset - self.first_offset,
            raw_bytes: self.raw_bytes,
        })
    }
}

/// Merges `inputs` (adjacent, in offset order, see [`can_splice`]) into a split of columns
/// `schema`, reading one input file at a time; the copying runs on blocking threads.
pub(crate) async fn splice_splits(
    reader: &SplitReader,
    inputs: &[Arc<SplitRecord>],
    schema: &SchemaRef,
) -> Result<BuiltSplit, StoreError> {
    let (Some(first), Some(last)) = (inputs.first(), inputs.last()) else {
        return Err(StoreError::split("a merge needs at least one input"));
    };
    let end_offset = last.end_offset;
    let mut builder = SplicedSplitBuilder::new(schema, first.first_offset)?;
    let store = reader.store();
    for split in inputs {
        let cached = reader.cached(split).await?;
        let parquet = read_object(&*store, &parquet_path(split.logstore, &split.split_id)).await?;
        let input = SpliceInput {
            parquet,
            split: Arc::clone(split),
            cached,
        };
        builder = tokio::task::spawn_blocking(move || builder.append(input).map(|()| builder))
            .await
            .map_err(|error| StoreError::split(format!("a merge task failed: {error}")))??;
    }
    tokio::task::spawn_blocking(move || builder.finish(end_offset))
        .await
        .map_err(|error| StoreError::split(format!("a merge task failed: {error}")))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::split::files::{
        build_split, load_parquet_metadata, read_split_records, upload_split,
    };
    use crate::split::merged::tests::records;
    use crate::split::merged::union_schema;
    use cairn_model::{LogRecord, LogstoreId, TokenQuery};
    use object_store::memory::InMemory;
    use object_store::ObjectStore;

    /// Uploads `parts` as adjacent splits from offset 100 on.
    async fn upload(
        store: &Arc<dyn ObjectStore>,
        parts: &[&Vec<LogRecord>],
    ) -> Vec<Arc<SplitRecord>> {
        let logstore = LogstoreId(3);
        let mut splits = Vec::new();
        let mut offset = 100u64;
        for (number, part) in parts.iter().enumerate() {
            let with_offsets: Vec<(u64, &LogRecord)> =
                part.iter().zip(offset..).map(|(r, o)| (o, r)).collect();
            let raw_bytes = part.iter().map(|r| r.raw_size() as u64).sum();
            let built = build_split(&with_offsets, raw_bytes).expect("build");
            let split_id = format!("in{number}");
            upload_split(&**store, logstore, &split_id, &built)
                .await
                .expect("upload");
            splits.push(Arc::new(built.catalog_record(split_id, logstore, 0, 0)));
            offset = built.end_offset;
        }
        splits
    }

    #[tokio::test]
    async fn spliced_inputs_read_back_whole_with_their_pages_and_index() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        // 70,000 rows (two row groups, the second partial) then 1,500 rows with other
        // columns: the second input's pages start mid-page of the merged file's row numbers.
        let first = records(70_000, 1_000, &["status", "url"], None);
        let mut second = records(1_500, 50_000, &["level", "url"], Some("__hostname__"));
        // `url` repeats in the second input only: there it keeps its statistics, in the
        // first it has none (ADR 0011), and the merged file holds both kinds of chunk.
        for (row, record) in second.iter_mut().enumerate() {
            record.contents[1].value = format!("url-{}", row % 3).into_bytes().into();
        }
        let inputs = upload(&store, &[&first, &second]).await;
        let reader = SplitReader::new(Arc::clone(&store));
        let mut schemas = Vec::new();
        let mut metadata = Vec::new();
        for split in &inputs {
            let m = reader.metadata(split).await.expect("metadata");
            schemas.push(Arc::clone(m.schema()));
            metadata.push(m);
        }
        let schema = union_schema(&schemas).expect("union");
        assert!(can_splice(&schema, &metadata).expect("check"));
        let merged = splice_splits(&reader, &inputs, &schema)
            .await
            .expect("splice");
        assert_eq!((merged.first_offset, merged.end_offset), (100, 71_600));
        assert_eq!(merged.row_count, 71_500);
        assert_eq!(
            merged.raw_bytes,
            inputs.iter().map(|s| s.raw_bytes).sum::<u64>()
        );

        let logstore = LogstoreId(3);
        upload_split(&*store, logstore, "m", &merged)
            .await
            .expect("upload merged");
        let path = parquet_path(logstore, "m");
        let size = merged.parquet.len() as u64;
        let merged_metadata = load_parquet_metadata(Arc::clone(&store), &path, size)
            .await
            .expect("merged metadata");
        // The inputs' row groups, one after the other, with their page indexes.
        let groups: Vec<i64> = merged_metadata
            .metadata()
            .row_groups()
            .iter()
            .map(|group| group.num_rows())
            .collect();
        assert_eq!(groups, [65_536, 4_464, 1_500]);
        assert!(merged_metadata.metadata().offset_index().is_some());
        let url_has_statistics: Vec<bool> = merged_metadata
            .metadata()
            .row_groups()
            .iter()
            .map(|group| {
                let url = group
                    .columns()
                    .iter()
                    .find(|column| column.column_path().string() == "url")
                    .expect("url column");
                url.statistics().is_some()
            })
            .collect();
        assert_eq!(url_has_statistics, [false, false, true]);

        let read = read_split_records(
            Arc::clone(&store),
            &path,
            size,
            merged_metadata.clone(),
            71_500,
            None,
        )
        .await
        .expect("read merged");
        let mut expected: Vec<LogRecord> = first.iter().chain(&second).cloned().collect();
        for record in &mut expected {
            record.contents.sort_by(|a, b| a.key.cmp(&b.key));
        }
        assert_eq!(read.len(), expected.len());
        for (at, ((offset, got), want)) in read.iter().zip(&expected).enumerate() {
            assert_eq!(*offset, 100 + at as u64);
            assert_eq!(got, want, "row {at}");
        }

        // The index is the inputs' blocks: every block's rows read back exactly.
        let index = TokenIndex::parse(&merged.index).expect("index");
        assert_eq!(index.row_count(), 71_500);
        for token in ["status-69999", "host1499", "url-3"] {
            let query = TokenQuery::all_tokens([token.as_bytes()]);
            let blocks = index.candidate_blocks(&query, 0, i64::MAX);
            let rows: Vec<_> = blocks
                .iter()
                .filter_map(|&block| index.block_rows(block))
                .collect();
            let found = read_split_records(
                Arc::clone(&store),
                &path,
                size,
                merged_metadata.clone(),
                71_500,
                Some(&rows),
            )
            .await
            .expect("read blocks");
            assert!(
                found.iter().any(|(_, record)| record
                    .contents
                    .iter()
                    .chain(&record.tags)
                    .any(|field| field.value.as_ref() == token.as_bytes())),
                "{token} not in blocks {blocks:?}"
            );
        }
    }

    #[tokio::test]
    async fn inputs_out_of_order_are_refused() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let a = records(10, 1_000, &["x"], None);
        let b = records(10, 1_000, &["x"], None);
        let inputs = upload(&store, &[&a, &b]).await;
        let reader = SplitReader::new(Arc::clone(&store));
        let schema = Arc::clone(reader.metadata(&inputs[0]).await.expect("m").schema());
        let reversed = [Arc::clone(&inputs[1]), Arc::clone(&inputs[0])];
        assert!(splice_splits(&reader, &reversed, &schema).await.is_err());
    }
}
