//! Routing: from method, path, `type` and project to one named API, then to its handler.
//!
//! SLS routes on more than the path (`GET /logstores/x?type=log` is GetLogs, without `type`
//! it is GetLogStore; `GET /` is GetProject on a project host and ListProject on the bare
//! endpoint), so routing is a match over the parsed request rather than an axum route table.
//! Each API has a fixed name, used as the metrics label and in logs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::http::Method;
use axum::response::Response;
use tracing::Instrument;

use crate::auth::authenticate;
use crate::error::ApiError;
use crate::handlers::{self, Context};
use crate::request::ApiRequest;
use crate::state::ServerState;

/// Every API the server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    ListProject,
    CreateProject,
    GetProject,
    UpdateProject,
    DeleteProject,
    ListLogStores,
    CreateLogStore,
    GetLogStore,
    UpdateLogStore,
    DeleteLogStore,
    PutLogs,
    GetLogs,
    GetLogsV2,
    GetHistograms,
    ListTopics,
    CreateIndex,
    UpdateIndex,
    GetIndex,
    DeleteIndex,
    CreateAccount,
    ListAccounts,
    CreateUser,
    ListUsers,
    DeleteUser,
    CreateAccessKey,
    ListAccessKeys,
    UpdateAccessKey,
    DeleteAccessKey,
    CreatePolicy,
    ListPolicies,
    GetPolicy,
    DeletePolicy,
    AttachPolicy,
    DetachPolicy,
    ListAttachedPolicies,
    CreateRole,
    ListRoles,
    GetRole,
    UpdateRole,
    DeleteRole,
    AssumeRole,
    RevokeSession,
    EnableResourceDirectory,
    GetResourceDirectory,
    CreateMemberAccount,
    ListMembers,
    RemoveMember,
    InviteAccount,
    ListInvitations,
    RespondToInvitation,
    SetDelegatedAdministrator,
    RemoveDelegatedAdministrator,
    ListDelegatedAdministrators,
    CreateEtl,
    ListEtls,
    GetEtl,
    UpdateEtl,
    DeleteEtl,
    CreateMachineGroup,
    GetMachineGroup,
    UpdateMachineGroup,
    DeleteMachineGroup,
    ListMachineGroup,
    ListMachines,
    ApplyConfigToMachineGroup,
    RemoveConfigFromMachineGroup,
    GetAppliedConfigs,
    GetAppliedMachineGroups,
    CreatePipelineConfig,
    GetPipelineConfig,
    UpdatePipelineConfig,
    DeletePipelineConfig,
    ListPipelineConfig,
    AgentHeartbeat,
    AgentFetchPipelineConfig,
    ListShards,
    GetCursor,
    GetCursorTime,
    PullLogs,
    CreateConsumerGroup,
    ListConsumerGroup,
    UpdateConsumerGroup,
    DeleteConsumerGroup,
    ConsumerGroupHeartBeat,
    ConsumerGroupUpdateCheckPoint,
    GetCheckPoint,
}

