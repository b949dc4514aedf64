//! Collection config APIs (SLS `/pipelineconfigs`): CreateLogtailPipelineConfig,
//! GetLogtailPipelineConfig, UpdateLogtailPipelineConfig, DeleteLogtailPipelineConfig,
//! ListLogtailPipelineConfig, and GetAppliedMachineGroups (`GET /configs/{c}/machinegroups`).
//!
//! A config is LoongCollector's pipeline shape: `{configName, logSample?, global?, inputs,
//! processors?, aggregators?, flushers}`, authorised on
//! `acs:log:<region>:<owner>:project/<p>/logtailconfig/<c>`. Invariants of a stored config:
//! at least one input and at most 64 plugins per stage, each an object with a `Type`; exactly
//! one flusher, of type `flusher_sls`, whose `Project` (defaulting to the config's own) and
//! `Logstore` exist and belong to the config's account — agents write only into the logstores
//! of the account that applied the config, so a flusher into another account is refused.
//! Keys other than the pipeline's are dropped.

use cairn_meta::{ListQuery, NewPipelineConfig, PipelineConfigRecord, ProjectRecord};
use cairn_model::{LogstoreName, ProjectName};
use serde_json::{json, Map, Value};

use super::machine_groups::{check_name, fleet_arn, project_of};
use super::{now_seconds, Context};
use crate::error::ApiError;
use crate::response::ApiResponse;

/// The largest page ListLogtailPipelineConfig returns.
const MAX_PAGE_SIZE: u64 = 500;
/// The largest config, as JSON, in bytes.
const MAX_CONFIG_BYTES: usize = 512 * 1024;
/// The most plugins per stage.
const MAX_PLUGINS: usize = 64;
/// The pipeline keys a config keeps.
pub(super) const PIPELINE_KEYS: [&str; 5] =
    ["global", "inputs", "processors", "aggregators", "flushers"];

/// The only flusher type Cairn's agents deliver with.
pub(super) const FLUSHER_SLS: &str = "flusher_sls";

/// The (project, logstore) a validated config's flusher writes to.
pub(super) fn flusher_target(detail: &Value) -> Option<(ProjectName, LogstoreName)> {
    let flusher = detail.get("flushers")?.as_array()?.first()?;
    let project = ProjectName::parse(flusher.get("Project")?.as_str()?).ok()?;
    let logstore = LogstoreName::parse(flusher.get("Logstore")?.as_str()?).ok()?;
    Some((project, logstore))
}

/// Checks one stage: a list of at most [`MAX_PLUGINS`] objects with a non-empty `Type`.
fn check_stage(key: &str, value: Option<&Value>, required: bool) -> Result<(), ApiError> {
    let plugins = match value {
        None | Some(Value::Null) if !required => return Ok(()),
        Some(Value::Array(plugins)) => plugins,
        _ => {
            return Err(ApiError::parameter_invalid(format!(
                "{key} must be a list of plugins"
            )))
        }
    };
    if required && plugins.is_empty() {
        return Err(ApiError::parameter_invalid(format!(
            "{key} needs at least one plugin"
        )));
    }
    if plugins.len() > MAX_PLUGINS {
        return Err(ApiError::parameter_invalid(format!(
            "{key} has more than {MAX_PLUGINS} plugins"
        )));
    }
    for plugin in plugins {
        let typed = plugin
            .get("Type")
            .and_then(Value::as_str)
            .is_some_and(|kind| !kind.is_empty());
        if !plugin.is_object() || !typed {
            return Err(ApiError::parameter_invalid(format!(
                "every plugin of {key} must be an object with a Type"
            )));
        }
    }
    Ok(())
}

