//! Time functions the SLS way: `__time__` is unix seconds, formats are MySQL's.
//!
//! - `date_trunc(unit, t)`: DataFusion's, except that an integer `t` is read as unix seconds
//!   (SLS accepts `date_trunc('minute', __time__)`); the result is a timestamp.
//! - `date_format(t, format)`: `t` a timestamp, a date, a timestamp string or unix seconds;
//!   `format` in MySQL's specifiers (`%Y-%m-%d %H:%i:%s`, `%T`, `%b`, ...), as SLS documents.
//! - `date_parse(text, format)`: the reverse, to a timestamp; text that does not match is NULL.
//!
//! Times are UTC (Cairn has no per-project time zone yet). Invariants: a constant format is
//! translated and validated once per batch; a format with an unknown specifier is an error, an
//! unknown MySQL specifier (e.g. `%D`) is kept literally, as MySQL does.

use std::fmt::Write;
use std::sync::Arc;

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use datafusion::arrow::array::{ArrayRef, AsArray, StringBuilder, TimestampMillisecondBuilder};
use datafusion::arrow::datatypes::{
    DataType, Field, FieldRef, Int64Type, TimeUnit, TimestampMillisecondType,
};
use datafusion::common::{exec_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::type_coercion::functions::fields_with_udf;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

use super::{check_arity, constant_text, is_string, text_argument, Strings};

/// MySQL `date_format` specifiers in chrono's `strftime` terms.
pub(crate) fn mysql_to_chrono(format: &str) -> String {
    let mut out = String::with_capacity(format.len() + 8);
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let translated = match chars.next() {
            Some('a') => "%a",
            Some('b') => "%b",
            Some('c') => "%-m",
            Some('d') => "%d",
            Some('e') => "%-d",
            Some('f') => "%6f",
            Some('H') => "%H",
            Some('h' | 'I') => "%I",
            Some('i') => "%M",
            Some('j') => "%j",
            Some('k') => "%-H",
            Some('l') => "%-I",
            Some('M') => "%B",
            Some('m') => "%m",
            Some('p') => "%p",
            Some('r') => "%I:%M:%S %p",
            Some('S' | 's') => "%S",
            Some('T') => "%H:%M:%S",
            Some('U') => "%U",
            Some('u') => "%W",
            Some('W') => "%A",
            Some('w') => "%w",
            Some('Y') => "%Y",
            Some('y') => "%y",
            Some('%') | None => "%%",
            Some(other) => {
                // MySQL prints an unknown specifier's character as is.
                out.push(other);
                continue;
            }
        };
        out.push_str(translated);
    }
    out
}

/// A MySQL format, translated and checked.
fn chrono_items(format: &str) -> Result<Vec<Item<'static>>> {
    match StrftimeItems::new(&mysql_to_chrono(format)).parse_to_owned() {
        Ok(items) => Ok(items),
        Err(error) => exec_err!("invalid date format {format:?}: {error}"),
    }
}

/// The argument types a "time" parameter is coerced to: integers and floats as unix seconds
/// (`Int64`), everything time-like as `Timestamp(ms)`.
fn time_argument(function: &str, data_type: &DataType) -> Result<DataType> {
    match data_type {
        t if t.is_integer() || t.is_floating() || t == &DataType::Null => Ok(DataType::Int64),
        DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64 => {
            Ok(DataType::Timestamp(TimeUnit::Millisecond, None))
        }
        t if is_string(t) => Ok(DataType::Timestamp(TimeUnit::Millisecond, None)),
        other => plan_err!("{function} expects a time or unix seconds, got {other}"),
    }
}

/// The instants of a coerced time argument (see [`time_argument`]).
fn instants(array: &ArrayRef) -> Result<Vec<Option<DateTime<Utc>>>> {
    match array.data_type() {
        DataType::Int64 => Ok(array
            .as_primitive::<Int64Type>()
            .iter()
            .map(|s| s.and_then(|s| DateTime::from_timestamp(s, 0)))
            .collect()),
        DataType::Timestamp(TimeUnit::Millisecond, None) => Ok(array
            .as_primitive::<TimestampMillisecondType>()
            .iter()
            .map(|ms| ms.and_then(DateTime::from_timestamp_millis))
            .collect()),
        other => exec_err!("expected a time, got {other}"),
    }
}

/// `date_trunc` with integers read as unix seconds; everything else is DataFusion's.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct DateTrunc {
    inner: Arc<ScalarUDF>,
    signature: Signature,
}

