//! Building a merged split from its inputs' Arrow batches, without turning a row into a
//! record: the fallback for inputs `split::spliced` cannot copy (a column whose type differs
//! between inputs, or a file without a page index).
//!
//! A merge reads its inputs (adjacent splits, contiguous offsets) one batch at a time and
//! feeds the batches, in offset order, to a [`MergedSplitBuilder`]: each is widened to the
//! union of the inputs' columns (a column an input lacks is null there), re-cut into runs of
//! whole 1,024-row pages so no token-index block crosses a page, written to
//! the Parquet writer and tokenized into the new index. Memory holds a few batches and the
//! compressed output, never the inputs' records.
//!
//! Invariants:
//! - The union schema keeps the split layout (`columns`): the fixed columns first, then tag
//!   columns sorted, then content columns sorted; a column has one type in every input.
//! - The token index holds every token of every value, plus the tokens of every column name
//!   once per block (keys): a superset of what a flush indexes, so nothing a search would
//!   find is ruled out.
//! - The offsets written must be exactly `first_offset..end_offset`, in order; anything else
//!   fails the merge (the inputs stay published).

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow::array::{
    new_null_array, Array, ArrayRef, Int64Array, RecordBatch, StringArray, UInt64Array,
};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Field as ArrowField, Schema, SchemaRef};
use bytes::Bytes;
use parquet::arrow::ArrowWriter;

use crate::split::columns::{
    OFFSET_COLUMN, SOURCE_COLUMN, TAG_PREFIX, TIME_COLUMN, TIME_NANOS_COLUMN, TOPIC_COLUMN,
};
use crate::split::encoding::writer_properties;
use crate::split::files::{BuiltSplit, WRITE_CHUNK_ROWS};
use crate::split::token_index::TokenIndexBuilder;
use crate::StoreError;

/// The union of the inputs' schemas, in the split layout's column order.
pub(crate) fn union_schema(schemas: &[SchemaRef]) -> Result<SchemaRef, StoreError> {
    let Some(first) = schemas.first() else {
        return Err(StoreError::split("a merge needs at least one input"));
    };
    // The fixed columns lead every split file, in the same order.
    let fixed: Vec<ArrowField> = first
        .fields()
        .iter()
        .take_while(|field| !is_key_column(field.name()))
        .map(|field| field.as_ref().clone())
        .collect();
    let mut tags: BTreeSet<String> = BTreeSet::new();
    let mut contents: BTreeSet<String> = BTreeSet::new();
    for schema in schemas {
        for field in schema.fields() {
            let name = field.name();
            if let Some(known) = fixed.iter().find(|known| known.name() == name) {
                if known.data_type() != field.data_type() {
                    return Err(StoreError::split(format!(
                        "merge inputs disagree on the type of {name}"
                    )));
                }
                continue;
            }
            if field.data_type() != &DataType::Utf8 {
                return Err(StoreError::split(format!(
                    "merge input column {name} is not text"
                )));
            }
            if name.starts_with(TAG_PREFIX) {
                tags.insert(name.clone());
            } else {
                contents.insert(name.clone());
            }
        }
    }
    let mut fields = fixed;
    fields.extend(
        tags.into_iter()
            .chain(contents)
            .map(|name| ArrowField::new(name, DataType::Utf8, true)),
    );
    Ok(Arc::new(Schema::new(fields)))
}

/// Whether a column holds a tag or content key (not one of the fixed columns).
fn is_key_column(name: &str) -> bool {
    !matches!(
        name,
        TIME_COLUMN | TIME_NANOS_COLUMN | OFFSET_COLUMN | TOPIC_COLUMN | SOURCE_COLUMN
    )
}

/// Writes a merged split from batches pushed in offset order; see the module doc.
pub(crate) struct MergedSplitBuilder {
    schema: SchemaRef,
    writer: ArrowWriter<Vec<u8>>,
    index: TokenIndexBuilder,
    /// Widened batches not yet written (fewer than [`WRITE_CHUNK_ROWS`] rows in all).
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    first_offset: u64,
    next_offset: u64,
    end_offset: u64,
    raw_bytes: u64,
    min_time: i64,
    max_time: i64,
}

impl MergedSplitBuilder {
    /// A builder for the split of offsets `first_offset..end_offset` with columns `schema`
    /// whose inputs measured `raw_bytes` in all.
    pub(crate) fn new(
        schema: SchemaRef,
        first_offset: u64,
        end_offset: u64,
        raw_bytes: u64,
    ) -> Result<Self, StoreError> {
        let writer = ArrowWriter::try_new(
            Vec::new(),
            Arc::clone(&schema),
            Some(writer_properties(None)?),
        )
        .map_err(|error| StoreError::split(format!("starting a parquet file: {error}")))?;
        Ok(MergedSplitBuilder {
            schema,
            writer,
            index: TokenIndexBuilder::new(),
            pending: Vec::new(),
            pending_rows: 0,
            first_offset,
            next_offset: first_offset,
            end_offset,
            raw_bytes,
            min_time: i64::MAX,
            max_time: i64::MIN,
        })
    }

