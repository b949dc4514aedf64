//! Consumer groups against the real server: create, list, update, delete, heartbeats that hand
//! the shard to one live consumer, checkpoints guarded by ownership, persistence across a
//! restart, deletion with the logstore; and who may call the consumption APIs at all.

use std::time::Duration;

use cairn_protocol::compression::CompressionType;
use cairn_protocol::cursor::encode_cursor;
use serde_json::{json, Value};

use super::{pull, setup, PROJECT};
use crate::harness::{group_of, now_seconds, Call, Client, TestServer};

fn group_call(method: &'static str, kind: Option<&str>, body: Value) -> Call<'static> {
    let mut call = Call::new(
        method,
        Some(PROJECT),
        "/logstores/app/consumergroups/readers",
    );
    if let Some(kind) = kind {
        call = call.query("type", kind);
    }
    if method == "POST" || method == "PUT" {
        call = call.json(body);
    }
    call
}

async fn heartbeat(client: &Client, consumer: &str, held: Value) -> Value {
    let reply = client
        .send(group_call("POST", Some("heartbeat"), held).query("consumer", consumer))
        .await;
    reply.assert_ok();
    reply.json()
}

fn checkpoint_call(consumer: &str, offset: u64, force: bool) -> Call<'static> {
    group_call(
        "POST",
        Some("checkpoint"),
        json!({"shard": 0, "checkpoint": encode_cursor(offset)}),
    )
    .query("consumer", consumer)
    .query("forceSuccess", if force { "True" } else { "False" })
}

async fn checkpoints(client: &Client) -> Value {
    let reply = client.send(group_call("GET", None, Value::Null)).await;
    reply.assert_ok();
    reply.json()
}

#[tokio::test]
async fn consumer_groups_live_through_heartbeats_checkpoints_and_a_restart() {
    let temp = tempfile::tempdir().unwrap();
    let data_dir = temp.path().join("data");
    let mut server = TestServer::start_in(&data_dir).await;
    let client = setup(&server).await;
    client
        .put_group(
            PROJECT,
            "app",
            &group_of("c", 20, now_seconds()),
            CompressionType::Lz4,
        )
        .await
        .assert_ok();
    let groups = Call::new("POST", Some(PROJECT), "/logstores/app/consumergroups");
    let create = |timeout: u32| {
        Call::new("POST", Some(PROJECT), "/logstores/app/consumergroups")
            .json(json!({"consumerGroup": "readers", "timeout": timeout, "order": false}))
    };
    client.send(create(3)).await.assert_ok();
    client
        .send(create(5))
        .await
        .assert_error(400, "ConsumerGroupAlreadyExist");
    client
        .send(groups.json(json!({"consumerGroup": "Bad Name", "timeout": 5})))
        .await
        .assert_error(400, "ParameterInvalid");
    let listed = client
        .send(Call::new(
            "GET",
            Some(PROJECT),
            "/logstores/app/consumergroups",
        ))
        .await;
    assert_eq!(
        listed.json(),
        json!([{"name": "readers", "timeout": 3, "order": false}])
    );
    client
        .send(group_call("PUT", None, json!({"order": true})))
        .await
        .assert_ok();

    // Nobody checkpointed yet: one empty entry for shard 0.
    assert_eq!(
        checkpoints(&client).await,
        json!([{"shard": 0, "checkpoint": "", "updateTime": 0, "consumer": ""}])
    );
    assert_eq!(heartbeat(&client, "a", json!([])).await, json!([0]));
    assert_eq!(heartbeat(&client, "b", json!([])).await, json!([]));
    client
        .send(checkpoint_call("a", 7, false))
        .await
        .assert_ok();
    client
        .send(checkpoint_call("b", 9, false))
        .await
        .assert_error(400, "ConsumerNotMatch");
    client
        .send(checkpoint_call("nobody", 9, false))
        .await
        .assert_error(404, "ConsumerNotExsit");
    client
        .send(checkpoint_call("a", 21, false))
        .await
        .assert_error(400, "InvalidCursor");
    let saved = checkpoints(&client).await;
    assert_eq!(saved[0]["checkpoint"], encode_cursor(7));
    assert_eq!(saved[0]["consumer"], "a");
    assert!(saved[0]["updateTime"].as_i64().unwrap() > 1_600_000_000_000_000);
    // Forced, a checkpoint lands whoever sends it.
    client
        .send(checkpoint_call("b", 12, true))
        .await
        .assert_ok();
    let one = client
        .send(group_call("GET", None, Value::Null).query("shard", 0))
        .await;
    assert_eq!(one.json()[0]["checkpoint"], encode_cursor(12));
    client
        .send(group_call("GET", None, Value::Null).query("shard", 3))
        .await
        .assert_error(404, "ShardNotExist");

    // a stops heartbeating; after the timeout, now 1 s, b takes the shard over.
    client
        .send(group_call("PUT", None, json!({"timeout": 1})))
        .await
        .assert_ok();
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert_eq!(heartbeat(&client, "b", json!([])).await, json!([0]));
    // With a long timeout again, a returning keeps nothing however slow this machine is.
    client
        .send(group_call("PUT", None, json!({"timeout": 60})))
        .await
        .assert_ok();
    assert_eq!(heartbeat(&client, "a", json!([0])).await, json!([]));

    // Groups, holders and checkpoints are in the metastore: they survive a restart.
    server.terminate();
    let server = TestServer::start_in(&data_dir).await;
    let client = server.client();
    assert_eq!(
        checkpoints(&client).await[0]["checkpoint"],
        encode_cursor(12)
    );
    assert_eq!(heartbeat(&client, "b", json!([0])).await, json!([0]));
    let listed = client
        .send(Call::new(
            "GET",
            Some(PROJECT),
            "/logstores/app/consumergroups",
        ))
        .await;
    assert_eq!(listed.json()[0]["order"], true);

    client
        .send(group_call("DELETE", None, Value::Null))
        .await
        .assert_ok();
    for call in [
        group_call("GET", None, Value::Null),
        group_call("DELETE", None, Value::Null),
        group_call("POST", Some("heartbeat"), json!([])).query("consumer", "a"),
    ] {
        client
            .send(call)
            .await
            .assert_error(404, "ConsumerGroupNotExist");
    }

    // Deleting the logstore deletes its groups: a logstore of the same name starts empty.
    client.send(create(30)).await.assert_ok();
    client
        .send(Call::new("DELETE", Some(PROJECT), "/logstores/app"))
        .await
        .assert_ok();
    client.create_logstore(PROJECT, "app").await.assert_ok();
    let listed = client
        .send(Call::new(
            "GET",
            Some(PROJECT),
            "/logstores/app/consumergroups",
        ))
        .await;
    assert_eq!(listed.json(), json!([]));
}

