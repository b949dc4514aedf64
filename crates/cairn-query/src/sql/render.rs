//! Result values as text, the way SLS shows them in GetLogs.
//!
//! - integers as digits, doubles in their shortest exact form without a trailing `.0`
//!   (`150`, `150.5`, `0.1`), `NaN`, `Infinity`, `-Infinity`;
//! - timestamps as `YYYY-MM-DD HH:MM:SS.mmm` (UTC), dates as `YYYY-MM-DD`;
//! - booleans as `true`/`false`, text as is, other types as Arrow displays them;
//! - NULL as `None` (SLS shows the string `null`; the caller decides).
//!
//! Invariants: one rendered row has exactly one cell per column, in column order.

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, Float32Type, Float64Type};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

/// How timestamps are shown.
pub const TIMESTAMP_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.3f";

/// How timestamps with a time zone are shown.
const TIMESTAMP_TZ_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.3f %:z";

/// One result row: a cell per column, `None` for NULL.
pub type Row = Vec<Option<String>>;

/// A double as SLS shows it.
pub fn format_double(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "Infinity" } else { "-Infinity" }.to_owned()
    } else {
        // Rust's Display is the shortest text that reads back as the same double, and prints
        // whole numbers without a fraction.
        format!("{value}")
    }
}

/// The rows of `batch` as text.
pub(crate) fn render_batch(batch: &RecordBatch) -> Result<Vec<Row>, ArrowError> {
    let options = FormatOptions::new()
        .with_timestamp_format(Some(TIMESTAMP_FORMAT))
        .with_timestamp_tz_format(Some(TIMESTAMP_TZ_FORMAT))
        .with_date_format(Some("%Y-%m-%d"))
        .with_datetime_format(Some(TIMESTAMP_FORMAT));
    let mut rows: Vec<Row> = (0..batch.num_rows())
        .map(|_| Vec::with_capacity(batch.num_columns()))
        .collect();
    for column in batch.columns() {
        match column.data_type() {
            DataType::Float64 => {
                let values = column.as_primitive::<Float64Type>();
                for (row, value) in rows.iter_mut().zip(values.iter()) {
                    row.push(value.map(format_double));
                }
            }
            DataType::Float32 => {
                let values = column.as_primitive::<Float32Type>();
                for (row, value) in rows.iter_mut().zip(values.iter()) {
                    row.push(value.map(|v| format_double(f64::from(v))));
                }
            }
            _ => {
                let formatter = ArrayFormatter::try_new(column.as_ref(), &options)?;
                for (index, row) in rows.iter_mut().enumerate() {
                    row.push(
                        column
                            .is_valid(index)
                            .then(|| formatter.value(index).to_string()),
                    );
                }
            }
        }
    }
    Ok(rows)
}

/// Roughly how many bytes `rows` take in memory (for the query's memory limit).
pub(crate) fn rows_size(rows: &[Row]) -> usize {
    rows.iter()
        .map(|row| {
            row.iter()
                .map(|cell| {
                    std::mem::size_of::<Option<String>>() + cell.as_ref().map_or(0, String::len)
                })
                .sum::<usize>()
                + std::mem::size_of::<Row>()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{
        BooleanArray, Float64Array, Int64Array, StringArray, TimestampSecondArray,
    };
    use datafusion::arrow::datatypes::{Field, Schema, TimeUnit};

    use super::*;

    #[test]
    fn values_render_like_sls() {
        let schema = Schema::new(vec![
            Field::new("i", DataType::Int64, true),
            Field::new("d", DataType::Float64, true),
            Field::new("t", DataType::Timestamp(TimeUnit::Second, None), true),
            Field::new("s", DataType::Utf8, true),
            Field::new("b", DataType::Boolean, true),
        ]);
        let batch = RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(Int64Array::from(vec![Some(42), None])),
                Arc::new(Float64Array::from(vec![Some(150.0), Some(0.1 + 0.2)])),
                Arc::new(TimestampSecondArray::from(vec![Some(1_704_067_260), None])),
                Arc::new(StringArray::from(vec![Some("a b"), None])),
                Arc::new(BooleanArray::from(vec![Some(true), None])),
            ],
        )
        .expect("batch");
        let rows = render_batch(&batch).expect("renders");
        let text = |s: &str| Some(s.to_owned());
        assert_eq!(
            rows[0],
            vec![
                text("42"),
                text("150"),
                text("2024-01-01 00:01:00.000"),
                text("a b"),
                text("true")
            ]
        );
        assert_eq!(
            rows[1],
            vec![None, text("0.30000000000000004"), None, None, None]
        );
        assert_eq!(format_double(f64::NAN), "NaN");
        assert_eq!(format_double(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(format_double(1e21), "1000000000000000000000");
        assert!(rows_size(&rows) > 0);
    }
}
