//! [`SqlEngine`]: runs one query's SQL over one [`SqlTable`] with bounded resources.
//!
//! One engine serves a whole server. It holds what queries share (the function registry and
//! session settings, the spill-file manager, the Parquet footer cache, a semaphore) and builds
//! per query a DataFusion session with its own memory pool, its own object-store registry and
//! its own catalog holding only `log`.
//!
//! A query: wait for a permit → parse and rewrite the SQL (`rewrite.rs`) → read the split
//! files' footers for their columns → plan against the `log` view (`table.rs`), adding any
//! identifier no source has as a NULL column and planning again → run → render rows until
//! `max_result_rows`.
//!
//! Invariants: at most `max_concurrent_queries` queries run at once and each allocates at most
//! `memory_per_query_bytes` through DataFusion's pool (sorts, aggregations and joins spill to
//! `spill_directory` when one is set, else fail with [`QueryError::MemoryLimit`]); rendered
//! result rows count against the same pool; dropping the future cancels the query. Split paths
//! are immutable (a path names one content forever), which is what lets the footer cache be
//! shared across queries.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{CatalogProvider, MemoryCatalogProvider, MemoryCatalogProviderList};
use datafusion::catalog::{CatalogProviderList, MemorySchemaProvider, SchemaProvider};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::ViewTable;
use datafusion::error::DataFusionError;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{
    FairSpillPool, MemoryConsumer, MemoryPool, TrackConsumersPool,
};
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreUrl};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::logical_expr::{AggregateUDF, LogicalPlan, ScalarUDF};
use datafusion::physical_plan::{execute_stream, ExecutionPlan};
use datafusion::prelude::{SQLOptions, SessionConfig};
use datafusion::sql::parser::Statement as DFStatement;
use futures::StreamExt;
use object_store::ObjectMeta;
use tokio::sync::Semaphore;

use super::errors::{missing_column, query_error, Limits};
use super::functions;
use super::render::{render_batch, rows_size, Row};
use super::rewrite::{prepare, PreparedSql, LOG_TABLE};
use super::scan_stats::ScanStats;
use super::table::{LogView, SplitsSource, SqlTable};
use crate::QueryError;

/// How many identifiers absent from every source one query may use (each is planned as a NULL
/// column).
const MAX_ABSENT_COLUMNS: usize = 256;

/// The URL a query's object store is registered under in its own session.
const SPLIT_STORE_URL: &str = "cairn-splits://store";

/// Limits and sizing of a [`SqlEngine`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlEngineConfig {
    /// Memory one query may allocate (hash tables, sort buffers, result rows). Default 512 MiB.
    pub memory_per_query_bytes: usize,
    /// Queries running at once; more wait for a turn. Default 4.
    pub max_concurrent_queries: usize,
    /// Where sorts and aggregations spill when they exceed their memory; `None` (the
    /// default) disables spilling, so such queries fail with [`QueryError::MemoryLimit`].
    pub spill_directory: Option<PathBuf>,
    /// Temporary disk space all running queries may spill, together. Default 10 GiB.
    pub max_spill_bytes: u64,
    /// Rows one result may hold; a larger `LIMIT` (or none) is cut here and the result is
    /// marked [`SqlResult::truncated`]. Default 1,000,000 (SLS's largest `LIMIT`).
    pub max_result_rows: usize,
    /// The `LIMIT` of a query that has none. Default 100, as SLS.
    pub default_limit: usize,
    /// Partitions (threads) one query runs on; 0 means the number of cores. Default 0.
    pub target_partitions: usize,
}

impl Default for SqlEngineConfig {
    fn default() -> Self {
        Self {
            memory_per_query_bytes: 512 * 1024 * 1024,
            max_concurrent_queries: 4,
            spill_directory: None,
            max_spill_bytes: 10 * 1024 * 1024 * 1024,
            max_result_rows: 1_000_000,
            default_limit: 100,
            target_partitions: 0,
        }
    }
}

