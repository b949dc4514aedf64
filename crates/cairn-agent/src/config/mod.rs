//! Collection configs in LoongCollector's pipeline shape
//! (`{"inputs": [...], "processors": [...], "flushers": [...]}`), as the server hands them out
//! in a `ConfigDetail.detail`.
//!
//! [`PipelineConfig::from_json`] parses (shapes and types, [`params`]) and then validates
//! (regexes, time formats and zones compile; multiline settings build), so a config it
//! returns can always be turned into a running [`crate::process::Pipeline`] and
//! [`crate::process::Multiline`] splitters.
//!
//! LoongCollector's schema is not ours and its configs may carry keys Cairn does not
//! implement: those are accepted, and each one is reported in [`PipelineConfig::warnings`]
//! (the runtime reports them with the config status) rather than failing the config or being
//! silently dropped. A key Cairn does read with a wrong type or value, or an unknown plugin
//! `Type`, is a [`ConfigError`] naming it.
//!
//! Invariants of a parsed config: at least one `input_file` input; exactly one `flusher_sls`
//! whose project and logstore are valid names; every processor `Type` known.

mod input;
mod params;
mod processor;

use serde_json::Value;

pub use input::{
    normalize_multiline_pattern, FileInputConfig, InputSettings, MultilineConfig,
    UnmatchedContentTreatment, DEFAULT_FLUSH_TIMEOUT_SECS, DEFAULT_MAX_RECORD_BYTES,
    DEFAULT_TAIL_SIZE_KB, MAX_TAIL_SIZE_KB,
};
pub use processor::{
    DesensitizeConfig, DesensitizeMatch, DesensitizeMethod, DropConfig, FilterConfig,
    OverflowedFieldsTreatment, ParseDelimiterConfig, ParseJsonConfig, ParseRegexConfig,
    ParseTimestampConfig, ProcessorConfig, RenameConfig, SourceOptions,
};

use params::Params;

/// Why a collection config cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The detail is not JSON.
    #[error("config is not valid JSON: {0}")]
    Json(String),
    /// The overall shape is wrong (no input, no or several `flusher_sls`, ...).
    #[error("{0}")]
    Shape(String),
    /// A plugin `Type` Cairn does not implement.
    #[error("{at}: unsupported plugin Type {type_name:?}")]
    UnknownType {
        /// Where the plugin sits (`processors[1]`).
        at: String,
        /// Its `Type`.
        type_name: String,
    },
    /// A mandatory key is absent or empty.
    #[error("{at}: {key} is required")]
    Missing {
        /// The plugin.
        at: String,
        /// The key.
        key: String,
    },
    /// A key has a wrong type or value.
    #[error("{at}: {}{message}", key_prefix(.key))]
    Invalid {
        /// The plugin.
        at: String,
        /// The key (empty when the plugin object itself is wrong).
        key: String,
        /// What is wrong.
        message: String,
    },
}

fn key_prefix(key: &str) -> String {
    if key.is_empty() {
        String::new()
    } else {
        format!("{key}: ")
    }
}

/// Where a `flusher_sls` sends: Cairn sends to the server the agent is enrolled with, into
/// this project and logstore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlsFlusherConfig {
    /// `Project`.
    pub project: String,
    /// `Logstore`.
    pub logstore: String,
}

/// One collection config, parsed and validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineConfig {
    /// The config name.
    pub name: String,
    /// Its version as the server numbers it.
    pub version: i64,
    /// `enable` (default true): LoongCollector loads a config with `enable: false` but does
    /// not run it.
    pub enabled: bool,
    /// The `input_file` inputs.
    pub inputs: Vec<FileInputConfig>,
    /// The processors, in order.
    pub processors: Vec<ProcessorConfig>,
    /// The single `flusher_sls`.
    pub flusher: SlsFlusherConfig,
    /// Keys and settings present in the config that Cairn ignores, one message each.
    pub warnings: Vec<String>,
}

fn type_of(at: &str, value: &Value) -> Result<String, ConfigError> {
    match value.get("Type") {
        Some(Value::String(t)) if !t.is_empty() => Ok(t.clone()),
        Some(other) if !other.is_null() => Err(ConfigError::Invalid {
            at: at.to_string(),
            key: "Type".to_string(),
            message: format!("must be a string, not {other}"),
        }),
        _ => Err(ConfigError::Missing {
            at: at.to_string(),
            key: "Type".to_string(),
        }),
    }
}

fn plugin_list<'a>(root: &'a Value, key: &str) -> Result<&'a [Value], ConfigError> {
    match root.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(ConfigError::Invalid {
            at: "config".to_string(),
            key: key.to_string(),
            message: format!("must be a list of plugins, not {other}"),
        }),
    }
}

impl PipelineConfig {
    /// Parses and validates a config detail (JSON bytes) named `name` at `version`.
    pub fn from_json(name: &str, version: i64, detail: &[u8]) -> Result<Self, ConfigError> {
        let config = Self::parse(name, version, detail)?;
        config.validate()?;
        Ok(config)
    }

