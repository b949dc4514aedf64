//! The collection configs the agent is running: each parsed once into its input specs, its
//! processor pipeline, its multiline rules and its write target.
//!
//! Invariant: every [`FileInputSpec`] handed to the tailer has a unique name; a config with
//! several inputs gets one spec per input (`<config>`, `<config>#1`, ...), all mapped back to
//! the same [`ActivePipeline`].

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::config::{InputSettings, MultilineConfig, PipelineConfig};
use crate::control::{HeldConfig, HeldStatus, StoredConfig};
use crate::delivery::WriteTarget;
use crate::input::FileInputSpec;
use crate::process::Pipeline;

/// One running config.
pub struct ActivePipeline {
    /// The config's name.
    pub name: String,
    /// The processors.
    pub pipeline: Pipeline,
    /// Where its records go.
    pub target: WriteTarget,
}

/// What one input spec reads for.
pub struct SpecBinding {
    /// The config it belongs to.
    pub pipeline: Arc<ActivePipeline>,
    /// Its multiline rules, if any.
    pub multiline: Option<MultilineConfig>,
}

/// Every running config, with the outcome of applying each held config.
#[derive(Default)]
pub struct ActivePipelines {
    /// Input spec name -> its pipeline.
    pub bindings: BTreeMap<String, SpecBinding>,
    /// The specs for the tailer, in config order.
    pub specs: Vec<FileInputSpec>,
    /// The status of every held config, for the heartbeat.
    pub held: Vec<HeldConfig>,
}

impl ActivePipelines {
    /// Parses every stored config; one that fails is reported `Failed` with its error and
    /// collects nothing, the others run.
    pub fn build(configs: &[StoredConfig]) -> Self {
        let mut active = Self::default();
        for stored in configs {
            match PipelineConfig::from_json(&stored.name, stored.version, &stored.detail) {
                Ok(config) => match Pipeline::new(&config.processors) {
                    Ok(pipeline) => {
                        for warning in &config.warnings {
                            tracing::warn!(config = %stored.name, %warning, "collection config warning");
                        }
                        active.add(&config, pipeline);
                        active.held.push(stored.held(HeldStatus::Applied, ""));
                    }
                    Err(error) => active.fail(stored, &error.to_string()),
                },
                Err(error) => active.fail(stored, &error.to_string()),
            }
        }
        active
    }

    fn fail(&mut self, stored: &StoredConfig, message: &str) {
        tracing::error!(config = %stored.name, error = %message, "collection config cannot be applied");
        self.held.push(stored.held(HeldStatus::Failed, message));
    }

    fn add(&mut self, config: &PipelineConfig, pipeline: Pipeline) {
        if !config.enabled {
            return;
        }
        let active = Arc::new(ActivePipeline {
            name: config.name.clone(),
            pipeline,
            target: WriteTarget {
                project: config.flusher.project.clone(),
                logstore: config.flusher.logstore.clone(),
            },
        });
        for (index, input) in config.inputs.iter().enumerate() {
            let spec_name = if index == 0 {
                config.name.clone()
            } else {
                format!("{}#{index}", config.name)
            };
            let settings = input.to_spec(&spec_name);
            let multiline = settings.multiline.clone();
            self.specs.push(spec_from(settings));
            self.bindings.insert(
                spec_name,
                SpecBinding {
                    pipeline: active.clone(),
                    multiline,
                },
            );
        }
    }
}

fn spec_from(settings: InputSettings) -> FileInputSpec {
    FileInputSpec {
        config: settings.config,
        paths: settings.paths,
        max_depth: settings.max_depth,
        exclude_paths: settings.exclude_paths,
        exclude_files: settings.exclude_files,
        exclude_dirs: settings.exclude_dirs,
        tail_size_kb: settings.tail_size_kb,
        from_beginning: settings.from_beginning,
        allow_multiple_configs: settings.allow_multiple_configs,
    }
}
