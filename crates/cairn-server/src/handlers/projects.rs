//! Project APIs: CreateProject, GetProject, UpdateProject, DeleteProject, ListProject.

use cairn_meta::{ListQuery, ProjectRecord};
use cairn_model::{ProjectName, ResourceArn};
use serde::Deserialize;
use serde_json::json;

use super::{now_seconds, Context};
use crate::error::ApiError;
use crate::response::ApiResponse;

/// The largest page ListProject returns.
const MAX_PAGE_SIZE: u64 = 500;

#[derive(Deserialize)]
struct CreateProjectBody {
    #[serde(rename = "projectName")]
    project_name: Option<String>,
    #[serde(default)]
    description: String,
}

#[derive(Deserialize)]
struct UpdateProjectBody {
    #[serde(default)]
    description: String,
}

pub async fn create(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let body: CreateProjectBody = context.json_body()?;
    let name_text = match (&body.project_name, &context.request.project) {
        (Some(body_name), Some(host_name)) if body_name != host_name => {
            return Err(ApiError::parameter_invalid(format!(
                "projectName {body_name:?} in the body differs from project {host_name:?} in the Host"
            )))
        }
        (Some(name), _) | (None, Some(name)) => name.clone(),
        (None, None) => {
            return Err(ApiError::parameter_invalid(
                "projectName is missing: send it in the body or as the Host's first label",
            ))
        }
    };
    let name = ProjectName::parse(&name_text)?;
    if body.description.len() > 1024 {
        return Err(ApiError::parameter_invalid(
            "description must be at most 1024 bytes",
        ));
    }
    let arn = ResourceArn::project(&context.state.region, context.principal.account, &name);
    cairn_iam::authorize(context.principal, "log:CreateProject", &arn)?;
    let now = now_seconds();
    context
        .state
        .meta
        .create_project(&ProjectRecord {
            name,
            account: context.principal.account,
            description: body.description,
            created_at: now,
            last_modified_at: now,
        })
        .await?;
    Ok(ApiResponse::empty())
}

pub async fn get(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let project = context.authorized_project("log:GetProject").await?;
    Ok(ApiResponse::json(&project_json(
        &project,
        &context.state.region,
    )))
}

pub async fn update(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let project = context.authorized_project("log:UpdateProject").await?;
    let body: UpdateProjectBody = context.json_body()?;
    context
        .state
        .meta
        .update_project_description(&project.name, &body.description, now_seconds())
        .await?;
    Ok(ApiResponse::empty())
}

pub async fn delete(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let project = context.authorized_project("log:DeleteProject").await?;
    let mut offset = 0;
    loop {
        let page = context
            .state
            .meta
            .list_logstores(&project.name, &ListQuery::page(offset, 500))
            .await?;
        for name in &page.items {
            let logstore = context.state.meta.get_logstore(&project.name, name).await?;
            if super::logstores::is_write_protected(&logstore) {
                return Err(super::logstores::write_protected(
                    name,
                    "deleting its project",
                ));
            }
        }
        offset += page.items.len() as u64;
        if page.items.is_empty() || offset >= page.total {
            break;
        }
    }
    let dropped = context.state.meta.delete_project(&project.name).await?;
    for logstore in dropped {
        context.state.engine.drop_logstore(logstore).await?;
    }
    tracing::info!(project = %project.name, "project deleted");
    Ok(ApiResponse::empty())
}

pub async fn list(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let arn = ResourceArn::all_projects(&context.state.region, context.principal.account);
    cairn_iam::authorize(context.principal, "log:ListProject", &arn)?;
    let offset = context.query_u64("offset", 0)?;
    let size = context.query_u64("size", 100)?.min(MAX_PAGE_SIZE);
    let mut query = ListQuery::page(offset, size);
    if let Some(name) = context
        .request
        .query_param("projectName")
        .filter(|n| !n.is_empty())
    {
        query = query.with_name_containing(name);
    }
    let page = context
        .state
        .meta
        .list_projects(context.principal.account, &query)
        .await?;
    let projects: Vec<_> = page
        .items
        .iter()
        .map(|p| project_json(p, &context.state.region))
        .collect();
    Ok(ApiResponse::json(&json!({
        "count": projects.len(),
        "total": page.total,
        "projects": projects,
    })))
}

fn project_json(project: &ProjectRecord, region: &str) -> serde_json::Value {
    json!({
        "projectName": project.name.as_str(),
        "description": project.description,
        "region": region,
        "owner": project.account.to_string(),
        "createTime": project.created_at.to_string(),
        "lastModifyTime": project.last_modified_at.to_string(),
        "status": "Normal",
        "resourceGroupId": "",
        "dataRedundancyType": "LRS",
    })
}
