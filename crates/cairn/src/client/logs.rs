//! `cairn put` and `cairn get`: writing lines into a logstore and searching it.
//!
//! `put` turns each input line into one record stamped with the current time, groups records
//! into batches, encodes each batch as an SLS protobuf LogGroup, compresses it with lz4 and
//! sends it with PutLogs (`POST /logstores/{name}/shards/lb`), retrying server-side (5xx)
//! failures. `get` calls GetLogs v2 (`POST /logstores/{name}/logs`) and prints one record per
//! line.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use cairn_model::{Field, LogEntry, LogGroupData, LogTime};
use cairn_protocol::compression::CompressionType;
use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

use super::connection::{ApiRequest, Client, ConnectionOptions};
use super::output::{emit, record_line, OutputOptions};
use super::resources::{logstore_name, project_name};
use super::time_arg::TimeRangeArgs;

/// Raw bytes after which a batch is sent even if it has fewer records than `--batch`
/// (SLS caps one PutLogs at 10 MB).
const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;

/// `cairn put`
#[derive(Debug, clap::Args)]
pub struct PutArgs {
    /// Project that holds the logstore
    #[arg(long, short)]
    project: String,
    /// Logstore to write to
    #[arg(long, short)]
    logstore: String,
    /// Topic of every record sent (searchable as __topic__)
    #[arg(long, default_value = "", hide_default_value = true)]
    topic: String,
    /// Source of every record sent (searchable as __source__)
    #[arg(long, default_value = "", hide_default_value = true)]
    source: String,
    /// Read each line as a flat JSON object whose keys become fields (default: the whole line
    /// is the field `content`)
    #[arg(long)]
    json: bool,
    /// Records per request
    #[arg(long, default_value_t = 1000, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=100_000))]
    batch: u64,
    /// File to read, one record per line; `-` or nothing reads standard input. Empty lines are
    /// skipped.
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,
    #[command(flatten)]
    output: OutputOptions,
    #[command(flatten)]
    connection: ConnectionOptions,
}

/// `cairn get`
#[derive(Debug, clap::Args)]
pub struct GetArgs {
    /// Project that holds the logstore
    #[arg(long, short)]
    project: String,
    /// Logstore to search
    #[arg(long, short)]
    logstore: String,
    /// Search query, e.g. `error and status:500`; `*` matches everything; may be followed by
    /// `| SQL`
    #[arg(long, short, default_value = "*")]
    query: String,
    #[command(flatten)]
    range: TimeRangeArgs,
    /// Maximum number of records to print
    #[arg(long, short = 'n', default_value_t = 100, value_name = "N")]
    lines: u32,
    /// Number of matching records to skip (for paging)
    #[arg(long, default_value_t = 0, value_name = "N")]
    offset: u32,
    /// Newest records first
    #[arg(long)]
    reverse: bool,
    #[command(flatten)]
    output: OutputOptions,
    #[command(flatten)]
    connection: ConnectionOptions,
}

/// Turns one input line (without its line ending) into a record.
pub fn line_to_entry(line: &[u8], json: bool, time: LogTime) -> Result<LogEntry> {
    let contents = if json {
        json_fields(line)?
    } else {
        vec![Field::new("content", line)]
    };
    Ok(LogEntry { time, contents })
}

