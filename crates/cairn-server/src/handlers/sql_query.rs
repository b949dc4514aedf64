//! The SQL half of GetLogs: `search | SQL` runs the search to narrow rows, then the SQL on
//! DataFusion (`cairn_query::sql`), and renders the result as SLS does.
//!
//! Which rows the SQL sees:
//! - a search that matches everything (`*`, no topic) hands DataFusion the Parquet files of
//!   the splits overlapping the time range plus the records in memory, so projections,
//!   row-group pruning on `__time__` and parallel scans all apply;
//! - any other search visits the candidate blocks (the token index skips the rest), keeps the
//!   records the matcher accepts, and hands them over as Arrow batches; more than
//!   [`MAX_NARROWED_ROWS`] is refused with a clear error rather than held in memory.
//!
//! Invariant: every row the SQL sees is in `[from, to)` and matches the search; the memory a
//! query uses is bounded by the SQL engine's per-query pool plus the narrowed rows' cap.

use arrow::array::RecordBatch;
use cairn_meta::{LogstoreRecord, ProjectRecord};
use cairn_model::{IndexConfig, LogRecord, LogTime, TokenQuery};
use cairn_query::sql::{sql_field_types, ParquetFileRef, SqlResult, SqlTable};
use cairn_store::split::columns::BatchLayout;

use super::Context;
use crate::error::ApiError;

/// The most records a narrowing search may hand to SQL.
pub(crate) const MAX_NARROWED_ROWS: usize = 2_000_000;
/// Rows per Arrow batch handed to SQL.
const BATCH_ROWS: usize = 65_536;

/// Whether a record matches the search.
pub(crate) type RecordFilter<'a> = &'a (dyn Fn(&LogRecord) -> bool + Sync);

/// What the SQL runs over, and how the search narrowed it.
pub(crate) struct SqlInput<'a> {
    pub logstore: &'a LogstoreRecord,
    pub index: Option<&'a IndexConfig>,
    pub from: LogTime,
    pub to: LogTime,
    /// `None` when the search matches every record (no narrowing needed).
    pub narrowing: Option<(&'a TokenQuery, RecordFilter<'a>)>,
}

/// Runs `sql` over the rows `input` selects.
pub(crate) async fn run_sql(
    context: &Context<'_>,
    _project: &ProjectRecord,
    sql: &str,
    input: SqlInput<'_>,
) -> Result<SqlResult, ApiError> {
    let engine = &context.state.engine;
    let mut table = SqlTable {
        time_range: (i64::from(input.from.seconds), i64::from(input.to.seconds)),
        field_types: input.index.map(sql_field_types).unwrap_or_default(),
        ..SqlTable::default()
    };
    match input.narrowing {
        None => whole_range(context, &input, &mut table)?,
        Some((tokens, accept)) => {
            let mut kept: Vec<LogRecord> = Vec::new();
            let mut too_many = false;
            engine
                .visit(
                    input.logstore.id,
                    input.from,
                    input.to,
                    tokens,
                    &mut |record| {
                        if !too_many && accept(record) {
                            if kept.len() >= MAX_NARROWED_ROWS {
                                too_many = true;
                            } else {
                                kept.push(record.clone());
                            }
                        }
                    },
                )
                .await?;
            if too_many {
                return Err(ApiError::parameter_invalid(format!(
                    "the search before `|` matches more than {MAX_NARROWED_ROWS} records; \
                     narrow the search or the time range, or analyse everything with `* | ...`"
                )));
            }
            let numbered: Vec<(u64, &LogRecord)> = kept
                .iter()
                .enumerate()
                .map(|(at, record)| (at as u64, record))
                .collect();
            table.batches = batches_of(&numbered)?;
        }
    }
    Ok(context.state.sql.execute(sql, table).await?)
}

/// Fills `table` with every record of the range: split files plus memory.
fn whole_range(
    context: &Context<'_>,
    input: &SqlInput<'_>,
    table: &mut SqlTable,
) -> Result<(), ApiError> {
    let sources = context
        .state
        .engine
        .query_sources(input.logstore.id, input.from, input.to);
    table.object_store = sources.object_store;
    table.parquet_files = sources
        .parquet_files
        .into_iter()
        .map(|(path, size_bytes)| ParquetFileRef { path, size_bytes })
        .collect();
    let memory: Vec<(u64, &LogRecord)> = sources
        .memory
        .iter()
        .map(|(offset, record)| (*offset, record.as_ref()))
        .collect();
    table.batches = batches_of(&memory)?;
    Ok(())
}

/// GetHistograms of a search that matches everything: counts per bucket straight from the
/// `__time__` column of the split files (and memory), without building records.
pub(crate) async fn histogram_of_everything(
    context: &Context<'_>,
    input: SqlInput<'_>,
    interval: Option<u32>,
) -> Result<Vec<cairn_query::HistogramBucket>, ApiError> {
    let mut table = SqlTable {
        time_range: (i64::from(input.from.seconds), i64::from(input.to.seconds)),
        ..SqlTable::default()
    };
    whole_range(context, &input, &mut table)?;
    Ok(context.state.sql.histogram(table, interval).await?)
}

/// Records as Arrow batches sharing one layout.
fn batches_of(records: &[(u64, &LogRecord)]) -> Result<Vec<RecordBatch>, ApiError> {
    if records.is_empty() {
        return Ok(Vec::new());
    }
    let layout = BatchLayout::of(records.iter().map(|(_, record)| *record));
    records
        .chunks(BATCH_ROWS)
        .map(|chunk| layout.batch(chunk).map_err(ApiError::from))
        .collect()
}

/// A result row as SLS renders it: every cell a string, NULL as `"null"`.
pub(crate) fn row_json(columns: &[String], row: &[Option<String>]) -> serde_json::Value {
    let object: serde_json::Map<String, serde_json::Value> = columns
        .iter()
        .zip(row)
        .map(|(column, cell)| {
            (
                column.clone(),
                serde_json::Value::String(cell.clone().unwrap_or_else(|| "null".to_owned())),
            )
        })
        .collect();
    serde_json::Value::Object(object)
}
