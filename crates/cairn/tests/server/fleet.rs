//! The agents' control plane over HTTP (registered as `mod fleet;` in `main.rs`): machine
//! groups and pipeline configs through the SLS API, and the config-server protocol v2
//! (`/Agent/Heartbeat`, protobuf) with Cairn's extensions: who joins which group (the host's
//! `users/<account>` files, the group's trust), configs delivered and withdrawn in the next
//! heartbeat, and write tokens that may write exactly the configured logstores. The SLS API
//! tests are here, the heartbeat tests in [`heartbeats`].

mod heartbeats;

use cairn_protocol::agent::{AgentAttributes, ConfigInfo, HeartbeatRequest, HeartbeatResponse};
use serde_json::{json, Value};

use crate::harness::{Call, Client, TestServer};

/// A full heartbeat of a host with IP `ip`, custom ids `ids` and `users/<id>` files `users`.
pub fn beat(instance: &str, seq: u64, ip: &str, ids: &[&str], users: &[&str]) -> HeartbeatRequest {
    HeartbeatRequest {
        request_id: format!("{instance}-{seq}").into_bytes(),
        sequence_num: seq,
        capabilities: 3,
        instance_id: instance.as_bytes().to_vec(),
        agent_type: "cairn".to_owned(),
        attributes: Some(AgentAttributes {
            ip: ip.as_bytes().to_vec(),
            hostname: format!("host-{instance}").into_bytes(),
            hostid: format!("id-{instance}").into_bytes(),
            ..AgentAttributes::default()
        }),
        running_status: "running".to_owned(),
        startup_time: 1_700_000_000,
        user_defined_ids: ids.iter().map(|id| (*id).to_owned()).collect(),
        authorized_accounts: users.iter().map(|id| (*id).to_owned()).collect(),
        ..HeartbeatRequest::default()
    }
}

/// The same heartbeat, saying the agent holds `held` (name, version).
pub fn holding(mut request: HeartbeatRequest, held: &[(&str, i64)]) -> HeartbeatRequest {
    request.continuous_pipeline_configs = held
        .iter()
        .map(|(name, version)| ConfigInfo {
            name: (*name).to_owned(),
            version: *version,
            ..ConfigInfo::default()
        })
        .collect();
    request
}

pub async fn heartbeat(client: &Client, request: &HeartbeatRequest) -> HeartbeatResponse {
    let mut call = Call::new("POST", None, "/Agent/Heartbeat")
        .header("content-type", "application/x-protobuf");
    call.body = request.to_bytes();
    let reply = client.send(call).await;
    reply.assert_ok();
    assert_eq!(reply.header("content-type"), Some("application/x-protobuf"));
    HeartbeatResponse::from_bytes(&reply.body).expect("protobuf response")
}

pub fn versions(response: &HeartbeatResponse) -> Vec<(String, i64)> {
    response
        .continuous_pipeline_config_updates
        .iter()
        .map(|update| (update.name.clone(), update.version))
        .collect()
}

/// A new account: its id and a client signing with its root key.
pub async fn new_account(operator: &Client, name: &str) -> (String, Client) {
    let reply = operator
        .send(Call::new("POST", None, "/iam/accounts").json(json!({"accountName": name})))
        .await;
    reply.assert_ok();
    let created = reply.json();
    let client = operator.with_key(
        created["accessKeyId"].as_str().unwrap(),
        created["accessKeySecret"].as_str().unwrap(),
    );
    (created["accountId"].as_str().unwrap().to_owned(), client)
}

pub fn group_body(name: &str, kind: &str, list: &[&str], attribute: Value) -> Value {
    json!({"groupName": name, "groupType": "", "machineIdentifyType": kind,
           "machineList": list, "groupAttribute": attribute})
}

pub fn config_body(name: &str, logstore: &str, path: &str) -> Value {
    json!({"configName": name, "logSample": "",
           "inputs": [{"Type": "input_file", "FilePaths": [path]}],
           "processors": [{"Type": "processor_parse_json_native", "SourceKey": "content"}],
           "flushers": [{"Type": "flusher_sls", "Logstore": logstore}]})
}

/// Project `web` with logstores `access` and `errors`, a userdefined group `web-servers`
/// (id `web`) with `attribute`, and config `nginx` into `access` applied to it.
pub async fn setup(client: &Client, attribute: Value) {
    client.create_project("web").await.assert_ok();
    for logstore in ["access", "errors"] {
        client.create_logstore("web", logstore).await.assert_ok();
    }
    let group = group_body("web-servers", "userdefined", &["web"], attribute);
    client
        .send(Call::new("POST", Some("web"), "/machinegroups").json(group))
        .await
        .assert_ok();
    client
        .send(
            Call::new("POST", Some("web"), "/pipelineconfigs").json(config_body(
                "nginx",
                "access",
                "/var/log/nginx/*.log",
            )),
        )
        .await
        .assert_ok();
    client
        .send(Call::new(
            "PUT",
            Some("web"),
            "/machinegroups/web-servers/configs/nginx",
        ))
        .await
        .assert_ok();
}

pub async fn machines(client: &Client, group: &str) -> Vec<Value> {
    let path = format!("/machinegroups/{group}/machines");
    let reply = client.send(Call::new("GET", Some("web"), &path)).await;
    reply.assert_ok();
    reply.json()["machines"]
        .as_array()
        .cloned()
        .expect("machines")
}

