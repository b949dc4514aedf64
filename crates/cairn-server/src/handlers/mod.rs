//! API handlers, one module per resource, and the helpers they share.
//!
//! Every handler authorises before it reads or changes anything: it resolves the resource
//! (project, logstore), builds its ARN with the *owner's* account and asks
//! [`cairn_iam::authorize`]. A principal of another account is therefore refused even when it
//! names the resource exactly.

mod access;
mod agent_fleet;
mod agent_heartbeat;
mod agent_tokens;
mod consumer_groups;
mod directory;
mod iam;
mod index;
mod jobs;
mod logs_query;
mod logstores;
mod machine_groups;
mod pipeline_configs;
mod projects;
mod pull_logs;
mod put_logs;
mod shards;
mod sql_query;

use cairn_iam::Principal;
use cairn_meta::{LogstoreRecord, ProjectRecord};
use cairn_model::{LogstoreName, ResourceArn};
use serde::de::DeserializeOwned;

use crate::dispatch::Api;
use crate::error::ApiError;
use crate::request::ApiRequest;
use crate::response::ApiResponse;
use crate::state::ServerState;

/// What a handler gets: the state, the request, who sent it and the path's resource name.
pub struct Context<'a> {
    /// Shared server state.
    pub state: &'a ServerState,
    /// The parsed request.
    pub request: &'a ApiRequest,
    /// The authenticated caller.
    pub principal: &'a Principal,
    /// The logstore, user or AccessKey named in the path.
    pub resource: Option<&'a str>,
    /// The name below the resource in the path (a shard id, a consumer group).
    pub item: Option<&'a str>,
}

/// Runs the handler of `api`.
pub async fn handle(api: Api, context: Context<'_>) -> Result<ApiResponse, ApiError> {
    match api {
        Api::ListProject => projects::list(context).await,
        Api::CreateProject => projects::create(context).await,
        Api::GetProject => projects::get(context).await,
        Api::UpdateProject => projects::update(context).await,
        Api::DeleteProject => projects::delete(context).await,
        Api::ListLogStores => logstores::list(context).await,
        Api::CreateLogStore => logstores::create(context).await,
        Api::GetLogStore => logstores::get(context).await,
        Api::UpdateLogStore => logstores::update(context).await,
        Api::DeleteLogStore => logstores::delete(context).await,
        Api::PutLogs => put_logs::put_logs(context).await,
        Api::GetLogs => logs_query::get_logs_v1(context).await,
        Api::GetLogsV2 => logs_query::get_logs_v2(context).await,
        Api::GetHistograms => logs_query::get_histograms(context).await,
        Api::ListTopics => logs_query::list_topics(context).await,
        Api::CreateIndex => index::create(context).await,
        Api::UpdateIndex => index::update(context).await,
        Api::GetIndex => index::get(context).await,
        Api::DeleteIndex => index::delete(context).await,
        Api::CreateAccount => iam::create_account(context).await,
        Api::ListAccounts => iam::list_accounts(context).await,
        Api::CreateUser => iam::create_user(context).await,
        Api::ListUsers => iam::list_users(context).await,
        Api::DeleteUser => iam::delete_user(context).await,
        Api::CreateAccessKey => iam::create_access_key(context).await,
        Api::ListAccessKeys => iam::list_access_keys(context).await,
        Api::UpdateAccessKey => iam::update_access_key(context).await,
        Api::DeleteAccessKey => iam::delete_access_key(context).await,
        Api::CreatePolicy => access::create_policy(context).await,
        Api::ListPolicies => access::list_policies(context).await,
        Api::GetPolicy => access::get_policy(context).await,
        Api::DeletePolicy => access::delete_policy(context).await,
        Api::AttachPolicy => access::attach_policy(context).await,
        Api::DetachPolicy => access::detach_policy(context).await,
        Api::ListAttachedPolicies => access::list_attached_policies(context).await,
        Api::CreateRole => access::create_role(context).await,
        Api::ListRoles => access::list_roles(context).await,
        Api::GetRole => access::get_role(context).await,
        Api::UpdateRole => access::update_role(context).await,
        Api::DeleteRole => access::delete_role(context).await,
        Api::AssumeRole => access::assume_role(context).await,
        Api::RevokeSession => access::revoke_session(context).await,
        Api::EnableResourceDirectory => directory::enable(context).await,
        Api::GetResourceDirectory => directory::get(context).await,
        Api::CreateMemberAccount => directory::create_member(context).await,
        Api::ListMembers => directory::list_members(context).await,
        Api::RemoveMember => directory::remove_member(context).await,
        Api::InviteAccount => directory::invite(context).await,
        Api::ListInvitations => directory::list_invitations(context).await,
        Api::RespondToInvitation => directory::respond_to_invitation(context).await,
        Api::SetDelegatedAdministrator => directory::set_delegated_administrator(context).await,
        Api::RemoveDelegatedAdministrator => {
            directory::remove_delegated_administrator(context).await
        }
        Api::ListDelegatedAdministrators => directory::list_delegated_administrators(context).await,
        Api::CreateEtl => jobs::create(context).await,
        Api::ListEtls => jobs::list(context).await,
        Api::GetEtl => jobs::get(context).await,
        Api::UpdateEtl => jobs::update(context).await,
        Api::DeleteEtl => jobs::delete(context).await,
        Api::CreateMachineGroup => machine_groups::create(context).await,
        Api::GetMachineGroup => machine_groups::get(context).await,
        Api::UpdateMachineGroup => machine_groups::update(context).await,
        Api::DeleteMachineGroup => machine_groups::delete(context).await,
        Api::ListMachineGroup => machine_groups::list(context).await,
        Api::ListMachines => machine_groups::list_machines(context).await,
        Api::ApplyConfigToMachineGroup => machine_groups::apply_config(context).await,
        Api::RemoveConfigFromMachineGroup => machine_groups::remove_config(context).await,
        Api::GetAppliedConfigs => machine_groups::list_applied_configs(context).await,
        Api::GetAppliedMachineGroups => pipeline_configs::list_applied_groups(context).await,
        Api::CreatePipelineConfig => pipeline_configs::create(context).await,
        Api::GetPipelineConfig => pipeline_configs::get(context).await,
        Api::UpdatePipelineConfig => pipeline_configs::update(context).await,
        Api::DeletePipelineConfig => pipeline_configs::delete(context).await,
        Api::ListPipelineConfig => pipeline_configs::list(context).await,
        Api::AgentHeartbeat => agent_heartbeat::heartbeat(context).await,
        Api::AgentFetchPipelineConfig => agent_heartbeat::fetch_pipeline_config(context).await,
        Api::ListShards => shards::list_shards(context).await,
        Api::GetCursor => shards::get_cursor(context).await,
        Api::GetCursorTime => shards::get_cursor_time(context).await,
        Api::PullLogs => pull_logs::pull_logs(context).await,
        Api::CreateConsumerGroup => consumer_groups::create(context).await,
        Api::ListConsumerGroup => consumer_groups::list(context).await,
        Api::UpdateConsumerGroup => consumer_groups::update(context).await,
        Api::DeleteConsumerGroup => consumer_groups::delete(context).await,
        Api::ConsumerGroupHeartBeat => consumer_groups::heartbeat(context).await,
        Api::ConsumerGroupUpdateCheckPoint => consumer_groups::update_checkpoint(context).await,
        Api::GetCheckPoint => consumer_groups::get_checkpoints(context).await,
    }
}