    /// Adds the next batch of an input (rows in offset order).
    pub(crate) fn push(&mut self, batch: &RecordBatch) -> Result<(), StoreError> {
        let widened = self.widen(batch)?;
        self.pending_rows += widened.num_rows();
        self.pending.push(widened);
        if self.pending_rows >= WRITE_CHUNK_ROWS {
            let all = concat_batches(&self.schema, &self.pending)
                .map_err(|error| StoreError::split(format!("joining batches: {error}")))?;
            self.pending.clear();
            let whole = all.num_rows() / WRITE_CHUNK_ROWS * WRITE_CHUNK_ROWS;
            self.write(&all.slice(0, whole))?;
            let rest = all.slice(whole, all.num_rows() - whole);
            self.pending_rows = rest.num_rows();
            if rest.num_rows() > 0 {
                self.pending.push(rest);
            }
        }
        Ok(())
    }

    /// The merged split's files and facts.
    pub(crate) fn finish(mut self) -> Result<BuiltSplit, StoreError> {
        let rest = concat_batches(&self.schema, &self.pending)
            .map_err(|error| StoreError::split(format!("joining batches: {error}")))?;
        self.pending.clear();
        if rest.num_rows() > 0 {
            self.write(&rest)?;
        }
        if self.next_offset != self.end_offset {
            return Err(StoreError::split(format!(
                "a merge read offsets {}..{} of {}..{}",
                self.first_offset, self.next_offset, self.first_offset, self.end_offset
            )));
        }
        let parquet = self
            .writer
            .into_inner()
            .map_err(|error| StoreError::split(format!("finishing a parquet file: {error}")))?;
        Ok(BuiltSplit {
            parquet: Bytes::from(parquet),
            index: Bytes::from(self.index.finish()),
            first_offset: self.first_offset,
            end_offset: self.end_offset,
            min_time: self.min_time,
            max_time: self.max_time,
            row_count: self.end_offset - self.first_offset,
            raw_bytes: self.raw_bytes,
        })
    }

    /// `batch` with the union's columns, in the union's order.
    fn widen(&self, batch: &RecordBatch) -> Result<RecordBatch, StoreError> {
        let columns: Vec<ArrayRef> = self
            .schema
            .fields()
            .iter()
            .map(|field| match batch.column_by_name(field.name()) {
                Some(column) => Arc::clone(column),
                None => new_null_array(field.data_type(), batch.num_rows()),
            })
            .collect();
        RecordBatch::try_new(Arc::clone(&self.schema), columns)
            .map_err(|error| StoreError::split(format!("widening a merge batch: {error}")))
    }

    /// Checks offsets, indexes and writes a batch of the union schema.
    fn write(&mut self, batch: &RecordBatch) -> Result<(), StoreError> {
        let offsets = column::<UInt64Array>(batch, OFFSET_COLUMN)?;
        for offset in offsets.iter() {
            if offset != Some(self.next_offset) || self.next_offset >= self.end_offset {
                return Err(StoreError::split(format!(
                    "a merge input holds offset {offset:?} where {} was due",
                    self.next_offset
                )));
            }
            self.next_offset += 1;
        }
        let times = column::<Int64Array>(batch, TIME_COLUMN)?;
        let texts: Vec<(&str, &StringArray)> = self
            .schema
            .fields()
            .iter()
            .zip(batch.columns())
            .filter_map(|(field, column)| {
                let strings = column.as_any().downcast_ref::<StringArray>()?;
                Some((field.name().as_str(), strings))
            })
            .collect();
        for row in 0..batch.num_rows() {
            let time = times.value(row);
            self.min_time = self.min_time.min(time);
            self.max_time = self.max_time.max(time);
            let block_opened = self.index.start_row(time);
            for (name, strings) in &texts {
                if block_opened && is_key_column(name) {
                    self.index.add_text(name.as_bytes());
                }
                if !strings.is_null(row) {
                    self.index.add_text(strings.value(row).as_bytes());
                }
            }
        }
        self.writer
            .write(batch)
            .map_err(|error| StoreError::split(format!("writing a parquet file: {error}")))
    }
}

