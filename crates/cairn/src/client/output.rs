//! How client commands print: aligned tables, `key: value` lists and `time key=value ...` log
//! lines for people, JSON for scripts (`--output json`).
//!
//! Everything goes through [`emit`], which treats a closed pipe (`cairn get ... | head`) as a
//! normal end rather than a crash.

use std::io::Write;

use anyhow::Result;
use serde_json::{Map, Value};

/// The `--output` choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OutputFormat {
    /// Human-readable tables and lists.
    #[default]
    Table,
    /// JSON, for scripts and `jq`.
    Json,
}

/// The `--output` option, shared by every command that prints results.
#[derive(Debug, Clone, clap::Args)]
pub struct OutputOptions {
    /// Output format: `table` for people, `json` for scripts
    #[arg(long, short = 'o', value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

impl OutputOptions {
    /// Whether JSON output was asked for.
    pub fn is_json(&self) -> bool {
        self.output == OutputFormat::Json
    }
}

/// Writes text to stdout; a reader that went away (broken pipe) is not an error.
pub fn emit(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// Prints a JSON value, pretty-printed, on its own lines.
pub fn emit_json(value: &Value) -> Result<()> {
    emit(&format!("{}\n", serde_json::to_string_pretty(value)?))
}

/// Renders rows under upper-case headers, columns padded to their widest cell.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header_row: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    let mut text = String::new();
    for row in std::iter::once(&header_row).chain(rows) {
        let last = row.len().min(widths.len()).saturating_sub(1);
        for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if i == last {
                text.push_str(cell);
            } else {
                text.push_str(cell);
                let pad = width - cell.chars().count() + 2;
                text.extend(std::iter::repeat_n(' ', pad));
            }
        }
        text.push('\n');
    }
    text
}

/// Renders `key: value` lines with the values aligned.
pub fn fields(pairs: &[(String, String)]) -> String {
    let width = pairs
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let mut text = String::new();
    for (key, value) in pairs {
        let pad = width - key.chars().count();
        text.push_str(&format!("{key}:{} {value}\n", " ".repeat(pad)));
    }
    text
}

/// The `key: value` pairs of a JSON object, times (keys ending in `Time`) made readable.
pub fn object_fields(value: &Value) -> Vec<(String, String)> {
    match value.as_object() {
        Some(object) => object
            .iter()
            .map(|(key, value)| {
                let text = if key.ends_with("Time") || key.ends_with("_time") {
                    time_text(value)
                } else {
                    value_text(value)
                };
                (key.clone(), text)
            })
            .collect(),
        None => vec![("value".to_owned(), value_text(value))],
    }
}

/// A JSON value as plain text: strings unquoted, null empty, anything else as JSON.
pub fn value_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A field of `value` as plain text; empty when absent.
pub fn field_text(value: &Value, key: &str) -> String {
    value.get(key).map(value_text).unwrap_or_default()
}

/// A Unix-seconds value (number or numeric string) as a local RFC 3339 time; other values as
/// plain text.
pub fn time_text(value: &Value) -> String {
    let seconds = match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    match seconds {
        Some(seconds) if seconds > 0 => unix_time_text(seconds, None),
        _ => value_text(value),
    }
}

/// Unix seconds (and an optional nanosecond part) as a local RFC 3339 time.
pub fn unix_time_text(seconds: i64, nanos: Option<u32>) -> String {
    use chrono::{Local, SecondsFormat, TimeZone};
    let precision = if nanos.is_some() {
        SecondsFormat::Millis
    } else {
        SecondsFormat::Secs
    };
    match Local.timestamp_opt(seconds, nanos.unwrap_or(0)).single() {
        Some(time) => time.to_rfc3339_opts(precision, true),
        None => seconds.to_string(),
    }
}

/// One record as `time  key=value key=value ...`; SLS's `__x__` fields come last.
pub fn record_line(fields: &Map<String, Value>) -> String {
    let text = |value: &Value| match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut line = String::new();
    if let Some(seconds) = fields
        .get("__time__")
        .and_then(|v| text(v).parse::<i64>().ok())
    {
        let nanos = fields
            .get("__time_ns_part__")
            .and_then(|v| text(v).parse::<u32>().ok());
        line.push_str(&unix_time_text(seconds, nanos));
        line.push(' ');
    }
    let (meta, plain): (Vec<_>, Vec<_>) = fields
        .iter()
        .filter(|(key, _)| *key != "__time__" && *key != "__time_ns_part__")
        .partition(|(key, _)| key.starts_with("__") && key.len() > 2);
    let pairs: Vec<String> = plain
        .into_iter()
        .chain(
            meta.into_iter()
                .filter(|(_, value)| !text(value).is_empty()),
        )
        .map(|(key, value)| format!("{}={}", quote(key), quote(&text(value))))
        .collect();
    line.push_str(&pairs.join(" "));
    line.trim_end().to_owned()
}

/// Text as is when it reads unambiguously in `key=value`, else as a JSON string.
fn quote(text: &str) -> String {
    let plain = !text.is_empty()
        && !text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '=');
    if plain {
        text.to_owned()
    } else {
        serde_json::to_string(text).unwrap_or_else(|_| text.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_align_columns() {
        let rows = vec![
            vec!["web".to_owned(), "front end".to_owned(), "x".to_owned()],
            vec!["database-01".to_owned(), "".to_owned(), "yy".to_owned()],
        ];
        let text = table(&["NAME", "DESCRIPTION", "Z"], &rows);
        assert_eq!(
            text,
            "NAME         DESCRIPTION  Z\n\
             web          front end    x\n\
             database-01               yy\n"
        );
        assert_eq!(table(&["NAME"], &[]), "NAME\n");
    }

    #[test]
    fn fields_align_values() {
        let pairs = vec![
            ("name".to_owned(), "a".to_owned()),
            ("createTime".to_owned(), "b".to_owned()),
        ];
        assert_eq!(fields(&pairs), "name:       a\ncreateTime: b\n");
    }

    #[test]
    fn values_become_plain_text() {
        assert_eq!(value_text(&json!("a b")), "a b");
        assert_eq!(value_text(&json!(null)), "");
        assert_eq!(value_text(&json!(3)), "3");
        assert_eq!(value_text(&json!({"k": [1]})), r#"{"k":[1]}"#);
        assert_eq!(time_text(&json!("soon")), "soon");
        assert_eq!(time_text(&json!(0)), "0");
        let text = time_text(&json!("1704067200"));
        assert!(
            text.starts_with("2024-01-01T") || text.starts_with("2023-12-31T"),
            "{text}"
        );
        assert_eq!(text, time_text(&json!(1704067200)));
        let object = object_fields(&json!({"createTime": 1704067200, "name": "p"}));
        assert_eq!(object[0], ("createTime".to_owned(), text));
        assert_eq!(object[1], ("name".to_owned(), "p".to_owned()));
    }

    #[test]
    fn records_print_as_key_value_lines() {
        let record = json!({
            "__time__": "1704067200", "__topic__": "", "__source__": "10.0.0.1",
            "__tag__:host": "web-1", "status": "500", "msg": "disk full", "empty": ""
        });
        let fields = record.as_object().expect("object");
        let line = record_line(fields);
        let time = unix_time_text(1_704_067_200, None);
        assert_eq!(
            line,
            format!(
                r#"{time} empty="" msg="disk full" status=500 __source__=10.0.0.1 __tag__:host=web-1"#
            )
        );
        let sql = json!({"count(*)": "3"});
        assert_eq!(record_line(sql.as_object().expect("object")), "count(*)=3");
    }
}