impl Api {
    /// The API's name, as in SLS's documentation where it has one.
    pub fn name(self) -> &'static str {
        match self {
            Api::ListProject => "ListProject",
            Api::CreateProject => "CreateProject",
            Api::GetProject => "GetProject",
            Api::UpdateProject => "UpdateProject",
            Api::DeleteProject => "DeleteProject",
            Api::ListLogStores => "ListLogStores",
            Api::CreateLogStore => "CreateLogStore",
            Api::GetLogStore => "GetLogStore",
            Api::UpdateLogStore => "UpdateLogStore",
            Api::DeleteLogStore => "DeleteLogStore",
            Api::PutLogs => "PutLogs",
            Api::GetLogs => "GetLogs",
            Api::GetLogsV2 => "GetLogsV2",
            Api::GetHistograms => "GetHistograms",
            Api::ListTopics => "ListTopics",
            Api::CreateIndex => "CreateIndex",
            Api::UpdateIndex => "UpdateIndex",
            Api::GetIndex => "GetIndex",
            Api::DeleteIndex => "DeleteIndex",
            Api::CreateAccount => "CreateAccount",
            Api::ListAccounts => "ListAccounts",
            Api::CreateUser => "CreateUser",
            Api::ListUsers => "ListUsers",
            Api::DeleteUser => "DeleteUser",
            Api::CreateAccessKey => "CreateAccessKey",
            Api::ListAccessKeys => "ListAccessKeys",
            Api::UpdateAccessKey => "UpdateAccessKey",
            Api::DeleteAccessKey => "DeleteAccessKey",
            Api::CreatePolicy => "CreatePolicy",
            Api::ListPolicies => "ListPolicies",
            Api::GetPolicy => "GetPolicy",
            Api::DeletePolicy => "DeletePolicy",
            Api::AttachPolicy => "AttachPolicy",
            Api::DetachPolicy => "DetachPolicy",
            Api::ListAttachedPolicies => "ListAttachedPolicies",
            Api::CreateRole => "CreateRole",
            Api::ListRoles => "ListRoles",
            Api::GetRole => "GetRole",
            Api::UpdateRole => "UpdateRole",
            Api::DeleteRole => "DeleteRole",
            Api::AssumeRole => "AssumeRole",
            Api::RevokeSession => "RevokeSession",
            Api::EnableResourceDirectory => "EnableResourceDirectory",
            Api::GetResourceDirectory => "GetResourceDirectory",
            Api::CreateMemberAccount => "CreateMemberAccount",
            Api::ListMembers => "ListMembers",
            Api::RemoveMember => "RemoveMember",
            Api::InviteAccount => "InviteAccount",
            Api::ListInvitations => "ListInvitations",
            Api::RespondToInvitation => "RespondToInvitation",
            Api::SetDelegatedAdministrator => "SetDelegatedAdministrator",
            Api::RemoveDelegatedAdministrator => "RemoveDelegatedAdministrator",
            Api::ListDelegatedAdministrators => "ListDelegatedAdministrators",
            Api::CreateEtl => "CreateETL",
            Api::ListEtls => "ListETL",
            Api::GetEtl => "GetETL",
            Api::UpdateEtl => "UpdateETL",
            Api::DeleteEtl => "DeleteETL",
            Api::CreateMachineGroup => "CreateMachineGroup",
            Api::GetMachineGroup => "GetMachineGroup",
            Api::UpdateMachineGroup => "UpdateMachineGroup",
            Api::DeleteMachineGroup => "DeleteMachineGroup",
            Api::ListMachineGroup => "ListMachineGroup",
            Api::ListMachines => "ListMachines",
            Api::ApplyConfigToMachineGroup => "ApplyConfigToMachineGroup",
            Api::RemoveConfigFromMachineGroup => "RemoveConfigFromMachineGroup",
            Api::GetAppliedConfigs => "GetAppliedConfigs",
            Api::GetAppliedMachineGroups => "GetAppliedMachineGroups",
            Api::CreatePipelineConfig => "CreateLogtailPipelineConfig",
            Api::GetPipelineConfig => "GetLogtailPipelineConfig",
            Api::UpdatePipelineConfig => "UpdateLogtailPipelineConfig",
            Api::DeletePipelineConfig => "DeleteLogtailPipelineConfig",
            Api::ListPipelineConfig => "ListLogtailPipelineConfig",
            Api::AgentHeartbeat => "AgentHeartbeat",
            Api::AgentFetchPipelineConfig => "AgentFetchPipelineConfig",
            Api::ListShards => "ListShards",
            Api::GetCursor => "GetCursor",
            Api::GetCursorTime => "GetCursorTime",
            Api::PullLogs => "PullLogs",
            Api::CreateConsumerGroup => "CreateConsumerGroup",
            Api::ListConsumerGroup => "ListConsumerGroup",
            Api::UpdateConsumerGroup => "UpdateConsumerGroup",
            Api::DeleteConsumerGroup => "DeleteConsumerGroup",
            Api::ConsumerGroupHeartBeat => "ConsumerGroupHeartBeat",
            Api::ConsumerGroupUpdateCheckPoint => "ConsumerGroupUpdateCheckPoint",
            Api::GetCheckPoint => "GetCheckPoint",
        }
    }
}

