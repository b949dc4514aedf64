//! Copy jobs end to end over HTTP: a continuous cross-account copy reads account A's logstore
//! through a role in A and writes account B's through a role in B, and every record arrives
//! exactly once, also across a `kill -9` of the server in the middle.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use cairn_protocol::compression::CompressionType;
use serde_json::{json, Value};

use crate::harness::{group_of, now_seconds, Call, Client, TestServer};

async fn create_role(
    client: &Client,
    name: &str,
    trusted_account: &str,
    actions: &[&str],
    resource: &str,
) -> String {
    let reply = client
        .send(Call::new("POST", None, "/iam/roles").json(json!({
            "roleName": name,
            "assumeRolePolicyDocument": {"Version": "1", "Statement": [{"Effect": "Allow",
                "Action": "sts:AssumeRole", "Principal": {"RAM": [format!("acs:ram::{trusted_account}:root")]}}]},
        })))
        .await;
    reply.assert_ok();
    let arn = reply.json()["arn"].as_str().unwrap().to_owned();
    let policy = format!("{name}-policy");
    client
        .send(Call::new("POST", None, "/iam/policies").json(json!({
            "policyName": policy,
            "policyDocument": {"Version": "1", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource}]},
        })))
        .await
        .assert_ok();
    client
        .send(Call::new("POST", None, "/iam/policy-attachments").json(json!({
            "policyType": "Custom", "policyName": policy, "principalType": "Role", "principalName": name,
        })))
        .await
        .assert_ok();
    arn
}

async fn job_status(client: &Client, project: &str, name: &str) -> Value {
    let reply = client
        .send(Call::new("GET", Some(project), &format!("/etls/{name}")))
        .await;
    reply.assert_ok();
    reply.json()["status"].clone()
}

/// How many records the sink holds, by GetHistograms (one request, no paging).
async fn sink_count(client: &Client) -> u64 {
    let now = now_seconds();
    let reply = client
        .send(
            Call::new("GET", Some("sink-b"), "/logstores/copied")
                .query("type", "histogram")
                .query("from", now - 3600)
                .query("to", now + 60),
        )
        .await;
    reply.assert_ok();
    reply.header("x-log-count").unwrap().parse().unwrap()
}

/// Waits until the sink holds `expected` records, then returns the id counts. Paging starts
/// only once the count is reached and is retried until it sees exactly the counted rows:
/// paging while the job still writes would shift rows between pages and show one twice.
async fn wait_for_sink(client: &Client, expected: usize) -> BTreeMap<String, usize> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let total = sink_count(client).await as usize;
        if total >= expected || Instant::now() > deadline {
            let now = now_seconds();
            let mut counts = BTreeMap::new();
            for page in 0.. {
                let reply = client
                    .send(Call::new("POST", Some("sink-b"), "/logstores/copied/logs").json(json!({
                        "from": now - 3600, "to": now + 60, "query": "*", "line": 100, "offset": page * 100,
                    })))
                    .await;
                reply.assert_ok();
                let rows = reply.json()["data"].as_array().cloned().unwrap();
                if rows.is_empty() {
                    break;
                }
                for row in rows {
                    *counts
                        .entry(row["id"].as_str().unwrap().to_owned())
                        .or_insert(0) += 1;
                }
            }
            let paged: usize = counts.values().sum();
            if paged == sink_count(client).await as usize || Instant::now() > deadline {
                return counts;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_continuous_cross_account_copy_is_exactly_once_across_kill_9() {
    let temp = tempfile::tempdir().unwrap();
    let data_dir = temp.path().join("data");
    let mut server = TestServer::start_in(&data_dir).await;
    let a = server.client();
    let a_account = server.credentials.account_id.clone();
    let created = a
        .send(Call::new("POST", None, "/iam/accounts").json(json!({"accountName": "b"})))
        .await;
    created.assert_ok();
    let created = created.json();
    let (b_key, b_secret) = (
        created["accessKeyId"].as_str().unwrap().to_owned(),
        created["accessKeySecret"].as_str().unwrap().to_owned(),
    );
    let b = a.with_key(&b_key, &b_secret);

    a.create_project("source-a").await.assert_ok();
    a.create_logstore("source-a", "events").await.assert_ok();
    b.create_project("sink-b").await.assert_ok();
    b.create_logstore("sink-b", "copied").await.assert_ok();
    // Role A reads the source; role B (in account B) lets account A's job write the sink.
    let reader = create_role(
        &a,
        "copy-reader",
        &a_account,
        &["log:GetLogStoreLogs"],
        "acs:log:*:*:project/source-a/logstore/events",
    )
    .await;
    let writer = create_role(
        &b,
        "copy-writer",
        &a_account,
        &["log:PostLogStoreLogs"],
        "acs:log:*:*:project/sink-b/logstore/copied",
    )
    .await;

    let now = now_seconds();
    for batch in 0..5 {
        a.put_group(
            "source-a",
            "events",
            &group_of(&format!("before-{batch}"), 40, now),
            CompressionType::Lz4,
        )
        .await
        .assert_ok();
    }
    a.send(Call::new("POST", Some("source-a"), "/etls").json(json!({
        "name": "to-b", "displayName": "copy to account B", "type": "ETL",
        "schedule": {"type": "Resident"},
        "configuration": {"logstore": "events", "roleArn": reader, "fromTime": 0, "toTime": 0,
            "version": 2, "lang": "SPL", "script": "", "parameters": {},
            "sinks": [{"name": "b", "project": "sink-b", "logstore": "copied", "roleArn": writer}]},
    })))
    .await
    .assert_ok();
    let counts = wait_for_sink(&b, 200).await;
    assert_eq!(counts.len(), 200);

    // More writes, and the server dies while the job is copying them.
    for batch in 0..5 {
        a.put_group(
            "source-a",
            "events",
            &group_of(&format!("during-{batch}"), 40, now),
            CompressionType::Lz4,
        )
        .await
        .assert_ok();
    }
    server.kill_hard();
    let server = TestServer::start_in(&data_dir).await;
    let a = server.client();
    let b = a.with_key(&b_key, &b_secret);
    for batch in 0..5 {
        a.put_group(
            "source-a",
            "events",
            &group_of(&format!("after-{batch}"), 40, now),
            CompressionType::Lz4,
        )
        .await
        .assert_ok();
    }
    let counts = wait_for_sink(&b, 600).await;
    let twice: Vec<_> = counts.iter().filter(|(_, &n)| n > 1).collect();
    assert!(twice.is_empty(), "copied more than once: {twice:?}");
    assert_eq!(counts.len(), 600, "every source record arrives");
    let status = job_status(&a, "source-a", "to-b").await;
    assert_eq!(status["state"], "Running", "{status}");
    assert!(
        status["recordsWritten"].as_u64().unwrap() >= 400,
        "{status}"
    );

    // The writer role loses its permission: the job fails with an actionable error.
    b.send(
        Call::new("DELETE", None, "/iam/policy-attachments")
            .query("policyType", "Custom")
            .query("policyName", "copy-writer-policy")
            .query("principalType", "Role")
            .query("principalName", "copy-writer"),
    )
    .await
    .assert_ok();
    a.put_group(
        "source-a",
        "events",
        &group_of("denied", 5, now),
        CompressionType::Lz4,
    )
    .await
    .assert_ok();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        let status = job_status(&a, "source-a", "to-b").await;
        if status["state"] == "Failed" || Instant::now() > deadline {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(status["state"], "Failed", "{status}");
    let error = status["error"].as_str().unwrap();
    assert!(
        error.contains("log:PostLogStoreLogs") && error.contains(&writer),
        "{error}"
    );
}
