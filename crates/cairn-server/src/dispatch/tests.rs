//! Routing tests: SLS's methods, paths and `type` parameters map to the right API.

use super::*;

fn api(method: Method, path: &str, kind: Option<&str>, project: bool) -> Option<Api> {
    route(&method, path, kind, project).map(|r| r.api)
}

#[test]
fn routes_follow_sls() {
    assert_eq!(api(Method::GET, "/", None, false), Some(Api::ListProject));
    assert_eq!(api(Method::GET, "/", None, true), Some(Api::GetProject));
    assert_eq!(
        api(Method::GET, "/logstores/app", Some("log"), true),
        Some(Api::GetLogs)
    );
    assert_eq!(
        api(Method::GET, "/logstores/app", None, true),
        Some(Api::GetLogStore)
    );
    assert_eq!(
        api(Method::POST, "/logstores/app/shards/lb", None, true),
        Some(Api::PutLogs)
    );
    assert_eq!(
        api(Method::POST, "/logstores/app/shards/route", None, true),
        Some(Api::PutLogs)
    );
    assert_eq!(
        api(Method::POST, "/logstores/app", None, true),
        Some(Api::PutLogs)
    );
    assert_eq!(
        api(Method::POST, "/logstores/app/logs", None, true),
        Some(Api::GetLogsV2)
    );
    assert_eq!(
        api(Method::GET, "/logstores/app", Some("histogram"), true),
        Some(Api::GetHistograms)
    );
    assert_eq!(
        api(Method::GET, "/logstores/app", Some("bogus"), true),
        None
    );
    assert_eq!(api(Method::PATCH, "/", None, true), None);
    let key = route(&Method::DELETE, "/iam/accesskeys/LTAIabc", None, false).unwrap();
    assert_eq!(key.resource.as_deref(), Some("LTAIabc"));
    assert_eq!(
        api(Method::POST, "/sts/assume-role", None, false),
        Some(Api::AssumeRole)
    );
    assert_eq!(
        api(Method::PUT, "/etls/copy-1", None, true),
        Some(Api::UpdateEtl)
    );
    let response = route(&Method::POST, "/rd/invitations/inv-1/accept", None, false).unwrap();
    assert_eq!(response.api, Api::RespondToInvitation);
    assert_eq!(response.resource.as_deref(), Some("inv-1/accept"));
}

#[test]
fn fleet_and_agent_routes_follow_sls_and_the_config_server() {
    assert_eq!(
        api(Method::POST, "/Agent/Heartbeat", None, false),
        Some(Api::AgentHeartbeat)
    );
    assert_eq!(
        api(Method::POST, "/Agent/FetchPipelineConfig", None, false),
        Some(Api::AgentFetchPipelineConfig)
    );
    assert_eq!(
        api(Method::GET, "/machinegroups/web/machines", None, true),
        Some(Api::ListMachines)
    );
    let apply = route(&Method::PUT, "/machinegroups/web/configs/nginx", None, true).unwrap();
    assert_eq!(apply.api, Api::ApplyConfigToMachineGroup);
    assert_eq!(apply.resource.as_deref(), Some("web/nginx"));
    assert_eq!(
        api(Method::GET, "/configs/nginx/machinegroups", None, true),
        Some(Api::GetAppliedMachineGroups)
    );
    assert_eq!(
        api(Method::PUT, "/pipelineconfigs/nginx", None, true),
        Some(Api::UpdatePipelineConfig)
    );
}

#[test]
fn consumption_routes_follow_the_sdks() {
    let shard = |kind| route(&Method::GET, "/logstores/app/shards/0", kind, true);
    assert_eq!(
        api(Method::GET, "/logstores/app/shards", None, true),
        Some(Api::ListShards)
    );
    let cursor = shard(Some("cursor")).unwrap();
    assert_eq!(cursor.api, Api::GetCursor);
    assert_eq!(cursor.resource.as_deref(), Some("app"));
    assert_eq!(cursor.item.as_deref(), Some("0"));
    assert_eq!(shard(Some("cursor_time")).unwrap().api, Api::GetCursorTime);
    assert_eq!(shard(Some("log")).unwrap().api, Api::PullLogs);
    assert_eq!(shard(Some("logs")).unwrap().api, Api::PullLogs);
    assert_eq!(shard(None), None);
    let groups = "/logstores/app/consumergroups";
    let group = "/logstores/app/consumergroups/readers";
    assert_eq!(
        api(Method::POST, groups, None, true),
        Some(Api::CreateConsumerGroup)
    );
    assert_eq!(
        api(Method::GET, groups, None, true),
        Some(Api::ListConsumerGroup)
    );
    assert_eq!(
        api(Method::PUT, group, None, true),
        Some(Api::UpdateConsumerGroup)
    );
    assert_eq!(
        api(Method::DELETE, group, None, true),
        Some(Api::DeleteConsumerGroup)
    );
    assert_eq!(
        api(Method::POST, group, Some("heartbeat"), true),
        Some(Api::ConsumerGroupHeartBeat)
    );
    let checkpoint = route(&Method::POST, group, Some("checkpoint"), true).unwrap();
    assert_eq!(checkpoint.api, Api::ConsumerGroupUpdateCheckPoint);
    assert_eq!(checkpoint.item.as_deref(), Some("readers"));
    assert_eq!(
        api(Method::GET, group, None, true),
        Some(Api::GetCheckPoint)
    );
    assert_eq!(api(Method::POST, group, None, true), None);
}