    /// Reads the shape of a config without compiling its patterns; see [`Self::validate`].
    pub fn parse(name: &str, version: i64, detail: &[u8]) -> Result<Self, ConfigError> {
        let root: Value =
            serde_json::from_slice(detail).map_err(|e| ConfigError::Json(e.to_string()))?;
        let mut top = Params::new("config".to_string(), &root)?;
        let mut warnings = Vec::new();

        let enabled = top.boolean("enable")?.unwrap_or(true);
        for meta in [
            "configName",
            "name",
            "version",
            "logSample",
            "createTime",
            "lastModifyTime",
            "configTags",
        ] {
            top.accept(meta);
        }

        let mut inputs = Vec::new();
        top.accept("inputs");
        for (i, value) in plugin_list(&root, "inputs")?.iter().enumerate() {
            let at = format!("inputs[{i}]");
            match type_of(&at, value)?.as_str() {
                "input_file" => inputs.push(input::parse_input(
                    format!("{at} (input_file)"),
                    value,
                    &mut warnings,
                )?),
                other => {
                    return Err(ConfigError::UnknownType {
                        at,
                        type_name: other.to_string(),
                    })
                }
            }
        }
        if inputs.is_empty() {
            return Err(ConfigError::Shape(
                "config has no input; it needs one input_file".to_string(),
            ));
        }

        let mut processors = Vec::new();
        top.accept("processors");
        for (i, value) in plugin_list(&root, "processors")?.iter().enumerate() {
            let at = format!("processors[{i}]");
            let type_name = type_of(&at, value)?;
            let at = format!("{at} ({type_name})");
            processors.push(processor::parse_processor(
                at,
                &type_name,
                value,
                &mut warnings,
            )?);
        }

        let mut flushers = Vec::new();
        top.accept("flushers");
        for (i, value) in plugin_list(&root, "flushers")?.iter().enumerate() {
            let at = format!("flushers[{i}]");
            match type_of(&at, value)?.as_str() {
                "flusher_sls" => flushers.push(parse_flusher(
                    format!("{at} (flusher_sls)"),
                    value,
                    &mut warnings,
                )?),
                other => {
                    return Err(ConfigError::UnknownType {
                        at,
                        type_name: other.to_string(),
                    })
                }
            }
        }
        if flushers.len() != 1 {
            return Err(ConfigError::Shape(format!(
                "config has {} flusher_sls flushers; it needs exactly one",
                flushers.len()
            )));
        }
        let flusher = flushers.remove(0);

        top.accept("aggregators");
        if !plugin_list(&root, "aggregators")?.is_empty() {
            warnings
                .push("config: aggregators are ignored; records are batched per file".to_string());
        }
        top.accept("extensions");
        if !plugin_list(&root, "extensions")?.is_empty() {
            warnings.push("config: extensions are ignored".to_string());
        }
        if let Some(global) = top.object("global")? {
            // Every global setting tunes LoongCollector's own queues and tags.
            global.finish(&mut warnings);
        }
        top.finish(&mut warnings);

        Ok(Self {
            name: name.to_string(),
            version,
            enabled,
            inputs,
            processors,
            flusher,
            warnings,
        })
    }

    /// Checks what [`Self::parse`] leaves alone: every regex, time format and zone compiles
    /// and every multiline splitter builds.
    pub fn validate(&self) -> Result<(), ConfigError> {
        crate::process::Pipeline::new(&self.processors)?;
        for (i, input) in self.inputs.iter().enumerate() {
            if let Some(m) = &input.multiline {
                crate::process::Multiline::new(m).map_err(|e| match e {
                    ConfigError::Invalid { key, message, .. } => ConfigError::Invalid {
                        at: format!("inputs[{i}] (input_file).Multiline"),
                        key,
                        message,
                    },
                    other => other,
                })?;
            }
        }
        Ok(())
    }
}

fn parse_flusher(
    at: String,
    value: &Value,
    warnings: &mut Vec<String>,
) -> Result<SlsFlusherConfig, ConfigError> {
    let mut p = Params::new(at, value)?;
    let project = p.required_string("Project")?;
    cairn_model::ProjectName::parse(&project)
        .map_err(|e| p.invalid("Project", format!("{project:?}: {e}")))?;
    let logstore = p.required_string("Logstore")?;
    cairn_model::LogstoreName::parse(&logstore)
        .map_err(|e| p.invalid("Logstore", format!("{logstore:?}: {e}")))?;
    // The agent always sends to the server it is enrolled with.
    p.accept("Region");
    p.accept("Endpoint");
    match p.string("TelemetryType")?.as_deref() {
        None | Some("") | Some("logs") => {}
        Some(other) => {
            return Err(p.invalid(
                "TelemetryType",
                format!("{other:?} is not supported; only logs"),
            ))
        }
    }
    p.ignore_unless(
        "Match",
        &Value::Null,
        "a config has a single flusher, so every record goes to it",
        warnings,
    );
    p.finish(warnings);
    Ok(SlsFlusherConfig { project, logstore })
}