/// The fields of a flat JSON object; values that are not strings are kept as JSON text.
fn json_fields(line: &[u8]) -> Result<Vec<Field>> {
    let value: Value = serde_json::from_slice(line)
        .context("not valid JSON (--json expects one JSON object per line)")?;
    let Value::Object(object) = value else {
        bail!("expected a JSON object, got {}", json_kind(&value));
    };
    if object.is_empty() {
        bail!("the JSON object has no fields");
    }
    Ok(object
        .into_iter()
        .map(|(key, value)| match value {
            Value::String(text) => Field::new(key, text),
            other => Field::new(key, other.to_string()),
        })
        .collect())
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A line without its `\n` or `\r\n`.
fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The current time as a record time.
fn now_log_time() -> LogTime {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let seconds = u32::try_from(since_epoch.as_secs()).unwrap_or(u32::MAX);
    LogTime::new(seconds, since_epoch.subsec_nanos())
}

/// Collects records and says when a batch is full (by count or by size).
#[derive(Debug)]
pub struct Batcher {
    limit: usize,
    pending: Vec<LogEntry>,
    bytes: usize,
}

impl Batcher {
    /// A batcher sending `limit` records at a time.
    pub fn new(limit: usize) -> Self {
        Self {
            limit: limit.max(1),
            pending: Vec::new(),
            bytes: 0,
        }
    }

    /// Adds a record; returns a full batch to send, if there is one.
    pub fn push(&mut self, entry: LogEntry) -> Option<Vec<LogEntry>> {
        self.bytes += entry
            .contents
            .iter()
            .map(|f| f.key.len() + f.value.len() + 8)
            .sum::<usize>();
        self.pending.push(entry);
        if self.pending.len() >= self.limit || self.bytes >= MAX_BATCH_BYTES {
            self.take()
        } else {
            None
        }
    }

    /// Whatever is pending, if anything.
    pub fn take(&mut self) -> Option<Vec<LogEntry>> {
        self.bytes = 0;
        (!self.pending.is_empty()).then(|| std::mem::take(&mut self.pending))
    }
}

/// The LogGroup one PutLogs call carries.
pub fn build_group(topic: &str, source: &str, logs: Vec<LogEntry>) -> LogGroupData {
    LogGroupData {
        topic: topic.as_bytes().to_vec().into(),
        source: source.as_bytes().to_vec().into(),
        tags: Vec::new(),
        logs,
    }
}

/// Runs `cairn put`.
pub async fn run_put(args: PutArgs) -> Result<()> {
    let project = project_name(&args.project)?;
    let logstore = logstore_name(&args.logstore)?;
    let client = Client::connect(&args.connection)?;
    let input: Box<dyn AsyncRead + Unpin + Send> = match &args.file {
        Some(path) if path != Path::new("-") => Box::new(
            tokio::fs::File::open(path)
                .await
                .with_context(|| format!("cannot open {}", path.display()))?,
        ),
        _ => {
            if std::io::stdin().is_terminal() {
                eprintln!("reading records from standard input, one per line (Ctrl-D to finish)");
            }
            Box::new(tokio::io::stdin())
        }
    };
    let mut reader = BufReader::new(input);
    let limit = usize::try_from(args.batch).unwrap_or(usize::MAX);
    let mut batcher = Batcher::new(limit);
    let mut sent: u64 = 0;
    let mut line_number: u64 = 0;
    let mut line = Vec::new();
    let path = format!("/logstores/{logstore}/shards/lb");
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .await
            .context("reading input")?;
        if read == 0 {
            break;
        }
        line_number += 1;
        let text = trim_line_end(&line);
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let entry = line_to_entry(text, args.json, now_log_time())
            .with_context(|| format!("line {line_number} ({sent} records were sent before it)"))?;
        if let Some(batch) = batcher.push(entry) {
            sent += send_batch(&client, project.as_str(), &path, &args, batch, sent).await?;
        }
    }
    if let Some(batch) = batcher.take() {
        sent += send_batch(&client, project.as_str(), &path, &args, batch, sent).await?;
    }
    if args.output.is_json() {
        let summary =
            json!({"project": project.as_str(), "logstore": logstore.as_str(), "sent": sent});
        return emit(&format!("{summary}\n"));
    }
    emit(&format!("sent {sent} records to {project}/{logstore}\n"))
}

/// Sends one batch with PutLogs; returns how many records it held.
async fn send_batch(
    client: &Client,
    project: &str,
    path: &str,
    args: &PutArgs,
    batch: Vec<LogEntry>,
    sent_before: u64,
) -> Result<u64> {
    let count = batch.len() as u64;
    let raw = cairn_protocol::encode_log_group(&build_group(&args.topic, &args.source, batch));
    let request = ApiRequest::new(Method::POST, path)
        .project(project)
        .compressed("application/x-protobuf", CompressionType::Lz4, &raw)
        .retried();
    match client.send(request).await {
        Ok(_) => Ok(count),
        Err(error) if sent_before > 0 => Err(error.context(format!(
            "{sent_before} records were sent before this failure"
        ))),
        Err(error) => Err(error),
    }
}

