//! Copy and transform jobs on SLS's `/etls` API: create, list, get with live status, stop,
//! delete (see docs/management-api.md).
//!
//! A job is a resource of the project it is created in and belongs to that project's owner;
//! creating one needs `log:CreateETL` on it. What the job may then read and write is decided
//! later, at run time, by the roles named in it: the caller's own rights are not lent to it.

use cairn_jobs::{JobDefinition, JobName, JobStatus};
use cairn_model::{AccountId, ResourceArn};
use serde_json::{json, Value};

use super::Context;
use crate::error::ApiError;
use crate::response::ApiResponse;

/// `acs:log:<region>:<owner>:project/<project>/job/<name>`.
fn job_arn(context: &Context<'_>, owner: AccountId, project: &str, name: &str) -> ResourceArn {
    ResourceArn {
        service: "log".to_owned(),
        region: context.state.region.clone(),
        account: owner,
        resource: format!("project/{project}/job/{name}"),
    }
}

fn job_json(definition: &JobDefinition, status: &JobStatus) -> Result<Value, ApiError> {
    let mut value = definition.to_etl_json();
    let status = serde_json::to_value(status).map_err(ApiError::internal)?;
    if let Some(object) = value.as_object_mut() {
        object.insert("status".to_owned(), status);
    }
    Ok(value)
}

fn job_name(context: &Context<'_>) -> Result<JobName, ApiError> {
    Ok(JobName::parse(context.resource.unwrap_or_default())?)
}

pub async fn create(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let project = context.authorized_project("log:GetProject").await?;
    let body: Value = context.json_body()?;
    // Authorise before validating the rest, so a caller without rights learns nothing.
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::parameter_invalid("name is missing"))?;
    let arn = job_arn(&context, project.account, project.name.as_str(), name);
    cairn_iam::authorize(context.principal, "log:CreateETL", &arn)?;
    let definition = JobDefinition::from_etl_json(project.account, &project.name, &body)?;
    // A job acts with the roles it names; its creator must be allowed to use both, or
    // CreateETL would lend every role that trusts the account to anyone who may create jobs.
    for role in [&definition.source.role_arn, &definition.sink.role_arn] {
        let arn = ResourceArn::parse(role)?;
        cairn_iam::authorize_assume_role(context.principal, &arn)?;
    }
    let status = context.state.jobs.create(definition.clone()).await?;
    tracing::info!(project = %project.name, job = %definition.name, state = ?status.state, "job created");
    Ok(ApiResponse::empty())
}

pub async fn list(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let project = context.authorized_project("log:ListETL").await?;
    let jobs = context.state.jobs.list(project.account).await?;
    let results = jobs
        .iter()
        .filter(|(definition, _)| definition.source.project == project.name)
        .map(|(definition, status)| job_json(definition, status))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ApiResponse::json(&json!({
        "count": results.len(),
        "total": results.len(),
        "results": results,
    })))
}

pub async fn get(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let name = job_name(&context)?;
    let project = context.authorized_project("log:GetProject").await?;
    let arn = job_arn(
        &context,
        project.account,
        project.name.as_str(),
        name.as_str(),
    );
    cairn_iam::authorize(context.principal, "log:GetETL", &arn)?;
    let (definition, status) = context.state.jobs.get(project.account, &name).await?;
    Ok(ApiResponse::json(&job_json(&definition, &status)?))
}

pub async fn update(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let name = job_name(&context)?;
    let project = context.authorized_project("log:GetProject").await?;
    let arn = job_arn(
        &context,
        project.account,
        project.name.as_str(),
        name.as_str(),
    );
    match context.request.query_param("action") {
        Some(action) if action.eq_ignore_ascii_case("STOP") => {
            cairn_iam::authorize(context.principal, "log:StopETL", &arn)?;
            context.state.jobs.stop(project.account, &name).await?;
            Ok(ApiResponse::empty())
        }
        other => Err(ApiError::parameter_invalid(format!(
            "only PUT /etls/{name}?action=STOP is supported (got action {other:?}); to change a job, delete it and create it again"
        ))),
    }
}

pub async fn delete(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let name = job_name(&context)?;
    let project = context.authorized_project("log:GetProject").await?;
    let arn = job_arn(
        &context,
        project.account,
        project.name.as_str(),
        name.as_str(),
    );
    cairn_iam::authorize(context.principal, "log:DeleteETL", &arn)?;
    context.state.jobs.delete(project.account, &name).await?;
    Ok(ApiResponse::empty())
}