#[tokio::test]
async fn consumption_is_authorised_like_every_other_read() {
    let server = TestServer::start().await;
    let a = setup(&server).await;
    a.put_group(
        PROJECT,
        "app",
        &group_of("a", 5, now_seconds()),
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
    let reads = || {
        vec![
            Call::new("GET", Some(PROJECT), "/logstores/app/shards"),
            Call::new("GET", Some(PROJECT), "/logstores/app/shards/0")
                .query("type", "cursor")
                .query("from", "begin"),
            Call::new("GET", Some(PROJECT), "/logstores/app/shards/0")
                .query("type", "log")
                .query("cursor", encode_cursor(0))
                .query("count", 10),
            Call::new("GET", Some(PROJECT), "/logstores/app/consumergroups"),
            group_call("GET", None, Value::Null),
        ]
    };
    let writes = || {
        vec![
            Call::new("POST", Some(PROJECT), "/logstores/app/consumergroups")
                .json(json!({"consumerGroup": "planted", "timeout": 60})),
            group_call("PUT", None, json!({"timeout": 1})),
            group_call("POST", Some("heartbeat"), json!([])).query("consumer", "intruder"),
            checkpoint_call("intruder", 5, true),
            group_call("DELETE", None, Value::Null),
        ]
    };

    // Another account reaches nothing.
    let created = a
        .send(Call::new("POST", None, "/iam/accounts").json(json!({"accountName": "b"})))
        .await;
    created.assert_ok();
    let created = created.json();
    let b = a.with_key(
        created["accessKeyId"].as_str().unwrap(),
        created["accessKeySecret"].as_str().unwrap(),
    );
    for call in reads().into_iter().chain(writes()) {
        b.send(call).await.assert_error(401, "Unauthorized");
    }

    // A read-only user of the account pulls and reads checkpoints, but runs no consumer.
    a.send(Call::new("POST", None, "/iam/users").json(json!({"userName": "reader"})))
        .await
        .assert_ok();
    a.send(
        Call::new("POST", None, "/iam/policy-attachments").json(json!({
            "policyType": "System", "policyName": "AliyunLogReadOnlyAccess",
            "principalType": "User", "principalName": "reader",
        })),
    )
    .await
    .assert_ok();
    let key = a
        .send(Call::new("POST", None, "/iam/accesskeys").json(json!({"userName": "reader"})))
        .await
        .json();
    let reader = a.with_key(
        key["accessKeyId"].as_str().unwrap(),
        key["accessKeySecret"].as_str().unwrap(),
    );
    for call in reads() {
        reader.send(call).await.assert_ok();
    }
    for call in writes() {
        reader.send(call).await.assert_error(401, "Unauthorized");
    }
    let page = pull(&reader, &encode_cursor(0), 10, Some("lz4")).await;
    assert_eq!(page.ids().len(), 5);
    // Nothing of A's group changed.
    let listed = a
        .send(Call::new(
            "GET",
            Some(PROJECT),
            "/logstores/app/consumergroups",
        ))
        .await;
    assert_eq!(
        listed.json(),
        json!([{"name": "readers", "timeout": 60, "order": false}])
    );
    assert_eq!(checkpoints(&a).await[0]["checkpoint"], "");
}
