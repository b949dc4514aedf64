//! `cairn query`: run `search | SQL` against a logstore and print the result as a table or JSON.
//!
//! The query goes to GetLogs v2 (`POST /logstores/{name}/logs`), as `cairn get` sends it. For
//! SQL (`meta.hasSQL`) the table's columns are exactly `meta.keys`, in SELECT order. For a
//! search, records come back: `__time__` comes first (as a local time), then `meta.keys`, then
//! whatever other keys the records have (`__topic__`, `__source__`, tags). NULL shows as `null`,
//! as in SLS.
//! `--output json` prints one object: `columns`, `rows` (arrays aligned with `columns`),
//! `count`, `processedRows`, `elapsedMillisecond`, `progress`.
//!
//! ```text
//! cairn query -p web -l access --from -1h '* | SELECT status, count(*) AS c GROUP BY status'
//! ```

use anyhow::Result;
use reqwest::Method;
use serde_json::{json, Value};

use super::connection::{ApiRequest, Client, ConnectionOptions};
use super::output::{emit, emit_json, table, unix_time_text, OutputOptions};
use super::resources::{logstore_name, project_name};
use super::time_arg::TimeRangeArgs;

/// The record time key of search results.
const TIME_KEY: &str = "__time__";
/// Nanoseconds within the second, shown as part of the time.
const TIME_NS_KEY: &str = "__time_ns_part__";

/// `cairn query`
#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    /// Project that holds the logstore
    #[arg(long, short)]
    project: String,
    /// Logstore to query
    #[arg(long, short)]
    logstore: String,
    #[command(flatten)]
    range: TimeRangeArgs,
    /// Records to return when the query has no SQL part (SQL uses its own LIMIT, default 100)
    #[arg(long, short = 'n', default_value_t = 100, value_name = "N")]
    lines: u32,
    /// The query: a search statement, optionally followed by `| SQL`, e.g.
    /// `status: 500 | SELECT url, count(*) AS c GROUP BY url ORDER BY c DESC LIMIT 10`
    #[arg(value_name = "QUERY")]
    query: String,
    #[command(flatten)]
    output: OutputOptions,
    #[command(flatten)]
    connection: ConnectionOptions,
}

/// A GetLogs answer as columns and rows of text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultTable {
    /// Column names, in display order.
    pub columns: Vec<String>,
    /// One cell per column; `None` when the row has no such key.
    pub rows: Vec<Vec<Option<String>>>,
}

