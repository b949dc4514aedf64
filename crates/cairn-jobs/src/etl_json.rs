//! The SLS `/etls` JSON shape of a job, both ways.
//!
//! ```json
//! {"name": "copy-app", "displayName": "copy app logs", "type": "ETL",
//!  "schedule": {"type": "Resident"},
//!  "configuration": {"logstore": "app", "script": "", "lang": "", "version": 2,
//!    "fromTime": 1700000000, "toTime": 1700003600,
//!    "roleArn": "acs:ram::1111111111111111:role/reader",
//!    "parameters": {"transform": {"drop": ["password"]}},
//!    "sinks": [{"name": "central", "project": "audit", "logstore": "app",
//!               "endpoint": "", "roleArn": "acs:ram::2222222222222222:role/writer"}]}}
//! ```
//!
//! Mapping (Cairn's reading of the shape, where SLS leaves room):
//! - mode: `configuration.toTime > 0` is a one-off copy of `[fromTime, toTime)`, whatever
//!   `schedule.type` says (SLS's own bounded jobs are `Resident` with a `toTime`); otherwise
//!   `schedule.type` must be `Resident` (the default), a continuous job starting at `fromTime`
//!   (0: the beginning) or, with `parameters.startFrom = "end"`, at the end.
//! - source: `configuration.logstore` in `configuration.project` (a Cairn extension) or else
//!   the project the request addressed; `configuration.roleArn` reads it.
//! - destination: exactly one entry of `sinks`, with its own `roleArn`. `endpoint` is
//!   accepted and ignored (one server holds every project).
//! - `parameters.transform`: see `crate::transform`. Other `parameters` entries (SLS script
//!   variables) are ignored, as is `lang`/`version`.
//! - refused: a non-empty `script` (Cairn runs no DSL scripts), and AccessKeys
//!   (`accessKeyId` / `accessKeySecret`) anywhere: jobs act only through roles, so no secret
//!   is ever stored with a job.

use cairn_model::{AccountId, LogstoreName, ProjectName};
use serde_json::{json, Map, Value};

use crate::{
    JobDefinition, JobError, JobMode, JobName, SinkSpec, SourceSpec, StartPosition, Transform,
};

type Object = Map<String, Value>;

fn object<'v>(value: &'v Value, path: &str) -> Result<&'v Object, JobError> {
    value
        .as_object()
        .ok_or_else(|| JobError::invalid(format!("{path} must be a JSON object")))
}

fn optional_str<'v>(
    object: &'v Object,
    key: &str,
    path: &str,
) -> Result<Option<&'v str>, JobError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(JobError::invalid(format!("{path}.{key} must be a string"))),
    }
}

fn required_str<'v>(object: &'v Object, key: &str, path: &str) -> Result<&'v str, JobError> {
    optional_str(object, key, path)?
        .ok_or_else(|| JobError::invalid(format!("{path}.{key} is required")))
}

/// A unix time in seconds; absent or null is 0.
fn time(object: &Object, key: &str) -> Result<u32, JobError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(0),
        Some(value) => value
            .as_u64()
            .and_then(|seconds| u32::try_from(seconds).ok())
            .ok_or_else(|| {
                JobError::invalid(format!(
                    "configuration.{key} must be a unix time in seconds (0 to {})",
                    u32::MAX
                ))
            }),
    }
}

fn refuse_access_keys(object: &Object, path: &str) -> Result<(), JobError> {
    for key in ["accessKeyId", "accessKeySecret"] {
        if optional_str(object, key, path)?.is_some_and(|value| !value.is_empty()) {
            return Err(JobError::invalid(format!(
                "{path}.{key}: Cairn jobs act only through roles and never store AccessKeys; \
                 remove it and set {path}.roleArn"
            )));
        }
    }
    Ok(())
}

fn project(text: &str, path: &str) -> Result<ProjectName, JobError> {
    ProjectName::parse(text).map_err(|error| JobError::invalid(format!("{path}: {error}")))
}

fn logstore(text: &str, path: &str) -> Result<LogstoreName, JobError> {
    LogstoreName::parse(text).map_err(|error| JobError::invalid(format!("{path}: {error}")))
}

impl JobDefinition {
    /// Parses an SLS `/etls` body for `owner`, then validates it. `source_project` is the
    /// project the request addressed, used unless `configuration.project` names another.
    pub fn from_etl_json(
        owner: AccountId,
        source_project: &ProjectName,
        body: &Value,
    ) -> Result<Self, JobError> {
        let definition = Self::parse_etl_json(owner, source_project, body)?;
        definition.validate()?;
        Ok(definition)
    }

