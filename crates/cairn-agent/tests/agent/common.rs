//! Shared pieces: a fake SLS peer that commits (key, sequence) exactly as the server does,
//! and helpers that run the real tailer and delivery against real files.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use cairn_agent::delivery::{
    Delivery, DeliveryOptions, DiskBuffer, DiskBufferOptions, LogSink, PutOutcome, SinkError,
    WriteTarget,
};
use cairn_agent::input::{CheckpointStore, FileInputSpec, FileTailer, TailerOptions};
use cairn_agent::metrics::AgentMetrics;
use cairn_agent::SourceRecord;
use cairn_model::{Field, LogEntry, LogGroupData, LogTime};

/// What the fake server does with the next puts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Commit, dedupe by (key, sequence).
    Normal,
    /// Fail every put transiently (an outage).
    Down,
    /// Commit the put numbered `n` (1-based over all puts), then never answer.
    HangAfterCommit(usize),
}

#[derive(Debug, Default)]
pub struct ServerState {
    last: HashMap<String, u64>,
    /// Committed lines, in commit order, with their producer key.
    pub committed: Vec<(String, String)>,
    /// Every (key, sequence) committed, in order.
    pub commits: Vec<(String, u64)>,
    pub already_committed: usize,
}

/// An in-process stand-in for the server's exactly-once write path.
pub struct FakeServer {
    pub state: Mutex<ServerState>,
    mode: Mutex<Mode>,
    puts: AtomicUsize,
    /// Lines containing this are refused as bad data (4xx).
    pub poison: Option<String>,
    pub hung: tokio::sync::Notify,
}

impl FakeServer {
    pub fn new(mode: Mode) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::default(),
            mode: Mutex::new(mode),
            puts: AtomicUsize::new(0),
            poison: None,
            hung: tokio::sync::Notify::new(),
        })
    }

    pub fn with_poison(poison: &str) -> Arc<Self> {
        Arc::new(Self {
            poison: Some(poison.to_owned()),
            ..Arc::into_inner(Self::new(Mode::Normal)).expect("fresh")
        })
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().expect("mode") = mode;
    }

    pub fn lines(&self) -> Vec<String> {
        let state = self.state.lock().expect("state");
        state
            .committed
            .iter()
            .map(|(_, line)| line.clone())
            .collect()
    }
}

#[async_trait]
impl LogSink for FakeServer {
    async fn put(
        &self,
        _target: &WriteTarget,
        producer_key: &str,
        sequence: u64,
        group: &LogGroupData,
    ) -> Result<PutOutcome, SinkError> {
        let number = self.puts.fetch_add(1, Ordering::SeqCst) + 1;
        let mode = *self.mode.lock().expect("mode");
        if mode == Mode::Down {
            return Err(SinkError::Transient {
                reason: "server down".into(),
            });
        }
        let lines: Vec<String> = group
            .logs
            .iter()
            .map(|log| String::from_utf8_lossy(&log.contents[0].value).into_owned())
            .collect();
        if let Some(poison) = &self.poison {
            if lines.iter().any(|l| l.contains(poison.as_str())) {
                return Err(SinkError::Rejected {
                    code: "PostBodyInvalid".into(),
                    reason: "poison".into(),
                });
            }
        }
        {
            let mut state = self.state.lock().expect("state");
            if state
                .last
                .get(producer_key)
                .is_some_and(|last| sequence <= *last)
            {
                state.already_committed += 1;
                return Ok(PutOutcome::AlreadyCommitted);
            }
            state.last.insert(producer_key.to_owned(), sequence);
            state.commits.push((producer_key.to_owned(), sequence));
            for line in lines {
                state.committed.push((producer_key.to_owned(), line));
            }
        }
        if mode == Mode::HangAfterCommit(number) {
            self.hung.notify_one();
            std::future::pending::<()>().await;
        }
        Ok(PutOutcome::Acked)
    }
}

pub fn target() -> WriteTarget {
    WriteTarget {
        project: "proj".into(),
        logstore: "store".into(),
    }
}

pub fn spec(config: &str, pattern: &Path) -> FileInputSpec {
    let mut spec = FileInputSpec::new(config, vec![pattern.display().to_string()]);
    spec.from_beginning = true;
    spec
}