#[tokio::test]
async fn machine_groups_are_created_read_updated_listed_and_deleted() {
    let server = TestServer::start().await;
    let client = server.client();
    client.create_project("web").await.assert_ok();
    let create =
        |body: Value| client.send(Call::new("POST", Some("web"), "/machinegroups").json(body));
    create(group_body(
        "web-servers",
        "userdefined",
        &["web", "eu", "web"],
        json!({"groupTopic": "t"}),
    ))
    .await
    .assert_ok();
    create(group_body("web-servers", "userdefined", &[], json!({})))
        .await
        .assert_error(400, "MachineGroupAlreadyExist");
    create(group_body("bad-ips", "ip", &["web-1"], json!({})))
        .await
        .assert_error(400, "ParameterInvalid");
    create(group_body("Bad Name", "ip", &[], json!({})))
        .await
        .assert_error(400, "ParameterInvalid");
    create(group_body("by-ip", "ip", &["10.0.0.1"], json!({})))
        .await
        .assert_ok();

    let got = client
        .send(Call::new("GET", Some("web"), "/machinegroups/web-servers"))
        .await;
    got.assert_ok();
    let got = got.json();
    assert_eq!(got["machineIdentifyType"], "userdefined");
    assert_eq!(got["machineList"], json!(["web", "eu"]));
    assert_eq!(got["groupAttribute"]["groupTopic"], "t");
    assert_eq!(got["groupAttribute"]["trustDirectory"], false);

    let update = group_body(
        "web-servers",
        "userdefined",
        &["web"],
        json!({"trustedAccounts": [server.credentials.account_id]}),
    );
    client
        .send(Call::new("PUT", Some("web"), "/machinegroups/web-servers").json(update))
        .await
        .assert_ok();
    let got = client
        .send(Call::new("GET", Some("web"), "/machinegroups/web-servers"))
        .await;
    assert_eq!(got.json()["machineList"], json!(["web"]));
    assert_eq!(
        got.json()["groupAttribute"]["trustedAccounts"],
        json!([server.credentials.account_id])
    );

    let listed = client
        .send(
            Call::new("GET", Some("web"), "/machinegroups")
                .query("offset", 0)
                .query("size", 1),
        )
        .await;
    listed.assert_ok();
    assert_eq!(
        listed.json(),
        json!({"count": 1, "total": 2, "machinegroups": ["by-ip"]})
    );
    client
        .send(Call::new("DELETE", Some("web"), "/machinegroups/by-ip"))
        .await
        .assert_ok();
    client
        .send(Call::new("GET", Some("web"), "/machinegroups/by-ip"))
        .await
        .assert_error(404, "MachineGroupNotExist");
    let listed = client
        .send(Call::new("GET", Some("web"), "/machinegroups"))
        .await;
    assert_eq!(listed.json()["machinegroups"], json!(["web-servers"]));
}

#[tokio::test]
async fn pipeline_configs_are_versioned_and_write_only_into_their_account() {
    let server = TestServer::start().await;
    let client = server.client();
    client.create_project("web").await.assert_ok();
    client.create_logstore("web", "access").await.assert_ok();
    let create =
        |body: Value| client.send(Call::new("POST", Some("web"), "/pipelineconfigs").json(body));
    create(config_body("nginx", "access", "/var/log/a.log"))
        .await
        .assert_ok();
    create(config_body("nginx", "access", "/var/log/a.log"))
        .await
        .assert_error(400, "ConfigAlreadyExist");
    create(config_body("ghost", "missing", "/x"))
        .await
        .assert_error(404, "LogStoreNotExist");
    let mut no_input = config_body("empty", "access", "/x");
    no_input["inputs"] = json!([]);
    create(no_input).await.assert_error(400, "ParameterInvalid");
    let mut two_flushers = config_body("two", "access", "/x");
    two_flushers["flushers"] =
        json!([{"Type": "flusher_sls", "Logstore": "access"}, {"Type": "flusher_stdout"}]);
    create(two_flushers)
        .await
        .assert_error(400, "ParameterInvalid");
    // A flusher into another account's project is refused, even for its owner's root.
    let (_, other) = new_account(&client, "other").await;
    other.create_project("elsewhere").await.assert_ok();
    other
        .create_logstore("elsewhere", "access")
        .await
        .assert_ok();
    let mut cross = config_body("cross", "access", "/x");
    cross["flushers"][0]["Project"] = json!("elsewhere");
    create(cross).await.assert_error(400, "ParameterInvalid");

    let get = || client.send(Call::new("GET", Some("web"), "/pipelineconfigs/nginx"));
    let got = get().await.json();
    assert_eq!(
        (
            got["version"].clone(),
            got["flushers"][0]["Project"].clone()
        ),
        (json!(1), json!("web"))
    );
    for expected in [2, 3] {
        let body = config_body("nginx", "access", &format!("/var/log/{expected}.log"));
        client
            .send(Call::new("PUT", Some("web"), "/pipelineconfigs/nginx").json(body))
            .await
            .assert_ok();
        let got = get().await.json();
        assert_eq!(got["version"], expected);
        assert_eq!(
            got["inputs"][0]["FilePaths"][0],
            format!("/var/log/{expected}.log")
        );
    }
    let listed = client
        .send(Call::new("GET", Some("web"), "/pipelineconfigs"))
        .await;
    assert_eq!(
        listed.json(),
        json!({"count": 1, "total": 1, "configs": ["nginx"]})
    );
    client
        .send(Call::new("DELETE", Some("web"), "/pipelineconfigs/nginx"))
        .await
        .assert_ok();
    get().await.assert_error(404, "ConfigNotExist");
}
