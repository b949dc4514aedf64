//! Helpers shared by the processor tests: a record, a pipeline built from processor JSON
//! through a full config, and a runner returning fields as text.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use cairn_agent::config::PipelineConfig;
use cairn_agent::process::{DropReason, Pipeline, ProcessOutcome, TagContext};
use cairn_agent::{FileKey, SourceRecord};
use cairn_model::LogTime;
use serde_json::{json, Value};

pub const NOW: u64 = 1_700_000_000;

pub fn record(text: impl Into<Bytes>) -> SourceRecord {
    let text = text.into();
    SourceRecord {
        file: FileKey {
            config: "cfg".to_string(),
            device: 1,
            inode: 2,
            fingerprint: 3,
        },
        path: PathBuf::from("/var/log/app/a.log"),
        start_offset: 10,
        end_offset: 10 + text.len() as u64 + 1,
        text,
    }
}

pub fn pipeline(processors: Value) -> Pipeline {
    let config = json!({
        "inputs": [{"Type": "input_file", "FilePaths": ["/var/log/app/*.log"]}],
        "processors": processors,
        "flushers": [{"Type": "flusher_sls", "Project": "proj", "Logstore": "store"}]
    });
    let config = PipelineConfig::from_json("cfg", 1, config.to_string().as_bytes()).unwrap();
    Pipeline::new(&config.processors)
        .unwrap()
        .with_clock(Arc::new(|| UNIX_EPOCH + Duration::from_secs(NOW)))
}

/// Runs `text` through `processors`; the kept fields as text pairs and the time, or the drop.
pub fn run(processors: Value, text: &[u8]) -> Result<(Vec<(String, String)>, LogTime), DropReason> {
    match pipeline(processors).process(&record(text.to_vec()), &TagContext::default()) {
        ProcessOutcome::Keep(entry) => Ok((
            entry
                .contents
                .iter()
                .map(|f| (f.key_text().into_owned(), f.value_text().into_owned()))
                .collect(),
            entry.time,
        )),
        ProcessOutcome::Drop(reason) => Err(reason),
    }
}

pub fn fields(processors: Value, text: &str) -> Vec<(String, String)> {
    run(processors, text.as_bytes()).unwrap().0
}

pub fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub const ACCESS_LINE: &str = r#"127.0.0.1 - - [07/Jul/2022:10:43:30 +0800] "POST /PutData?Category=YunOsAccountOpLog" 0.024 18204 200 37 "-" "aliyun-sdk-java""#;

pub fn access_regex() -> Value {
    json!({"Type": "processor_parse_regex_native", "SourceKey": "content",
        "Regex": r#"([\d\.]+) \S+ \S+ \[(\S+) \S+\] "(\w+) ([^\\"]*)" ([\d\.]+) (\d+) (\d+) (\d+|-) "([^\\"]*)" "([^\\"]*)""#,
        "Keys": ["ip", "time", "method", "url", "request_time", "request_length", "status", "length", "ref_url", "browser"]})
}
