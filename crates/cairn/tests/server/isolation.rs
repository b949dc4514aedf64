//! The cross-account isolation matrix: for every API of the management plane and the data
//! plane, a principal of account B is refused on account A's resources unless it goes through
//! a role A trusts, and then gets exactly what the role grants, no more.

use cairn_protocol::compression::CompressionType;
use serde_json::{json, Value};

use crate::harness::{group_of, now_seconds, Call, Client, TestServer};

mod consumption;

use consumption::CONSUMER_GROUP;

const PROJECT: &str = "iso-a";

/// One API call on account A's resources, and whether read-only access should allow it.
struct Case {
    api: &'static str,
    read_only: bool,
    call: fn(u32) -> Call<'static>,
}

fn put_logs_call(now: u32) -> Call<'static> {
    let raw = cairn_protocol::encode_log_group(&group_of("intruder", 3, now));
    let mut call = Call::new("POST", Some(PROJECT), "/logstores/app/shards/lb")
        .header("content-type", "application/x-protobuf")
        .header("x-log-compresstype", "lz4")
        .header("x-log-bodyrawsize", raw.len());
    call.body = cairn_protocol::compression::compress(CompressionType::Lz4, &raw);
    call
}

fn search(kind: &'static str) -> fn(u32) -> Call<'static> {
    match kind {
        "log" => |now| {
            Call::new("GET", Some(PROJECT), "/logstores/app")
                .query("type", "log")
                .query("from", now - 600)
                .query("to", now + 60)
                .query("query", "*")
        },
        "histogram" => |now| {
            Call::new("GET", Some(PROJECT), "/logstores/app")
                .query("type", "histogram")
                .query("from", now - 600)
                .query("to", now + 60)
        },
        _ => |_| Call::new("GET", Some(PROJECT), "/logstores/app").query("type", "topic"),
    }
}

/// Every project-scoped API, writes last so a leak would show up in the reads after it.
fn cases() -> Vec<Case> {
    let mut cases = consumption::read_cases();
    cases.extend(vec![
        Case {
            api: "GetProject",
            read_only: true,
            call: |_| Call::new("GET", Some(PROJECT), "/"),
        },
        Case {
            api: "ListLogStores",
            read_only: true,
            call: |_| Call::new("GET", Some(PROJECT), "/logstores"),
        },
        Case {
            api: "GetLogStore",
            read_only: true,
            call: |_| Call::new("GET", Some(PROJECT), "/logstores/app"),
        },
        Case {
            api: "GetLogs",
            read_only: true,
            call: search("log"),
        },
        Case {
            api: "GetLogsV2",
            read_only: true,
            call: |now| {
                Call::new("POST", Some(PROJECT), "/logstores/app/logs")
                    .json(json!({"from": now - 600, "to": now + 60, "query": "*"}))
            },
        },
        Case {
            api: "GetHistograms",
            read_only: true,
            call: search("histogram"),
        },
        Case {
            api: "ListTopics",
            read_only: true,
            call: search("topic"),
        },
        Case {
            api: "GetIndex",
            read_only: true,
            call: |_| Call::new("GET", Some(PROJECT), "/logstores/app/index"),
        },
        Case {
            api: "ListETL",
            read_only: true,
            call: |_| Call::new("GET", Some(PROJECT), "/etls"),
        },
        Case {
            api: "UpdateProject",
            read_only: false,
            call: |_| Call::new("PUT", Some(PROJECT), "/").json(json!({"description": "pwned"})),
        },
        Case {
            api: "CreateLogStore",
            read_only: false,
            call: |_| {
                Call::new("POST", Some(PROJECT), "/logstores")
                    .json(json!({"logstoreName": "planted", "ttl": 1, "shardCount": 1}))
            },
        },
        Case {
            api: "UpdateLogStore",
            read_only: false,
            call: |_| {
                Call::new("PUT", Some(PROJECT), "/logstores/app")
                    .json(json!({"logstoreName": "app", "ttl": 1, "shardCount": 1}))
            },
        },
        Case {
            api: "PutLogs",
            read_only: false,
            call: put_logs_call,
        },
        Case {
            api: "CreateIndex",
            read_only: false,
            call: |_| {
                Call::new("POST", Some(PROJECT), "/logstores/other/index")
                    .json(json!({"line": {"token": [" "]}}))
            },
        },
        Case {
            api: "UpdateIndex",
            read_only: false,
            call: |_| {
                Call::new("PUT", Some(PROJECT), "/logstores/app/index")
                    .json(json!({"keys": {"x": {"type": "text"}}}))
            },
        },
        Case {
            api: "DeleteIndex",
            read_only: false,
            call: |_| Call::new("DELETE", Some(PROJECT), "/logstores/app/index"),
        },
        Case {
            api: "CreateETL",
            read_only: false,
            call: |now| {
                Call::new("POST", Some(PROJECT), "/etls").json(json!({
                    "name": "exfiltrate", "type": "ETL", "schedule": {"type": "Resident"},
                    "configuration": {"logstore": "app", "roleArn": "acs:ram::1000000000000001:role/x",
                        "fromTime": now - 600, "toTime": 0,
                        "sinks": [{"name": "s", "project": "elsewhere", "logstore": "loot",
                                   "roleArn": "acs:ram::1000000000000001:role/y"}]}
                }))
            },
        },
        Case {
            api: "DeleteLogStore",
            read_only: false,
            call: |_| Call::new("DELETE", Some(PROJECT), "/logstores/other"),
        },
        Case {
            api: "DeleteProject",
            read_only: false,
            call: |_| Call::new("DELETE", Some(PROJECT), "/"),
        },
    ]);
    cases.extend(consumption::write_cases());
    cases
}

/// A's resources: project, two logstores, an index, 20 records.
async fn account_a(server: &TestServer) -> Client {
    let a = server.client();
    a.create_project(PROJECT).await.assert_ok();
    a.create_logstore(PROJECT, "app").await.assert_ok();
    a.create_logstore(PROJECT, "other").await.assert_ok();
    a.send(
        Call::new("POST", Some(PROJECT), "/logstores/app/index")
            .json(json!({"line": {"token": [" "]}})),
    )
    .await
    .assert_ok();
    a.put_group(
        PROJECT,
        "app",
        &group_of("a", 20, now_seconds()),
        CompressionType::Lz4,
    )
    .await
    .assert_ok();
    a.send(
        Call::new("POST", Some(PROJECT), "/logstores/app/consumergroups")
            .json(json!({"consumerGroup": "readers", "timeout": 60})),
    )
    .await
    .assert_ok();
    a
}

/// A second account and its root client.
async fn account_b(a: &Client) -> (String, Client) {
    let created = a
        .send(Call::new("POST", None, "/iam/accounts").json(json!({"accountName": "b"})))
        .await;
    created.assert_ok();
    let created = created.json();
    let b = a.with_key(
        created["accessKeyId"].as_str().unwrap(),
        created["accessKeySecret"].as_str().unwrap(),
    );
    (created["accountId"].as_str().unwrap().to_owned(), b)
}

/// A's state is exactly as `account_a` left it.
async fn assert_a_untouched(a: &Client) {
    let now = now_seconds();
    let project = a.send(Call::new("GET", Some(PROJECT), "/")).await;
    project.assert_ok();
    assert_eq!(project.json()["description"], "test");
    let logstores = a.send(Call::new("GET", Some(PROJECT), "/logstores")).await;
    assert_eq!(logstores.json()["logstores"], json!(["app", "other"]));
    let logstore = a
        .send(Call::new("GET", Some(PROJECT), "/logstores/app"))
        .await;
    assert_eq!(logstore.json()["ttl"], 30);
    a.send(Call::new("GET", Some(PROJECT), "/logstores/app/index"))
        .await
        .assert_ok();
    assert_eq!(
        a.get_logs(PROJECT, "app", "*", now - 600, now + 60)
            .await
            .len(),
        20
    );
    let jobs = a.send(Call::new("GET", Some(PROJECT), "/etls")).await;
    assert_eq!(jobs.json()["total"], 0);
    let checkpoints = a
        .send(Call::new("GET", Some(PROJECT), CONSUMER_GROUP))
        .await;
    assert_eq!(checkpoints.json()[0]["checkpoint"], "");
}

async fn assume(
    client: &Client,
    role_arn: &str,
    external_id: Option<&str>,
) -> Result<Client, Value> {
    let mut body = json!({"roleArn": role_arn, "roleSessionName": "matrix"});
    if let Some(id) = external_id {
        body["externalId"] = json!(id);
    }
    let reply = client
        .send(Call::new("POST", None, "/sts/assume-role").json(body))
        .await;
    if reply.status != 200 {
        return Err(reply.json());
    }
    let credentials = reply.json()["credentials"].clone();
    Ok(client.with_temporary_key(
        credentials["accessKeyId"].as_str().unwrap(),
        credentials["accessKeySecret"].as_str().unwrap(),
        credentials["securityToken"].as_str().unwrap(),
    ))
}

async fn create_role(
    a: &Client,
    name: &str,
    trusted_account: &str,
    condition: Option<Value>,
) -> String {
    let mut statement = json!({"Effect": "Allow", "Action": "sts:AssumeRole",
        "Principal": {"RAM": [format!("acs:ram::{trusted_account}:root")]}});
    if let Some(condition) = condition {
        statement["Condition"] = condition;
    }
    let reply = a
        .send(Call::new("POST", None, "/iam/roles").json(json!({
            "roleName": name,
            "assumeRolePolicyDocument": {"Version": "1", "Statement": [statement]},
        })))
        .await;
    reply.assert_ok();
    reply.json()["arn"].as_str().unwrap().to_owned()
}

async fn attach(a: &Client, kind: &str, policy: &str, role: &str) {
    a.send(Call::new("POST", None, "/iam/policy-attachments").json(json!({
        "policyType": kind, "policyName": policy, "principalType": "Role", "principalName": role,
    })))
    .await
    .assert_ok();
}

#[tokio::test]
async fn without_a_role_account_b_reaches_nothing_of_account_a() {
    let server = TestServer::start().await;
    let a = account_a(&server).await;
    let (_, b) = account_b(&a).await;
    for b in [b.clone(), b.signing_v4()] {
        for case in cases() {
            let reply = b.send((case.call)(now_seconds())).await;
            assert_eq!(
                (reply.status, reply.error_code().as_str()),
                (401, "Unauthorized"),
                "{} by account B: {}",
                case.api,
                String::from_utf8_lossy(&reply.body)
            );
        }
    }
    // Management-plane calls are scoped to the caller's own account: A's keys, users, roles,
    // policies and directory do not exist as far as B can tell, and nothing of A changes.
    a.send(Call::new("POST", None, "/iam/users").json(json!({"userName": "alice"})))
        .await
        .assert_ok();
    create_role(&a, "admin", &server.credentials.account_id, None).await;
    a.send(Call::new("POST", None, "/rd")).await.assert_ok();
    let a_key = format!("/iam/accesskeys/{}", server.credentials.access_key_id);
    let a_member = format!("/rd/members/{}", server.credentials.account_id);
    let trust = json!({"assumeRolePolicyDocument": {"Version": "1", "Statement": [{"Effect": "Allow",
        "Action": "sts:AssumeRole", "Principal": {"RAM": ["acs:ram::1000000000000001:root"]}}]}});
    let management_plane: Vec<(&str, Call<'_>, u16)> = vec![
        ("DeleteAccessKey", Call::new("DELETE", None, &a_key), 404),
        (
            "UpdateAccessKey",
            Call::new("PUT", None, &a_key).json(json!({"status": "Inactive"})),
            404,
        ),
        (
            "DeleteUser",
            Call::new("DELETE", None, "/iam/users/alice"),
            404,
        ),
        (
            "CreateAccessKey",
            Call::new("POST", None, "/iam/accesskeys").json(json!({"userName": "alice"})),
            404,
        ),
        ("GetRole", Call::new("GET", None, "/iam/roles/admin"), 404),
        (
            "UpdateRole",
            Call::new("PUT", None, "/iam/roles/admin").json(trust),
            404,
        ),
        (
            "DeleteRole",
            Call::new("DELETE", None, "/iam/roles/admin"),
            404,
        ),
        (
            "AttachPolicy",
            Call::new("POST", None, "/iam/policy-attachments").json(json!({
            "policyType": "System", "policyName": "AdministratorAccess",
            "principalType": "Role", "principalName": "admin"})),
            404,
        ),
        ("ListMembers", Call::new("GET", None, "/rd/members"), 404),
        ("RemoveMember", Call::new("DELETE", None, &a_member), 404),
        (
            "CreateAccount",
            Call::new("POST", None, "/iam/accounts").json(json!({"accountName": "x"})),
            401,
        ),
    ];
    for (api, call, status) in management_plane {
        let reply = b.send(call).await;
        assert_eq!(
            reply.status,
            status,
            "{api} by account B: {}",
            String::from_utf8_lossy(&reply.body)
        );
    }
    let users = a.send(Call::new("GET", None, "/iam/users")).await;
    assert_eq!(users.json()["users"][0]["userName"], "alice");
    a.send(Call::new("GET", None, "/iam/roles/admin"))
        .await
        .assert_ok();
    let members = a.send(Call::new("GET", None, "/rd/members")).await;
    assert_eq!(members.json()["members"].as_array().unwrap().len(), 1);
    let a_projects = b.send(Call::new("GET", None, "/")).await;
    assert_eq!(a_projects.json()["total"], 0);
    assert_a_untouched(&a).await;
}

#[tokio::test]
async fn a_trusted_role_grants_exactly_its_policies() {
    let server = TestServer::start().await;
    let a = account_a(&server).await;
    let (b_account, b) = account_b(&a).await;

    // A role B may not assume: trust names another account.
    let foreign = create_role(&a, "foreign", "1000000000000001", None).await;
    assert!(assume(&b, &foreign, None).await.is_err());

    let reader = create_role(&a, "reader", &b_account, None).await;
    attach(&a, "System", "AliyunLogReadOnlyAccess", "reader").await;
    let session = assume(&b, &reader, None).await.expect("B assumes reader");
    for session in [session.clone(), session.signing_v4()] {
        for case in cases() {
            let reply = session.send((case.call)(now_seconds())).await;
            if case.read_only {
                reply.assert_ok();
            } else {
                assert_eq!(
                    (reply.status, reply.error_code().as_str()),
                    (401, "Unauthorized"),
                    "{} through a read-only role: {}",
                    case.api,
                    String::from_utf8_lossy(&reply.body)
                );
            }
        }
    }
    assert_a_untouched(&a).await;

    // Without its token, or with another, the temporary key is worthless.
    let stolen = b.with_key(&session.access_key_id, &session.access_key_secret);
    stolen
        .send(Call::new("GET", Some(PROJECT), "/"))
        .await
        .assert_error(401, "InvalidSecurityToken");

    // A narrower custom policy: one logstore's logs, nothing else.
    a.send(Call::new("POST", None, "/iam/policies").json(json!({
        "policyName": "app-logs-only",
        "policyDocument": {"Version": "1", "Statement": [{"Effect": "Allow",
            "Action": ["log:GetLogStoreLogs"],
            "Resource": [format!("acs:log:*:{}:project/{PROJECT}/logstore/app", server.credentials.account_id)]}]},
    })))
    .await
    .assert_ok();
    let narrow = create_role(&a, "narrow", &b_account, None).await;
    attach(&a, "Custom", "app-logs-only", "narrow").await;
    let narrow_session = assume(&b, &narrow, None).await.expect("B assumes narrow");
    let now = now_seconds();
    assert_eq!(
        narrow_session
            .get_logs(PROJECT, "app", "*", now - 600, now + 60)
            .await
            .len(),
        20
    );
    let other = narrow_session
        .send(
            Call::new("POST", Some(PROJECT), "/logstores/other/logs")
                .json(json!({"from": now - 600, "to": now + 60})),
        )
        .await;
    other.assert_error(401, "Unauthorized");
    narrow_session
        .send(Call::new("GET", Some(PROJECT), "/"))
        .await
        .assert_error(401, "Unauthorized");

    // An explicit deny beats the read-only allow.
    a.send(Call::new("POST", None, "/iam/policies").json(json!({
        "policyName": "no-app-logs",
        "policyDocument": {"Version": "1", "Statement": [{"Effect": "Deny",
            "Action": "log:GetLogStoreLogs", "Resource": "acs:log:*:*:project/*/logstore/app"}]},
    })))
    .await
    .assert_ok();
    attach(&a, "Custom", "no-app-logs", "reader").await;
    let denied = assume(&b, &reader, None)
        .await
        .expect("B assumes reader again");
    denied
        .send(
            Call::new("POST", Some(PROJECT), "/logstores/app/logs")
                .json(json!({"from": now - 600, "to": now + 60})),
        )
        .await
        .assert_error(401, "Unauthorized");
    denied
        .send(Call::new("GET", Some(PROJECT), "/logstores/app"))
        .await
        .assert_ok();

    // Deleting the role revokes its sessions at once.
    a.send(Call::new("DELETE", None, "/iam/roles/reader"))
        .await
        .assert_ok();
    let revoked = denied
        .send(Call::new("GET", Some(PROJECT), "/logstores/app"))
        .await;
    assert_eq!(
        revoked.status,
        401,
        "{}",
        String::from_utf8_lossy(&revoked.body)
    );
}

#[tokio::test]
async fn assume_role_checks_the_external_id() {
    let server = TestServer::start().await;
    let a = account_a(&server).await;
    let (b_account, b) = account_b(&a).await;
    let partner = create_role(
        &a,
        "partner",
        &b_account,
        Some(json!({"StringEquals": {"sts:ExternalId": "abc-123"}})),
    )
    .await;
    attach(&a, "System", "AliyunLogReadOnlyAccess", "partner").await;
    let missing = assume(&b, &partner, None)
        .await
        .err()
        .expect("refused without ExternalId");
    assert!(
        missing["errorMessage"]
            .as_str()
            .unwrap()
            .contains("ExternalId"),
        "{missing}"
    );
    assert!(assume(&b, &partner, Some("wrong")).await.is_err());
    let session = assume(&b, &partner, Some("abc-123"))
        .await
        .expect("right ExternalId");
    session
        .send(Call::new("GET", Some(PROJECT), "/"))
        .await
        .assert_ok();
}

/// A user of A with only the system policy `policy` attached, and its client.
async fn user_with(a: &Client, name: &str, policy: &str) -> Client {
    a.send(Call::new("POST", None, "/iam/users").json(json!({"userName": name})))
        .await
        .assert_ok();
    a.send(Call::new("POST", None, "/iam/policy-attachments").json(json!({
        "policyType": "System", "policyName": policy, "principalType": "User", "principalName": name,
    })))
    .await
    .assert_ok();
    let key = a
        .send(Call::new("POST", None, "/iam/accesskeys").json(json!({"userName": name})))
        .await;
    key.assert_ok();
    let key = key.json();
    a.with_key(
        key["accessKeyId"].as_str().unwrap(),
        key["accessKeySecret"].as_str().unwrap(),
    )
}

fn read_logs(logstore: &str, now: u32) -> Call<'static> {
    let path: &'static str = if logstore == "app" {
        "/logstores/app/logs"
    } else {
        "/logstores/actiontrail_main/logs"
    };
    Call::new("POST", Some(PROJECT), path)
        .json(json!({"from": now - 600, "to": now + 60, "query": "*"}))
}