    fn parse_etl_json(
        owner: AccountId,
        source_project: &ProjectName,
        body: &Value,
    ) -> Result<Self, JobError> {
        let body = object(body, "the job")?;
        let name = JobName::parse(required_str(body, "name", "job")?)?;
        let display_name = optional_str(body, "displayName", "job")?
            .unwrap_or(name.as_str())
            .to_owned();
        if let Some(kind) = optional_str(body, "type", "job")? {
            if kind != "ETL" {
                return Err(JobError::invalid(format!(
                    "type {kind:?}: only \"ETL\" jobs exist"
                )));
            }
        }
        let schedule = match body.get("schedule") {
            None | Some(Value::Null) => None,
            Some(schedule) => optional_str(object(schedule, "schedule")?, "type", "schedule")?,
        };
        let config = object(
            body.get("configuration")
                .ok_or_else(|| JobError::invalid("configuration is required"))?,
            "configuration",
        )?;
        let path = "configuration";
        if optional_str(config, "script", path)?.is_some_and(|script| !script.trim().is_empty()) {
            return Err(JobError::invalid(
                "configuration.script: Cairn runs no SLS transformation scripts; leave it empty \
                 and describe renames, drops, additions, filters and extractions in \
                 configuration.parameters.transform",
            ));
        }
        refuse_access_keys(config, path)?;
        let source = SourceSpec {
            project: match optional_str(config, "project", path)? {
                Some(text) => project(text, "configuration.project")?,
                None => source_project.clone(),
            },
            logstore: logstore(
                required_str(config, "logstore", path)?,
                "configuration.logstore",
            )?,
            role_arn: required_str(config, "roleArn", path)?.to_owned(),
        };
        let sink = parse_sink(config)?;
        let parameters = match config.get("parameters") {
            None | Some(Value::Null) => None,
            Some(parameters) => Some(object(parameters, "configuration.parameters")?),
        };
        let transform = match parameters.and_then(|parameters| parameters.get("transform")) {
            None | Some(Value::Null) => Transform::default(),
            Some(transform) => Transform::from_json(transform)?,
        };
        let start_from = match parameters {
            Some(parameters) => optional_str(parameters, "startFrom", "configuration.parameters")?,
            None => None,
        };
        let mode = parse_mode(
            schedule,
            time(config, "fromTime")?,
            time(config, "toTime")?,
            start_from,
        )?;
        Ok(JobDefinition {
            name,
            display_name,
            owner,
            source,
            sink,
            mode,
            transform,
        })
    }

    /// The job in the SLS `/etls` shape (see the module docs); [`JobDefinition::from_etl_json`]
    /// reads it back to an equal definition.
    pub fn to_etl_json(&self) -> Value {
        let (from_time, to_time, start_from) = match self.mode {
            JobMode::OneOff { from, to } => (from, to, None),
            JobMode::Continuous { from } => match from {
                StartPosition::Begin => (0, 0, None),
                StartPosition::End => (0, 0, Some("end")),
                StartPosition::Time(seconds) => (seconds, 0, None),
            },
        };
        let mut parameters = Map::new();
        if !self.transform.is_identity() {
            parameters.insert(
                "transform".to_owned(),
                serde_json::to_value(self.transform.spec()).unwrap_or(Value::Null),
            );
        }
        if let Some(start_from) = start_from {
            parameters.insert("startFrom".to_owned(), json!(start_from));
        }
        json!({
            "name": self.name.as_str(),
            "displayName": self.display_name,
            "type": "ETL",
            "schedule": { "type": "Resident" },
            "configuration": {
                "project": self.source.project.as_str(),
                "logstore": self.source.logstore.as_str(),
                "script": "",
                "lang": "",
                "version": 2,
                "fromTime": from_time,
                "toTime": to_time,
                "roleArn": self.source.role_arn,
                "parameters": parameters,
                "sinks": [{
                    "name": self.sink.name,
                    "project": self.sink.project.as_str(),
                    "logstore": self.sink.logstore.as_str(),
                    "endpoint": "",
                    "roleArn": self.sink.role_arn,
                }],
            },
        })
    }
}

fn parse_sink(config: &Object) -> Result<SinkSpec, JobError> {
    let sinks = match config.get("sinks") {
        Some(Value::Array(sinks)) => sinks,
        Some(_) => return Err(JobError::invalid("configuration.sinks must be an array")),
        None => return Err(JobError::invalid("configuration.sinks is required")),
    };
    let [sink] = sinks.as_slice() else {
        return Err(JobError::invalid(format!(
            "configuration.sinks has {} entries; a job writes to exactly one destination",
            sinks.len()
        )));
    };
    let path = "configuration.sinks[0]";
    let sink = object(sink, path)?;
    refuse_access_keys(sink, path)?;
    Ok(SinkSpec {
        name: optional_str(sink, "name", path)?.unwrap_or("").to_owned(),
        project: project(
            required_str(sink, "project", path)?,
            "configuration.sinks[0].project",
        )?,
        logstore: logstore(
            required_str(sink, "logstore", path)?,
            "configuration.sinks[0].logstore",
        )?,
        role_arn: required_str(sink, "roleArn", path)?.to_owned(),
    })
}

fn parse_mode(
    schedule: Option<&str>,
    from: u32,
    to: u32,
    start_from: Option<&str>,
) -> Result<JobMode, JobError> {
    if to > 0 {
        if start_from.is_some() {
            return Err(JobError::invalid(
                "configuration.parameters.startFrom applies to continuous jobs only; a job with \
                 configuration.toTime copies a time range",
            ));
        }
        return Ok(JobMode::OneOff { from, to });
    }
    match schedule.unwrap_or("Resident") {
        "Resident" => {}
        other => {
            return Err(JobError::invalid(format!(
                "schedule.type {other:?} without configuration.toTime: set toTime for a one-off \
                 copy of [fromTime, toTime), or use schedule.type \"Resident\" for a continuous job"
            )))
        }
    }
    let from =
        match (start_from, from) {
            (None | Some("begin"), 0) => StartPosition::Begin,
            (None, seconds) => StartPosition::Time(seconds),
            (Some("end"), 0) => StartPosition::End,
            (Some("end" | "begin"), _) => return Err(JobError::invalid(
                "configuration.parameters.startFrom and configuration.fromTime both say where to \
                 start; give one of them",
            )),
            (Some(other), _) => {
                return Err(JobError::invalid(format!(
                    "configuration.parameters.startFrom {other:?}: write \"begin\" or \"end\""
                )))
            }
        };
    Ok(JobMode::Continuous { from })
}
