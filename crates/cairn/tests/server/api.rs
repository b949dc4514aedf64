//! The SLS-compatible API: projects, logstores, index configs, PutLogs, GetLogs, histograms.

use cairn_protocol::compression::CompressionType;
use serde_json::json;

use crate::harness::{group_of, now_seconds, Call, TestServer};

#[tokio::test]
async fn first_start_writes_private_credentials_and_serves_health_and_metrics() {
    use std::os::unix::fs::PermissionsExt;
    let server = TestServer::start().await;
    let mode = std::fs::metadata(server.data_dir.join("credentials.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(server.credentials.account_id.len(), 16);
    let client = server.client();
    client.create_project("metered").await.assert_ok();
    client.create_logstore("metered", "app").await.assert_ok();
    client
        .put_group(
            "metered",
            "app",
            &group_of("m", 7, now_seconds()),
            CompressionType::Lz4,
        )
        .await
        .assert_ok();
    client
        .send(Call::new("GET", Some("missing-project"), "/"))
        .await
        .assert_error(404, "ProjectNotExist");
    let metrics = reqwest::get(format!("{}/metrics", server.endpoint()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for expected in [
        r#"cairn_requests_total{api="PutLogs",code="OK"} 1"#,
        r#"cairn_requests_total{api="GetProject",code="ProjectNotExist"} 1"#,
        "cairn_ingested_records_total 7",
        "cairn_wal_fsync_duration_seconds_count ",
    ] {
        assert!(
            metrics.contains(expected),
            "{expected} missing from:\n{metrics}"
        );
    }
    assert!(!metrics.contains("cairn_wal_fsync_duration_seconds_count 0"));
}

#[tokio::test]
async fn projects_and_logstores_have_a_full_lifecycle() {
    let server = TestServer::start().await;
    let client = server.client();
    client.create_project("web-prod").await.assert_ok();
    client
        .create_project("web-prod")
        .await
        .assert_error(400, "ProjectAlreadyExist");
    client
        .create_project("Bad_Name")
        .await
        .assert_error(400, "ParameterInvalid");

    let project = client.send(Call::new("GET", Some("web-prod"), "/")).await;
    project.assert_ok();
    assert_eq!(project.json()["projectName"], "web-prod");
    assert_eq!(
        project.json()["owner"],
        server.credentials.account_id.as_str()
    );

    client
        .send(Call::new("PUT", Some("web-prod"), "/").json(json!({"description": "new"})))
        .await
        .assert_ok();
    for name in ["web-stage", "api-prod"] {
        client.create_project(name).await.assert_ok();
    }
    let list = client
        .send(
            Call::new("GET", None, "/")
                .query("offset", 1)
                .query("size", 1),
        )
        .await;
    list.assert_ok();
    assert_eq!(list.json()["total"], 3);
    assert_eq!(list.json()["count"], 1);
    assert_eq!(list.json()["projects"][0]["projectName"], "web-prod");
    let filtered = client
        .send(Call::new("GET", None, "/").query("projectName", "web"))
        .await;
    assert_eq!(filtered.json()["total"], 2);
    assert_eq!(
        client
            .send(Call::new("GET", Some("web-prod"), "/"))
            .await
            .json()["description"],
        "new"
    );

    client
        .create_logstore("web-prod", "access_log")
        .await
        .assert_ok();
    client
        .create_logstore("web-prod", "access_log")
        .await
        .assert_error(400, "LogStoreAlreadyExist");
    client
        .create_logstore("web-prod", "_bad")
        .await
        .assert_error(400, "ParameterInvalid");
    client
        .create_logstore("nope-project", "access_log")
        .await
        .assert_error(404, "ProjectNotExist");
    client
        .send(
            Call::new("PUT", Some("web-prod"), "/logstores/access_log")
                .json(json!({"logstoreName": "access_log", "ttl": 90, "shardCount": 4})),
        )
        .await
        .assert_ok();
    let logstore = client
        .send(Call::new("GET", Some("web-prod"), "/logstores/access_log"))
        .await;
    logstore.assert_ok();
    assert_eq!(logstore.json()["ttl"], 90);
    assert_eq!(logstore.json()["shardCount"], 4);
    let list = client
        .send(Call::new("GET", Some("web-prod"), "/logstores"))
        .await;
    assert_eq!(list.json()["logstores"], json!(["access_log"]));
    client
        .send(Call::new("GET", Some("web-prod"), "/logstores/missing"))
        .await
        .assert_error(404, "LogStoreNotExist");
    client
        .send(Call::new(
            "DELETE",
            Some("web-prod"),
            "/logstores/access_log",
        ))
        .await
        .assert_ok();
    client
        .send(Call::new("DELETE", Some("web-prod"), "/"))
        .await
        .assert_ok();
    client
        .send(Call::new("GET", Some("web-prod"), "/"))
        .await
        .assert_error(404, "ProjectNotExist");
}

#[tokio::test]
async fn index_configs_round_trip() {
    let server = TestServer::start().await;
    let client = server.client();
    client.create_project("idx").await.assert_ok();
    client.create_logstore("idx", "app").await.assert_ok();
    let path = "/logstores/app/index";
    client
        .send(Call::new("GET", Some("idx"), path))
        .await
        .assert_error(404, "IndexConfigNotExist");
    let config = json!({
        "line": {"token": [",", " ", ";"], "caseSensitive": false, "chn": false},
        "keys": {"status": {"type": "long", "doc_value": true},
                 "latency": {"type": "double", "doc_value": true}},
        "log_reduce": false
    });
    client
        .send(Call::new("POST", Some("idx"), path).json(config.clone()))
        .await
        .assert_ok();
    client
        .send(Call::new("POST", Some("idx"), path).json(config))
        .await
        .assert_error(400, "IndexAlreadyExist");
    let got = client.send(Call::new("GET", Some("idx"), path)).await;
    got.assert_ok();
    assert_eq!(got.json()["keys"]["status"]["type"], "long");
    assert_eq!(got.json()["line"]["token"], json!([",", " ", ";"]));
    client
        .send(Call::new("PUT", Some("idx"), path).json(json!({"keys": {"msg": {"type": "text"}}})))
        .await
        .assert_ok();
    let got = client.send(Call::new("GET", Some("idx"), path)).await;
    assert_eq!(got.json()["keys"]["msg"]["type"], "text");
    assert!(got.json().get("line").is_none());
    client
        .send(Call::new("PUT", Some("idx"), path).json(json!({"keys": {"x": {"type": "nope"}}})))
        .await
        .assert_error(400, "ParameterInvalid");
    client
        .send(Call::new("DELETE", Some("idx"), path))
        .await
        .assert_ok();
}

#[tokio::test]
async fn logs_written_with_every_compression_are_searchable_at_once() {
    let server = TestServer::start().await;
    let client = server.client();
    client.create_project("logs").await.assert_ok();
    client.create_logstore("logs", "app").await.assert_ok();
    let now = now_seconds();
    for (n, compression) in [
        CompressionType::Lz4,
        CompressionType::Zstd,
        CompressionType::Deflate,
        CompressionType::None,
    ]
    .into_iter()
    .enumerate()
    {
        client
            .put_group(
                "logs",
                "app",
                &group_of(&format!("c{n}"), 20, now - 10),
                compression,
            )
            .await
            .assert_ok();
    }
    // Visible immediately after the acknowledgement, no waiting.
    let all = client
        .get_logs("logs", "app", "*", now - 60, now + 60)
        .await;
    assert_eq!(all.len(), 80);
    let row = &all[0];
    assert_eq!(row["__topic__"], "test-topic");
    assert_eq!(row["__source__"], "10.0.0.9");
    assert_eq!(row["__tag__:host"], "web-1");
    assert_eq!(row["__time__"], (now - 10).to_string());

    let errors = client
        .get_logs("logs", "app", "status: 500 and backend", now - 60, now + 60)
        .await;
    assert_eq!(errors.len(), 8);
    assert!(errors.iter().all(|r| r["status"] == "500"));
    let one = client
        .get_logs("logs", "app", "id: \"c2-7\"", now - 60, now + 60)
        .await;
    assert_eq!(one.len(), 1);
    let none = client
        .get_logs("logs", "app", "*", now - 600, now - 300)
        .await;
    assert!(none.is_empty());
    let not = client
        .get_logs("logs", "app", "not status: 200", now - 60, now + 60)
        .await;
    assert_eq!(not.len(), 8);
}

#[tokio::test]
async fn get_logs_v1_pages_and_orders_and_histograms_count() {
    let server = TestServer::start().await;
    let client = server.client();
    client.create_project("pages").await.assert_ok();
    client.create_logstore("pages", "app").await.assert_ok();
    let now = now_seconds();
    for minute in 0..3u32 {
        client
            .put_group(
                "pages",
                "app",
                &group_of(&format!("m{minute}"), 10, now - 300 + minute * 60),
                CompressionType::Lz4,
            )
            .await
            .assert_ok();
    }
    let from = (now - 300).to_string();
    let to = (now + 1).to_string();
    let page = client
        .send(
            Call::new("GET", Some("pages"), "/logstores/app")
                .query("type", "log")
                .query("from", &from)
                .query("to", &to)
                .query("query", "*")
                .query("line", 5)
                .query("offset", 3)
                .query("reverse", "True"),
        )
        .await;
    page.assert_ok();
    assert_eq!(page.header("x-log-progress"), Some("Complete"));
    assert_eq!(page.header("x-log-count"), Some("5"));
    let rows = page.json();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 5);
    // Newest first: the last group's records, skipping three.
    assert_eq!(rows[0]["id"], "m2-6");

    let histogram = client
        .send(
            Call::new("GET", Some("pages"), "/logstores/app")
                .query("type", "histogram")
                .query("from", &from)
                .query("to", &to)
                .query("query", "status: 200"),
        )
        .await;
    histogram.assert_ok();
    assert_eq!(histogram.header("x-log-progress"), Some("Complete"));
    assert_eq!(histogram.header("x-log-count"), Some("27"));
    let buckets = histogram.json();
    let total: u64 = buckets
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 27);

    let topics = client
        .send(Call::new("GET", Some("pages"), "/logstores/app").query("type", "topic"))
        .await;
    topics.assert_ok();
    assert_eq!(topics.json(), json!(["test-topic"]));

    let sql = client
        .send(
            Call::new("GET", Some("pages"), "/logstores/app")
                .query("type", "log")
                .query("from", &from)
                .query("to", &to)
                .query("query", "* | select count(*)"),
        )
        .await;
    sql.assert_ok();
    assert_eq!(sql.header("x-log-has-sql"), Some("True"));
    assert_eq!(sql.json(), json!([{"_col0": "30"}]));
}

#[tokio::test]
async fn bad_bodies_get_clear_errors_and_harm_nothing() {
    let server = TestServer::start().await;
    let client = server.client();
    client.create_project("bad").await.assert_ok();
    client.create_logstore("bad", "app").await.assert_ok();
    let path = "/logstores/app/shards/lb";
    let send = |body: Vec<u8>, compression: Option<&'static str>, raw: usize| {
        let client = client.clone();
        async move {
            let mut call = Call::new("POST", Some("bad"), path)
                .header("content-type", "application/x-protobuf")
                .header("x-log-bodyrawsize", raw);
            if let Some(c) = compression {
                call = call.header("x-log-compresstype", c);
            }
            call.body = body;
            client.send(call).await
        }
    };
    send(b"not lz4 at all".to_vec(), Some("lz4"), 100)
        .await
        .assert_error(400, "PostBodyInvalid");
    send(vec![0xff; 64], None, 64)
        .await
        .assert_error(400, "PostBodyInvalid");
    send(vec![1, 2, 3], Some("snappy"), 3)
        .await
        .assert_error(400, "ParameterInvalid");
    // A body that claims to inflate past the 50 MB raw limit is refused before inflating.
    send(vec![0; 100], Some("lz4"), 60 * 1024 * 1024)
        .await
        .assert_error(413, "PostBodyTooLarge");
    // A zstd bomb: 64 MiB of zeros compresses to a few KB; the header lies low.
    let bomb = cairn_protocol::compression::compress(CompressionType::Zstd, &vec![0; 64 << 20]);
    assert!(bomb.len() < 1 << 20);
    let reply = send(bomb, Some("zstd"), 1000).await;
    assert!(
        matches!(
            reply.error_code().as_str(),
            "PostBodyInvalid" | "PostBodyTooLarge"
        ),
        "{reply:?}"
    );
    // Over 10 MB as sent.
    send(vec![0; 11 * 1024 * 1024], None, 11 * 1024 * 1024)
        .await
        .assert_error(413, "PostBodyTooLarge");
    client
        .put_group(
            "bad",
            "missing",
            &group_of("x", 1, now_seconds()),
            CompressionType::Lz4,
        )
        .await
        .assert_error(404, "LogStoreNotExist");
    let now = now_seconds();
    assert!(client
        .get_logs("bad", "app", "*", now - 600, now + 60)
        .await
        .is_empty());
}