impl Context<'_> {
    /// Loads the request's project and checks the caller may perform `action` on it.
    pub async fn authorized_project(&self, action: &str) -> Result<ProjectRecord, ApiError> {
        let name = self.request.project_name()?;
        let project = self.state.meta.get_project(&name).await?;
        let arn = ResourceArn::project(&self.state.region, project.account, &project.name);
        cairn_iam::authorize(self.principal, action, &arn)?;
        Ok(project)
    }

    /// Loads the path's logstore and checks the caller may perform `action` on it.
    pub async fn authorized_logstore(
        &self,
        action: &str,
    ) -> Result<(ProjectRecord, LogstoreRecord), ApiError> {
        self.authorized_logstore_resource(action, |region, project, logstore| {
            ResourceArn::logstore(region, project.account, &project.name, logstore)
        })
        .await
    }

    /// Loads the path's logstore and checks the caller may perform `action` on the resource
    /// `arn` names (the logstore itself, or something inside it such as a consumer group),
    /// before the logstore is read: a caller without the permission learns nothing of it.
    pub async fn authorized_logstore_resource(
        &self,
        action: &str,
        arn: impl FnOnce(&str, &ProjectRecord, &LogstoreName) -> ResourceArn,
    ) -> Result<(ProjectRecord, LogstoreRecord), ApiError> {
        let name = self.request.project_name()?;
        let project = self.state.meta.get_project(&name).await?;
        let logstore_text = self.resource.unwrap_or_default();
        let logstore_name = LogstoreName::parse(logstore_text)
            .map_err(|_| ApiError::logstore_not_exist(logstore_text))?;
        let arn = arn(&self.state.region, &project, &logstore_name);
        cairn_iam::authorize(self.principal, action, &arn)?;
        let logstore = self
            .state
            .meta
            .get_logstore(&project.name, &logstore_name)
            .await?;
        Ok((project, logstore))
    }

    /// The request body as JSON of type `T`; `ParameterInvalid` naming the problem otherwise.
    pub fn json_body<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        let body: &[u8] = if self.request.body.is_empty() {
            b"{}"
        } else {
            &self.request.body
        };
        serde_json::from_slice(body)
            .map_err(|error| ApiError::parameter_invalid(format!("invalid JSON body: {error}")))
    }

    /// An unsigned integer query parameter, or `default` when absent.
    pub fn query_u64(&self, name: &str, default: u64) -> Result<u64, ApiError> {
        match self.request.query_param(name) {
            None | Some("") => Ok(default),
            Some(text) => text.trim().parse().map_err(|_| {
                ApiError::parameter_invalid(format!(
                    "query parameter {name} must be a non-negative integer, got {text:?}"
                ))
            }),
        }
    }
}

/// Authorises `action` on a RAM resource (`policy/x`, `role/x`, ...) of the caller's account.
pub fn authorize_ram(
    context: &Context<'_>,
    action: &str,
    resource: String,
) -> Result<(), ApiError> {
    let arn = ResourceArn::ram(context.principal.account, resource);
    cairn_iam::authorize(context.principal, action, &arn)?;
    Ok(())
}

/// Parses a boolean the way SLS clients send it: `true`/`false` in any case (Python sends
/// `True`/`False`), `1`/`0`.
pub fn parse_bool(name: &str, text: Option<&str>) -> Result<bool, ApiError> {
    match text.map(str::trim) {
        None | Some("") => Ok(false),
        Some(value) if value.eq_ignore_ascii_case("true") || value == "1" => Ok(true),
        Some(value) if value.eq_ignore_ascii_case("false") || value == "0" => Ok(false),
        Some(value) => Err(ApiError::parameter_invalid(format!(
            "{name} must be true or false, got {value:?}"
        ))),
    }
}

/// The current time in Unix seconds.
pub fn now_seconds() -> i64 {
    chrono::Utc::now().timestamp()
}
