//! GetHistograms over splits: counting records per time bucket with an aggregation in
//! DataFusion instead of reading every record's time.
//!
//! The buckets are exactly [`histogram`](crate::histogram)'s (same interval choice, alignment
//! and clipping); only the counting moves into SQL:
//! `SELECT __time__ - __time__ % <width>, count(*) FROM log GROUP BY 1`.
//!
//! Invariants: the same memory limit and concurrency permit as any query apply; the result
//! has at most [`MAX_BUCKETS`] buckets.

use std::time::Instant;

use super::engine::SqlEngine;
use super::rewrite::prepare;
use super::table::SqlTable;
use crate::histogram::{bucket_interval, histogram_of_counts};
use crate::{HistogramBucket, QueryError, MAX_BUCKETS};

impl SqlEngine {
    /// Counts `table`'s records per time bucket over `table.time_range`, as GetHistograms
    /// returns them; `interval` as for [`histogram`](crate::histogram) (`None`: automatic).
    pub async fn histogram(
        &self,
        table: SqlTable,
        interval: Option<u32>,
    ) -> Result<Vec<HistogramBucket>, QueryError> {
        let started = Instant::now();
        let clamp = |seconds: i64| u32::try_from(seconds.max(0)).unwrap_or(u32::MAX);
        let (from, to) = (clamp(table.time_range.0), clamp(table.time_range.1));
        if from >= to {
            return Ok(Vec::new());
        }
        let width = bucket_interval(from, to, interval);
        let sql = format!(
            "SELECT __time__ - __time__ % {width} AS bucket, count(*) AS records \
             FROM log GROUP BY 1 LIMIT {}",
            MAX_BUCKETS + 2
        );
        let prepared = prepare(&sql, 0)?;
        let result = self.run(&prepared, table, usize::MAX, started).await?;
        let mut counts = Vec::with_capacity(result.rows.len());
        for row in &result.rows {
            let number = |index: usize| {
                row.get(index)
                    .and_then(|cell| cell.as_deref())
                    .and_then(|text| text.parse::<i64>().ok())
            };
            if let (Some(bucket), Some(records)) = (number(0), number(1)) {
                let records = u64::try_from(records).unwrap_or(0);
                counts.push((clamp(bucket).max(from), records));
            }
        }
        Ok(histogram_of_counts(from, to, interval, counts.into_iter()))
    }
}
