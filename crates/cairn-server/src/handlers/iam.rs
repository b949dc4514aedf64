//! Cairn's management API for accounts, users and AccessKeys (see docs/management-api.md).
//!
//! Accounts are created only by the operator account's root (the account made at first
//! start); users and AccessKeys are managed inside the caller's own account. A new
//! AccessKey's secret appears in exactly one response, the one that created it.

use cairn_iam::{authorize, PrincipalIdentity};
use cairn_meta::AccessKeyStatus;
use cairn_model::{AccessKeyId, ResourceArn, UserName};
use serde::Deserialize;
use serde_json::json;

use super::Context;
use crate::error::ApiError;
use crate::response::ApiResponse;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateAccountBody {
    #[serde(rename = "accountName")]
    account_name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateUserBody {
    #[serde(rename = "userName")]
    user_name: String,
    #[serde(rename = "displayName", default)]
    display_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateAccessKeyBody {
    #[serde(rename = "userName", default)]
    user_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateAccessKeyBody {
    status: String,
}

fn require_operator(context: &Context<'_>, action: &str) -> Result<(), ApiError> {
    let principal = context.principal;
    let arn = ResourceArn::ram(principal.account, "account/*".to_owned());
    let is_operator_root = principal.account == context.state.operator_account
        && matches!(principal.identity, PrincipalIdentity::Root);
    if !is_operator_root {
        return Err(ApiError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "Unauthorized",
            format!("denied: only the operator account's root may call {action} (resource: {arn})"),
        ));
    }
    authorize(principal, action, &arn)?;
    Ok(())
}

pub async fn create_account(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    require_operator(&context, "cairn:CreateAccount")?;
    let body: CreateAccountBody = context.json_body()?;
    let name = body.account_name.trim();
    if name.is_empty() || name.len() > 128 {
        return Err(ApiError::parameter_invalid(
            "accountName must be 1 to 128 characters",
        ));
    }
    let account = context.state.iam.create_account(name).await?;
    let key = context
        .state
        .iam
        .create_access_key(account.id, None)
        .await?;
    tracing::info!(account = %account.id, "account created");
    Ok(ApiResponse::json(&json!({
        "accountId": account.id.to_string(),
        "accountName": account.name,
        "createTime": account.created_at,
        "accessKeyId": key.id.as_str(),
        "accessKeySecret": key.secret.expose(),
    })))
}

pub async fn list_accounts(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    require_operator(&context, "cairn:ListAccounts")?;
    let accounts = context.state.meta.list_accounts().await?;
    let accounts: Vec<_> = accounts
        .iter()
        .map(|a| json!({"accountId": a.id.to_string(), "accountName": a.name, "createTime": a.created_at}))
        .collect();
    Ok(ApiResponse::json(&json!({ "accounts": accounts })))
}

pub async fn create_user(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let body: CreateUserBody = context.json_body()?;
    let name = UserName::parse(&body.user_name)?;
    let account = context.principal.account;
    authorize(
        context.principal,
        "ram:CreateUser",
        &ResourceArn::user(account, &name),
    )?;
    let display_name = body.display_name.unwrap_or_else(|| name.to_string());
    let user = context
        .state
        .iam
        .create_user(account, name, display_name)
        .await?;
    Ok(ApiResponse::json(&json!({
        "userName": user.name.as_str(),
        "displayName": user.display_name,
        "createTime": user.created_at,
    })))
}

pub async fn list_users(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let account = context.principal.account;
    authorize(
        context.principal,
        "ram:ListUsers",
        &ResourceArn::ram(account, "user/*".to_owned()),
    )?;
    let users = context.state.meta.list_users(account).await?;
    let users: Vec<_> = users
        .iter()
        .map(|u| json!({"userName": u.name.as_str(), "displayName": u.display_name, "createTime": u.created_at}))
        .collect();
    Ok(ApiResponse::json(&json!({ "users": users })))
}

pub async fn delete_user(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let name = UserName::parse(context.resource.unwrap_or_default())?;
    let account = context.principal.account;
    authorize(
        context.principal,
        "ram:DeleteUser",
        &ResourceArn::user(account, &name),
    )?;
    context.state.iam.delete_user(account, &name).await?;
    Ok(ApiResponse::empty())
}

pub async fn create_access_key(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let body: CreateAccessKeyBody = context.json_body()?;
    let account = context.principal.account;
    let user = body.user_name.as_deref().map(UserName::parse).transpose()?;
    authorize(
        context.principal,
        "ram:CreateAccessKey",
        &key_owner_arn(account, user.as_ref()),
    )?;
    let key = context
        .state
        .iam
        .create_access_key(account, user.clone())
        .await?;
    Ok(ApiResponse::json(&json!({
        "accessKeyId": key.id.as_str(),
        "accessKeySecret": key.secret.expose(),
        "userName": user.as_ref().map(UserName::as_str),
        "status": "Active",
        "createTime": key.created_at,
    })))
}

pub async fn list_access_keys(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let account = context.principal.account;
    authorize(
        context.principal,
        "ram:ListAccessKeys",
        &ResourceArn::ram(account, "user/*".to_owned()),
    )?;
    let keys = context.state.iam.list_access_keys(account).await?;
    let keys: Vec<_> = keys
        .iter()
        .map(|k| {
            json!({
                "accessKeyId": k.id.as_str(),
                "userName": k.user.as_ref().map(UserName::as_str),
                "status": k.status.as_str(),
                "createTime": k.created_at,
                "lastUsedTime": k.last_used_at,
            })
        })
        .collect();
    Ok(ApiResponse::json(&json!({ "accessKeys": keys })))
}

pub async fn update_access_key(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let (id, user) = owned_key(&context).await?;
    authorize(
        context.principal,
        "ram:UpdateAccessKey",
        &key_owner_arn(context.principal.account, user.as_ref()),
    )?;
    let body: UpdateAccessKeyBody = context.json_body()?;
    let status = match body.status.as_str() {
        "Active" => AccessKeyStatus::Active,
        "Disabled" | "Inactive" => AccessKeyStatus::Disabled,
        other => {
            return Err(ApiError::parameter_invalid(format!(
                "status must be Active or Disabled, got {other:?}"
            )))
        }
    };
    context
        .state
        .iam
        .set_access_key_status(context.principal.account, &id, status)
        .await?;
    Ok(ApiResponse::empty())
}

pub async fn delete_access_key(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let (id, user) = owned_key(&context).await?;
    authorize(
        context.principal,
        "ram:DeleteAccessKey",
        &key_owner_arn(context.principal.account, user.as_ref()),
    )?;
    context
        .state
        .iam
        .delete_access_key(context.principal.account, &id)
        .await?;
    Ok(ApiResponse::empty())
}

/// The key named in the path, if it belongs to the caller's account (otherwise it does not
/// exist as far as the caller can tell).
async fn owned_key(context: &Context<'_>) -> Result<(AccessKeyId, Option<UserName>), ApiError> {
    let text = context.resource.unwrap_or_default();
    let not_found = || {
        ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "AccessKeyNotExist",
            format!("AccessKey {text} does not exist"),
        )
    };
    let id = AccessKeyId::parse(text).map_err(|_| not_found())?;
    let keys = context
        .state
        .iam
        .list_access_keys(context.principal.account)
        .await?;
    let key = keys
        .into_iter()
        .find(|k| k.id == id)
        .ok_or_else(not_found)?;
    Ok((id, key.user))
}

fn key_owner_arn(account: cairn_model::AccountId, user: Option<&UserName>) -> ResourceArn {
    match user {
        Some(user) => ResourceArn::user(account, user),
        None => ResourceArn::ram(account, "root".to_owned()),
    }
}
