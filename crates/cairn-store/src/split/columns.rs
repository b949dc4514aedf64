//! Records as Arrow columns: the schema every split file and every in-memory batch shares.
//!
//! ```text
//! __time__          Int64   not null   record time, unix seconds
//! __time_ns_part__  Int32   not null   nanoseconds within that second
//! __offset__        UInt64  not null   the record's logstore offset (internal)
//! __topic__         Utf8               the group's topic
//! __source__        Utf8               the group's source
//! __tag__:<key>     Utf8               one column per tag key, sorted by key
//! <key>             Utf8               one column per content key, sorted by key
//! ```
//!
//! Invariants:
//! - Rows are in offset order, and `__offset__` is contiguous within a split.
//! - A value present in a record is non-null (possibly empty); a key the record lacks is null.
//! - Column names are unique: a content key that would collide with a column above is stored
//!   as `__content__:<key>` and read back under its own name.
//!
//! Known limits (documented in ADR 0009): keys and values that are not UTF-8 are stored
//! lossily (U+FFFD); a key repeated within one record keeps its first value; contents read
//! back in key order, not in the order they were written.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BinaryArray, BinaryBuilder, Int32Array, Int64Array, RecordBatch, StringArray,
    UInt64Array,
};
use arrow::datatypes::{DataType, Field as ArrowField, Schema};
use bytes::Bytes;
use cairn_model::{Field, LogRecord, LogTime};

use crate::split::shapes::ShapeCache;
use crate::StoreError;

/// Column of the record time in seconds.
pub const TIME_COLUMN: &str = "__time__";
/// Column of the nanoseconds within the second.
pub const TIME_NANOS_COLUMN: &str = "__time_ns_part__";
/// Column of the logstore offset.
pub const OFFSET_COLUMN: &str = "__offset__";
/// Column of the topic.
pub const TOPIC_COLUMN: &str = "__topic__";
/// Column of the source.
pub const SOURCE_COLUMN: &str = "__source__";
/// Prefix of tag columns.
pub const TAG_PREFIX: &str = "__tag__:";
/// Prefix of content keys renamed to avoid a collision.
const CONTENT_PREFIX: &str = "__content__:";

fn text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(valid) => std::borrow::Cow::Borrowed(valid),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// A column of values as text, checked as UTF-8 in one pass over its whole value buffer
/// (far cheaper than value by value); only a column that fails is converted value by value,
/// invalid bytes becoming U+FFFD.
fn text_column(values: BinaryArray) -> StringArray {
    match StringArray::try_from_binary(values.clone()) {
        Ok(text) => text,
        Err(_) => values
            .iter()
            .map(|value| value.map(String::from_utf8_lossy))
            .collect(),
    }
}

/// The map from a key to its column position (keys are short; foldhash is several times
/// cheaper than the default SipHash on them).
type KeyIndex = HashMap<String, usize, foldhash::fast::RandomState>;

fn is_reserved(name: &str) -> bool {
    matches!(
        name,
        TIME_COLUMN | TIME_NANOS_COLUMN | OFFSET_COLUMN | TOPIC_COLUMN | SOURCE_COLUMN
    ) || name.starts_with(TAG_PREFIX)
        || name.starts_with(CONTENT_PREFIX)
}

/// The column name of content key `key`.
fn content_column(key: &str) -> String {
    if is_reserved(key) {
        format!("{CONTENT_PREFIX}{key}")
    } else {
        key.to_owned()
    }
}

/// The columns of a set of records: the fixed ones and the union of their tag and content
/// keys. Batches built with one layout share one schema, as a Parquet file needs.
#[derive(Debug, Clone)]
pub struct BatchLayout {
    tag_keys: Vec<String>,
    content_columns: Vec<String>,
    tag_index: KeyIndex,
    content_index: KeyIndex,
    schema: Arc<Schema>,
}

