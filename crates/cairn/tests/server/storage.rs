//! Storage through the real server: records move into Parquet splits under the data
//! directory and stay searchable (also after a restart); a crash at each step of the flush
//! (the process aborts at a failpoint) loses and doubles nothing; write-protected logstores
//! refuse deletion and TTL shortening, also from their owner.

use std::path::Path;
use std::time::Duration;

use cairn_protocol::compression::CompressionType;
use serde_json::json;

use crate::harness::{free_port, group_of, now_seconds, Call, Client, TestServer};

/// Every `id` in the logstore over the last hour, paging through GetLogs, sorted.
async fn all_ids(client: &Client, project: &str, logstore: &str) -> Vec<String> {
    let now = now_seconds();
    let mut ids = Vec::new();
    let path = format!("/logstores/{logstore}/logs");
    for page in 0.. {
        let reply = client
            .send(Call::new("POST", Some(project), &path).json(json!({
                "from": now - 3600, "to": now + 60, "query": "*",
                "line": 100, "offset": page * 100,
            })))
            .await;
        reply.assert_ok();
        let rows = reply.json()["data"].as_array().cloned().expect("rows");
        if rows.is_empty() {
            break;
        }
        ids.extend(
            rows.iter()
                .map(|r| r["id"].as_str().expect("id").to_owned()),
        );
    }
    ids.sort();
    ids
}

fn parquet_files(data_dir: &Path) -> Vec<std::path::PathBuf> {
    fn walk(path: &Path, found: &mut Vec<std::path::PathBuf>) {
        if let Ok(entries) = std::fs::read_dir(path) {
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, found);
                } else if path.extension().is_some_and(|ext| ext == "parquet") {
                    found.push(path);
                }
            }
        }
    }
    let mut found = Vec::new();
    walk(&data_dir.join("objects").join("splits"), &mut found);
    found
}

