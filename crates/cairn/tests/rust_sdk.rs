//! Compatibility with SLS's official Rust SDK (`aliyun-log-rust-sdk`), driving the real
//! `cairn serve`.
//!
//! The SDK always dials `<project>.<endpoint>`, which no resolver here knows. Instead of
//! editing /etc/hosts, the test points the SDK's HTTP client at Cairn as its HTTP proxy:
//! the request then arrives in absolute form with `Host: <project>.cairn.test`, exactly the
//! virtual-host addressing a real deployment sees. This binary holds a single test because it
//! sets process-wide proxy variables.

#[allow(dead_code)]
#[path = "server/harness.rs"]
mod harness;

use aliyun_log_rust_sdk::{get_cursor_models, Client, Config, FromConfig};
use aliyun_log_sdk_protobuf::{Log, LogGroup};

#[tokio::test]
async fn the_official_rust_sdk_writes_and_reads() {
    let temp = tempfile::tempdir().expect("tempdir");
    let server = harness::TestServer::start_with(
        &temp.path().join("data"),
        &["--endpoint-domains", "cairn.test"],
    )
    .await;
    // Set before the SDK builds its HTTP client; the harness's own clients dial 127.0.0.1.
    std::env::set_var("HTTP_PROXY", server.endpoint());
    std::env::set_var("http_proxy", server.endpoint());
    std::env::set_var("NO_PROXY", "127.0.0.1");
    std::env::set_var("no_proxy", "127.0.0.1");
    let config = Config::builder()
        .endpoint("http://cairn.test")
        .access_key(
            &server.credentials.access_key_id,
            &server.credentials.access_key_secret,
        )
        .build()
        .expect("config");
    let client = Client::from_config(config).expect("client");

    client
        .create_project("rust-sdk")
        .description("from the rust sdk")
        .send()
        .await
        .expect("create project");
    let project = client
        .get_project("rust-sdk")
        .send()
        .await
        .expect("get project");
    assert_eq!(project.get_body().project_name(), "rust-sdk");
    assert_eq!(project.get_body().description(), "from the rust sdk");

    client
        .create_logstore("rust-sdk", "events")
        .shard_count(2)
        .ttl(7)
        .send()
        .await
        .expect("create logstore");
    let logstore = client
        .get_logstore("rust-sdk", "events")
        .send()
        .await
        .expect("get logstore");
    assert_eq!(*logstore.get_body().ttl(), 7);
    assert_eq!(*logstore.get_body().shard_count(), 2);

    let now = harness::now_seconds();
    let mut group = LogGroup::new();
    group.set_topic("sdk").set_source("10.1.2.3");
    group.add_log_tag_kv("region", "eu");
    for n in 0..25u32 {
        let mut log = Log::from_unixtime(now - 5);
        log.set_time_ns(n)
            .add_content_kv("level", if n % 5 == 0 { "error" } else { "info" })
            .add_content_kv("n", n.to_string());
        group.add_log(log);
    }
    client
        .put_logs("rust-sdk", "events")
        .log_group(group)
        .send()
        .await
        .expect("put logs");

    let response = client
        .get_logs("rust-sdk", "events")
        .from(i64::from(now) - 60)
        .to(i64::from(now) + 60)
        .query("level: error")
        .lines(100)
        .send()
        .await
        .expect("get logs");
    let body = response.get_body();
    assert!(body.is_complete());
    assert_eq!(body.logs_count(), 5);
    for log in body.logs() {
        assert_eq!(log["level"], "error");
        assert_eq!(log["__topic__"], "sdk");
        assert_eq!(log["__source__"], "10.1.2.3");
        assert_eq!(log["__tag__:region"], "eu");
        assert_eq!(log["__time__"], (now - 5).to_string());
    }
    // Consumption as the SDK does it: one shard, cursors, PullLogs (`type=logs`, lz4,
    // `endCursor`) and a consumer group with a heartbeat and a checkpoint.
    let shards = client
        .list_shards("rust-sdk", "events")
        .send()
        .await
        .expect("list shards");
    assert_eq!(shards.get_body().shards().len(), 1);
    assert_eq!(*shards.get_body().shards()[0].shard_id(), 0);
    let cursor = |position| {
        client
            .get_cursor("rust-sdk", "events", 0)
            .cursor_pos(position)
            .send()
    };
    let begin = cursor(get_cursor_models::CursorPos::Begin)
        .await
        .expect("begin cursor")
        .get_body()
        .cursor()
        .to_owned();
    let end = cursor(get_cursor_models::CursorPos::End)
        .await
        .expect("end cursor")
        .get_body()
        .cursor()
        .to_owned();
    let pulled = client
        .pull_logs("rust-sdk", "events", 0)
        .cursor(&begin)
        .end_cursor(&end)
        .count(10)
        .send()
        .await
        .expect("pull logs");
    let pulled = pulled.get_body();
    assert_eq!(pulled.next_cursor(), &end);
    assert_eq!(pulled.log_group_list().len(), 1);
    let pulled_group = &pulled.log_group_list()[0];
    assert_eq!(pulled_group.logs().len(), 25);
    assert_eq!(pulled_group.topic().as_deref(), Some("sdk"));
    client
        .create_consumer_group("rust-sdk", "events", "readers")
        .timeout(30)
        .order(false)
        .send()
        .await
        .expect("create consumer group");
    let heartbeat = client
        .consumer_group_heartbeat("rust-sdk", "events", "readers")
        .consumer("c1")
        .send()
        .await
        .expect("heartbeat");
    assert_eq!(heartbeat.get_body().shards(), &vec![0]);
    client
        .update_consumer_group_checkpoint("rust-sdk", "events", "readers")
        .shard_id(0)
        .consumer_id("c1")
        .checkpoint(&end)
        .send()
        .await
        .expect("checkpoint");
    let checkpoints = client
        .get_consumer_group_checkpoint("rust-sdk", "events", "readers")
        .shard_id(0)
        .send()
        .await
        .expect("get checkpoint");
    assert_eq!(checkpoints.get_body().checkpoints()[0].checkpoint(), &end);
    let groups = client
        .list_consumer_groups("rust-sdk", "events")
        .send()
        .await
        .expect("list consumer groups");
    assert_eq!(
        groups.get_body().consumer_groups()[0].consumer_group_name(),
        "readers"
    );

    match client.get_project("no-such-project").send().await {
        Ok(_) => panic!("a missing project was found"),
        Err(error) => {
            let error = format!("{error:?}");
            assert!(error.contains("ProjectNotExist"), "{error}");
        }
    }
}