pub fn fast_tailer_options(metrics: Arc<AgentMetrics>) -> TailerOptions {
    TailerOptions {
        partial_line_timeout: Duration::from_millis(100),
        rotated_close_after: Duration::from_millis(100),
        metrics,
        ..TailerOptions::default()
    }
}

pub fn fast_delivery_options() -> DeliveryOptions {
    DeliveryOptions {
        max_batch_records: 10,
        max_batch_delay: Duration::from_millis(20),
        host_id: "host-1".into(),
        source: "10.0.0.1".into(),
        direct_attempts: 1,
        backoff_min: Duration::from_millis(10),
        backoff_max: Duration::from_millis(40),
        ..DeliveryOptions::default()
    }
}

pub fn append(path: &Path, text: &str) {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open for append");
    file.write_all(text.as_bytes()).expect("append");
}

pub fn numbered(prefix: &str, range: std::ops::Range<usize>) -> String {
    range.map(|i| format!("{prefix}-{i:04}\n")).collect()
}

pub fn texts(records: &[SourceRecord]) -> Vec<String> {
    records
        .iter()
        .map(|r| String::from_utf8_lossy(&r.text).into_owned())
        .collect()
}

/// Polls until `want` records arrived or `timeout` passed; returns their texts.
pub fn poll_for(tailer: &mut FileTailer, want: usize, timeout: Duration) -> Vec<String> {
    let deadline = Instant::now() + timeout;
    let mut got = Vec::new();
    while got.len() < want && Instant::now() < deadline {
        got.extend(texts(&tailer.poll().expect("poll")));
        std::thread::sleep(Duration::from_millis(20));
    }
    got
}

/// Tells the tailer every record it produced is acknowledged (no delivery in the test).
pub fn ack_all(tailer: &mut FileTailer, store: &CheckpointStore, records: &[SourceRecord]) {
    for record in records {
        if let Some(mut cp) = store.get(&record.file) {
            cp.offset = cp.offset.max(record.end_offset);
            store.set(&record.file, cp).expect("ack");
        }
        tailer.acknowledge(&record.file, record.end_offset);
    }
}

/// One agent: store, tailer, delivery over `dir/{checkpoints,buffer}`.
pub struct Agent {
    pub store: Arc<CheckpointStore>,
    pub tailer: FileTailer,
    pub delivery: Delivery,
    pub metrics: Arc<AgentMetrics>,
}

impl Agent {
    pub fn start(
        dir: &Path,
        specs: Vec<FileInputSpec>,
        sink: Arc<dyn LogSink>,
        options: DeliveryOptions,
        buffer: DiskBufferOptions,
    ) -> Self {
        let metrics = Arc::new(AgentMetrics::new());
        let store = Arc::new(CheckpointStore::open(dir.join("checkpoints")).expect("store"));
        let tailer = FileTailer::new(specs, store.clone(), fast_tailer_options(metrics.clone()))
            .expect("tailer");
        let buffer = DiskBuffer::open(dir.join("buffer"), buffer).expect("buffer");
        let delivery = Delivery::new(sink, store.clone(), buffer, metrics.clone(), options);
        Self {
            store,
            tailer,
            delivery,
            metrics,
        }
    }

    /// One poll, everything submitted (each line becomes `content=<line>`).
    pub async fn pump(&mut self) -> usize {
        let records = self.tailer.poll().expect("poll");
        let count = records.len();
        let items = records
            .into_iter()
            .map(|record| {
                let entry = LogEntry {
                    time: LogTime::new(1_700_000_000, 0),
                    contents: vec![Field {
                        key: Bytes::from_static(b"content"),
                        value: record.text.clone(),
                    }],
                };
                (record, Some(entry))
            })
            .collect();
        self.delivery
            .submit(
                target(),
                items,
                vec![Field::new("host", "h1")],
                Bytes::new(),
            )
            .await
            .expect("submit");
        count
    }

    /// Pumps until `done` holds or `timeout` passes.
    pub async fn pump_until(&mut self, timeout: Duration, mut done: impl FnMut(&Self) -> bool) {
        let deadline = Instant::now() + timeout;
        while !done(self) && Instant::now() < deadline {
            self.pump().await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