/// Validates a config body for `project` and returns what is stored: the pipeline keys,
/// `configName`, `logSample`, with the flusher's `Project` filled in.
async fn validated_detail(
    context: &Context<'_>,
    project: &ProjectRecord,
    name: &str,
    mut body: Map<String, Value>,
) -> Result<Value, ApiError> {
    check_stage("inputs", body.get("inputs"), true)?;
    for key in ["processors", "aggregators"] {
        check_stage(key, body.get(key), false)?;
    }
    check_stage("flushers", body.get("flushers"), true)?;
    if !matches!(
        body.get("global"),
        None | Some(Value::Null) | Some(Value::Object(_))
    ) {
        return Err(ApiError::parameter_invalid("global must be an object"));
    }
    if !matches!(
        body.get("logSample"),
        None | Some(Value::Null) | Some(Value::String(_))
    ) {
        return Err(ApiError::parameter_invalid("logSample must be a string"));
    }
    let Some(Value::Array(flushers)) = body.get_mut("flushers") else {
        return Err(ApiError::parameter_invalid(
            "flushers must be a list of plugins",
        ));
    };
    let [flusher] = flushers.as_mut_slice() else {
        return Err(ApiError::parameter_invalid(
            "a config needs exactly one flusher (flusher_sls)",
        ));
    };
    if flusher.get("Type").and_then(Value::as_str) != Some(FLUSHER_SLS) {
        return Err(ApiError::parameter_invalid(format!(
            "the flusher must be of type {FLUSHER_SLS}"
        )));
    }
    let target_project = match flusher.get("Project") {
        None | Some(Value::Null) => project.name.clone(),
        Some(Value::String(text)) if text.is_empty() => project.name.clone(),
        Some(Value::String(text)) => ProjectName::parse(text)?,
        Some(_) => {
            return Err(ApiError::parameter_invalid(
                "the flusher's Project must be a string",
            ))
        }
    };
    let logstore_text = flusher
        .get("Logstore")
        .and_then(Value::as_str)
        .unwrap_or("");
    let logstore = LogstoreName::parse(logstore_text)?;
    let target = context.state.meta.get_project(&target_project).await?;
    if target.account != project.account {
        return Err(ApiError::parameter_invalid(format!(
            "the flusher's project {target_project} belongs to another account: a config may \
             only write into logstores of its own account"
        )));
    }
    context
        .state
        .meta
        .get_logstore(&target_project, &logstore)
        .await?;
    if let Some(object) = flusher.as_object_mut() {
        object.insert("Project".to_owned(), json!(target_project.as_str()));
    }
    let mut stored = Map::new();
    stored.insert("configName".to_owned(), json!(name));
    for key in PIPELINE_KEYS.iter().chain(&["logSample"]) {
        if let Some(value) = body.remove(*key).filter(|value| !value.is_null()) {
            stored.insert((*key).to_owned(), value);
        }
    }
    let stored = Value::Object(stored);
    if stored.to_string().len() > MAX_CONFIG_BYTES {
        return Err(ApiError::parameter_invalid(format!(
            "the config is larger than {MAX_CONFIG_BYTES} bytes"
        )));
    }
    Ok(stored)
}

fn config_json(config: &PipelineConfigRecord) -> Value {
    let mut object = config.detail.as_object().cloned().unwrap_or_default();
    object.insert("configName".to_owned(), json!(config.name));
    object.insert("createTime".to_owned(), json!(config.created_at));
    object.insert("lastModifyTime".to_owned(), json!(config.last_modified_at));
    object.insert("version".to_owned(), json!(config.version));
    Value::Object(object)
}

fn path_name(context: &Context<'_>) -> Result<String, ApiError> {
    let name = context.resource.unwrap_or_default();
    check_name("config", name, 2)?;
    Ok(name.to_owned())
}

/// Loads the project and authorises `action` on the path's config.
async fn authorized_config(
    context: &Context<'_>,
    action: &str,
) -> Result<(ProjectRecord, String), ApiError> {
    let name = path_name(context)?;
    let project = project_of(context).await?;
    let arn = fleet_arn(context, &project, "logtailconfig", &name);
    cairn_iam::authorize(context.principal, action, &arn)?;
    Ok((project, name))
}

