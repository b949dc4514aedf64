//! `cairn serve`: opens the data directory, bootstraps the operator account on first start,
//! and serves until SIGTERM or SIGINT.
//!
//! Data directory layout:
//! - `meta.sqlite` — the metastore (accounts, keys, projects, logstores, index configs);
//! - `wal/` — the write-ahead log;
//! - `objects/` — the local object store (splits will live here);
//! - `master.key` — the key that encrypts AccessKey secrets (0600; or `CAIRN_MASTER_KEY`);
//! - `server.json` — which account is the operator account;
//! - `credentials.json` — the operator's first AccessKey (0600), written once for the user.
//!
//! Shutdown order: stop accepting, let in-flight requests finish, stop jobs (their checkpoints
//! saved), then flush the WAL.

mod bootstrap;
mod config;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use cairn_iam::{Iam, MasterKey, ResourceDirectory};
use cairn_jobs::{EngineLogAccess, JobOptions, JobScheduler};
use cairn_meta::{Metastore, SqliteMetastore};
use cairn_query::sql::{SqlEngine, SqlEngineConfig};
use cairn_server::{ServerComponents, ServerMetrics, ServerSettings, ServerState};
use cairn_store::{EngineConfig, FailpointAction, LogEngine, SplitFailpoint, SplitSettings};

pub(crate) use config::LogFormat;
pub use config::ServeArguments;
use config::ServeConfig;

/// A crash failpoint for end-to-end tests: `CAIRN_SPLIT_FAILPOINT` names the step of the
/// split lifecycle at which the process aborts. Unset in production.
fn split_failpoint_from_env() -> anyhow::Result<Option<(SplitFailpoint, FailpointAction)>> {
    let Ok(name) = std::env::var("CAIRN_SPLIT_FAILPOINT") else {
        return Ok(None);
    };
    let step = match name.as_str() {
        "after-upload" => SplitFailpoint::AfterUpload,
        "after-publish" => SplitFailpoint::AfterPublish,
        "after-merge-upload" => SplitFailpoint::AfterMergeUpload,
        "after-merge-publish" => SplitFailpoint::AfterMergePublish,
        other => anyhow::bail!("CAIRN_SPLIT_FAILPOINT {other:?} is not a split failpoint"),
    };
    tracing::warn!(failpoint = %name, "a crash failpoint is armed");
    Ok(Some((step, FailpointAction::Abort)))
}

/// Runs the server until a shutdown signal.
pub async fn run(arguments: ServeArguments) -> anyhow::Result<()> {
    let config = ServeConfig::resolve(arguments)?;
    init_tracing(config.log_format);
    let data_dir = &config.data_dir;
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;

    let meta: Arc<dyn Metastore> = Arc::new(
        SqliteMetastore::open(&data_dir.join("meta.sqlite"))
            .await
            .context("cannot open the metastore")?,
    );
    let master_key = match std::env::var("CAIRN_MASTER_KEY") {
        Ok(value) => MasterKey::from_env_value(&value).context("CAIRN_MASTER_KEY is invalid")?,
        Err(_) => MasterKey::load_or_create(&data_dir.join("master.key"))
            .context("cannot load the master key")?,
    };
    let iam = Arc::new(Iam::new(meta.clone(), master_key));
    let operator = bootstrap::operator_account(data_dir, &meta, &iam, &config).await?;
    let objects = bootstrap::check_object_store(data_dir).await?;
    let mut splits = SplitSettings::new(objects, meta.clone());
    splits.flush_bytes = config.flush_bytes;
    splits.flush_age = config.flush_age;
    splits.failpoint = split_failpoint_from_env()?;

    let metrics = ServerMetrics::new();
    let fsync_histogram = metrics.wal_fsync_seconds.clone();
    let engine = Arc::new(
        LogEngine::open(EngineConfig {
            wal_dir: data_dir.join("wal"),
            min_free_disk_bytes: config.min_free_disk_bytes,
            on_fsync: Some(Arc::new(move |latency| {
                fsync_histogram.observe(latency.as_secs_f64())
            })),
            splits: Some(splits),
            ..EngineConfig::default()
        })
        .await
        .context("cannot open the log engine")?,
    );

    let spill_directory = data_dir.join("tmp").join("sql-spill");
    std::fs::create_dir_all(&spill_directory)
        .with_context(|| format!("cannot create {}", spill_directory.display()))?;
    let sql = Arc::new(
        SqlEngine::new(SqlEngineConfig {
            spill_directory: Some(spill_directory),
            ..SqlEngineConfig::default()
        })
        .context("cannot start the SQL engine")?,
    );

    let directory = Arc::new(ResourceDirectory::new(meta.clone(), iam.clone()));
    let access = Arc::new(
        EngineLogAccess::new(engine.clone(), meta.clone(), iam.clone())
            .with_region(config.region.clone()),
    );
    // Jobs re-assume their roles every few seconds, so a revoked permission stops a job
    // promptly instead of after the session's lifetime.
    let job_options = JobOptions {
        reassume_after: Duration::from_secs(5),
        ..JobOptions::default()
    };
    let jobs = Arc::new(JobScheduler::with_options(
        access,
        meta.clone(),
        job_options,
    ));
    jobs.start().await.context("cannot resume copy jobs")?;

    let state = ServerState::new(
        ServerComponents {
            meta,
            iam,
            directory,
            engine: engine.clone(),
            jobs: jobs.clone(),
            metrics,
            sql,
        },
        ServerSettings {
            region: config.region.clone(),
            operator_account: operator,
            endpoint_domains: config.endpoint_domains.clone(),
        },
    );
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, data_dir = %data_dir.display(), "cairn is ready");
    cairn_server::serve(listener, state, shutdown_signal())
        .await
        .context("the HTTP server failed")?;
    tracing::info!("requests drained, stopping jobs");
    jobs.shutdown().await;
    tracing::info!("jobs stopped, flushing the write-ahead log");
    engine
        .shutdown()
        .await
        .context("cannot flush the write-ahead log")?;
    tracing::info!("cairn stopped");
    Ok(())
}

/// Completes on SIGINT or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}

/// Structured logs to stderr, filtered by `CAIRN_LOG` (default `info`).
pub(crate) fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CAIRN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