impl BatchLayout {
    /// The layout holding every key of `records`.
    pub fn of<'r>(records: impl IntoIterator<Item = &'r LogRecord>) -> BatchLayout {
        let mut tag_keys = BTreeSet::new();
        let mut content_columns = BTreeSet::new();
        // Records from one source share their keys: each shape's keys are added once.
        let mut tag_shapes = ShapeCache::default();
        let mut content_shapes = ShapeCache::default();
        for record in records {
            if tag_shapes.get(&record.tags).is_none() {
                tag_shapes.insert(&record.tags, ());
                for tag in &record.tags {
                    if !tag_keys.contains(text(&tag.key).as_ref()) {
                        tag_keys.insert(text(&tag.key).into_owned());
                    }
                }
            }
            if content_shapes.get(&record.contents).is_none() {
                content_shapes.insert(&record.contents, ());
                for field in &record.contents {
                    let key = text(&field.key);
                    if !content_columns.contains(key.as_ref()) || is_reserved(&key) {
                        content_columns.insert(content_column(&key));
                    }
                }
            }
        }
        let mut fields = vec![
            ArrowField::new(TIME_COLUMN, DataType::Int64, false),
            ArrowField::new(TIME_NANOS_COLUMN, DataType::Int32, false),
            ArrowField::new(OFFSET_COLUMN, DataType::UInt64, false),
            ArrowField::new(TOPIC_COLUMN, DataType::Utf8, true),
            ArrowField::new(SOURCE_COLUMN, DataType::Utf8, true),
        ];
        fields.extend(
            tag_keys
                .iter()
                .map(|key| ArrowField::new(format!("{TAG_PREFIX}{key}"), DataType::Utf8, true)),
        );
        fields.extend(
            content_columns
                .iter()
                .map(|column| ArrowField::new(column.clone(), DataType::Utf8, true)),
        );
        let tag_keys: Vec<String> = tag_keys.into_iter().collect();
        let content_columns: Vec<String> = content_columns.into_iter().collect();
        BatchLayout {
            tag_index: tag_keys
                .iter()
                .enumerate()
                .map(|(at, key)| (key.clone(), at))
                .collect(),
            content_index: content_columns
                .iter()
                .enumerate()
                .map(|(at, key)| (key.clone(), at))
                .collect(),
            tag_keys,
            content_columns,
            schema: Arc::new(Schema::new(fields)),
        }
    }

    /// The schema of this layout's batches.
    pub fn schema(&self) -> Arc<Schema> {
        Arc::clone(&self.schema)
    }

    /// One batch of `records` (each with its offset), in the given order. Keys missing from
    /// the layout are left out (callers build the layout from the same records).
    pub fn batch(&self, records: &[(u64, &LogRecord)]) -> Result<RecordBatch, StoreError> {
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from_iter_values(
                records.iter().map(|(_, r)| i64::from(r.time.seconds)),
            )),
            Arc::new(Int32Array::from_iter_values(
                records
                    .iter()
                    .map(|(_, r)| i32::try_from(r.time.nanos).unwrap_or(i32::MAX)),
            )),
            Arc::new(UInt64Array::from_iter_values(
                records.iter().map(|(offset, _)| *offset),
            )),
            Arc::new(text_column(BinaryArray::from_iter_values(
                records.iter().map(|(_, r)| &r.topic),
            ))),
            Arc::new(text_column(BinaryArray::from_iter_values(
                records.iter().map(|(_, r)| &r.source),
            ))),
        ];
        let mut tag_builders: Vec<BinaryBuilder> =
            self.tag_keys.iter().map(|_| BinaryBuilder::new()).collect();
        let mut content_builders: Vec<BinaryBuilder> = self
            .content_columns
            .iter()
            .map(|_| BinaryBuilder::new())
            .collect();
        let mut row_tags: Vec<Option<&[u8]>> = vec![None; self.tag_keys.len()];
        let mut row_contents: Vec<Option<&[u8]>> = vec![None; self.content_columns.len()];
        // Where each field of a record of a given shape goes (see `shapes`).
        let mut tag_shapes: ShapeCache<Vec<Option<usize>>> = ShapeCache::default();
        let mut content_shapes: ShapeCache<Vec<Option<usize>>> = ShapeCache::default();
        for &(_, record) in records {
            row_tags.iter_mut().for_each(|slot| *slot = None);
            row_contents.iter_mut().for_each(|slot| *slot = None);
            let tag_positions = tag_shapes.get_or_insert_with(&record.tags, || {
                record
                    .tags
                    .iter()
                    .map(|tag| self.tag_index.get(text(&tag.key).as_ref()).copied())
                    .collect()
            });
            let content_positions = content_shapes.get_or_insert_with(&record.contents, || {
                record
                    .contents
                    .iter()
                    .map(|field| {
                        let key = text(&field.key);
                        if is_reserved(&key) {
                            self.content_index.get(&content_column(&key)).copied()
                        } else {
                            self.content_index.get(key.as_ref()).copied()
                        }
                    })
                    .collect()
            });
            for (tag, at) in record.tags.iter().zip(tag_positions) {
                if let Some(at) = *at {
                    row_tags[at].get_or_insert(&tag.value);
                }
            }
            for (field, at) in record.contents.iter().zip(content_positions) {
                if let Some(at) = *at {
                    row_contents[at].get_or_insert(&field.value);
                }
            }
            for (builder, value) in tag_builders.iter_mut().zip(&row_tags) {
                builder.append_option(*value);
            }
            for (builder, value) in content_builders.iter_mut().zip(&row_contents) {
                builder.append_option(*value);
            }
        }
        for mut builder in tag_builders.into_iter().chain(content_builders) {
            columns.push(Arc::new(text_column(builder.finish())));
        }
        RecordBatch::try_new(self.schema(), columns)
            .map_err(|error| StoreError::split(format!("building a record batch: {error}")))
    }
}