async fn wait_for_splits(data_dir: &Path) {
    for _ in 0..100 {
        if !parquet_files(data_dir).is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no split was flushed within 10 s");
}

fn expected_ids(prefix: &str, count: usize) -> Vec<String> {
    let mut ids: Vec<String> = (0..count).map(|n| format!("{prefix}-{n}")).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn records_move_into_splits_and_stay_searchable_across_a_restart() {
    let temp = tempfile::tempdir().expect("temp dir");
    let data_dir = temp.path().join("data");
    let mut server = TestServer::start_in(&data_dir).await;
    let client = server.client();
    client.create_project("stored").await.assert_ok();
    client.create_logstore("stored", "app").await.assert_ok();
    let group = group_of("s", 250, now_seconds());
    client
        .put_group("stored", "app", &group, CompressionType::Lz4)
        .await
        .assert_ok();
    wait_for_splits(&data_dir).await;
    assert_eq!(
        all_ids(&client, "stored", "app").await,
        expected_ids("s", 250)
    );
    let now = now_seconds();
    let needle = client
        .get_logs("stored", "app", "id: s-137", now - 60, now + 60)
        .await;
    assert_eq!(needle.len(), 1);
    assert_eq!(needle[0]["id"], "s-137");

    server.kill_hard();
    let server = TestServer::start_in(&data_dir).await;
    let client = server.client();
    assert_eq!(
        all_ids(&client, "stored", "app").await,
        expected_ids("s", 250)
    );
}

/// The server aborts at `failpoint` during its first flush; restarted without it, every
/// acknowledged record is there exactly once.
async fn crash_at(failpoint: &str) {
    let temp = tempfile::tempdir().expect("temp dir");
    let data_dir = temp.path().join("data");
    let port = free_port();
    let mut server = TestServer::start_with_environment(
        &data_dir,
        port,
        &[],
        &[("CAIRN_SPLIT_FAILPOINT", failpoint)],
    )
    .await;
    let client = server.client();
    client.create_project("crashy").await.assert_ok();
    client.create_logstore("crashy", "app").await.assert_ok();
    let group = group_of("c", 300, now_seconds());
    client
        .put_group("crashy", "app", &group, CompressionType::Zstd)
        .await
        .assert_ok();
    let status = server
        .wait_for_exit(Duration::from_secs(20))
        .unwrap_or_else(|| panic!("{failpoint}: the server did not abort"));
    assert!(!status.success(), "{failpoint}: {status:?}");
    let server = TestServer::start_on(&data_dir, port, &[]).await;
    let client = server.client();
    assert_eq!(
        all_ids(&client, "crashy", "app").await,
        expected_ids("c", 300),
        "{failpoint}"
    );
    // The next flush succeeds and changes nothing visible.
    wait_for_splits(&data_dir).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        all_ids(&client, "crashy", "app").await,
        expected_ids("c", 300),
        "{failpoint} after the flush"
    );
}

#[tokio::test]
async fn an_abort_after_upload_loses_and_doubles_nothing() {
    crash_at("after-upload").await;
}

#[tokio::test]
async fn an_abort_after_publish_loses_and_doubles_nothing() {
    crash_at("after-publish").await;
}

#[tokio::test]
async fn write_protected_logstores_refuse_deletion_and_shorter_ttls() {
    let server = TestServer::start().await;
    let client = server.client();
    client.create_project("audit").await.assert_ok();
    client
        .send(Call::new("POST", Some("audit"), "/logstores").json(json!({
            "logstoreName": "trail", "ttl": 180, "shardCount": 1, "writeProtected": true
        })))
        .await
        .assert_ok();
    let update = |body: serde_json::Value| {
        let client = client.clone();
        async move {
            client
                .send(Call::new("PUT", Some("audit"), "/logstores/trail").json(body))
                .await
        }
    };
    update(json!({"logstoreName": "trail", "ttl": 90}))
        .await
        .assert_error(403, "LogStoreWriteProtected");
    update(json!({"logstoreName": "trail", "writeProtected": false}))
        .await
        .assert_error(403, "LogStoreWriteProtected");
    update(json!({"logstoreName": "trail", "ttl": 365}))
        .await
        .assert_ok();
    client
        .send(Call::new("DELETE", Some("audit"), "/logstores/trail"))
        .await
        .assert_error(403, "LogStoreWriteProtected");
    client
        .send(Call::new("DELETE", Some("audit"), "/"))
        .await
        .assert_error(403, "LogStoreWriteProtected");
    let got = client
        .send(Call::new("GET", Some("audit"), "/logstores/trail"))
        .await;
    got.assert_ok();
    assert_eq!(got.json()["ttl"], 365);
    assert_eq!(got.json()["writeProtected"], true);
    // An unprotected logstore in the same project deletes as usual.
    client.create_logstore("audit", "scratch").await.assert_ok();
    client
        .send(Call::new("DELETE", Some("audit"), "/logstores/scratch"))
        .await
        .assert_ok();
}

/// Runs `cairn query` against `server`, signing with the operator's credentials file.
fn cairn_query(server: &TestServer, arguments: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_cairn"))
        .arg("query")
        .args(arguments)
        .args(["--endpoint", &server.endpoint()])
        .arg("--credentials")
        .arg(server.data_dir.join("credentials.json"))
        .output()
        .expect("run cairn query");
    assert!(
        output.status.success(),
        "cairn query failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}

#[tokio::test]
async fn cairn_query_prints_sql_results_as_a_table_and_as_json() {
    let temp = tempfile::tempdir().expect("temp dir");
    let data_dir = temp.path().join("data");
    let server = TestServer::start_in(&data_dir).await;
    let client = server.client();
    client.create_project("cli").await.assert_ok();
    client.create_logstore("cli", "app").await.assert_ok();
    client
        .put_group(
            "cli",
            "app",
            &group_of("q", 100, now_seconds()),
            CompressionType::Lz4,
        )
        .await
        .assert_ok();
    wait_for_splits(&data_dir).await;
    client
        .put_group(
            "cli",
            "app",
            &group_of("r", 30, now_seconds()),
            CompressionType::Lz4,
        )
        .await
        .assert_ok();
    let sql = "* | SELECT status, count(*) AS c GROUP BY status ORDER BY c DESC";
    let table = cairn_query(&server, &["-p", "cli", "-l", "app", sql]);
    let lines: Vec<Vec<&str>> = table
        .lines()
        .map(|line| line.split_whitespace().collect())
        .filter(|words: &Vec<&str>| !words.is_empty())
        .collect();
    assert!(lines.contains(&vec!["status", "c"]), "{table}");
    assert!(lines.contains(&vec!["200", "117"]), "{table}");
    assert!(lines.contains(&vec!["500", "13"]), "{table}");

    let json: serde_json::Value = serde_json::from_str(&cairn_query(
        &server,
        &["-p", "cli", "-l", "app", "-o", "json", sql],
    ))
    .expect("json output");
    assert_eq!(json["columns"], json!(["status", "c"]));
    assert_eq!(json["rows"][0], json!(["200", "117"]));

    let needle = cairn_query(
        &server,
        &["-p", "cli", "-l", "app", "-o", "json", "id: q-42"],
    );
    assert!(needle.contains("q-42"), "{needle}");
}