impl DateTrunc {
    pub(crate) fn new(inner: Arc<ScalarUDF>) -> Self {
        Self {
            inner,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for DateTrunc {
    fn name(&self) -> &str {
        "date_trunc"
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        check_arity(self.name(), arg_types, 2, 2)?;
        if arg_types[1].is_integer() {
            return Ok(vec![
                text_argument(&arg_types[0]),
                DataType::Timestamp(TimeUnit::Second, None),
            ]);
        }
        let fields: Vec<FieldRef> = arg_types
            .iter()
            .map(|t| Arc::new(Field::new("argument", t.clone(), true)))
            .collect();
        Ok(fields_with_udf(&fields, self.inner.as_ref())?
            .iter()
            .map(|f| f.data_type().clone())
            .collect())
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types
            .get(1)
            .cloned()
            .unwrap_or(DataType::Timestamp(TimeUnit::Nanosecond, None)))
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        self.inner.return_field_from_args(args)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        self.inner.invoke_with_args(args)
    }
}

/// `date_format(t, mysql_format)`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct DateFormat {
    signature: Signature,
}

impl DateFormat {
    pub(crate) fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for DateFormat {
    fn name(&self) -> &str {
        "date_format"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        check_arity(self.name(), arg_types, 2, 2)?;
        Ok(vec![
            time_argument(self.name(), &arg_types[0])?,
            text_argument(&arg_types[1]),
        ])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let times = instants(&args.args[0].to_array(rows)?)?;
        let mut out = StringBuilder::with_capacity(rows, rows * 20);
        let mut text = String::new();
        let mut write = |time: DateTime<Utc>, items: &[Item<'static>]| -> Result<String> {
            text.clear();
            match write!(text, "{}", time.format_with_items(items.iter())) {
                Ok(()) => Ok(text.clone()),
                Err(_) => exec_err!("date_format: the format does not fit this time"),
            }
        };
        match constant_text(&args.args[1]) {
            Some(None) => (0..rows).for_each(|_| out.append_null()),
            Some(Some(format)) => {
                let items = chrono_items(format)?;
                for time in times {
                    out.append_option(time.map(|t| write(t, &items)).transpose()?);
                }
            }
            None => {
                let formats = args.args[1].to_array(rows)?;
                let formats = Strings::of(&formats)?;
                for (row, time) in times.into_iter().enumerate() {
                    match (time, formats.get(row)) {
                        (Some(time), Some(format)) => {
                            out.append_value(write(time, &chrono_items(format)?)?)
                        }
                        _ => out.append_null(),
                    }
                }
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
    }
}

/// `date_parse(text, mysql_format)` to a timestamp (milliseconds, UTC).
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct DateParse {
    signature: Signature,
}

impl DateParse {
    pub(crate) fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// `text` read with a chrono format; a date-only format gives midnight.
fn parse_time(text: &str, chrono_format: &str) -> Option<i64> {
    NaiveDateTime::parse_from_str(text, chrono_format)
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(text, chrono_format)
                .ok()
                .and_then(|date| date.and_hms_opt(0, 0, 0))
        })
        .map(|time| time.and_utc().timestamp_millis())
}

impl ScalarUDFImpl for DateParse {
    fn name(&self) -> &str {
        "date_parse"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        check_arity(self.name(), arg_types, 2, 2)?;
        Ok(arg_types.iter().map(text_argument).collect())
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Timestamp(TimeUnit::Millisecond, None))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let texts = args.args[0].to_array(rows)?;
        let texts = Strings::of(&texts)?;
        let formats = args.args[1].to_array(rows)?;
        let formats = Strings::of(&formats)?;
        let mut out = TimestampMillisecondBuilder::with_capacity(rows);
        let mut last: Option<(&str, String)> = None;
        for row in 0..rows {
            let (Some(text), Some(format)) = (texts.get(row), formats.get(row)) else {
                out.append_null();
                continue;
            };
            let translated = match &last {
                Some((seen, translated)) if *seen == format => translated.clone(),
                _ => {
                    chrono_items(format)?;
                    let translated = mysql_to_chrono(format);
                    last = Some((format, translated.clone()));
                    translated
                }
            };
            out.append_option(parse_time(text, &translated));
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mysql_formats_translate() {
        assert_eq!(mysql_to_chrono("%Y-%m-%d %H:%i:%s"), "%Y-%m-%d %H:%M:%S");
        assert_eq!(mysql_to_chrono("%T %b %e, 100%%"), "%H:%M:%S %b %-d, 100%%");
        assert_eq!(mysql_to_chrono("%D%"), "D%%");
        let time = DateTime::from_timestamp(1_704_067_265, 0).expect("time");
        let items = chrono_items("%Y-%m-%d %H:%i:%s (%a %M)").expect("valid");
        assert_eq!(
            time.format_with_items(items.iter()).to_string(),
            "2024-01-01 00:01:05 (Mon January)"
        );
    }

    #[test]
    fn times_parse_back() {
        let format = mysql_to_chrono("%Y-%m-%d %H:%i:%s");
        assert_eq!(
            parse_time("2024-01-01 00:01:05", &format),
            Some(1_704_067_265_000)
        );
        assert_eq!(
            parse_time("2024-01-01", &mysql_to_chrono("%Y-%m-%d")),
            Some(1_704_067_200_000)
        );
        assert_eq!(parse_time("yesterday", &format), None);
    }
}
