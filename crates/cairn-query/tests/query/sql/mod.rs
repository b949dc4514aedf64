//! SQL tests: real DataFusion over real Parquet files (written with `ArrowWriter` into a
//! temporary directory served by `LocalFileSystem`) and in-memory batches.
//!
//! The fixture logstore ([`Fixture::new`]) has two split files with different columns and
//! three in-memory rows with yet others; every test queries all of it.

mod dialect;
mod functions;
mod resources;

use std::sync::Arc;

use cairn_query::sql::{
    ParquetFileRef, SqlEngine, SqlEngineConfig, SqlFieldType, SqlResult, SqlTable,
};
use cairn_query::QueryError;
use datafusion::arrow::array::{ArrayRef, Int32Array, Int64Array, StringArray, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::file::properties::WriterProperties;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

/// 2024-01-01T00:00:00Z.
pub const T0: i64 = 1_704_067_200;

/// One record: its time and its values, one per column of the batch it is in.
pub type Record<'a> = (i64, Vec<Option<&'a str>>);

/// A batch following the data contract: `__time__`, `__time_ns_part__`, `__offset__`, then
/// one Utf8 column per name in `columns`.
pub fn batch(columns: &[&str], records: &[Record<'_>]) -> RecordBatch {
    let mut fields = vec![
        Field::new("__time__", DataType::Int64, false),
        Field::new("__time_ns_part__", DataType::Int32, false),
        Field::new("__offset__", DataType::UInt64, false),
    ];
    fields.extend(columns.iter().map(|c| Field::new(*c, DataType::Utf8, true)));
    let mut arrays: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(records.iter().map(|r| r.0))),
        Arc::new(Int32Array::from_iter_values(records.iter().map(|_| 0))),
        Arc::new(UInt64Array::from_iter_values(0..records.len() as u64)),
    ];
    for index in 0..columns.len() {
        let values: StringArray = records.iter().map(|r| r.1[index]).collect();
        arrays.push(Arc::new(values));
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).expect("valid batch")
}

/// Writes `batch` as a Parquet file at `path` in `store`, `rows_per_group` rows per row group.
pub async fn write_parquet(
    store: &LocalFileSystem,
    path: &str,
    batch: &RecordBatch,
    rows_per_group: usize,
) -> ParquetFileRef {
    let properties = WriterProperties::builder()
        .set_max_row_group_row_count(Some(rows_per_group))
        .build();
    let mut bytes = Vec::new();
    let mut writer =
        ArrowWriter::try_new(&mut bytes, batch.schema(), Some(properties)).expect("writer");
    writer.write(batch).expect("write");
    writer.close().expect("close");
    let size_bytes = bytes.len() as u64;
    let path = Path::from(path);
    store.put(&path, bytes.into()).await.expect("put");
    ParquetFileRef { path, size_bytes }
}

/// A logstore of two splits and a memtable, and an engine to query it.
pub struct Fixture {
    pub engine: SqlEngine,
    pub store: Arc<dyn ObjectStore>,
    pub files: Vec<ParquetFileRef>,
    pub batches: Vec<RecordBatch>,
    _directory: tempfile::TempDir,
}

/// Split A: access logs with a tag and a topic (6 rows, one `latency` not a number).
fn split_a() -> RecordBatch {
    let columns = [
        "__topic__",
        "__tag__:__hostname__",
        "status",
        "url",
        "latency",
    ];
    let rows: Vec<Record> = [
        (0, "web-1", "200", "/a", "100"),
        (10, "web-2", "200", "/b", "250"),
        (59, "web-1", "500", "/a", "abc"),
        (60, "web-1", "404", "/c", "50"),
        (61, "web-2", "200", "/a", "1000"),
        (130, "web-1", "500", "/b", "75"),
    ]
    .into_iter()
    .map(|(t, host, status, url, latency)| {
        let values = vec![
            Some("nginx"),
            Some(host),
            Some(status),
            Some(url),
            Some(latency),
        ];
        (T0 + t, values)
    })
    .collect();
    batch(&columns, &rows)
}