/// Runs `cairn get`.
pub async fn run_get(args: GetArgs) -> Result<()> {
    let project = project_name(&args.project)?;
    let logstore = logstore_name(&args.logstore)?;
    let now = i64::from(now_log_time().seconds);
    let (from, to) = args.range.resolve(now)?;
    let body = json!({
        "from": from, "to": to, "line": args.lines, "offset": args.offset,
        "reverse": args.reverse, "query": args.query, "powerSql": false,
    });
    let request = ApiRequest::new(Method::POST, format!("/logstores/{logstore}/logs"))
        .project(project.as_str())
        .json(&body)?
        .retried();
    let answer = Client::connect(&args.connection)?
        .send(request)
        .await?
        .json()?;
    let (records, meta) = match &answer {
        Value::Array(records) => (records.as_slice(), None),
        other => (
            other
                .get("data")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default(),
            other.get("meta"),
        ),
    };
    let mut text = String::new();
    for record in records {
        match record.as_object() {
            Some(_) if args.output.is_json() => text.push_str(&format!("{record}\n")),
            Some(fields) => text.push_str(&format!("{}\n", record_line(fields))),
            None => text.push_str(&format!("{record}\n")),
        }
    }
    emit(&text)?;
    if meta.and_then(|m| m.get("progress")).and_then(Value::as_str) == Some("Incomplete") {
        eprintln!("warning: the search did not finish; results may be missing, try again");
    }
    if !args.output.is_json() && records.len() as u64 >= u64::from(args.lines) && args.lines > 0 {
        let next = u64::from(args.offset) + records.len() as u64;
        eprintln!("(more records may match: add --offset {next} for the next page)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: LogTime = LogTime {
        seconds: 1_704_067_200,
        nanos: 5,
    };

    #[test]
    fn plain_lines_become_a_content_field() {
        let entry = line_to_entry(b"GET /index.html 200", false, T).expect("plain");
        assert_eq!(entry.time, T);
        assert_eq!(
            entry.contents,
            vec![Field::new("content", "GET /index.html 200")]
        );
        let bytes = line_to_entry(&[0xff, b'a'], false, T).expect("non-UTF-8 kept");
        assert_eq!(bytes.contents[0].value, vec![0xff, b'a']);
    }

    #[test]
    fn json_lines_become_fields() {
        let line = br#"{"status":500,"msg":"boom","ok":false,"tags":["a"],"none":null}"#;
        let entry = line_to_entry(line, true, T).expect("json");
        let mut fields: Vec<(String, String)> = entry
            .contents
            .iter()
            .map(|f| (f.key_text().into_owned(), f.value_text().into_owned()))
            .collect();
        fields.sort();
        let expected = [
            ("msg", "boom"),
            ("none", "null"),
            ("ok", "false"),
            ("status", "500"),
            ("tags", r#"["a"]"#),
        ];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(fields, expected);
    }

    #[test]
    fn bad_json_lines_are_explained() {
        for (line, words) in [
            (&b"not json"[..], "not valid JSON"),
            (b"[1,2]", "an array"),
            (b"\"text\"", "a string"),
            (b"{}", "no fields"),
        ] {
            let error = line_to_entry(line, true, T).expect_err("bad line");
            assert!(format!("{error:#}").contains(words), "{error:#}");
        }
    }

    #[test]
    fn line_endings_are_trimmed() {
        assert_eq!(trim_line_end(b"a\r\n"), b"a");
        assert_eq!(trim_line_end(b"a\n"), b"a");
        assert_eq!(trim_line_end(b"a"), b"a");
        assert_eq!(trim_line_end(b"a\r\r\n"), b"a\r");
    }

    #[test]
    fn batches_fill_by_count_and_groups_carry_topic_and_source() {
        let mut batcher = Batcher::new(2);
        let entry = |text: &str| line_to_entry(text.as_bytes(), false, T).expect("entry");
        assert!(batcher.push(entry("a")).is_none());
        let full = batcher.push(entry("b")).expect("full at 2");
        assert_eq!(full.len(), 2);
        assert!(batcher.take().is_none());
        assert!(batcher.push(entry("c")).is_none());
        let rest = batcher.take().expect("rest");
        let group = build_group("web", "10.0.0.1", rest);
        assert_eq!(&group.topic[..], b"web");
        assert_eq!(&group.source[..], b"10.0.0.1");
        assert_eq!(group.logs.len(), 1);
        assert_eq!(&group.logs[0].contents[0].value[..], b"c");
    }

    #[test]
    fn batches_fill_by_size() {
        let mut batcher = Batcher::new(1000);
        let big = vec![b'x'; MAX_BATCH_BYTES / 2];
        assert!(batcher
            .push(line_to_entry(&big, false, T).expect("big"))
            .is_none());
        let full = batcher.push(line_to_entry(&big, false, T).expect("big"));
        assert_eq!(full.map(|b| b.len()), Some(2));
    }
}
