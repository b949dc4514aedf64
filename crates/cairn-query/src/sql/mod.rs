//! The SQL half of `search | SQL`, on DataFusion.
//!
//! The search statement narrows rows with the index (elsewhere); [`SqlEngine::execute`] runs
//! the SQL over what is left, given as a [`SqlTable`] of Parquet split files and in-memory
//! Arrow batches:
//!
//! ```no_run
//! # async fn example(table: cairn_query::sql::SqlTable) -> Result<(), cairn_query::QueryError> {
//! use cairn_query::sql::{SqlEngine, SqlEngineConfig};
//! let engine = SqlEngine::new(SqlEngineConfig::default())?; // once per server
//! let result = engine
//!     .execute("SELECT status, count(*) AS c GROUP BY status ORDER BY c DESC", table)
//!     .await?;
//! println!("{:?} {:?}", result.columns, result.rows);
//! # Ok(()) }
//! ```
//!
//! # The data contract
//!
//! Every batch and split file has `__time__` (Int64, unix seconds), `__time_ns_part__`
//! (Int32), `__offset__` (UInt64, internal: never visible to SQL, `SELECT *` leaves it out),
//! `__topic__` and `__source__` (Utf8), one Utf8 column per tag (`__tag__:<key>`) and one Utf8
//! column per content key, named as the key. Files and batches may have different columns:
//! SQL sees the union, a column missing from a source reads as NULL.
//!
//! # The SLS dialect
//!
//! - `FROM` is optional and `FROM log` is the logstore (see `rewrite.rs`); `WITH`, subqueries,
//!   joins of `log` with itself, `UNION`, window functions work as in DataFusion.
//! - Identifiers are case-sensitive and match keys exactly; quote odd ones:
//!   `"__tag__:__hostname__"`, `"my-key"`, `"request.method"`.
//! - Keys typed `long`/`double` in the index config are `BIGINT`/`DOUBLE`; a value that does
//!   not parse is NULL (TRY_CAST). Other keys are text.
//! - A name that no file, no batch and no index key has is a NULL text column (a key absent
//!   from the data is NULL in SLS too), so `SELECT missing_key` works; aliases of the select
//!   list are never taken for such names.
//! - Aggregates: DataFusion's (`count`, `sum`, `avg`, `min`, `max`, `approx_distinct`,
//!   `stddev`, `array_agg`, ...) plus `count_if`, `approx_percentile` (=
//!   `approx_percentile_cont`), `arbitrary`, `max_by` and `min_by`.
//! - Time: `__time__ - __time__ % 60`, `date_trunc('minute', __time__)` (integers are unix
//!   seconds), `from_unixtime`, `to_unixtime` (integer seconds), `date_format` and
//!   `date_parse` with MySQL formats; times are UTC.
//! - Text, regex and JSON: DataFusion's string functions, `regexp_like`, `regexp_replace`
//!   (replaces every match), `regexp_extract`, `json_extract`, `json_extract_scalar`,
//!   `json_array_length` (see [`functions`]).
//! - No `LIMIT` means `LIMIT 100`, as in SLS; `LIMIT offset, count` works.
//! - Unnamed result columns are `_col<i>` (SLS/Presto), named ones keep their alias.
//!
//! # Resources
//!
//! See [`SqlEngineConfig`]: a per-query memory pool (exceeding it spills, or fails with
//! [`QueryError::MemoryLimit`]), a concurrency bound, a cap on result rows.
//!
//! Invariants: only one read-only `SELECT` runs per call (DDL, DML, `SET`, `COPY`, table
//! functions are refused); every failure is a [`QueryError`]; nothing panics on user input.

mod depth;
mod engine;
mod errors;
pub mod functions;
mod histogram;
mod render;
mod rewrite;
mod scan;
mod scan_stats;
mod table;

pub use depth::MAX_EXPRESSION_DEPTH;
pub use engine::{SqlEngine, SqlEngineConfig, SqlResult};
pub use render::{format_double, TIMESTAMP_FORMAT};
pub use rewrite::MAX_SQL_NESTING;
pub use table::{
    sql_field_types, ParquetFileRef, SqlFieldType, SqlTable, OFFSET_COLUMN, SOURCE_COLUMN,
    TAG_PREFIX, TIME_COLUMN, TIME_NS_COLUMN, TOPIC_COLUMN,
};