/// Builds one batch of `records` (each with its offset), in the given order, with the union
/// of their keys as columns.
pub fn records_to_batch(records: &[(u64, &LogRecord)]) -> Result<RecordBatch, StoreError> {
    BatchLayout::of(records.iter().map(|(_, record)| *record)).batch(records)
}

/// What one column of a batch becomes in a record.
enum ColumnRole<'b> {
    Time(&'b Int64Array),
    TimeNanos(&'b Int32Array),
    Offset(&'b UInt64Array),
    Topic(&'b StringArray),
    Source(&'b StringArray),
    Tag(Bytes, &'b StringArray),
    Content(Bytes, &'b StringArray),
}

/// Reads a batch (of the schema above, possibly only some of its columns) back into records
/// with their offsets. Fails on a batch that lacks `__offset__` or has a mistyped column.
pub fn batch_to_records(batch: &RecordBatch) -> Result<Vec<(u64, LogRecord)>, StoreError> {
    let schema = batch.schema();
    let mut roles = Vec::with_capacity(batch.num_columns());
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        let name = field.name().as_str();
        let mistyped = || StoreError::split(format!("split column {name} has the wrong type"));
        let strings = || {
            column
                .as_any()
                .downcast_ref::<StringArray>()
                .ok_or_else(mistyped)
        };
        let role = match name {
            TIME_COLUMN => ColumnRole::Time(
                column
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .ok_or_else(mistyped)?,
            ),
            TIME_NANOS_COLUMN => ColumnRole::TimeNanos(
                column
                    .as_any()
                    .downcast_ref::<Int32Array>()
                    .ok_or_else(mistyped)?,
            ),
            OFFSET_COLUMN => ColumnRole::Offset(
                column
                    .as_any()
                    .downcast_ref::<UInt64Array>()
                    .ok_or_else(mistyped)?,
            ),
            TOPIC_COLUMN => ColumnRole::Topic(strings()?),
            SOURCE_COLUMN => ColumnRole::Source(strings()?),
            _ => match name.strip_prefix(TAG_PREFIX) {
                Some(key) => ColumnRole::Tag(Bytes::copy_from_slice(key.as_bytes()), strings()?),
                None => {
                    let key = name.strip_prefix(CONTENT_PREFIX).unwrap_or(name);
                    ColumnRole::Content(Bytes::copy_from_slice(key.as_bytes()), strings()?)
                }
            },
        };
        roles.push(role);
    }
    if !roles
        .iter()
        .any(|role| matches!(role, ColumnRole::Offset(_)))
    {
        return Err(StoreError::split("a split batch lacks its offsets"));
    }
    let value = |array: &StringArray, row: usize| -> Option<Bytes> {
        (!array.is_null(row)).then(|| Bytes::copy_from_slice(array.value(row).as_bytes()))
    };
    let mut records = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        let mut offset = 0;
        let mut record = LogRecord::default();
        let mut seconds = 0i64;
        let mut nanos = 0i32;
        for role in &roles {
            match role {
                ColumnRole::Time(array) => seconds = array.value(row),
                ColumnRole::TimeNanos(array) => nanos = array.value(row),
                ColumnRole::Offset(array) => offset = array.value(row),
                ColumnRole::Topic(array) => record.topic = value(array, row).unwrap_or_default(),
                ColumnRole::Source(array) => record.source = value(array, row).unwrap_or_default(),
                ColumnRole::Tag(key, array) => {
                    if let Some(value) = value(array, row) {
                        record.tags.push(Field {
                            key: key.clone(),
                            value,
                        });
                    }
                }
                ColumnRole::Content(key, array) => {
                    if let Some(value) = value(array, row) {
                        record.contents.push(Field {
                            key: key.clone(),
                            value,
                        });
                    }
                }
            }
        }
        record.time = LogTime::new(
            u32::try_from(seconds).unwrap_or(0),
            u32::try_from(nanos).unwrap_or(0),
        );
        records.push((offset, record));
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seconds: u32, tags: &[(&str, &str)], contents: &[(&str, &str)]) -> LogRecord {
        LogRecord {
            time: LogTime::new(seconds, 7),
            topic: Bytes::from_static(b"topic"),
            source: Bytes::from_static(b"10.0.0.1"),
            tags: tags.iter().map(|(k, v)| Field::new(k, v)).collect(),
            contents: contents.iter().map(|(k, v)| Field::new(k, v)).collect(),
        }
    }

    #[test]
    fn records_round_trip_through_a_batch_with_the_union_of_their_keys() {
        let first = record(10, &[("host", "a")], &[("level", "info"), ("msg", "")]);
        let second = record(
            11,
            &[],
            &[("msg", "hello"), ("__time__", "clash"), ("status", "200")],
        );
        let batch = records_to_batch(&[(5, &first), (6, &second)]).expect("batch");
        let names: Vec<&str> = batch
            .schema_ref()
            .fields()
            .iter()
            .map(|field| field.name().as_str())
            .collect();
        assert_eq!(
            names,
            [
                "__time__",
                "__time_ns_part__",
                "__offset__",
                "__topic__",
                "__source__",
                "__tag__:host",
                "__content__:__time__",
                "level",
                "msg",
                "status"
            ]
        );
        let back = batch_to_records(&batch).expect("records");
        assert_eq!(back[0].0, 5);
        assert_eq!(back[1].0, 6);
        assert_eq!(back[0].1, first, "key order is already sorted");
        let mut expected = second.clone();
        expected
            .contents
            .sort_by_key(|field| content_column(&field.key_text()));
        assert_eq!(back[1].1, expected);
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters_and_valid_columns_stay_exact() {
        let raw = |seconds: u32, msg: &'static [u8], level: &'static str| LogRecord {
            contents: vec![
                Field {
                    key: Bytes::from_static(b"msg"),
                    value: Bytes::from_static(msg),
                },
                Field::new("level", level),
            ],
            ..record(seconds, &[], &[])
        };
        // "é" cut in half across two rows of one column: each value is invalid alone, but
        // the column's buffer holds them side by side and is valid UTF-8 as a whole, so a
        // check of the buffer alone would pass it.
        let first = raw(10, b"caf\xc3", "info");
        let second = raw(11, b"\xa9!", "\u{fc}");
        let mut third = raw(12, "café".as_bytes(), "warn");
        third.source = Bytes::from_static(b"\xff10.0.0.2");
        let batch = records_to_batch(&[(0, &first), (1, &second), (2, &third)]).expect("batch");
        let back = batch_to_records(&batch).expect("records");
        let msg = |row: usize| back[row].1.field("msg").map(<[u8]>::to_vec);
        assert_eq!(msg(0), Some("caf\u{FFFD}".as_bytes().to_vec()));
        assert_eq!(msg(1), Some("\u{FFFD}!".as_bytes().to_vec()));
        assert_eq!(msg(2), Some("café".as_bytes().to_vec()));
        assert_eq!(back[1].1.field("level"), Some("ü".as_bytes()));
        assert_eq!(back[2].1.source, "\u{FFFD}10.0.0.2".as_bytes());
        assert_eq!(back[0].1.source, "10.0.0.1".as_bytes());
    }

    proptest::proptest! {
        /// Whatever keys each record has (repeats included, any subset of the layout's
        /// columns), every column reads back each record's first value for its key and null
        /// where the record lacks the key.
        #[test]
        fn sparse_columns_hold_each_records_first_value_per_key(
            rows in proptest::collection::vec(
                proptest::collection::vec((0usize..6, "[a-z]{0,3}"), 0..8),
                1..40,
            )
        ) {
            const KEYS: [&str; 6] = ["a", "b", "c", "d", "__time__", "e"];
            let records: Vec<LogRecord> = rows
                .iter()
                .enumerate()
                .map(|(row, fields)| LogRecord {
                    time: LogTime::new(row as u32, 0),
                    tags: fields
                        .iter()
                        .filter(|(key, _)| *key < 2)
                        .map(|(key, value)| Field::new(KEYS[*key], value))
                        .collect(),
                    contents: fields
                        .iter()
                        .map(|(key, value)| Field::new(KEYS[*key], value))
                        .collect(),
                    ..LogRecord::default()
                })
                .collect();
            let with_offsets: Vec<(u64, &LogRecord)> =
                records.iter().enumerate().map(|(at, r)| (at as u64, r)).collect();
            let batch = records_to_batch(&with_offsets).expect("batch");
            proptest::prop_assert_eq!(batch.num_rows(), records.len());
            let back = batch_to_records(&batch).expect("records");
            for ((offset, got), (row, record)) in back.iter().zip(records.iter().enumerate()) {
                proptest::prop_assert_eq!(*offset, row as u64);
                for key in KEYS {
                    let first = |fields: &[Field]| {
                        fields.iter().find(|f| f.key == key.as_bytes()).map(|f| f.value.clone())
                    };
                    proptest::prop_assert_eq!(first(&got.contents), first(&record.contents));
                    proptest::prop_assert_eq!(first(&got.tags), first(&record.tags));
                }
                let distinct = |fields: &[Field]| {
                    fields.iter().map(|f| f.key.clone()).collect::<BTreeSet<_>>().len()
                };
                proptest::prop_assert_eq!(got.contents.len(), distinct(&record.contents));
                proptest::prop_assert_eq!(got.tags.len(), distinct(&record.tags));
            }
        }
    }
}