/// The API a request addresses and the names in its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Which API.
    pub api: Api,
    /// The path's resource name (logstore, user or AccessKey id), if it has one.
    pub resource: Option<String>,
    /// The name below the resource (a logstore's shard id or consumer group), if any.
    pub item: Option<String>,
}

/// Resolves a request to an API, or `None` if Cairn serves no such API.
pub fn route(method: &Method, path: &str, kind: Option<&str>, has_project: bool) -> Option<Route> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let plain = |api| {
        Some(Route {
            api,
            resource: None,
            item: None,
        })
    };
    let named = |api, name: &str| {
        Some(Route {
            api,
            resource: Some(name.to_owned()),
            item: None,
        })
    };
    let nested = |api, name: &str, item: &str| {
        Some(Route {
            api,
            resource: Some(name.to_owned()),
            item: Some(item.to_owned()),
        })
    };
    match (method, segments.as_slice()) {
        (&Method::GET, []) if has_project => plain(Api::GetProject),
        (&Method::GET, []) => plain(Api::ListProject),
        (&Method::POST, []) => plain(Api::CreateProject),
        (&Method::PUT, []) => plain(Api::UpdateProject),
        (&Method::DELETE, []) => plain(Api::DeleteProject),
        (&Method::GET, ["iam", "accounts"]) => plain(Api::ListAccounts),
        (&Method::POST, ["iam", "accounts"]) => plain(Api::CreateAccount),
        (&Method::GET, ["iam", "users"]) => plain(Api::ListUsers),
        (&Method::POST, ["iam", "users"]) => plain(Api::CreateUser),
        (&Method::DELETE, ["iam", "users", user]) => named(Api::DeleteUser, user),
        (&Method::GET, ["iam", "accesskeys"]) => plain(Api::ListAccessKeys),
        (&Method::POST, ["iam", "accesskeys"]) => plain(Api::CreateAccessKey),
        (&Method::PUT, ["iam", "accesskeys", key]) => named(Api::UpdateAccessKey, key),
        (&Method::DELETE, ["iam", "accesskeys", key]) => named(Api::DeleteAccessKey, key),
        (&Method::POST, ["iam", "policies"]) => plain(Api::CreatePolicy),
        (&Method::GET, ["iam", "policies"]) => plain(Api::ListPolicies),
        (&Method::GET, ["iam", "policies", name]) => named(Api::GetPolicy, name),
        (&Method::DELETE, ["iam", "policies", name]) => named(Api::DeletePolicy, name),
        (&Method::POST, ["iam", "policy-attachments"]) => plain(Api::AttachPolicy),
        (&Method::DELETE, ["iam", "policy-attachments"]) => plain(Api::DetachPolicy),
        (&Method::GET, ["iam", "policy-attachments"]) => plain(Api::ListAttachedPolicies),
        (&Method::POST, ["iam", "roles"]) => plain(Api::CreateRole),
        (&Method::GET, ["iam", "roles"]) => plain(Api::ListRoles),
        (&Method::GET, ["iam", "roles", name]) => named(Api::GetRole, name),
        (&Method::PUT, ["iam", "roles", name]) => named(Api::UpdateRole, name),
        (&Method::DELETE, ["iam", "roles", name]) => named(Api::DeleteRole, name),
        (&Method::POST, ["sts", "assume-role"]) => plain(Api::AssumeRole),
        (&Method::DELETE, ["sts", "sessions", key]) => named(Api::RevokeSession, key),
        (&Method::POST, ["rd"]) => plain(Api::EnableResourceDirectory),
        (&Method::GET, ["rd"]) => plain(Api::GetResourceDirectory),
        (&Method::POST, ["rd", "accounts"]) => plain(Api::CreateMemberAccount),
        (&Method::GET, ["rd", "members"]) => plain(Api::ListMembers),
        (&Method::DELETE, ["rd", "members", account]) => named(Api::RemoveMember, account),
        (&Method::POST, ["rd", "invitations"]) => plain(Api::InviteAccount),
        (&Method::GET, ["rd", "invitations"]) => plain(Api::ListInvitations),
        (&Method::POST, ["rd", "invitations", id, response]) => Some(Route {
            api: Api::RespondToInvitation,
            resource: Some(format!("{id}/{response}")),
            item: None,
        }),
        (&Method::PUT, ["rd", "delegated-administrators", service]) => {
            named(Api::SetDelegatedAdministrator, service)
        }
        (&Method::DELETE, ["rd", "delegated-administrators", service]) => {
            named(Api::RemoveDelegatedAdministrator, service)
        }
        (&Method::GET, ["rd", "delegated-administrators"]) => {
            plain(Api::ListDelegatedAdministrators)
        }
        (&Method::POST, ["etls"]) => plain(Api::CreateEtl),
        (&Method::GET, ["etls"]) => plain(Api::ListEtls),
        (&Method::GET, ["etls", name]) => named(Api::GetEtl, name),
        (&Method::PUT, ["etls", name]) => named(Api::UpdateEtl, name),
        (&Method::DELETE, ["etls", name]) => named(Api::DeleteEtl, name),
        (&Method::POST, ["Agent", "Heartbeat"]) => plain(Api::AgentHeartbeat),
        (&Method::POST, ["Agent", "FetchPipelineConfig"]) => plain(Api::AgentFetchPipelineConfig),
        (&Method::POST, ["machinegroups"]) => plain(Api::CreateMachineGroup),
        (&Method::GET, ["machinegroups"]) => plain(Api::ListMachineGroup),
        (&Method::GET, ["machinegroups", group]) => named(Api::GetMachineGroup, group),
        (&Method::PUT, ["machinegroups", group]) => named(Api::UpdateMachineGroup, group),
        (&Method::DELETE, ["machinegroups", group]) => named(Api::DeleteMachineGroup, group),
        (&Method::GET, ["machinegroups", group, "machines"]) => named(Api::ListMachines, group),
        (&Method::GET, ["machinegroups", group, "configs"]) => named(Api::GetAppliedConfigs, group),
        (&Method::PUT, ["machinegroups", group, "configs", config]) => Some(Route {
            api: Api::ApplyConfigToMachineGroup,
            resource: Some(format!("{group}/{config}")),
            item: None,
        }),
        (&Method::DELETE, ["machinegroups", group, "configs", config]) => Some(Route {
            api: Api::RemoveConfigFromMachineGroup,
            resource: Some(format!("{group}/{config}")),
            item: None,
        }),
        (&Method::GET, ["configs", config, "machinegroups"]) => {
            named(Api::GetAppliedMachineGroups, config)
        }
        (&Method::POST, ["pipelineconfigs"]) => plain(Api::CreatePipelineConfig),
        (&Method::GET, ["pipelineconfigs"]) => plain(Api::ListPipelineConfig),
        (&Method::GET, ["pipelineconfigs", config]) => named(Api::GetPipelineConfig, config),
        (&Method::PUT, ["pipelineconfigs", config]) => named(Api::UpdatePipelineConfig, config),
        (&Method::DELETE, ["pipelineconfigs", config]) => named(Api::DeletePipelineConfig, config),
        (&Method::GET, ["logstores"]) => plain(Api::ListLogStores),
        (&Method::POST, ["logstores"]) => plain(Api::CreateLogStore),
        (&Method::GET, ["logstores", logstore]) => match kind {
            None | Some("") => named(Api::GetLogStore, logstore),
            Some("log") => named(Api::GetLogs, logstore),
            Some("histogram") => named(Api::GetHistograms, logstore),
            Some("topic") => named(Api::ListTopics, logstore),
            Some(_) => None,
        },
        (&Method::PUT, ["logstores", logstore]) => named(Api::UpdateLogStore, logstore),
        (&Method::DELETE, ["logstores", logstore]) => named(Api::DeleteLogStore, logstore),
        (&Method::POST, ["logstores", logstore])
        | (&Method::POST, ["logstores", logstore, "shards", "lb" | "route"]) => {
            named(Api::PutLogs, logstore)
        }
        (&Method::POST, ["logstores", logstore, "logs"]) => named(Api::GetLogsV2, logstore),
        (&Method::POST, ["logstores", logstore, "index"]) => named(Api::CreateIndex, logstore),
        (&Method::PUT, ["logstores", logstore, "index"]) => named(Api::UpdateIndex, logstore),
        (&Method::GET, ["logstores", logstore, "index"]) => named(Api::GetIndex, logstore),
        (&Method::DELETE, ["logstores", logstore, "index"]) => named(Api::DeleteIndex, logstore),
        (&Method::GET, ["logstores", logstore, "shards"]) => named(Api::ListShards, logstore),
        (&Method::GET, ["logstores", logstore, "shards", shard]) => match kind {
            Some("cursor") => nested(Api::GetCursor, logstore, shard),
            Some("cursor_time") => nested(Api::GetCursorTime, logstore, shard),
            // The Python and Go SDKs send `type=log`, the Rust SDK `type=logs`.
            Some("log" | "logs") => nested(Api::PullLogs, logstore, shard),
            _ => None,
        },
        (&Method::POST, ["logstores", logstore, "consumergroups"]) => {
            named(Api::CreateConsumerGroup, logstore)
        }
        (&Method::GET, ["logstores", logstore, "consumergroups"]) => {
            named(Api::ListConsumerGroup, logstore)
        }
        (&Method::PUT, ["logstores", logstore, "consumergroups", group]) => {
            nested(Api::UpdateConsumerGroup, logstore, group)
        }
        (&Method::DELETE, ["logstores", logstore, "consumergroups", group]) => {
            nested(Api::DeleteConsumerGroup, logstore, group)
        }
        (&Method::POST, ["logstores", logstore, "consumergroups", group]) => match kind {
            Some("heartbeat") => nested(Api::ConsumerGroupHeartBeat, logstore, group),
            Some("checkpoint") => nested(Api::ConsumerGroupUpdateCheckPoint, logstore, group),
            _ => None,
        },
        (&Method::GET, ["logstores", logstore, "consumergroups", group]) => match kind {
            None | Some("" | "checkpoint") => nested(Api::GetCheckPoint, logstore, group),
            _ => None,
        },
        _ => None,
    }
}

