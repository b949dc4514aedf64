//! Helpers shared by the engine tests: configs, request builders and WAL file access.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn_model::{Field, LogEntry, LogGroupData, LogRecord, LogTime, LogstoreId, TokenQuery};
use cairn_store::{AppendRequest, EngineConfig, LogEngine, ProducerSequence};

/// A config for a WAL under `root`, with no free-space reserve (test machines vary).
pub fn config(root: &Path) -> EngineConfig {
    EngineConfig {
        wal_dir: root.join("wal"),
        min_free_disk_bytes: 0,
        ..EngineConfig::default()
    }
}

pub async fn open(root: &Path) -> LogEngine {
    LogEngine::open(config(root)).await.expect("engine opens")
}

/// A group of one record per message, at `seconds`.
pub fn group(messages: &[&str], seconds: u32) -> LogGroupData {
    LogGroupData {
        topic: b"topic".to_vec().into(),
        source: b"10.0.0.1".to_vec().into(),
        tags: vec![Field::new("host", "web-1")],
        logs: messages
            .iter()
            .map(|message| LogEntry {
                time: LogTime::new(seconds, 0),
                contents: vec![Field::new("message", *message)],
            })
            .collect(),
    }
}

pub fn request(logstore: i64, group: LogGroupData) -> AppendRequest {
    AppendRequest {
        logstore: LogstoreId(logstore),
        shard: 0,
        producer: None,
        group,
    }
}

pub fn produced(
    logstore: i64,
    shard: u32,
    key: &str,
    sequence_id: u64,
    group: LogGroupData,
) -> AppendRequest {
    AppendRequest {
        logstore: LogstoreId(logstore),
        shard,
        producer: Some(ProducerSequence {
            key: key.to_owned(),
            sequence_id,
        }),
        group,
    }
}

/// Every record of a logstore, whatever its time.
pub async fn everything(engine: &LogEngine, logstore: i64) -> Vec<Arc<LogRecord>> {
    engine
        .search(
            LogstoreId(logstore),
            LogTime::new(0, 0),
            LogTime::new(u32::MAX, 999_999_999),
            &TokenQuery::Everything,
        )
        .await
        .expect("search")
}

/// The `message` values of records, in order.
pub fn messages(records: &[Arc<LogRecord>]) -> Vec<String> {
    records
        .iter()
        .map(|record| {
            String::from_utf8_lossy(record.field("message").expect("message")).into_owned()
        })
        .collect()
}

/// The WAL segment files under `root`, in name order.
pub fn segments(root: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root.join("wal"))
        .expect("wal dir")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with("wal-") && name.ends_with(".log"))
        })
        .collect();
    paths.sort();
    paths
}
