//! How a split's Parquet columns are encoded: the writer properties every split file shares,
//! and which columns skip dictionary encoding.
//!
//! A dictionary pays off for a column whose values repeat (status, method, level, host): its
//! pages hold small indexes. For a column of mostly distinct values (trace ids, span ids,
//! free text) it costs twice: the dictionary fills up after a few thousand rows and the
//! writer falls back to plain pages anyway, and every reader that needs a single row of such
//! a row group must first decompress and decode that dictionary page. A needle search reads
//! one block in each of dozens of row groups, so those dictionaries were most of its work.
//!
//! The choice is made per file from a sample of its first rows: a column where more than
//! [`DISTINCT_SHARE_FOR_PLAIN`] of the sampled values are distinct is written plain. The
//! offsets column is contiguous by construction and is always delta-encoded without a
//! dictionary (a few bytes per page instead of eight per row).
//!
//! A column with at most [`FEW_VALUES`] distinct values in the sample (status, method, level,
//! host, the time) keeps its dictionary and is compressed with LZ4 instead of zstd: its pages
//! are a few hundred bytes of dictionary indexes, where zstd's fixed cost per page (tables
//! built for every page) bought nothing on disk (0.141–0.142 of raw either way) and cost
//! ~10 % of the ingest CPU. Without compression at all they took 0.149 of raw.
//!
//! Those mostly-distinct columns carry no min/max statistics either: computing them compared
//! every value (2 % of the ingest CPU), and the bounds of random ids or free text prune
//! nothing. The time and the few-valued columns keep page statistics.
//!
//! Every other column is compressed with zstd at level [`ZSTD_LEVEL`] (1). A page holds at
//! most 1,024 rows, a few kilobytes to a few tens of kilobytes: too little for level 3's
//! larger search to find more. Measured at 300 MB raw, level 1 files were no larger than
//! level 3's (0.139–0.140 of raw either way) and ingest used ~3 % less CPU (zstd was ~8.5 %
//! of the ingest profile at level 3).
//!
//! The choice never changes what a file holds, only how its pages are encoded and compressed:
//! every Parquet reader reads them (DuckDB included).

use std::collections::HashSet;
use std::hash::Hash;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Int32Type, Int64Type};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::split::columns::OFFSET_COLUMN;
use crate::split::token_index::PAGE_ROWS;
use crate::StoreError;

/// Rows per Parquet row group.
pub(crate) const ROW_GROUP_ROWS: usize = 64 * PAGE_ROWS;
/// zstd level of the columns not compressed with LZ4 (see the module doc).
const ZSTD_LEVEL: i32 = 1;
/// Largest dictionary page per column chunk.
const DICTIONARY_PAGE_BYTES: usize = 64 * 1024;
/// Above this share of distinct values in the sample, a column is written without a
/// dictionary.
const DISTINCT_SHARE_FOR_PLAIN: f64 = 0.5;
/// At most this many distinct values in the sample, a column is compressed with LZ4.
const FEW_VALUES: usize = 64;
/// Rows of the sample the choice is made on.
const SAMPLE_ROWS: usize = 4096;

/// How every split's Parquet file is written (flushes and merges alike). `sample` is the
/// file's first batch, if known: its columns of mostly distinct values are written without
/// a dictionary, its columns of few values are compressed with LZ4 (see the module doc).
pub(crate) fn writer_properties(
    sample: Option<&RecordBatch>,
) -> Result<WriterProperties, StoreError> {
    let offsets = ColumnPath::from(OFFSET_COLUMN);
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(ZSTD_LEVEL)
                .map_err(|error| StoreError::split(format!("zstd level: {error}")))?,
        ))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_data_page_row_count_limit(PAGE_ROWS)
        .set_write_batch_size(PAGE_ROWS)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_dictionary_page_size_limit(DICTIONARY_PAGE_BYTES)
        .set_column_dictionary_enabled(offsets.clone(), false)
        .set_column_encoding(offsets, Encoding::DELTA_BINARY_PACKED)
        .set_created_by("cairn".to_owned());
    for column in sample.map(sample_columns).unwrap_or_default() {
        let path = ColumnPath::from(column.name.as_str());
        if column.is_mostly_distinct() {
            builder = builder
                .set_column_dictionary_enabled(path.clone(), false)
                .set_column_statistics_enabled(path, EnabledStatistics::None);
        } else if column.has_few_values() {
            builder = builder.set_column_compression(path, Compression::LZ4_RAW);
        }
    }
    Ok(builder.build())
}

/// What the sample shows of one column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SampledColumn {
    name: String,
    /// Distinct non-null values.
    distinct: usize,
    /// Non-null values.
    values: usize,
}