#[tokio::test]
async fn system_audit_and_security_administrators_are_separated() {
    let server = TestServer::start().await;
    let a = account_a(&server).await;
    a.create_logstore(PROJECT, "actiontrail_main")
        .await
        .assert_ok();
    let now = now_seconds();
    a.put_group(
        PROJECT,
        "actiontrail_main",
        &group_of("event", 5, now),
        CompressionType::Lz4,
    )
    .await
    .assert_ok();

    // The audit administrator reads audit logstores and changes nothing.
    let auditor = user_with(&a, "auditor", "CairnAuditAdministrator").await;
    auditor
        .send(read_logs("actiontrail_main", now))
        .await
        .assert_ok();
    auditor
        .send(read_logs("app", now))
        .await
        .assert_error(401, "Unauthorized");
    auditor
        .put_group(
            PROJECT,
            "actiontrail_main",
            &group_of("forged", 1, now),
            CompressionType::Lz4,
        )
        .await
        .assert_error(401, "Unauthorized");
    auditor
        .send(Call::new(
            "DELETE",
            Some(PROJECT),
            "/logstores/actiontrail_main",
        ))
        .await
        .assert_error(401, "Unauthorized");
    auditor
        .send(Call::new("GET", None, "/iam/users"))
        .await
        .assert_error(401, "Unauthorized");

    // The security administrator manages identities and reads no logs.
    let security = user_with(&a, "security", "CairnSecurityAdministrator").await;
    security
        .send(Call::new("POST", None, "/iam/users").json(json!({"userName": "newcomer"})))
        .await
        .assert_ok();
    security
        .send(read_logs("app", now))
        .await
        .assert_error(401, "Unauthorized");
    security
        .send(read_logs("actiontrail_main", now))
        .await
        .assert_error(401, "Unauthorized");

    // The system administrator runs the system but neither reads audit logs nor manages RAM.
    let system = user_with(&a, "system", "CairnSystemAdministrator").await;
    system.create_logstore(PROJECT, "metrics").await.assert_ok();
    system.send(read_logs("app", now)).await.assert_ok();
    system
        .send(read_logs("actiontrail_main", now))
        .await
        .assert_error(401, "Unauthorized");
    system
        .send(Call::new(
            "DELETE",
            Some(PROJECT),
            "/logstores/actiontrail_main",
        ))
        .await
        .assert_error(401, "Unauthorized");
    system
        .send(Call::new("POST", None, "/iam/users").json(json!({"userName": "sneaky"})))
        .await
        .assert_error(401, "Unauthorized");
}