impl ResultTable {
    /// Arranges `rows` (JSON objects) under their columns (see the module docs).
    pub fn new(meta: Option<&Value>, rows: &[Value]) -> Self {
        let keys: Vec<String> = meta
            .and_then(|m| m.get("keys"))
            .and_then(Value::as_array)
            .map(|keys| {
                keys.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let has_sql = meta
            .and_then(|m| m.get("hasSQL"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let mut columns: Vec<String> = Vec::new();
        if has_sql && !keys.is_empty() {
            columns = keys;
        } else {
            let has_time = rows.iter().any(|row| row.get(TIME_KEY).is_some());
            if has_time {
                columns.push(TIME_KEY.to_owned());
            }
            for key in keys {
                if !columns.contains(&key) {
                    columns.push(key);
                }
            }
            for row in rows.iter().filter_map(Value::as_object) {
                for key in row.keys() {
                    if !columns.contains(key) && key != TIME_NS_KEY {
                        columns.push(key.clone());
                    }
                }
            }
        }
        let rows = rows
            .iter()
            .map(|row| {
                columns
                    .iter()
                    .map(|column| match row.get(column) {
                        Some(value) if column == TIME_KEY && !has_sql => {
                            Some(time_cell(row, value))
                        }
                        Some(value) => Some(cell_text(value)),
                        None => None,
                    })
                    .collect()
            })
            .collect();
        Self { columns, rows }
    }

    /// Aligned columns under their names.
    pub fn to_table(&self) -> String {
        let headers: Vec<&str> = self.columns.iter().map(String::as_str).collect();
        let rows: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|row| {
                row.iter()
                    .map(|cell| cell.clone().unwrap_or_default())
                    .collect()
            })
            .collect();
        table(&headers, &rows)
    }

    /// The JSON form of `--output json` (without the meta fields).
    pub fn to_json(&self) -> Value {
        json!({"columns": self.columns, "rows": self.rows})
    }
}

/// A record's time (`__time__` and `__time_ns_part__`) as a local time.
fn time_cell(row: &Value, time: &Value) -> String {
    let seconds = cell_text(time).parse::<i64>();
    let nanos = row
        .get(TIME_NS_KEY)
        .and_then(|n| cell_text(n).parse::<u32>().ok());
    match seconds {
        Ok(seconds) => unix_time_text(seconds, nanos),
        Err(_) => cell_text(time),
    }
}

/// A JSON value as a cell: strings as they are, `null` as `null`, others as JSON.
fn cell_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Runs `cairn query`.
pub async fn run_query(args: QueryArgs) -> Result<()> {
    let project = project_name(&args.project)?;
    let logstore = logstore_name(&args.logstore)?;
    let now = chrono::Utc::now().timestamp();
    let (from, to) = args.range.resolve(now)?;
    let body = json!({
        "from": from, "to": to, "line": args.lines, "offset": 0, "reverse": false,
        "query": args.query, "powerSql": false,
    });
    let request = ApiRequest::new(Method::POST, format!("/logstores/{logstore}/logs"))
        .project(project.as_str())
        .json(&body)?
        .retried();
    let answer = Client::connect(&args.connection)?
        .send(request)
        .await?
        .json()?;
    let (rows, meta) = match &answer {
        Value::Array(rows) => (rows.as_slice(), None),
        other => (
            other
                .get("data")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default(),
            other.get("meta"),
        ),
    };
    let result = ResultTable::new(meta, rows);
    let meta_field = |key: &str| {
        meta.and_then(|m| m.get(key))
            .cloned()
            .unwrap_or(Value::Null)
    };
    if args.output.is_json() {
        let mut object = result.to_json();
        object["count"] = json!(result.rows.len());
        for key in ["processedRows", "elapsedMillisecond", "progress"] {
            object[key] = meta_field(key);
        }
        emit_json(&object)?;
    } else {
        emit(&result.to_table())?;
        eprintln!("({} rows)", result.rows.len());
    }
    if meta_field("progress").as_str() == Some("Incomplete") {
        eprintln!("warning: the query did not finish; results may be missing, try again");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_results_follow_the_select_order_of_meta_keys() {
        let meta = json!({"keys": ["status", "c", "avg_latency"], "hasSQL": true});
        let rows = vec![
            json!({"c": "7", "status": "200", "avg_latency": "217.5"}),
            json!({"c": "12", "status": "500", "avg_latency": "null"}),
        ];
        let result = ResultTable::new(Some(&meta), &rows);
        assert_eq!(result.columns, ["status", "c", "avg_latency"]);
        assert_eq!(
            result.to_table(),
            "status  c   avg_latency\n\
             200     7   217.5\n\
             500     12  null\n"
        );
        assert_eq!(
            result.to_json(),
            json!({"columns": ["status", "c", "avg_latency"],
                   "rows": [["200", "7", "217.5"], ["500", "12", "null"]]})
        );
    }

    #[test]
    fn search_records_show_time_first_then_keys_then_the_rest() {
        let rows = vec![
            json!({"__time__": "1704067200", "__source__": "h", "msg": "a"}),
            json!({"__time__": "1704067201", "__time_ns_part__": "5", "level": 3, "gone": null}),
        ];
        let meta = json!({"keys": ["msg", "level"], "hasSQL": false});
        let result = ResultTable::new(Some(&meta), &rows);
        assert_eq!(
            result.columns,
            ["__time__", "msg", "level", "__source__", "gone"]
        );
        assert_eq!(
            result.rows[1],
            vec![
                Some(unix_time_text(1_704_067_201, Some(5))),
                None,
                Some("3".to_owned()),
                None,
                Some("null".to_owned()),
            ]
        );
        let without_meta = ResultTable::new(None, &rows[..1]);
        assert_eq!(without_meta.columns, ["__time__", "__source__", "msg"]);
        let empty = ResultTable::new(Some(&json!({"keys": []})), &[]);
        assert_eq!(empty.to_table(), "\n");
    }

    #[test]
    fn wide_cells_align_by_characters() {
        let meta = json!({"keys": ["k", "v"], "hasSQL": true});
        let rows = vec![json!({"k": "é", "v": "1"}), json!({"k": "long", "v": "2"})];
        assert_eq!(
            ResultTable::new(Some(&meta), &rows).to_table(),
            "k     v\né     1\nlong  2\n"
        );
    }
}
