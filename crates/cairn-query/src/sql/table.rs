//! What a query runs over ([`SqlTable`]) and how it becomes the `log` table SQL sees.
//!
//! The storage engine hands over Parquet split files and in-memory Arrow batches that follow
//! one data contract (see the [module docs](crate::sql)) but carry different sets of columns.
//! [`LogView`] joins them into one relation:
//!
//! ```text
//! Projection   typed keys TRY_CAST to BIGINT/DOUBLE, __offset__ dropped, unknown names NULL
//!   Filter     __time__ >= from AND __time__ < to
//!     Union    split files (DataSourceExec over Parquet) + in-memory batches
//! ```
//!
//! Invariants: both sides of the union expose the same storage schema (the contract's fixed
//! columns plus every column seen, in a fixed order: `__time__`, `__time_ns_part__`, `__topic__`, `__source__`,
//! tags, content keys, `__offset__`), so a column missing from one split reads as NULL; all
//! text columns share one string type (`Utf8View` when any split is read from Parquet, `Utf8`
//! otherwise); the time filter sits above the union, so DataFusion pushes it into every scan
//! (row-group pruning for Parquet, whole-batch skipping for memory).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use cairn_model::{FieldIndexType, IndexConfig};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::{Column, ScalarValue};
use datafusion::datasource::provider_as_source;
use datafusion::logical_expr::{cast, lit, try_cast, Expr, LogicalPlan, LogicalPlanBuilder};

use super::scan::{BatchesTable, SplitFilesTable};
use crate::QueryError;

/// Record time, unix seconds (Int64).
pub const TIME_COLUMN: &str = "__time__";
/// Nanoseconds within the second (Int32).
pub const TIME_NS_COLUMN: &str = "__time_ns_part__";
/// Storage position (UInt64): internal, never visible to SQL.
pub const OFFSET_COLUMN: &str = "__offset__";
/// The record's topic (Utf8).
pub const TOPIC_COLUMN: &str = "__topic__";
/// The record's source (Utf8).
pub const SOURCE_COLUMN: &str = "__source__";
/// Prefix of tag columns, e.g. `__tag__:__hostname__`.
pub const TAG_PREFIX: &str = "__tag__:";

/// A Parquet split file in the table's object store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParquetFileRef {
    /// Location of the file in [`SqlTable::object_store`].
    pub path: object_store::path::Path,
    /// Size of the file in bytes (saves a HEAD request per file).
    pub size_bytes: u64,
}

/// How SQL sees a key, from the logstore's index config. Keys not listed are text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SqlFieldType {
    /// Text (`VARCHAR`), as stored.
    Text,
    /// `BIGINT`: values that do not parse as integers are NULL (TRY_CAST semantics).
    Long,
    /// `DOUBLE`: values that do not parse as numbers are NULL (TRY_CAST semantics).
    Double,
}

impl From<FieldIndexType> for SqlFieldType {
    fn from(value: FieldIndexType) -> Self {
        match value {
            FieldIndexType::Long => SqlFieldType::Long,
            FieldIndexType::Double => SqlFieldType::Double,
            FieldIndexType::Text | FieldIndexType::Json => SqlFieldType::Text,
        }
    }
}

/// The SQL types of every field index of `config`, for [`SqlTable::field_types`]. Declared
/// keys are columns even when no record has them (they read as NULL of their type).
pub fn sql_field_types(config: &IndexConfig) -> Vec<(String, SqlFieldType)> {
    config
        .keys
        .iter()
        .map(|(key, index)| (key.clone(), SqlFieldType::from(index.field_type)))
        .collect()
}

/// The rows one query runs over: split files, in-memory batches, a time range and key types.
///
/// Files and batches follow the data contract of the [module docs](crate::sql); they may have
/// different columns. The caller has already pruned splits by time and narrowed by the search
/// statement; `time_range` is applied again to every row (and prunes Parquet row groups).
#[derive(Debug, Clone, Default)]
pub struct SqlTable {
    /// Where `parquet_files` live; required when there are any.
    pub object_store: Option<Arc<dyn object_store::ObjectStore>>,
    /// Split files to read.
    pub parquet_files: Vec<ParquetFileRef>,
    /// Rows in memory (e.g. the memtable), already narrowed by the search.
    pub batches: Vec<RecordBatch>,
    /// `[from, to)` in unix seconds, applied to `__time__`.
    pub time_range: (i64, i64),
    /// Key types from the index config (see [`sql_field_types`]); other keys are text.
    pub field_types: Vec<(String, SqlFieldType)>,
}

