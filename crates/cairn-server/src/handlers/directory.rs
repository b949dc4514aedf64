//! Resource directory APIs: enable, members, invitations and delegated administrators
//! (see docs/management-api.md).
//!
//! Who may do what is decided by the directory service itself (management root, invited root,
//! delegated administrator). This module adds one thing: every account that joins gets the role
//! [`ACCESS_ROLE_NAME`] trusting the management account, with administrator access, so the
//! management account reaches members only by assuming a role, never with their keys.

use cairn_iam::{DirectoryService, MemberRecord, PolicyReference, PolicyTarget, SystemPolicy};
use cairn_model::{AccountId, RoleName};
use serde::Deserialize;
use serde_json::{json, Value};

use super::Context;
use crate::error::ApiError;
use crate::response::ApiResponse;
use crate::state::ServerState;

/// The role a member account gets so the management account can administer it.
pub const ACCESS_ROLE_NAME: &str = "ResourceDirectoryAccountAccessRole";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateMemberBody {
    #[serde(rename = "accountName")]
    account_name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountBody {
    #[serde(rename = "accountId")]
    account_id: String,
}

fn member_json(member: &MemberRecord) -> Value {
    json!({
        "accountId": member.account.to_string(),
        "accountName": member.account_name,
        "joinMethod": format!("{:?}", member.join_method),
        "joinTime": member.joined_at,
    })
}

fn account_from(text: &str) -> Result<AccountId, ApiError> {
    Ok(AccountId::parse(text)?)
}

fn service_from(text: &str) -> Result<DirectoryService, ApiError> {
    DirectoryService::parse(text).ok_or_else(|| {
        ApiError::parameter_invalid(format!("service must be trail or logaudit, got {text:?}"))
    })
}

/// Gives a member account the access role trusting `management`; idempotent.
async fn ensure_access_role(
    state: &ServerState,
    member: AccountId,
    management: AccountId,
) -> Result<(), ApiError> {
    let name = RoleName::parse(ACCESS_ROLE_NAME)?;
    if state.iam.get_role(member, &name).await.is_ok() {
        return Ok(());
    }
    let trust = json!({
        "Version": "1",
        "Statement": [{
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Principal": {"RAM": [format!("acs:ram::{management}:root")]},
        }],
    });
    state
        .iam
        .create_role(
            member,
            name.clone(),
            &trust.to_string(),
            "lets the resource directory's management account administer this member".to_owned(),
            None,
        )
        .await?;
    state
        .iam
        .attach_policy(
            member,
            &PolicyReference::System(SystemPolicy::AdministratorAccess),
            &PolicyTarget::Role(name),
        )
        .await?;
    Ok(())
}

pub async fn enable(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let directory = context.state.directory.enable(context.principal).await?;
    tracing::info!(directory = %directory.directory_id, management = %directory.management_account, "resource directory enabled");
    Ok(ApiResponse::json(&json!({
        "directoryId": directory.directory_id,
        "managementAccountId": directory.management_account.to_string(),
        "enableTime": directory.enabled_at,
    })))
}

pub async fn get(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    match context.state.directory.get(context.principal).await? {
        None => Err(ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "ResourceDirectoryNotExist",
            "this account is in no resource directory",
        )),
        Some((directory, role)) => Ok(ApiResponse::json(&json!({
            "directoryId": directory.directory_id,
            "managementAccountId": directory.management_account.to_string(),
            "enableTime": directory.enabled_at,
            "callerRole": format!("{role:?}"),
        }))),
    }
}

pub async fn create_member(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let body: CreateMemberBody = context.json_body()?;
    let member = context
        .state
        .directory
        .create_member(context.principal, body.account_name.trim())
        .await?;
    ensure_access_role(context.state, member.account, context.principal.account).await?;
    Ok(ApiResponse::json(&member_json(&member)))
}

pub async fn list_members(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let members = context
        .state
        .directory
        .list_members(context.principal)
        .await?;
    let members: Vec<Value> = members.iter().map(member_json).collect();
    Ok(ApiResponse::json(&json!({ "members": members })))
}

pub async fn remove_member(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let account = account_from(context.resource.unwrap_or_default())?;
    context
        .state
        .directory
        .remove_member(context.principal, account)
        .await?;
    Ok(ApiResponse::empty())
}

pub async fn invite(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let body: AccountBody = context.json_body()?;
    let invitation = context
        .state
        .directory
        .invite(context.principal, account_from(&body.account_id)?)
        .await?;
    Ok(ApiResponse::json(&invitation_json(&invitation)))
}

fn invitation_json(invitation: &cairn_iam::InvitationRecord) -> Value {
    json!({
        "invitationId": invitation.invitation_id,
        "directoryId": invitation.directory_id,
        "accountId": invitation.account.to_string(),
        "status": format!("{:?}", invitation.status),
        "createTime": invitation.created_at,
    })
}

pub async fn list_invitations(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let invitations = context
        .state
        .directory
        .list_invitations(context.principal)
        .await?;
    let invitations: Vec<Value> = invitations.iter().map(invitation_json).collect();
    Ok(ApiResponse::json(&json!({ "invitations": invitations })))
}

pub async fn respond_to_invitation(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let resource = context.resource.unwrap_or_default();
    let (id, response) = resource.split_once('/').unwrap_or((resource, ""));
    let directory = &context.state.directory;
    match response {
        "accept" => {
            let member = directory.accept_invitation(context.principal, id).await?;
            let record = directory
                .directory_of(member.account)
                .await?
                .ok_or_else(|| ApiError::internal("an accepted member has no directory"))?;
            ensure_access_role(context.state, member.account, record.management_account).await?;
        }
        "decline" => directory.decline_invitation(context.principal, id).await?,
        "cancel" => directory.cancel_invitation(context.principal, id).await?,
        other => {
            return Err(ApiError::no_such_api(
                "POST",
                &format!("/rd/invitations/{id}/{other}"),
            ))
        }
    }
    Ok(ApiResponse::empty())
}

pub async fn set_delegated_administrator(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let service = service_from(context.resource.unwrap_or_default())?;
    let body: AccountBody = context.json_body()?;
    context
        .state
        .directory
        .set_delegated_administrator(context.principal, service, account_from(&body.account_id)?)
        .await?;
    Ok(ApiResponse::empty())
}

pub async fn remove_delegated_administrator(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let service = service_from(context.resource.unwrap_or_default())?;
    context
        .state
        .directory
        .remove_delegated_administrator(context.principal, service)
        .await?;
    Ok(ApiResponse::empty())
}

pub async fn list_delegated_administrators(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let delegates = context
        .state
        .directory
        .delegated_administrators(context.principal)
        .await?;
    let delegates: Vec<Value> = delegates
        .iter()
        .map(|(service, account)| json!({"service": service.as_str(), "accountId": account.to_string()}))
        .collect();
    Ok(ApiResponse::json(
        &json!({ "delegatedAdministrators": delegates }),
    ))
}