/// The answer to one SQL query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlResult {
    /// Column names in SELECT order; unnamed expressions are `_col<i>` as in SLS.
    pub columns: Vec<String>,
    /// Rows of cells rendered as SLS shows them (see [`format_double`](super::format_double));
    /// `None` is NULL.
    pub rows: Vec<Vec<Option<String>>>,
    /// Whether rows were cut at [`SqlEngineConfig::max_result_rows`].
    pub truncated: bool,
    /// Rows read from splits and batches (after pruning, before filtering): SLS's
    /// `processedRows`.
    pub processed_rows: u64,
    /// Bytes read from split files: SLS's `processedBytes`.
    pub processed_bytes: u64,
    /// Parquet row groups skipped by their statistics (mostly the time range).
    pub row_groups_pruned: u64,
    /// Wall time from the call to the last row, including any wait for a turn.
    pub elapsed: Duration,
}

/// Runs SQL over logstore data; create one per server and share it.
#[derive(Debug)]
pub struct SqlEngine {
    config: SqlEngineConfig,
    /// Settings every query's session starts from.
    session_config: SessionConfig,
    /// DataFusion's functions, then the SLS ones (see `functions`).
    scalar_functions: Vec<Arc<ScalarUDF>>,
    aggregate_functions: Vec<Arc<AggregateUDF>>,
    /// The spill-file manager and footer cache every query shares.
    shared_runtime: Arc<RuntimeEnv>,
    permits: Arc<Semaphore>,
}

/// One query's DataFusion session and the pieces it needs beside it.
struct QuerySession {
    state: SessionState,
    pool: Arc<dyn MemoryPool>,
    schema: Arc<MemorySchemaProvider>,
}

impl SqlEngine {
    /// An engine with `config`; fails only if the spill directory cannot be used.
    pub fn new(config: SqlEngineConfig) -> Result<Self, QueryError> {
        let mode = match &config.spill_directory {
            Some(directory) => DiskManagerMode::Directories(vec![directory.clone()]),
            None => DiskManagerMode::Disabled,
        };
        let disk_manager = DiskManagerBuilder::default()
            .with_mode(mode)
            .with_max_temp_directory_size(config.max_spill_bytes);
        let shared_runtime = RuntimeEnvBuilder::new()
            .with_disk_manager_builder(disk_manager)
            .build_arc()
            .map_err(|error| QueryError::Storage {
                message: format!("cannot set up the SQL spill directory: {error}"),
            })?;
        let partitions = match config.target_partitions {
            0 => std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
            n => n,
        };
        let mut session_config = SessionConfig::new()
            .with_target_partitions(partitions)
            .with_information_schema(false)
            .with_create_default_catalog_and_schema(false);
        let options = session_config.options_mut();
        // Keys are case-sensitive in SLS: match identifiers exactly as written.
        options.sql_parser.enable_ident_normalization = false;
        // SLS (Presto) sorts NULLs last whichever the direction; DataFusion's default
        // (Postgres) puts them first in a descending sort.
        options.sql_parser.default_null_ordering = "nulls_last".to_owned();
        // What a sort sets aside for merging its spill files must fit in the query's pool
        // (DataFusion's default, 10 MB, is more than a small pool holds).
        options.execution.sort_spill_reservation_bytes = options
            .execution
            .sort_spill_reservation_bytes
            .min(config.memory_per_query_bytes / 8);
        Ok(Self {
            permits: Arc::new(Semaphore::new(config.max_concurrent_queries.max(1))),
            config,
            session_config,
            scalar_functions: functions::scalar_functions(),
            aggregate_functions: functions::aggregate_functions(),
            shared_runtime,
        })
    }

    /// The engine's configuration.
    pub fn config(&self) -> &SqlEngineConfig {
        &self.config
    }

    /// Runs `sql` (the part after `|`, e.g. `SELECT status, count(*) GROUP BY status`) over
    /// `table`. `FROM` may be omitted or be `log`.
    pub async fn execute(&self, sql: &str, table: SqlTable) -> Result<SqlResult, QueryError> {
        let started = Instant::now();
        let prepared = prepare(sql, self.config.default_limit)?;
        self.run(&prepared, table, self.config.max_result_rows, started)
            .await
    }