/// The `log` table of one query: the storage schema, the scans, and how SQL sees the columns.
#[derive(Debug)]
pub(crate) struct LogView {
    storage_schema: SchemaRef,
    splits: Option<Arc<SplitFilesTable>>,
    batches: Arc<BatchesTable>,
    time_range: (i64, i64),
    field_types: HashMap<String, SqlFieldType>,
}

impl LogView {
    /// Joins the split files (read through `splits`, whose schema comes from their footers)
    /// with the batches.
    pub(crate) fn new(table: SqlTable, splits: Option<SplitsSource>) -> Result<Self, QueryError> {
        let text_type = if splits.is_some() {
            DataType::Utf8View
        } else {
            DataType::Utf8
        };
        let mut sources: Vec<SchemaRef> = table.batches.iter().map(|b| b.schema()).collect();
        if let Some(splits) = &splits {
            sources.push(Arc::clone(&splits.schema));
        }
        let sources: Vec<&Schema> = sources.iter().map(|s| s.as_ref()).collect();
        let storage_schema = Arc::new(storage_schema(&sources, &text_type)?);
        let splits = splits.map(|source| {
            Arc::new(SplitFilesTable::new(
                Arc::clone(&storage_schema),
                source.store_url,
                table.parquet_files,
            ))
        });
        let batches = Arc::new(BatchesTable::new(
            Arc::clone(&storage_schema),
            table.batches,
            table.time_range,
        ));
        Ok(Self {
            storage_schema,
            splits,
            batches,
            time_range: table.time_range,
            field_types: table.field_types.into_iter().collect(),
        })
    }

    /// Rows the query's scans took from in-memory batches.
    pub(crate) fn batch_rows_scanned(&self) -> u64 {
        self.batches.rows_scanned()
    }

    /// Whether SQL can see `name` without adding it as a NULL column.
    pub(crate) fn has_column(&self, name: &str) -> bool {
        name != OFFSET_COLUMN
            && (self.storage_schema.column_with_name(name).is_some()
                || self.field_types.contains_key(name))
    }

    /// The logical plan of the `log` table, with `extra_columns` (names no source has) as NULL
    /// text columns.
    pub(crate) fn plan(&self, extra_columns: &[String]) -> datafusion::error::Result<LogicalPlan> {
        let batches = || {
            LogicalPlanBuilder::scan(
                "cairn_batches",
                provider_as_source(Arc::clone(&self.batches) as _),
                None,
            )
        };
        let mut builder = match &self.splits {
            Some(splits) => {
                let splits = LogicalPlanBuilder::scan(
                    "cairn_splits",
                    provider_as_source(Arc::clone(splits) as _),
                    None,
                )?;
                if self.batches.is_empty() {
                    splits
                } else {
                    splits.union(batches()?.build()?)?
                }
            }
            None => batches()?,
        };
        let (from, to) = self.time_range;
        let time = || Expr::Column(Column::new_unqualified(TIME_COLUMN));
        builder = builder.filter(time().gt_eq(lit(from)).and(time().lt(lit(to))))?;
        let text_type = self.text_type();
        let mut projection: Vec<Expr> = Vec::new();
        for field in self.storage_schema.fields() {
            let name = field.name();
            if name == OFFSET_COLUMN {
                continue;
            }
            let column = Expr::Column(Column::new_unqualified(name.clone()));
            let is_internal = name == TIME_COLUMN || name == TIME_NS_COLUMN;
            let expr = match self.field_types.get(name.as_str()) {
                Some(SqlFieldType::Long) if !is_internal => try_cast(column, DataType::Int64),
                Some(SqlFieldType::Double) if !is_internal => try_cast(column, DataType::Float64),
                _ => column,
            };
            projection.push(expr.alias(name.clone()));
        }
        // Declared keys no record has, then names the query uses that nothing has.
        let declared: BTreeMap<&String, &SqlFieldType> = self
            .field_types
            .iter()
            .filter(|(name, _)| self.storage_schema.column_with_name(name).is_none())
            .filter(|(name, _)| name.as_str() != OFFSET_COLUMN)
            .collect();
        for (name, field_type) in declared {
            let null = match field_type {
                SqlFieldType::Long => lit(ScalarValue::Int64(None)),
                SqlFieldType::Double => lit(ScalarValue::Float64(None)),
                SqlFieldType::Text => cast(lit(ScalarValue::Null), text_type.clone()),
            };
            projection.push(null.alias(name.clone()));
        }
        for name in extra_columns {
            projection.push(cast(lit(ScalarValue::Null), text_type.clone()).alias(name.clone()));
        }
        builder.project(projection)?.build()
    }

    fn text_type(&self) -> DataType {
        if self.splits.is_some() {
            DataType::Utf8View
        } else {
            DataType::Utf8
        }
    }
}

