//! Index config APIs: CreateIndex, UpdateIndex, GetIndex, DeleteIndex.

use cairn_model::IndexConfig;

use super::{now_seconds, Context};
use crate::error::ApiError;
use crate::response::ApiResponse;

pub async fn create(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let (project, logstore) = context.authorized_logstore("log:CreateIndex").await?;
    let config = parse(&context)?;
    context
        .state
        .meta
        .create_index(&project.name, &logstore.name, &config, now_seconds())
        .await?;
    Ok(ApiResponse::empty())
}

pub async fn update(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let (project, logstore) = context.authorized_logstore("log:UpdateIndex").await?;
    let config = parse(&context)?;
    context
        .state
        .meta
        .update_index(&project.name, &logstore.name, &config, now_seconds())
        .await?;
    Ok(ApiResponse::empty())
}

pub async fn get(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let (project, logstore) = context.authorized_logstore("log:GetIndex").await?;
    let config = context
        .state
        .meta
        .get_index(&project.name, &logstore.name)
        .await?;
    let mut value = serde_json::to_value(&config).map_err(ApiError::internal)?;
    if let Some(object) = value.as_object_mut() {
        object.insert("index_mode".into(), "v2".into());
    }
    Ok(ApiResponse::json(&value))
}

pub async fn delete(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let (project, logstore) = context.authorized_logstore("log:DeleteIndex").await?;
    context
        .state
        .meta
        .delete_index(&project.name, &logstore.name)
        .await?;
    Ok(ApiResponse::empty())
}

fn parse(context: &Context<'_>) -> Result<IndexConfig, ApiError> {
    let config = IndexConfig::from_json(&context.request.body)?;
    config.validate()?;
    Ok(config)
}