/// Handles one API request end to end and records its metrics.
pub async fn handle(
    state: Arc<ServerState>,
    peer: SocketAddr,
    request: axum::extract::Request,
) -> Response {
    let started = Instant::now();
    let request_id = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
    let span =
        tracing::info_span!("request", request_id = %request_id, api = tracing::field::Empty);
    let (api_name, outcome) = async {
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let request = match ApiRequest::read(request, peer, &state.endpoint_domains).await {
            Ok(request) => request,
            Err(error) => return ("Unknown", Err(error)),
        };
        let Some(route) = route(
            &request.method,
            &request.path,
            request.query_param("type"),
            request.project.is_some(),
        ) else {
            return (
                "Unknown",
                Err(ApiError::no_such_api(method.as_str(), &path)),
            );
        };
        let api_name = route.api.name();
        tracing::Span::current().record("api", api_name);
        let outcome = match authenticate(&state, &request).await {
            Ok(principal) => {
                let context = Context {
                    state: &state,
                    request: &request,
                    principal: &principal,
                    resource: route.resource.as_deref(),
                    item: route.item.as_deref(),
                };
                handlers::handle(route.api, context).await
            }
            Err(error) => Err(error),
        };
        (api_name, outcome)
    }
    .instrument(span.clone())
    .await;
    let elapsed = started.elapsed();
    let _entered = span.enter();
    match outcome {
        Ok(response) => {
            state.metrics.observe_request(api_name, "OK", elapsed);
            tracing::debug!(elapsed_ms = elapsed.as_millis() as u64, "request handled");
            response.into_http(&request_id)
        }
        Err(error) => {
            state.metrics.observe_request(api_name, error.code, elapsed);
            tracing::info!(code = error.code, message = %error.message, "request failed");
            error.into_http(&request_id)
        }
    }
}

#[cfg(test)]
mod tests;