impl SampledColumn {
    /// More than [`DISTINCT_SHARE_FOR_PLAIN`] of the values are distinct: no dictionary.
    fn is_mostly_distinct(&self) -> bool {
        self.values > 0 && self.distinct as f64 > DISTINCT_SHARE_FOR_PLAIN * self.values as f64
    }

    /// At most [`FEW_VALUES`] distinct values: LZ4.
    fn has_few_values(&self) -> bool {
        self.distinct <= FEW_VALUES
    }
}

/// The sampled columns of `batch`: its first [`SAMPLE_ROWS`] rows, every column but the
/// offsets (always delta-encoded) and those of a type not sampled.
pub(crate) fn sample_columns(batch: &RecordBatch) -> Vec<SampledColumn> {
    let rows = batch.num_rows().min(SAMPLE_ROWS);
    batch
        .schema()
        .fields()
        .iter()
        .zip(batch.columns())
        .filter(|(field, _)| field.name().as_str() != OFFSET_COLUMN)
        .filter_map(|(field, column)| {
            let column = column.slice(0, rows);
            let (distinct, values) = match column.data_type() {
                DataType::Utf8 => count_distinct(column.as_string::<i32>().iter()),
                DataType::Int32 => count_distinct(column.as_primitive::<Int32Type>().iter()),
                DataType::Int64 => count_distinct(column.as_primitive::<Int64Type>().iter()),
                _ => return None,
            };
            Some(SampledColumn {
                name: field.name().clone(),
                distinct,
                values,
            })
        })
        .collect()
}

/// How many distinct values, and how many values, the non-null items hold.
fn count_distinct<T: Hash + Eq>(items: impl Iterator<Item = Option<T>>) -> (usize, usize) {
    let mut seen: HashSet<T, foldhash::fast::RandomState> = HashSet::default();
    let mut values = 0;
    for item in items.flatten() {
        values += 1;
        seen.insert(item);
    }
    (seen.len(), values)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int32Array, StringArray};
    use arrow::datatypes::{Field, Schema};

    use super::*;

    #[test]
    fn distinct_columns_skip_the_dictionary_and_few_valued_ones_use_lz4() {
        let rows = 5000;
        let ids: StringArray = (0..rows).map(|row| Some(format!("id-{row}"))).collect();
        let levels: StringArray = (0..rows)
            .map(|row| Some(["info", "warn"][row % 2]))
            .collect();
        let half: StringArray = (0..rows)
            .map(|row| (row % 2 == 0).then(|| format!("v{row}")))
            .collect();
        let sparse: StringArray = (0..rows).map(|_| None::<&str>).collect();
        let nanos: Int32Array = (0..rows as i32).map(|row| row * 7).collect();
        let schema = Schema::new(vec![
            Field::new("trace_id", DataType::Utf8, true),
            Field::new("level", DataType::Utf8, true),
            Field::new("half", DataType::Utf8, true),
            Field::new("empty", DataType::Utf8, true),
            Field::new("__time_ns_part__", DataType::Int32, false),
        ]);
        let batch = RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(ids),
                Arc::new(levels),
                Arc::new(half),
                Arc::new(sparse),
                Arc::new(nanos),
            ],
        )
        .expect("batch");
        // `half`'s present values are all distinct: nulls do not count.
        let sampled = sample_columns(&batch);
        let names = |keep: fn(&SampledColumn) -> bool| -> Vec<String> {
            sampled
                .iter()
                .filter(|c| keep(c))
                .map(|c| c.name.clone())
                .collect()
        };
        assert_eq!(
            names(SampledColumn::is_mostly_distinct),
            ["trace_id", "half", "__time_ns_part__"]
        );
        assert_eq!(names(SampledColumn::has_few_values), ["level", "empty"]);
        let properties = writer_properties(Some(&batch)).expect("properties");
        assert!(!properties.dictionary_enabled(&ColumnPath::from("trace_id")));
        assert_eq!(
            properties.statistics_enabled(&ColumnPath::from("trace_id")),
            EnabledStatistics::None
        );
        assert_eq!(
            properties.statistics_enabled(&ColumnPath::from("level")),
            EnabledStatistics::Page
        );
        assert!(properties.dictionary_enabled(&ColumnPath::from("level")));
        assert_eq!(
            properties.compression(&ColumnPath::from("level")),
            Compression::LZ4_RAW
        );
        assert!(matches!(
            properties.compression(&ColumnPath::from("trace_id")),
            Compression::ZSTD(_)
        ));
        assert!(!properties.dictionary_enabled(&ColumnPath::from(OFFSET_COLUMN)));
        assert_eq!(
            properties.encoding(&ColumnPath::from(OFFSET_COLUMN)),
            Some(Encoding::DELTA_BINARY_PACKED)
        );
    }
}