    /// Runs a prepared query, keeping at most `max_rows` rows.
    pub(crate) async fn run(
        &self,
        prepared: &PreparedSql,
        table: SqlTable,
        max_rows: usize,
        started: Instant,
    ) -> Result<SqlResult, QueryError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| QueryError::SqlExecution {
                message: "the SQL engine is shutting down".to_owned(),
            })?;
        let limits = self.limits();
        let failed = |error: DataFusionError| query_error(&error, limits);
        let session = self.session().map_err(failed)?;
        let splits = self.splits_source(&session, &table).await.map_err(failed)?;
        let view = LogView::new(table, splits)?;
        let plan = self.plan(&session, &view, prepared).await?;
        let physical = session
            .state
            .create_physical_plan(&plan)
            .await
            .map_err(failed)?;
        let mut stream =
            execute_stream(Arc::clone(&physical), session.state.task_ctx()).map_err(failed)?;
        let reservation = MemoryConsumer::new("cairn SQL result").register(&session.pool);
        let mut rows: Vec<Row> = Vec::new();
        let mut truncated = false;
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(failed)?;
            let mut rendered = render_batch(&batch).map_err(|e| failed(e.into()))?;
            let room = max_rows.saturating_sub(rows.len());
            if rendered.len() > room {
                rendered.truncate(room);
                truncated = true;
            }
            reservation.try_grow(rows_size(&rendered)).map_err(failed)?;
            rows.extend(rendered);
            if truncated {
                break;
            }
        }
        drop(stream);
        let stats = ScanStats::of(&physical);
        Ok(SqlResult {
            columns: column_names(&physical, prepared),
            rows,
            truncated,
            processed_rows: stats.rows + view.batch_rows_scanned(),
            processed_bytes: stats.bytes,
            row_groups_pruned: stats.row_groups_pruned,
            elapsed: started.elapsed(),
        })
    }

    fn limits(&self) -> Limits {
        Limits {
            memory_bytes: u64::try_from(self.config.memory_per_query_bytes).unwrap_or(u64::MAX),
            spill_bytes: self.config.max_spill_bytes,
        }
    }

    /// A fresh session: DataFusion's defaults with the engine's settings and functions (no
    /// table functions), a memory pool of its own, an empty object-store registry and a catalog
    /// with an empty `public` schema.
    fn session(&self) -> datafusion::error::Result<QuerySession> {
        let pool: Arc<dyn MemoryPool> = Arc::new(TrackConsumersPool::new(
            FairSpillPool::new(self.config.memory_per_query_bytes),
            NonZeroUsize::MIN.saturating_add(4),
        ));
        let runtime = RuntimeEnvBuilder::from_runtime_env(&self.shared_runtime)
            .with_memory_pool(Arc::clone(&pool))
            .with_object_store_registry(Arc::new(DefaultObjectStoreRegistry::new()))
            .build_arc()?;
        let catalogs = Arc::new(MemoryCatalogProviderList::new());
        let catalog = Arc::new(MemoryCatalogProvider::new());
        let schema = Arc::new(MemorySchemaProvider::new());
        let options = &self.session_config.options().catalog;
        catalog.register_schema(&options.default_schema, Arc::clone(&schema) as _)?;
        catalogs.register_catalog(options.default_catalog.clone(), catalog);
        let mut state = SessionStateBuilder::new()
            .with_config(self.session_config.clone())
            .with_runtime_env(runtime)
            .with_default_features()
            .with_scalar_functions(self.scalar_functions.clone())
            .with_aggregate_functions(self.aggregate_functions.clone())
            .with_table_functions(Default::default())
            .with_catalog_list(catalogs)
            .build();
        // Fixes `now()` and friends for the whole query.
        state.mark_start_execution();
        Ok(QuerySession {
            state,
            pool,
            schema,
        })
    }

    /// Registers the table's object store and reads the split files' footers for their merged
    /// schema; `None` when there are no files.
    async fn splits_source(
        &self,
        session: &QuerySession,
        table: &SqlTable,
    ) -> datafusion::error::Result<Option<SplitsSource>> {
        if table.parquet_files.is_empty() {
            return Ok(None);
        }
        let Some(store) = &table.object_store else {
            return Err(DataFusionError::Execution(
                "split files were given without the object store that holds them".to_owned(),
            ));
        };
        let store_url = ObjectStoreUrl::parse(SPLIT_STORE_URL)?;
        session
            .state
            .runtime_env()
            .register_object_store(store_url.as_ref(), Arc::clone(store));
        let objects: Vec<ObjectMeta> = table
            .parquet_files
            .iter()
            .map(|file| ObjectMeta {
                location: file.path.clone(),
                // Splits are immutable: a fixed time keeps footer-cache entries valid.
                last_modified: chrono::DateTime::UNIX_EPOCH,
                size: file.size_bytes,
                e_tag: None,
                version: None,
            })
            .collect();
        let format =
            ParquetFormat::default().with_options(session.state.default_table_options().parquet);
        let schema: SchemaRef = format.infer_schema(&session.state, store, &objects).await?;
        Ok(Some(SplitsSource { schema, store_url }))
    }

    /// Plans the statement against `log`; identifiers no source has become NULL columns.
    async fn plan(
        &self,
        session: &QuerySession,
        view: &LogView,
        prepared: &PreparedSql,
    ) -> Result<LogicalPlan, QueryError> {
        let limits = self.limits();
        let mut absent: Vec<String> = Vec::new();
        loop {
            let log = view.plan(&absent).map_err(|e| query_error(&e, limits))?;
            session
                .schema
                .deregister_table(LOG_TABLE)
                .map_err(|e| query_error(&e, limits))?;
            session
                .schema
                .register_table(LOG_TABLE.to_owned(), Arc::new(ViewTable::new(log, None)))
                .map_err(|e| query_error(&e, limits))?;
            let statement = DFStatement::Statement(Box::new(prepared.statement.clone()));
            let error = match session.state.statement_to_plan(statement).await {
                Ok(plan) => {
                    SQLOptions::new()
                        .with_allow_ddl(false)
                        .with_allow_dml(false)
                        .with_allow_statements(false)
                        .verify_plan(&plan)
                        .map_err(|e| QueryError::SqlUnsupported {
                            message: e.strip_backtrace(),
                        })?;
                    return Ok(plan);
                }
                Err(error) => error,
            };
            match missing_column(&error) {
                Some(column)
                    if may_be_absent(column, prepared, &absent)
                        && !view.has_column(&column.name)
                        && absent.len() < MAX_ABSENT_COLUMNS =>
                {
                    absent.push(column.name.clone());
                }
                Some(column) if prepared.select_aliases.contains(&column.name) => {
                    return Err(QueryError::UnknownColumn {
                        name: column.flat_name(),
                        hint: "it is an alias of the select list, which SQL does not allow \
                               here; repeat the expression instead"
                            .to_owned(),
                    });
                }
                _ => return Err(query_error(&error, limits)),
            }
        }
    }
}

/// Whether a column the planner could not find may be a field absent from all data: not a
/// select alias, not already added, and unqualified or qualified by `log` or its alias.
fn may_be_absent(
    column: &datafusion::common::Column,
    prepared: &PreparedSql,
    absent: &[String],
) -> bool {
    let qualifier_is_log = match &column.relation {
        None => true,
        Some(relation) => {
            relation.schema().is_none()
                && (relation.table() == LOG_TABLE
                    || prepared.log_aliases.contains(relation.table()))
        }
    };
    qualifier_is_log
        && !prepared.select_aliases.contains(&column.name)
        && !absent.contains(&column.name)
}

/// The result's column names: DataFusion's, with SLS's `_col<i>` for unnamed expressions.
fn column_names(physical: &Arc<dyn ExecutionPlan>, prepared: &PreparedSql) -> Vec<String> {
    let schema = physical.schema();
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    match &prepared.output_names {
        Some(overrides) if overrides.len() == names.len() => names
            .into_iter()
            .zip(overrides)
            .map(|(name, sls)| sls.clone().unwrap_or(name))
            .collect(),
        _ => names,
    }
}
