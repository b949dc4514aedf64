//! `cairn agent`: the host agent, in the foreground or under systemd
//! (`packaging/systemd/cairn-agent.service`, installed by `packaging/install-agent.sh`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use cairn_agent::control::AgentSettings;
use cairn_agent::runtime::{self, RuntimeOptions};

use crate::serve::{init_tracing, shutdown_signal, LogFormat};

/// Flags of `cairn agent`.
#[derive(Debug, clap::Args)]
pub struct AgentArguments {
    /// The agent's settings (TOML: endpoint, access_key_id, access_key_secret, config_dir,
    /// data_dir, ...); `CAIRN_AGENT_*` variables override its values.
    #[arg(
        long,
        env = "CAIRN_AGENT_CONFIG",
        default_value = "/etc/cairn/agent.toml"
    )]
    pub config: PathBuf,
    /// A collection config (LoongCollector JSON) to run locally, besides those the server
    /// applies; may be repeated. Its name is the file name without extension.
    #[arg(long = "pipeline", value_name = "FILE")]
    pub pipelines: Vec<PathBuf>,
    /// Do not heartbeat to the server: run only the `--pipeline` configs.
    #[arg(long)]
    pub no_control: bool,
    /// Acknowledge every batch locally instead of sending it (benchmarks).
    #[arg(long)]
    pub null_sink: bool,
    /// How often files are read, in milliseconds.
    #[arg(long, default_value_t = 200)]
    pub poll_interval_ms: u64,
    /// Log output: `text` or `json`.
    #[arg(long, env = "CAIRN_LOG_FORMAT", default_value = "text")]
    pub log_format: String,
}

/// Runs the agent until SIGTERM or SIGINT.
pub async fn run(arguments: AgentArguments) -> anyhow::Result<()> {
    let format = match arguments.log_format.as_str() {
        "json" => LogFormat::Json,
        "text" => LogFormat::Text,
        other => anyhow::bail!("--log-format {other:?} must be text or json"),
    };
    init_tracing(format);
    let settings = AgentSettings::load(&arguments.config).with_context(|| {
        format!(
            "cannot load agent settings from {}",
            arguments.config.display()
        )
    })?;
    let mut local_pipelines = Vec::new();
    for path in &arguments.pipelines {
        let detail = std::fs::read(path)
            .with_context(|| format!("cannot read collection config {}", path.display()))?;
        let name = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .with_context(|| format!("{} has no usable file name", path.display()))?
            .to_owned();
        local_pipelines.push((name, detail));
    }
    if arguments.no_control && local_pipelines.is_empty() {
        anyhow::bail!(
            "--no-control needs at least one --pipeline: there would be nothing to collect"
        );
    }
    let options = RuntimeOptions {
        local_pipelines,
        control: !arguments.no_control,
        null_sink: arguments.null_sink,
        poll_interval: Duration::from_millis(arguments.poll_interval_ms.max(10)),
    };
    runtime::run(settings, options, shutdown_signal())
        .await
        .context("the agent failed")
}
