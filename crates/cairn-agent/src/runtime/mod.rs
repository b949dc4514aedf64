//! The agent's main loop: it wires identity and control, the collection configs, the file
//! tailer, the processors and delivery together.
//!
//! Two clocks drive it: the heartbeat (every `heartbeat_interval`) re-reads the identity
//! files, reports the held configs and receives config changes and write tokens; the poll
//! (every `poll_interval`, or at once after a poll that left a file behind its end) reads new
//! lines, joins multiline records, processes them and hands them to delivery, which owns
//! acknowledgement and checkpoints. Records travel grouped by file ([`FileRecords`]), and
//! the clock is read once per group, not per record. Configs and tokens last seen
//! are kept on disk, so a restarted agent collects before its first heartbeat succeeds.
//!
//! The metrics snapshot (`<data_dir>/metrics.json`) is written at every heartbeat, every
//! second when running without control (no heartbeat), and at shutdown; a new process takes
//! its drop counters from it, so they are totals over restarts ([`crate::metrics`]).
//!
//! Shutdown: stop reading, flush delivery (batches in flight finish or go to the disk buffer),
//! write the final metrics snapshot.

mod credentials;
mod pipelines;

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::control::identity::IdentityReader;
use crate::control::{AgentSettings, ConfigStore, ControlClient, StoredConfig, TokenCache};
use crate::delivery::{
    Delivery, DeliveryOptions, DiskBuffer, DiskBufferOptions, HttpLogSink, LogSink, NullSink,
    ProcessedRecord, WriteCredentials,
};
use crate::input::{CheckpointStore, FileTailer, TailerOptions};
use crate::metrics::{AgentMetrics, PersistedDrops};
use crate::process::{
    tags_for_path, DropReason as ProcessDropReason, Multiline, ProcessOutcome, TagContext,
};
use crate::source::{FileKey, FileRecords, SourceRecord};
use credentials::TokenCredentials;
use pipelines::ActivePipelines;

/// The metrics snapshot's file name in the data directory.
const METRICS_FILE: &str = "metrics.json";

/// How often `<data_dir>/metrics.json` is rewritten when there is no heartbeat (no control).
const METRICS_INTERVAL_WITHOUT_CONTROL: Duration = Duration::from_secs(1);

/// How this agent process runs, beyond its settings file.
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    /// Collection configs given locally as (name, LoongCollector JSON), run besides those the
    /// server applies; their writes use the agent's own AccessKey.
    pub local_pipelines: Vec<(String, Vec<u8>)>,
    /// Heartbeat to the server for identity, configs and tokens.
    pub control: bool,
    /// Send nothing: acknowledge every batch locally (benchmarks).
    pub null_sink: bool,
    /// How often files are read.
    pub poll_interval: Duration,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        Self {
            local_pipelines: Vec::new(),
            control: true,
            null_sink: false,
            poll_interval: Duration::from_millis(200),
        }
    }
}