pub async fn create(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let project = project_of(&context).await?;
    let body: Map<String, Value> = context.json_body()?;
    let name = match body.get("configName") {
        Some(Value::String(name)) => name.clone(),
        _ => return Err(ApiError::parameter_invalid("configName is missing")),
    };
    check_name("config", &name, 2)?;
    let arn = fleet_arn(&context, &project, "logtailconfig", &name);
    cairn_iam::authorize(context.principal, "log:CreateConfig", &arn)?;
    let detail = validated_detail(&context, &project, &name, body).await?;
    let record = context
        .state
        .meta
        .create_pipeline_config(&NewPipelineConfig {
            project: project.name.clone(),
            name,
            detail,
            created_at: now_seconds(),
        })
        .await?;
    tracing::info!(project = %project.name, config = %record.name, version = record.version,
        "pipeline config created");
    Ok(ApiResponse::empty())
}

pub async fn get(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let (project, name) = authorized_config(&context, "log:GetConfig").await?;
    let config = context
        .state
        .meta
        .get_pipeline_config(&project.name, &name)
        .await?;
    Ok(ApiResponse::json(&config_json(&config)))
}

pub async fn update(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let (project, name) = authorized_config(&context, "log:UpdateConfig").await?;
    let body: Map<String, Value> = context.json_body()?;
    if let Some(sent) = body.get("configName").and_then(Value::as_str) {
        if sent != name {
            return Err(ApiError::parameter_invalid(format!(
                "configName {sent:?} in the body differs from {name:?} in the path"
            )));
        }
    }
    let detail = validated_detail(&context, &project, &name, body).await?;
    let record = context
        .state
        .meta
        .update_pipeline_config(&project.name, &name, &detail, now_seconds())
        .await?;
    tracing::info!(project = %project.name, config = %name, version = record.version,
        "pipeline config updated");
    Ok(ApiResponse::empty())
}

pub async fn delete(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let (project, name) = authorized_config(&context, "log:DeleteConfig").await?;
    context
        .state
        .meta
        .delete_pipeline_config(&project.name, &name)
        .await?;
    tracing::info!(project = %project.name, config = %name, "pipeline config deleted");
    Ok(ApiResponse::empty())
}

pub async fn list(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let project = project_of(&context).await?;
    let arn = fleet_arn(&context, &project, "logtailconfig", "*");
    cairn_iam::authorize(context.principal, "log:ListConfig", &arn)?;
    let offset = context.query_u64("offset", 0)?;
    let size = context.query_u64("size", 100)?.min(MAX_PAGE_SIZE);
    let mut query = ListQuery::page(offset, size);
    if let Some(filter) = context
        .request
        .query_param("configName")
        .filter(|n| !n.is_empty())
    {
        query = query.with_name_containing(filter);
    }
    let page = context
        .state
        .meta
        .list_pipeline_configs(&project.name, &query)
        .await?;
    Ok(ApiResponse::json(&json!({
        "count": page.items.len(),
        "total": page.total,
        "configs": page.items,
    })))
}

pub async fn list_applied_groups(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let (project, name) = authorized_config(&context, "log:GetAppliedMachineGroups").await?;
    let groups = context
        .state
        .meta
        .list_config_groups(&project.name, &name)
        .await?;
    Ok(ApiResponse::json(&json!({
        "count": groups.len(),
        "machinegroups": groups,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_are_lists_of_typed_plugins() {
        assert!(check_stage("inputs", Some(&json!([{"Type": "input_file"}])), true).is_ok());
        assert!(check_stage("inputs", Some(&json!([])), true).is_err());
        assert!(check_stage("inputs", None, true).is_err());
        assert!(check_stage("processors", None, false).is_ok());
        assert!(check_stage("processors", Some(&json!([{"Kind": "x"}])), false).is_err());
        assert!(check_stage("processors", Some(&json!(["x"])), false).is_err());
        let many: Vec<Value> = (0..=MAX_PLUGINS).map(|_| json!({"Type": "p"})).collect();
        assert!(check_stage("processors", Some(&Value::Array(many)), false).is_err());
    }

    #[test]
    fn the_flusher_target_is_read_back() {
        let detail =
            json!({"flushers": [{"Type": "flusher_sls", "Project": "web", "Logstore": "access"}]});
        let (project, logstore) = flusher_target(&detail).expect("target");
        assert_eq!((project.as_str(), logstore.as_str()), ("web", "access"));
        assert!(flusher_target(&json!({"flushers": []})).is_none());
    }
}