/// Split B: JSON content and an odd key, no url (4 rows, the last one past the range).
fn split_b() -> RecordBatch {
    let columns = ["status", "latency", "content", "my-key"];
    let rows: Vec<Record> = vec![
        (
            T0 + 5,
            vec![
                Some("200"),
                Some("10.5"),
                Some(r#"{"user":{"name":"ann","tags":["a","b"]},"n":3}"#),
                Some("x"),
            ],
        ),
        (
            T0 + 65,
            vec![
                Some("500"),
                Some("20"),
                Some(r#"{"user":{"name":"bob"}}"#),
                Some("y"),
            ],
        ),
        (
            T0 + 125,
            vec![Some("200"), Some("30"), Some("not json"), None],
        ),
        (T0 + 3600, vec![Some("200"), Some("40"), None, Some("late")]),
    ];
    batch(&columns, &rows)
}

/// The memtable: a url, an extra key and a double (3 rows).
fn memtable() -> RecordBatch {
    let columns = ["status", "url", "extra", "ms"];
    let rows: Vec<Record> = vec![
        (
            T0 + 1,
            vec![Some("200"), Some("/z"), Some("e1"), Some("1.5")],
        ),
        (T0 + 62, vec![Some("503"), Some("/a"), None, Some("2.5")]),
        (
            T0 + 119,
            vec![Some("200"), Some("/z"), Some("e3"), Some("bad")],
        ),
    ];
    batch(&columns, &rows)
}

impl Fixture {
    /// The fixture with a default engine (2 partitions).
    pub async fn new() -> Self {
        Self::with_config(SqlEngineConfig {
            target_partitions: 2,
            ..SqlEngineConfig::default()
        })
        .await
    }

    /// The fixture with an engine of `config`.
    pub async fn with_config(config: SqlEngineConfig) -> Self {
        let directory = tempfile::tempdir().expect("temp dir");
        let store = LocalFileSystem::new_with_prefix(directory.path()).expect("local store");
        let files = vec![
            write_parquet(&store, "splits/a.parquet", &split_a(), 2).await,
            write_parquet(&store, "splits/b.parquet", &split_b(), 1024).await,
        ];
        Self {
            engine: SqlEngine::new(config).expect("engine"),
            store: Arc::new(store),
            files,
            batches: vec![memtable()],
            _directory: directory,
        }
    }

    /// Everything, over `[T0, T0 + 3600)`, `latency` long and `ms` double.
    pub fn table(&self) -> SqlTable {
        SqlTable {
            object_store: Some(Arc::clone(&self.store)),
            parquet_files: self.files.clone(),
            batches: self.batches.clone(),
            time_range: (T0, T0 + 3600),
            field_types: vec![
                ("latency".to_owned(), SqlFieldType::Long),
                ("ms".to_owned(), SqlFieldType::Double),
                ("declared".to_owned(), SqlFieldType::Long),
            ],
        }
    }

    /// Runs `sql` over [`Fixture::table`].
    pub async fn query(&self, sql: &str) -> Result<SqlResult, QueryError> {
        self.engine.execute(sql, self.table()).await
    }

    /// Runs `sql`, which must succeed, and returns its rows with NULL as `"null"`.
    pub async fn rows(&self, sql: &str) -> Vec<Vec<String>> {
        match self.query(sql).await {
            Ok(result) => texts(&result),
            Err(error) => panic!("{sql}: {error}"),
        }
    }
}

/// A result's rows with NULL shown as SLS shows it.
pub fn texts(result: &SqlResult) -> Vec<Vec<String>> {
    result
        .rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|cell| cell.clone().unwrap_or_else(|| "null".to_owned()))
                .collect()
        })
        .collect()
}

/// Rows written as string slices.
pub fn expect(rows: &[&[&str]]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|row| row.iter().map(|cell| (*cell).to_owned()).collect())
        .collect()
}