fn column<'b, T: 'static>(batch: &'b RecordBatch, name: &str) -> Result<&'b T, StoreError> {
    batch
        .column_by_name(name)
        .and_then(|column| column.as_any().downcast_ref::<T>())
        .ok_or_else(|| StoreError::split(format!("a merge input lacks a proper {name} column")))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::split::files::{
        build_split, load_parquet_metadata, parquet_path, read_split_records, stream_split_batches,
        upload_split,
    };
    use crate::split::token_index::TokenIndex;
    use cairn_model::{Field, LogRecord, LogTime, LogstoreId, TokenQuery};
    use futures::StreamExt;
    use object_store::memory::InMemory;
    use object_store::ObjectStore;

    /// `count` records from `first_time` on (one a second), with `fields` as content keys
    /// (values `key-row`) and, if given, tag `tag` (values `hostROW`).
    pub(crate) fn records(
        count: u32,
        first_time: u32,
        fields: &[&str],
        tag: Option<&str>,
    ) -> Vec<LogRecord> {
        (0..count)
            .map(|row| LogRecord {
                time: LogTime::new(first_time + row, row),
                topic: b"topic".to_vec().into(),
                contents: fields
                    .iter()
                    .map(|key| Field::new(*key, format!("{key}-{row}")))
                    .collect(),
                tags: tag
                    .map(|key| vec![Field::new(key, format!("host{row}"))])
                    .unwrap_or_default(),
                ..LogRecord::default()
            })
            .collect()
    }

    #[tokio::test]
    async fn inputs_with_different_columns_merge_into_one_readable_indexed_split() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let logstore = LogstoreId(7);
        // 1,500 + 1,100 rows: the second input starts inside a block of the merged split.
        let first = records(1_500, 1_000, &["status", "url"], None);
        let second = records(1_100, 5_000, &["level", "url"], Some("__hostname__"));
        let mut inputs = Vec::new();
        let mut offset = 100u64;
        for (name, part) in [("a", &first), ("b", &second)] {
            let with_offsets: Vec<(u64, &LogRecord)> =
                part.iter().zip(offset..).map(|(r, o)| (o, r)).collect();
            let raw_bytes = part.iter().map(|r| r.raw_size() as u64).sum();
            let built = build_split(&with_offsets, raw_bytes).expect("build input");
            offset += part.len() as u64;
            upload_split(&*store, logstore, name, &built)
                .await
                .expect("upload");
            let metadata = load_parquet_metadata(
                Arc::clone(&store),
                &parquet_path(logstore, name),
                built.parquet.len() as u64,
            )
            .await
            .expect("metadata");
            inputs.push((name, built, metadata));
        }
        let schemas: Vec<SchemaRef> = inputs
            .iter()
            .map(|(_, _, m)| Arc::clone(m.schema()))
            .collect();
        let schema = union_schema(&schemas).expect("union");
        let raw: u64 = inputs.iter().map(|(_, built, _)| built.raw_bytes).sum();
        let mut builder = MergedSplitBuilder::new(schema, 100, offset, raw).expect("builder");
        for (name, built, metadata) in &inputs {
            let mut stream = stream_split_batches(
                Arc::clone(&store),
                &parquet_path(logstore, name),
                built.parquet.len() as u64,
                metadata.clone(),
            )
            .expect("stream");
            while let Some(batch) = stream.next().await {
                builder.push(&batch.expect("batch")).expect("push");
            }
        }
        let merged = builder.finish().expect("finish");
        assert_eq!((merged.first_offset, merged.end_offset), (100, 2_700));
        assert_eq!((merged.min_time, merged.max_time), (1_000, 6_099));
        assert_eq!(merged.raw_bytes, raw);

        upload_split(&*store, logstore, "m", &merged)
            .await
            .expect("upload merged");
        let size = merged.parquet.len() as u64;
        let path = parquet_path(logstore, "m");
        let metadata = load_parquet_metadata(Arc::clone(&store), &path, size)
            .await
            .expect("merged metadata");
        let read = read_split_records(store, &path, size, metadata, 2_600, None)
            .await
            .expect("read merged");
        let mut expected: Vec<LogRecord> = first.iter().chain(&second).cloned().collect();
        for record in &mut expected {
            record.contents.sort_by(|a, b| a.key.cmp(&b.key));
        }
        let got: Vec<LogRecord> = read.into_iter().map(|(_, record)| record).collect();
        assert_eq!(got, expected);

        let index = TokenIndex::parse(&merged.index).expect("index");
        assert_eq!(index.row_count(), 2_600);
        let blocks = |token: &str| {
            index.candidate_blocks(&TokenQuery::all_tokens([token.as_bytes()]), 0, i64::MAX)
        };
        let block_of = |row: u64| {
            (0..index.block_count())
                .find(|&block| {
                    index
                        .block_rows(block)
                        .is_some_and(|rows| rows.contains(&row))
                })
                .expect("every row is in a block")
        };
        // The inputs' times are over an hour apart: the second starts a block of its own
        // inside the second page.
        assert_eq!(index.block_rows(block_of(1_500)), Some(1_500..2_048));
        // status-1499 is the last row of the first input.
        assert!(blocks("status-1499").contains(&block_of(1_499)));
        // host1099 is the last row of the whole split.
        assert!(blocks("host1099").contains(&block_of(2_599)));
        // Keys are indexed too (`level` only exists in the second input).
        assert!(blocks("level").contains(&block_of(2_599)));
        assert!(blocks("absent-token-xyz").is_empty());
    }
}