/// How to read a table's split files: their merged schema (from their footers) and the URL
/// their object store is registered under for this query.
#[derive(Debug, Clone)]
pub(crate) struct SplitsSource {
    pub(crate) schema: SchemaRef,
    pub(crate) store_url: datafusion::execution::object_store::ObjectStoreUrl,
}

/// The union of `sources`' columns in the fixed order of the module docs, every column
/// nullable; text columns (whatever string type they come in) become `text_type`.
fn storage_schema(sources: &[&Schema], text_type: &DataType) -> Result<Schema, QueryError> {
    // The contract's fixed columns exist even when no source has them (e.g. no data at all).
    let mut types: HashMap<&str, DataType> = HashMap::from([
        (TIME_COLUMN, DataType::Int64),
        (TIME_NS_COLUMN, DataType::Int32),
        (OFFSET_COLUMN, DataType::UInt64),
        (TOPIC_COLUMN, text_type.clone()),
        (SOURCE_COLUMN, text_type.clone()),
    ]);
    for schema in sources {
        for field in schema.fields() {
            let data_type = if is_text(field.data_type()) {
                text_type.clone()
            } else {
                field.data_type().clone()
            };
            match types.get(field.name().as_str()) {
                Some(seen) if *seen != data_type && *seen != DataType::Null => {
                    if data_type != DataType::Null {
                        return Err(QueryError::Storage {
                            message: format!(
                                "column {:?} is {seen} in one split and {data_type} in another",
                                field.name()
                            ),
                        });
                    }
                }
                _ => {
                    types.insert(field.name().as_str(), data_type);
                }
            }
        }
    }
    let mut names: Vec<&str> = types.keys().copied().collect();
    names.sort_by_key(|name| (column_rank(name), *name));
    let fields: Vec<Field> = names
        .into_iter()
        .map(|name| {
            let data_type = match &types[name] {
                DataType::Null => text_type.clone(),
                other => other.clone(),
            };
            Field::new(name, data_type, true)
        })
        .collect();
    Ok(Schema::new(fields))
}

fn is_text(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    )
}

/// Sort rank of a column in the storage schema (then by name).
fn column_rank(name: &str) -> u8 {
    match name {
        TIME_COLUMN => 0,
        TIME_NS_COLUMN => 1,
        TOPIC_COLUMN => 2,
        SOURCE_COLUMN => 3,
        OFFSET_COLUMN => 6,
        _ if name.starts_with(TAG_PREFIX) => 4,
        _ => 5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_schema_is_the_ordered_union_with_one_text_type() {
        let a = Schema::new(vec![
            Field::new("url", DataType::Utf8, true),
            Field::new(TIME_COLUMN, DataType::Int64, false),
            Field::new(OFFSET_COLUMN, DataType::UInt64, false),
        ]);
        let b = Schema::new(vec![
            Field::new("status", DataType::Utf8View, true),
            Field::new("__tag__:host", DataType::Utf8, true),
            Field::new(TOPIC_COLUMN, DataType::LargeUtf8, true),
            Field::new(TIME_COLUMN, DataType::Int64, false),
        ]);
        let schema = storage_schema(&[&a, &b], &DataType::Utf8View).expect("compatible");
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(
            names,
            [
                TIME_COLUMN,
                TIME_NS_COLUMN,
                TOPIC_COLUMN,
                SOURCE_COLUMN,
                "__tag__:host",
                "status",
                "url",
                OFFSET_COLUMN
            ]
        );
        assert_eq!(schema.field(5).data_type(), &DataType::Utf8View);
        assert_eq!(schema.field(0).data_type(), &DataType::Int64);
    }

    #[test]
    fn conflicting_column_types_are_a_storage_error() {
        let a = Schema::new(vec![Field::new("x", DataType::Int64, true)]);
        let b = Schema::new(vec![Field::new("x", DataType::Utf8, true)]);
        let error = storage_schema(&[&a, &b], &DataType::Utf8).expect_err("conflict");
        assert!(matches!(error, QueryError::Storage { .. }), "{error}");
    }

    #[test]
    fn index_types_map_to_sql_types() {
        let config = IndexConfig::from_json(
            br#"{"keys":{"latency":{"type":"long"},"ratio":{"type":"double"},
                 "msg":{"type":"text"},"doc":{"type":"json"}}}"#,
        )
        .expect("config");
        let types: HashMap<String, SqlFieldType> = sql_field_types(&config).into_iter().collect();
        assert_eq!(types["latency"], SqlFieldType::Long);
        assert_eq!(types["ratio"], SqlFieldType::Double);
        assert_eq!(types["msg"], SqlFieldType::Text);
        assert_eq!(types["doc"], SqlFieldType::Text);
    }
}
