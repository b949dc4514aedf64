//! The two scans under the `log` table: Parquet split files and in-memory batches.
//!
//! [`SplitFilesTable`] hands DataFusion a `DataSourceExec` over Parquet built like a listing
//! table's, but from the file list the caller gives (no object-store listing, no HEAD
//! requests): projection pushdown, the shared footer cache, and the filters above it pushed
//! into the Parquet reader by DataFusion's physical optimizer (row-group and page pruning by
//! statistics, so the `__time__` range skips row groups). A file without some column reads it
//! as NULL.
//!
//! [`BatchesTable`] reads in-memory batches, skipping whole batches outside the time range and
//! building only the projected columns (cast to the storage schema's types, NULL where a batch
//! lacks the column), and counting the rows it hands over (memory scans report no metrics).
//!
//! Invariants: both report every filter as `Inexact`, so a `FilterExec` always re-checks rows;
//! neither ever exposes a column outside the storage schema; work is spread over
//! `target_partitions` partitions.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{new_null_array, Array, ArrayRef, Int64Array, RecordBatchOptions};
use datafusion::arrow::compute::{cast, max, min};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::error::Result;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::ExecutionPlan;

use super::table::{ParquetFileRef, TIME_COLUMN};

/// Parquet split files read through DataFusion's Parquet source.
#[derive(Debug)]
pub(crate) struct SplitFilesTable {
    schema: SchemaRef,
    store_url: ObjectStoreUrl,
    files: Vec<ParquetFileRef>,
}

impl SplitFilesTable {
    pub(crate) fn new(
        schema: SchemaRef,
        store_url: ObjectStoreUrl,
        files: Vec<ParquetFileRef>,
    ) -> Self {
        Self {
            schema,
            store_url,
            files,
        }
    }
}

#[async_trait]
impl TableProvider for SplitFilesTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let format = ParquetFormat::default().with_options(state.default_table_options().parquet);
        let source = format.file_source(TableSchema::from(Arc::clone(&self.schema)));
        let groups = balanced_file_groups(&self.files, state.config().target_partitions());
        let config = FileScanConfigBuilder::new(self.store_url.clone(), source)
            .with_file_groups(groups)
            .with_projection_indices(projection.cloned())?
            .with_limit(limit)
            .build();
        format.create_physical_plan(state, config).await
    }
}

/// Files spread over at most `partitions` groups of similar total size (largest first, each
/// to the lightest group).
fn balanced_file_groups(files: &[ParquetFileRef], partitions: usize) -> Vec<FileGroup> {
    let mut sorted: Vec<&ParquetFileRef> = files.iter().collect();
    sorted.sort_by_key(|file| std::cmp::Reverse(file.size_bytes));
    let count = partitions.clamp(1, files.len().max(1));
    let mut groups: Vec<(u64, Vec<PartitionedFile>)> = vec![(0, Vec::new()); count];
    for file in sorted {
        if let Some(lightest) = groups.iter_mut().min_by_key(|(bytes, _)| *bytes) {
            lightest.0 += file.size_bytes;
            lightest
                .1
                .push(PartitionedFile::new(file.path.to_string(), file.size_bytes));
        }
    }
    groups
        .into_iter()
        .filter(|(_, files)| !files.is_empty())
        .map(|(_, files)| FileGroup::new(files))
        .collect()
}

/// In-memory batches, adapted to the storage schema column by column as they are scanned.
#[derive(Debug)]
pub(crate) struct BatchesTable {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    time_range: (i64, i64),
    /// Rows handed to scans so far (memory scans have no metrics of their own).
    rows_scanned: AtomicU64,
}

impl BatchesTable {
    pub(crate) fn new(
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
        time_range: (i64, i64),
    ) -> Self {
        Self {
            schema,
            batches,
            time_range,
            rows_scanned: AtomicU64::new(0),
        }
    }

    /// Rows handed to this table's scans so far.
    pub(crate) fn rows_scanned(&self) -> u64 {
        self.rows_scanned.load(Ordering::Relaxed)
    }

    /// Whether there are no rows at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.batches.iter().all(|b| b.num_rows() == 0)
    }

    /// Whether some row of `batch` may fall in the time range (by the min and max of
    /// `__time__`; a batch without a usable `__time__` column is kept).
    fn may_overlap(&self, batch: &RecordBatch) -> bool {
        let Some(times) = batch
            .column_by_name(TIME_COLUMN)
            .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
        else {
            return true;
        };
        match (min(times), max(times)) {
            (Some(low), Some(high)) => high >= self.time_range.0 && low < self.time_range.1,
            _ => false,
        }
    }

    /// `batch` with exactly the columns of `projected` (same names, same types).
    fn adapt(batch: &RecordBatch, projected: &SchemaRef) -> Result<RecordBatch> {
        let rows = batch.num_rows();
        let columns: Vec<ArrayRef> = projected
            .fields()
            .iter()
            .map(|field| match batch.column_by_name(field.name()) {
                Some(column) if column.data_type() == field.data_type() => Ok(Arc::clone(column)),
                Some(column) => Ok(cast(column, field.data_type())?),
                None => Ok(new_null_array(field.data_type(), rows)),
            })
            .collect::<Result<_>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        Ok(RecordBatch::try_new_with_options(
            Arc::clone(projected),
            columns,
            &options,
        )?)
    }
}

#[async_trait]
impl TableProvider for BatchesTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let projected = match projection {
            Some(indices) => Arc::new(self.schema.project(indices)?),
            None => Arc::clone(&self.schema),
        };
        let partitions = state.config().target_partitions().max(1);
        let mut groups: Vec<Vec<RecordBatch>> = Vec::new();
        for (index, batch) in self
            .batches
            .iter()
            .filter(|b| b.num_rows() > 0 && self.may_overlap(b))
            .enumerate()
        {
            let batch = Self::adapt(batch, &projected)?;
            self.rows_scanned
                .fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
            match groups.get_mut(index % partitions) {
                Some(group) => group.push(batch),
                None => groups.push(vec![batch]),
            }
        }
        if groups.is_empty() {
            return Ok(Arc::new(EmptyExec::new(projected)));
        }
        let exec: Arc<dyn ExecutionPlan> =
            MemorySourceConfig::try_new_exec(&groups, projected, None)?;
        Ok(exec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_groups_balance_bytes() {
        let file = |name: &str, size_bytes: u64| ParquetFileRef {
            path: object_store::path::Path::from(name),
            size_bytes,
        };
        let files = [file("a", 100), file("b", 60), file("c", 50), file("d", 10)];
        let groups = balanced_file_groups(&files, 2);
        let sizes: Vec<u64> = groups
            .iter()
            .map(|g| g.files().iter().map(|f| f.object_meta.size).sum())
            .collect();
        assert_eq!(sizes, [110, 110]);
        assert_eq!(balanced_file_groups(&files[..1], 8).len(), 1);
        assert!(balanced_file_groups(&[], 8).is_empty());
    }
}
