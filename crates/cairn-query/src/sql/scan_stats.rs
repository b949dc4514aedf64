//! What a finished query read, from the metrics of its scans.
//!
//! Invariants: only data-source nodes are counted (rows they produced after pruning, bytes
//! the Parquet reader fetched, row groups skipped by statistics); the numbers are read after
//! the stream ends, so they are final.

use std::sync::Arc;

use datafusion::physical_plan::metrics::MetricValue;
use datafusion::physical_plan::ExecutionPlan;

/// Totals over every scan of a plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ScanStats {
    pub(crate) rows: u64,
    pub(crate) bytes: u64,
    pub(crate) row_groups_pruned: u64,
}

impl ScanStats {
    /// The totals of `plan`'s scans.
    pub(crate) fn of(plan: &Arc<dyn ExecutionPlan>) -> Self {
        let mut stats = Self::default();
        stats.add(plan);
        stats
    }

    fn add(&mut self, plan: &Arc<dyn ExecutionPlan>) {
        if plan.name() == "DataSourceExec" {
            if let Some(metrics) = plan.metrics() {
                self.rows += metrics.output_rows().unwrap_or(0) as u64;
                for metric in metrics.iter() {
                    match metric.value() {
                        MetricValue::Count { name, count } if name == "bytes_scanned" => {
                            self.bytes += count.value() as u64;
                        }
                        MetricValue::PruningMetrics {
                            name,
                            pruning_metrics,
                        } if name == "row_groups_pruned_statistics" => {
                            self.row_groups_pruned += pruning_metrics.pruned() as u64;
                        }
                        _ => {}
                    }
                }
            }
        }
        for child in plan.children() {
            self.add(child);
        }
    }
}
