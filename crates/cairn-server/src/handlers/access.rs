//! Policies, roles and STS: the management of who may do what, and the exchange of a role for
//! temporary credentials (see docs/management-api.md).
//!
//! Every call acts inside the caller's own account and is authorised like any other API, with
//! RAM action names on `acs:ram::<account>:policy/<name>` and `role/<name>` ARNs. The one call
//! that reaches into another account is AssumeRole, and there the *role's* trust policy decides.

use cairn_iam::{
    AssumeRoleRequest, PolicyRecord, PolicyReference, PolicyTarget, RoleRecord, SystemPolicy,
};
use cairn_model::{AccessKeyId, PolicyName, ResourceArn, RoleName, UserName};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{authorize_ram, Context};
use crate::error::ApiError;
use crate::response::ApiResponse;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreatePolicyBody {
    #[serde(rename = "policyName")]
    policy_name: String,
    #[serde(rename = "policyDocument")]
    policy_document: Value,
    #[serde(default)]
    description: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AttachmentBody {
    #[serde(rename = "policyType", default)]
    policy_type: Option<String>,
    #[serde(rename = "policyName")]
    policy_name: String,
    #[serde(rename = "principalType")]
    principal_type: String,
    #[serde(rename = "principalName")]
    principal_name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRoleBody {
    #[serde(rename = "roleName")]
    role_name: String,
    #[serde(rename = "assumeRolePolicyDocument")]
    trust_policy: Value,
    #[serde(default)]
    description: String,
    #[serde(rename = "maxSessionDuration", default)]
    max_session_duration: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateRoleBody {
    #[serde(rename = "assumeRolePolicyDocument")]
    trust_policy: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssumeRoleBody {
    #[serde(rename = "roleArn")]
    role_arn: String,
    #[serde(rename = "roleSessionName")]
    role_session_name: String,
    #[serde(rename = "durationSeconds", default)]
    duration_seconds: Option<u32>,
    #[serde(rename = "externalId", default)]
    external_id: Option<String>,
}

/// A policy document sent either as JSON text or as a JSON object.
fn document_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn policy_json(policy: &PolicyRecord, with_document: bool) -> Value {
    let mut value = json!({
        "policyName": policy.name,
        "policyType": policy.kind.as_str(),
        "description": policy.description,
        "createTime": policy.created_at,
    });
    if with_document {
        value["policyDocument"] = Value::String(policy.document.clone());
    }
    value
}

fn role_json(role: &RoleRecord) -> Value {
    json!({
        "roleName": role.name.as_str(),
        "arn": role.arn().to_string(),
        "assumeRolePolicyDocument": role.trust_policy,
        "description": role.description,
        "maxSessionDuration": role.max_session_seconds,
        "createTime": role.created_at,
    })
}

fn policy_reference(policy_type: Option<&str>, name: &str) -> Result<PolicyReference, ApiError> {
    match policy_type {
        Some("System") => SystemPolicy::from_name(name)
            .map(PolicyReference::System)
            .ok_or_else(|| {
                ApiError::new(
                    axum::http::StatusCode::NOT_FOUND,
                    "PolicyNotExist",
                    format!("system policy {name} does not exist"),
                )
            }),
        None | Some("Custom") => Ok(PolicyReference::Custom(PolicyName::parse(name)?)),
        Some(other) => Err(ApiError::parameter_invalid(format!(
            "policyType must be System or Custom, got {other:?}"
        ))),
    }
}

fn policy_target(kind: &str, name: &str) -> Result<PolicyTarget, ApiError> {
    match kind {
        "User" => Ok(PolicyTarget::User(UserName::parse(name)?)),
        "Role" => Ok(PolicyTarget::Role(RoleName::parse(name)?)),
        other => Err(ApiError::parameter_invalid(format!(
            "principalType must be User or Role, got {other:?}"
        ))),
    }
}

fn target_arn(account: cairn_model::AccountId, target: &PolicyTarget) -> ResourceArn {
    match target {
        PolicyTarget::User(user) => ResourceArn::user(account, user),
        PolicyTarget::Role(role) => ResourceArn::ram(account, format!("role/{role}")),
    }
}

pub async fn create_policy(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let body: CreatePolicyBody = context.json_body()?;
    let name = PolicyName::parse(&body.policy_name)?;
    let account = context.principal.account;
    authorize_ram(&context, "ram:CreatePolicy", format!("policy/{name}"))?;
    let policy = context
        .state
        .iam
        .create_policy(
            account,
            name,
            &document_text(&body.policy_document),
            body.description,
        )
        .await?;
    Ok(ApiResponse::json(&policy_json(&policy, true)))
}

pub async fn list_policies(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    authorize_ram(&context, "ram:ListPolicies", "policy/*".to_owned())?;
    let policies = context
        .state
        .iam
        .list_policies(context.principal.account)
        .await?;
    let policies: Vec<Value> = policies.iter().map(|p| policy_json(p, false)).collect();
    Ok(ApiResponse::json(&json!({ "policies": policies })))
}

pub async fn get_policy(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let name = context.resource.unwrap_or_default();
    authorize_ram(&context, "ram:GetPolicy", format!("policy/{name}"))?;
    let account = context.principal.account;
    let iam = &context.state.iam;
    let policy = match context.request.query_param("policyType") {
        Some(kind) => {
            iam.get_policy(account, &policy_reference(Some(kind), name)?)
                .await?
        }
        None => match PolicyName::parse(name) {
            Ok(custom) => match iam
                .get_policy(account, &PolicyReference::Custom(custom))
                .await
            {
                Ok(policy) => policy,
                Err(_) => {
                    iam.get_policy(account, &policy_reference(Some("System"), name)?)
                        .await?
                }
            },
            Err(_) => {
                iam.get_policy(account, &policy_reference(Some("System"), name)?)
                    .await?
            }
        },
    };
    Ok(ApiResponse::json(&policy_json(&policy, true)))
}

pub async fn delete_policy(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let name = PolicyName::parse(context.resource.unwrap_or_default())?;
    authorize_ram(&context, "ram:DeletePolicy", format!("policy/{name}"))?;
    context
        .state
        .iam
        .delete_policy(context.principal.account, &name)
        .await?;
    Ok(ApiResponse::empty())
}

pub async fn attach_policy(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let body: AttachmentBody = context.json_body()?;
    change_attachment(&context, body, true).await
}

pub async fn detach_policy(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let query = |name: &str| {
        context
            .request
            .query_param(name)
            .map(str::to_owned)
            .ok_or_else(|| {
                ApiError::parameter_invalid(format!("query parameter {name} is missing"))
            })
    };
    let body = AttachmentBody {
        policy_type: context.request.query_param("policyType").map(str::to_owned),
        policy_name: query("policyName")?,
        principal_type: query("principalType")?,
        principal_name: query("principalName")?,
    };
    change_attachment(&context, body, false).await
}

async fn change_attachment(
    context: &Context<'_>,
    body: AttachmentBody,
    attach: bool,
) -> Result<ApiResponse, ApiError> {
    let account = context.principal.account;
    let policy = policy_reference(body.policy_type.as_deref(), &body.policy_name)?;
    let target = policy_target(&body.principal_type, &body.principal_name)?;
    let action = if attach {
        "ram:AttachPolicy"
    } else {
        "ram:DetachPolicy"
    };
    cairn_iam::authorize(context.principal, action, &target_arn(account, &target))?;
    let iam = &context.state.iam;
    if attach {
        iam.attach_policy(account, &policy, &target).await?;
    } else {
        iam.detach_policy(account, &policy, &target).await?;
    }
    Ok(ApiResponse::empty())
}

pub async fn list_attached_policies(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let request = context.request;
    let target = policy_target(
        request.query_param("principalType").unwrap_or_default(),
        request.query_param("principalName").unwrap_or_default(),
    )?;
    let account = context.principal.account;
    cairn_iam::authorize(
        context.principal,
        "ram:ListPoliciesForTarget",
        &target_arn(account, &target),
    )?;
    let policies = context
        .state
        .iam
        .list_attached_policies(account, &target)
        .await?;
    let policies: Vec<Value> = policies.iter().map(|p| policy_json(p, false)).collect();
    Ok(ApiResponse::json(&json!({ "policies": policies })))
}

pub async fn create_role(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let body: CreateRoleBody = context.json_body()?;
    let name = RoleName::parse(&body.role_name)?;
    authorize_ram(&context, "ram:CreateRole", format!("role/{name}"))?;
    let role = context
        .state
        .iam
        .create_role(
            context.principal.account,
            name,
            &document_text(&body.trust_policy),
            body.description,
            body.max_session_duration,
        )
        .await?;
    Ok(ApiResponse::json(&role_json(&role)))
}

pub async fn list_roles(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    authorize_ram(&context, "ram:ListRoles", "role/*".to_owned())?;
    let roles = context
        .state
        .iam
        .list_roles(context.principal.account)
        .await?;
    let roles: Vec<Value> = roles.iter().map(role_json).collect();
    Ok(ApiResponse::json(&json!({ "roles": roles })))
}

pub async fn get_role(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let name = RoleName::parse(context.resource.unwrap_or_default())?;
    authorize_ram(&context, "ram:GetRole", format!("role/{name}"))?;
    let role = context
        .state
        .iam
        .get_role(context.principal.account, &name)
        .await?;
    Ok(ApiResponse::json(&role_json(&role)))
}

pub async fn update_role(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let name = RoleName::parse(context.resource.unwrap_or_default())?;
    authorize_ram(&context, "ram:UpdateRole", format!("role/{name}"))?;
    let body: UpdateRoleBody = context.json_body()?;
    context
        .state
        .iam
        .update_role_trust_policy(
            context.principal.account,
            &name,
            &document_text(&body.trust_policy),
        )
        .await?;
    Ok(ApiResponse::empty())
}

pub async fn delete_role(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let name = RoleName::parse(context.resource.unwrap_or_default())?;
    authorize_ram(&context, "ram:DeleteRole", format!("role/{name}"))?;
    context
        .state
        .iam
        .delete_role(context.principal.account, &name)
        .await?;
    Ok(ApiResponse::empty())
}

pub async fn assume_role(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let body: AssumeRoleBody = context.json_body()?;
    let credentials = context
        .state
        .iam
        .assume_role(
            context.principal,
            AssumeRoleRequest {
                role_arn: body.role_arn,
                session_name: body.role_session_name,
                duration_seconds: body.duration_seconds,
                external_id: body.external_id,
            },
        )
        .await?;
    tracing::info!(
        role = %credentials.role_arn,
        access_key_id = %credentials.access_key_id,
        caller = %context.principal.account,
        "role assumed"
    );
    Ok(ApiResponse::json(&json!({
        "credentials": {
            "accessKeyId": credentials.access_key_id.as_str(),
            "accessKeySecret": credentials.secret.expose(),
            "securityToken": credentials.security_token.expose(),
            "expiration": credentials.expiration,
        },
        "assumedRoleUser": {
            "arn": credentials.role_arn,
            "assumedRoleId": credentials.assumed_role_id,
        },
    })))
}

pub async fn revoke_session(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let text = context.resource.unwrap_or_default();
    let key = AccessKeyId::parse(text)?;
    authorize_ram(&context, "sts:RevokeSession", "role/*".to_owned())?;
    context
        .state
        .iam
        .revoke_session(context.principal.account, &key)
        .await?;
    Ok(ApiResponse::empty())
}
