//! SLS functions DataFusion lacks or spells differently, registered on every query's session.
//!
//! | SLS | here |
//! |---|---|
//! | `json_extract(json, '$.a.b')`, `json_extract_scalar`, `json_array_length` | [`json`] UDFs (serde_json) |
//! | `regexp_extract(s, pattern[, group])` | [`regex`] UDF |
//! | `date_trunc(unit, __time__)` on unix seconds | [`time`]: DataFusion's `date_trunc`, integers read as seconds |
//! | `date_format(t, '%Y-%m-%d %H:%i')`, `date_parse(s, fmt)` (MySQL formats) | [`time`] UDFs |
//! | `approx_percentile(x, p)` | alias of `approx_percentile_cont`, with a grouped accumulator ([`percentile`]) |
//! | `arbitrary(x)` | alias of `first_value` |
//!
//! (`count_if` and `regexp_replace`'s replace-all are AST rewrites, see `rewrite.rs`.)
//!
//! Registration order matters: DataFusion's functions first, then these, so that a name both
//! define is ours.
//!
//! Invariants: every function here is deterministic, bounded per value (JSON documents and
//! compiled patterns have size limits), and reports bad arguments as errors, never panics.

pub(crate) mod json;
pub(crate) mod percentile;
pub(crate) mod regex;
pub(crate) mod time;

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{exec_err, plan_err, ScalarValue};
use datafusion::error::Result;
use datafusion::execution::SessionStateDefaults;
use datafusion::functions_aggregate::first_last::first_value_udaf;
use datafusion::logical_expr::{AggregateUDF, ColumnarValue, ScalarUDF};

/// DataFusion's scalar functions followed by the SLS ones, which therefore replace
/// DataFusion's `date_trunc` and `date_format` (an alias of `to_char`) when registered in order.
pub(crate) fn scalar_functions() -> Vec<Arc<ScalarUDF>> {
    let mut functions = SessionStateDefaults::default_scalar_functions();
    let date_trunc = datafusion::functions::datetime::date_trunc();
    functions.extend(
        [
            ScalarUDF::from(json::JsonExtract::json()),
            ScalarUDF::from(json::JsonExtract::scalar()),
            ScalarUDF::from(json::JsonArrayLength::new()),
            ScalarUDF::from(regex::RegexpExtract::new()),
            ScalarUDF::from(time::DateTrunc::new(date_trunc)),
            ScalarUDF::from(time::DateFormat::new()),
            ScalarUDF::from(time::DateParse::new()),
        ]
        .into_iter()
        .map(Arc::new),
    );
    functions
}

/// DataFusion's aggregate functions with SLS's aliases (`approx_percentile`, `arbitrary`).
pub(crate) fn aggregate_functions() -> Vec<Arc<AggregateUDF>> {
    let mut functions = SessionStateDefaults::default_aggregate_functions();
    let percentile = AggregateUDF::from(percentile::GroupedApproxPercentile::new())
        .with_aliases(["approx_percentile"]);
    let arbitrary = first_value_udaf()
        .as_ref()
        .clone()
        .with_aliases(["arbitrary"]);
    functions.extend([Arc::new(percentile), Arc::new(arbitrary)]);
    functions
}

/// Whether `data_type` is one of Arrow's string types.
pub(crate) fn is_string(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    )
}

/// The type a text argument is coerced to: string types stay, anything else becomes `Utf8`.
pub(crate) fn text_argument(data_type: &DataType) -> DataType {
    if is_string(data_type) {
        data_type.clone()
    } else {
        DataType::Utf8
    }
}

/// Checks that `function` got between `min` and `max` arguments.
pub(crate) fn check_arity(
    function: &str,
    arg_types: &[DataType],
    min: usize,
    max: usize,
) -> Result<()> {
    if (min..=max).contains(&arg_types.len()) {
        Ok(())
    } else if min == max {
        plan_err!("{function} takes {min} arguments, got {}", arg_types.len())
    } else {
        plan_err!(
            "{function} takes {min} to {max} arguments, got {}",
            arg_types.len()
        )
    }
}

/// The values of a string array of any string type.
pub(crate) enum Strings<'a> {
    Utf8(&'a datafusion::arrow::array::StringArray),
    Large(&'a datafusion::arrow::array::LargeStringArray),
    View(&'a datafusion::arrow::array::StringViewArray),
}

impl<'a> Strings<'a> {
    /// Views `array` as strings; an error for any other type (coercion prevents that).
    pub(crate) fn of(array: &'a ArrayRef) -> Result<Self> {
        match array.data_type() {
            DataType::Utf8 => Ok(Strings::Utf8(array.as_string::<i32>())),
            DataType::LargeUtf8 => Ok(Strings::Large(array.as_string::<i64>())),
            DataType::Utf8View => Ok(Strings::View(array.as_string_view())),
            other => exec_err!("expected text, got {other}"),
        }
    }

    /// The value at `index`, `None` when null.
    pub(crate) fn get(&self, index: usize) -> Option<&'a str> {
        match self {
            Strings::Utf8(a) => a.is_valid(index).then(|| a.value(index)),
            Strings::Large(a) => a.is_valid(index).then(|| a.value(index)),
            Strings::View(a) => a.is_valid(index).then(|| a.value(index)),
        }
    }
}

/// A constant text argument: `Some(value)` (the value itself `None` for NULL), or `None` when
/// the argument varies per row.
pub(crate) fn constant_text(value: &ColumnarValue) -> Option<Option<&str>> {
    match value {
        ColumnarValue::Scalar(
            ScalarValue::Utf8(text) | ScalarValue::LargeUtf8(text) | ScalarValue::Utf8View(text),
        ) => Some(text.as_deref()),
        ColumnarValue::Scalar(scalar) if scalar.is_null() => Some(None),
        _ => None,
    }
}