/// Why the agent stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// Settings, identity files or the config store.
    #[error(transparent)]
    Control(#[from] crate::control::ControlError),
    /// The checkpoint table.
    #[error(transparent)]
    Checkpoint(#[from] crate::input::CheckpointError),
    /// The file inputs.
    #[error(transparent)]
    Input(#[from] crate::input::InputError),
    /// The disk buffer.
    #[error(transparent)]
    Buffer(#[from] crate::delivery::BufferError),
    /// Delivery.
    #[error(transparent)]
    Delivery(#[from] crate::delivery::DeliveryError),
    /// The data directory.
    #[error("cannot use the data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Runs the agent until `shutdown` completes.
pub async fn run(
    settings: AgentSettings,
    options: RuntimeOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RuntimeError> {
    std::fs::create_dir_all(&settings.data_dir).map_err(|source| RuntimeError::DataDir {
        path: settings.data_dir.clone(),
        source,
    })?;
    let metrics = Arc::new(AgentMetrics::resume(&previous_drops(&settings)));
    let checkpoints = Arc::new(CheckpointStore::open(
        settings.data_dir.join("checkpoints"),
    )?);
    let buffer = DiskBuffer::open(
        settings.data_dir.join("buffer"),
        DiskBufferOptions {
            max_bytes: settings.buffer_max_bytes,
            max_age: settings.buffer_max_age,
            ..DiskBufferOptions::default()
        },
    )?;
    let tokens = Arc::new(TokenCache::new());
    let sink: Arc<dyn LogSink> = if options.null_sink {
        Arc::new(NullSink::new())
    } else {
        let fallback = (!options.local_pipelines.is_empty()).then(|| WriteCredentials {
            access_key_id: settings.access_key_id.clone(),
            access_key_secret: settings.access_key_secret.clone(),
            security_token: None,
        });
        Arc::new(HttpLogSink::new(
            settings.endpoint.clone(),
            Arc::new(TokenCredentials {
                tokens: tokens.clone(),
                fallback,
            }),
        ))
    };
    let mut control = ControlClient::new(&settings, reqwest::Client::new());
    let mut identity_reader = IdentityReader::new();
    let mut identity = identity_reader.read(&settings.config_dir, &settings)?;
    let delivery = Delivery::new(
        sink,
        checkpoints.clone(),
        buffer,
        metrics.clone(),
        DeliveryOptions {
            host_id: control.host_id().to_owned(),
            source: identity.ip.clone(),
            ..DeliveryOptions::default()
        },
    );
    let mut store = ConfigStore::open(&settings.data_dir)?;
    let local: Vec<StoredConfig> = options
        .local_pipelines
        .iter()
        .map(|(name, detail)| StoredConfig {
            name: name.clone(),
            version: 1,
            detail: detail.clone(),
            extra: Default::default(),
        })
        .collect();
    let configs = |store: &ConfigStore| -> Vec<StoredConfig> {
        local.iter().cloned().chain(store.load_all()).collect()
    };
    let mut active = ActivePipelines::build(&configs(&store));
    let tailer = Arc::new(Mutex::new(FileTailer::new(
        active.specs.clone(),
        checkpoints.clone(),
        TailerOptions {
            poll_interval: options.poll_interval,
            metrics: metrics.clone(),
            ..TailerOptions::default()
        },
    )?));
    let mut multilines: HashMap<FileKey, Multiline> = HashMap::new();
    let mut heartbeat = tokio::time::interval(settings.heartbeat_interval);
    // Without control there is no heartbeat tick to write the metrics snapshot on: write it
    // on its own clock instead, so operators (and tests) see drops while the agent runs.
    let mut metrics_tick = tokio::time::interval(METRICS_INTERVAL_WITHOUT_CONTROL);
    metrics_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut poll = tokio::time::interval(options.poll_interval);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut memberships_seen = String::new();
    tokio::pin!(shutdown);
    tracing::info!(
        configs = active.held.len(),
        control = options.control,
        "agent started"
    );

    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = heartbeat.tick(), if options.control => {
                identity = identity_reader.read(&settings.config_dir, &settings).unwrap_or(identity);
                match control.heartbeat(&identity, &active.held).await {
                    Ok(update) => {
                        tokens.apply(&update);
                        let summary = format!("{:?}", update.memberships);
                        if summary != memberships_seen {
                            for membership in &update.memberships {
                                if membership.ok {
                                    tracing::info!(account = %membership.account, project = %membership.project, group = %membership.group, "in machine group");
                                } else {
                                    tracing::warn!(account = %membership.account, project = %membership.project, group = %membership.group, reason = %membership.reason, "not admitted to machine group");
                                }
                            }
                            memberships_seen = summary;
                        }
                        if !store.apply(&update).is_empty() {
                            active = ActivePipelines::build(&configs(&store));
                            lock(&tailer).set_specs(active.specs.clone())?;
                            multilines.clear();
                            tracing::info!(configs = active.held.len(), "collection configs changed");
                        }
                    }
                    Err(error) => tracing::warn!(%error, "heartbeat failed, will retry"),
                }
                write_metrics(&settings, &metrics, &checkpoints);
            }
            _ = metrics_tick.tick(), if !options.control => {
                write_metrics(&settings, &metrics, &checkpoints);
            }
            _ = poll.tick() => {
                let reader = tailer.clone();
                let (records, behind) = tokio::task::spawn_blocking(move || {
                    let mut tailer = lock(&reader);
                    tailer.poll_files().map(|records| (records, tailer.is_behind()))
                })
                .await
                .map_err(|e| crate::delivery::DeliveryError::Task(e.to_string()))??;
                let context = TagContext {
                    hostname: identity.hostname.clone(),
                    user_defined_ids: identity.user_defined_ids.clone(),
                };
                submit(&delivery, &metrics, &active, &mut multilines, records, &context).await?;
                if behind {
                    // A backlog: read on as soon as delivery takes more (its queue bound is
                    // the backpressure), not one slice per poll interval.
                    poll.reset_immediately();
                }
            }
        }
    }
    tracing::info!("agent stopping, flushing delivery");
    delivery.shutdown().await?;
    write_metrics(&settings, &metrics, &checkpoints);
    tracing::info!("agent stopped");
    Ok(())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Joins multiline records, processes them and submits them per file, in file order.
async fn submit(
    delivery: &Delivery,
    metrics: &AgentMetrics,
    active: &ActivePipelines,
    multilines: &mut HashMap<FileKey, Multiline>,
    files: Vec<FileRecords>,
    context: &TagContext,
) -> Result<(), RuntimeError> {
    let now = Instant::now();
    let mut ready: Vec<FileRecords> = Vec::with_capacity(files.len());
    for group in files {
        let Some(binding) = active.bindings.get(&group.file.config) else {
            continue;
        };
        let Some(config) = &binding.multiline else {
            ready.push(group);
            continue;
        };
        let multiline = match multilines.entry(group.file.clone()) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => match Multiline::new(config) {
                Ok(multiline) => entry.insert(multiline),
                Err(error) => {
                    tracing::error!(%error, config = %binding.pipeline.name, "multiline rules invalid");
                    continue;
                }
            },
        };
        let (file, path) = (group.file.clone(), group.path.clone());
        let mut joined = Vec::new();
        for record in group.into_source_records() {
            let completed = multiline.push_at(record, now).records;
            joined.extend(completed.into_iter().map(SourceRecord::into_raw));
        }
        if !joined.is_empty() {
            ready.push(FileRecords {
                file,
                path,
                records: joined,
            });
        }
    }
    for (file, multiline) in multilines.iter_mut() {
        let records = multiline.flush_if_idle(now).records;
        let Some(path) = records.last().map(|r| r.path.clone()) else {
            continue;
        };
        ready.push(FileRecords {
            file: file.clone(),
            path,
            records: records.into_iter().map(SourceRecord::into_raw).collect(),
        });
    }
    // Entries are built in field lists recycled from delivered batches (see `FieldLists`).
    let field_lists = delivery.field_lists();
    let mut lists = Vec::new();
    for group in ready {
        let Some(binding) = active.bindings.get(&group.file.config) else {
            continue;
        };
        let pipeline = &binding.pipeline.pipeline;
        let tags = tags_for_path(&group.path, context);
        let now = pipeline.now();
        lists.clear();
        field_lists.take(group.records.len(), &mut lists);
        let processed: Vec<ProcessedRecord> = group
            .records
            .into_iter()
            .map(|record| {
                let contents = lists.pop().unwrap_or_default();
                let entry = match pipeline.process_text_in(record.text, now, contents) {
                    ProcessOutcome::Keep(entry) => Some(entry),
                    ProcessOutcome::Drop(reason) => {
                        count_processor_drop(metrics, reason);
                        tracing::debug!(
                            reason = reason.as_str(),
                            config = %binding.pipeline.name,
                            path = %group.path.display(),
                            offset = record.start_offset,
                            "record dropped by the config's processors"
                        );
                        None
                    }
                };
                ProcessedRecord::new(record.start_offset, record.end_offset, entry)
            })
            .collect();
        delivery
            .submit_file(
                binding.pipeline.target.clone(),
                &group.file,
                group.path,
                processed,
                tags,
                Bytes::new(),
            )
            .await?;
    }
    Ok(())
}

/// Counts a record the config's processors dropped, by reason.
fn count_processor_drop(metrics: &AgentMetrics, reason: ProcessDropReason) {
    let counter = match reason {
        ProcessDropReason::Filtered => &metrics.records_filtered,
        ProcessDropReason::ParseFailed => &metrics.records_unparsable,
        ProcessDropReason::InvalidTime => &metrics.records_invalid_time,
    };
    counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// The drop counters of the last metrics snapshot an earlier process wrote (see
/// [`crate::metrics`]); zero when there is none or it cannot be read.
fn previous_drops(settings: &AgentSettings) -> PersistedDrops {
    let path = settings.data_dir.join(METRICS_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Default::default(),
        Err(error) => {
            tracing::warn!(%error, path = %path.display(), "cannot read the last metrics snapshot; drop counters start at zero");
            return Default::default();
        }
    };
    serde_json::from_slice(&bytes).unwrap_or_else(|error| {
        tracing::warn!(%error, path = %path.display(), "last metrics snapshot unreadable; drop counters start at zero");
        Default::default()
    })
}

/// Writes the metrics snapshot to `<data_dir>/metrics.json` (atomically), for operators and
/// tests; errors are logged, never fatal.
fn write_metrics(settings: &AgentSettings, metrics: &AgentMetrics, checkpoints: &CheckpointStore) {
    metrics
        .checkpoint_writes
        .store(checkpoints.writes(), std::sync::atomic::Ordering::Relaxed);
    let path = settings.data_dir.join(METRICS_FILE);
    let temporary = settings.data_dir.join("metrics.json.tmp");
    let result = serde_json::to_vec_pretty(&metrics.snapshot())
        .map_err(std::io::Error::other)
        .and_then(|bytes| std::fs::write(&temporary, bytes))
        .and_then(|()| std::fs::rename(&temporary, &path));
    if let Err(error) = result {
        tracing::warn!(%error, path = %path.display(), "cannot write the metrics snapshot");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without control there is no heartbeat: the metrics snapshot must still be written
    /// while the agent runs, not only at shutdown.
    #[tokio::test]
    async fn without_control_the_metrics_snapshot_is_written_while_running() {
        let temp = tempfile::tempdir().expect("tempdir");
        let logs = temp.path().join("logs");
        std::fs::create_dir_all(&logs).expect("mkdir");
        let mut settings = AgentSettings::new("http://127.0.0.1:9", "test-id", "test-secret");
        settings.data_dir = temp.path().join("data");
        settings.config_dir = temp.path().join("etc");
        let pipeline = serde_json::json!({
            "inputs": [{"Type": "input_file", "FilePaths": [format!("{}/*.log", logs.display())]}],
            // A valid name matters: with an invalid one the runtime refuses the config (it
            // only logs that) and this test would pass without any input running.
            "flushers": [{"Type": "flusher_sls", "Project": "p-test", "Logstore": "lines"}],
        });
        let options = RuntimeOptions {
            local_pipelines: vec![("local".to_owned(), pipeline.to_string().into_bytes())],
            control: false,
            null_sink: true,
            poll_interval: Duration::from_millis(20),
        };
        let path = settings.data_dir.join("metrics.json");
        let seen_while_running = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = seen_while_running.clone();
        let shutdown = async move {
            let deadline = Instant::now() + METRICS_INTERVAL_WITHOUT_CONTROL * 5;
            while Instant::now() < deadline {
                if path.exists() {
                    seen.store(true, std::sync::atomic::Ordering::SeqCst);
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        run(settings, options, shutdown).await.expect("agent run");
        assert!(seen_while_running.load(std::sync::atomic::Ordering::SeqCst));
    }
}
