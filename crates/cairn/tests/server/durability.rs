//! Durability: every acknowledged record survives `kill -9` and a torn WAL tail, none is
//! served twice, graceful shutdown loses nothing, and producer sequence ids make resends
//! exactly-once across restarts.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_protocol::compression::CompressionType;
use serde_json::json;

use crate::harness::{group_of, now_seconds, Call, Client, TestServer};

const WRITERS: usize = 4;
const RECORDS_PER_GROUP: usize = 10;

/// Every record id in the logstore over the last hour, paging through GetLogs.
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
        let rows = reply.json()["data"].as_array().cloned().unwrap();
        if rows.is_empty() {
            break;
        }
        ids.extend(rows.iter().map(|r| r["id"].as_str().unwrap().to_owned()));
    }
    ids
}

#[tokio::test]
async fn acknowledged_records_survive_kill_9_and_a_torn_wal_tail() {
    let temp = tempfile::tempdir().unwrap();
    let data_dir = temp.path().join("data");
    let mut server = TestServer::start_in(&data_dir).await;
    let client = server.client();
    client.create_project("durable").await.assert_ok();
    client.create_logstore("durable", "app").await.assert_ok();

    let acknowledged: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let client = client.clone();
        let acknowledged = acknowledged.clone();
        let stop = stop.clone();
        writers.push(tokio::spawn(async move {
            for batch in 0.. {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let prefix = format!("w{writer}-b{batch}");
                let group = group_of(&prefix, RECORDS_PER_GROUP, now_seconds());
                let raw = cairn_protocol::encode_log_group(&group);
                let body = cairn_protocol::compression::compress(CompressionType::Lz4, &raw);
                let mut call = Call::new("POST", Some("durable"), "/logstores/app/shards/lb")
                    .header("content-type", "application/x-protobuf")
                    .header("x-log-compresstype", "lz4")
                    .header("x-log-bodyrawsize", raw.len());
                call.body = body;
                // A killed server makes send() panic inside the harness; catch it as "not acked".
                let sent = tokio::spawn({
                    let client = client.clone();
                    async move { client.send(call).await.status }
                })
                .await;
                match sent {
                    Ok(200) => {
                        let mut acked = acknowledged.lock().unwrap();
                        for n in 0..RECORDS_PER_GROUP {
                            acked.insert(format!("{prefix}-{n}"));
                        }
                    }
                    _ => break,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill_hard();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for writer in writers {
        let _ = writer.await;
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 100,
        "too few writes before the kill: {}",
        acknowledged.len()
    );

    // Tear the WAL tail as a crash mid-write would: a record header promising more bytes
    // than follow, with garbage after it.
    let newest_segment = std::fs::read_dir(data_dir.join("wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .max()
        .expect("a WAL segment");
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&newest_segment)
        .unwrap();
    file.write_all(&[0x00, 0x10, 0x00, 0x00, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3])
        .unwrap();
    drop(file);

    let server = TestServer::start_in(&data_dir).await;
    let ids = all_ids(&server.client(), "durable", "app").await;
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for id in &ids {
        *counts.entry(id.as_str()).or_default() += 1;
    }
    let twice: Vec<_> = counts.iter().filter(|(_, &c)| c > 1).collect();
    assert!(twice.is_empty(), "served more than once: {twice:?}");
    let missing: Vec<_> = acknowledged
        .iter()
        .filter(|id| !counts.contains_key(id.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged but lost: {} records",
        missing.len()
    );
    // Whatever was not acknowledged can only be the groups in flight at the kill.
    assert!(ids.len() - acknowledged.len() <= WRITERS * RECORDS_PER_GROUP);
}

#[tokio::test]
async fn sigterm_drains_and_loses_nothing() {
    let temp = tempfile::tempdir().unwrap();
    let data_dir = temp.path().join("data");
    let mut server = TestServer::start_in(&data_dir).await;
    let client = server.client();
    client.create_project("graceful").await.assert_ok();
    client.create_logstore("graceful", "app").await.assert_ok();
    for batch in 0..5 {
        client
            .put_group(
                "graceful",
                "app",
                &group_of(&format!("g{batch}"), 20, now_seconds()),
                CompressionType::Lz4,
            )
            .await
            .assert_ok();
    }
    let status = server.terminate();
    assert!(status.success(), "exit status {status}");
    let server = TestServer::start_in(&data_dir).await;
    assert_eq!(
        all_ids(&server.client(), "graceful", "app").await.len(),
        100
    );
}

#[tokio::test]
async fn producer_sequence_ids_make_resends_exactly_once_across_restarts() {
    let temp = tempfile::tempdir().unwrap();
    let data_dir = temp.path().join("data");
    let mut server = TestServer::start_in(&data_dir).await;
    let client = server.client();
    client.create_project("exactly").await.assert_ok();
    client.create_logstore("exactly", "app").await.assert_ok();
    let send = |client: Client, sequence: u64| async move {
        let group = group_of(&format!("s{sequence}"), 3, now_seconds());
        let raw = cairn_protocol::encode_log_group(&group);
        let mut call = Call::new("POST", Some("exactly"), "/logstores/app/shards/route")
            .query("key", "host-1:/var/log/app.log")
            .query("seqid", sequence)
            .header("content-type", "application/x-protobuf")
            .header("x-log-bodyrawsize", raw.len());
        call.body = raw;
        client.send(call).await
    };
    send(client.clone(), 1).await.assert_ok();
    send(client.clone(), 1)
        .await
        .assert_error(400, "InvalidSequenceId");
    send(client.clone(), 2).await.assert_ok();
    server.kill_hard();

    let server = TestServer::start_in(&data_dir).await;
    let client = server.client();
    send(client.clone(), 2)
        .await
        .assert_error(400, "InvalidSequenceId");
    send(client.clone(), 1)
        .await
        .assert_error(400, "InvalidSequenceId");
    send(client.clone(), 3).await.assert_ok();
    let ids = all_ids(&client, "exactly", "app").await;
    assert_eq!(ids.len(), 9, "{ids:?}");
}

#[tokio::test]
async fn a_disk_without_room_refuses_writes_retryably_and_keeps_serving_reads() {
    let temp = tempfile::tempdir().unwrap();
    let data_dir = temp.path().join("data");
    // Ask for more free space than any disk has: every write must be refused before the WAL.
    let server = TestServer::start_with(&data_dir, &["--min-free-disk-mb", "1000000000000"]).await;
    let client = server.client();
    client.create_project("full-disk").await.assert_ok();
    client.create_logstore("full-disk", "app").await.assert_ok();
    let refused = client
        .put_group(
            "full-disk",
            "app",
            &group_of("f", 5, now_seconds()),
            CompressionType::Lz4,
        )
        .await;
    refused.assert_error(503, "ServerBusy");
    assert!(refused.json()["errorMessage"]
        .as_str()
        .unwrap()
        .contains("free"));
    assert!(all_ids(&client, "full-disk", "app").await.is_empty());
}
