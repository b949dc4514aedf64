//! Consumption APIs against the real server: ListShards, cursors and PullLogs (exactly once,
//! in order, across pages and a `kill -9`; every response compression) here; consumer groups
//! (lifecycle, heartbeats, checkpoint ownership, persistence) and the authorisation of all of
//! them in [`groups`].

mod groups;

use cairn_model::{Field, LogEntry, LogGroupData, LogTime};
use cairn_protocol::compression::{decompress, CompressionType};
use cairn_protocol::cursor::encode_cursor;

use crate::harness::{group_of, now_seconds, Call, Client, Reply, TestServer};

const PROJECT: &str = "consume";

/// One PullLogs page, decoded.
struct Page {
    groups: Vec<LogGroupData>,
    next_cursor: String,
    reply: Reply,
}

impl Page {
    fn ids(&self) -> Vec<String> {
        self.groups
            .iter()
            .flat_map(|group| &group.logs)
            .map(|log| {
                let id = log.contents.iter().find(|f| &f.key[..] == b"id");
                id.map(|f| f.value_text().into_owned()).unwrap_or_default()
            })
            .collect()
    }
}

async fn pull(client: &Client, cursor: &str, count: u32, accept: Option<&str>) -> Page {
    let mut call = Call::new("GET", Some(PROJECT), "/logstores/app/shards/0")
        .query("type", "log")
        .query("cursor", cursor)
        .query("count", count)
        .header("accept", "application/x-protobuf");
    if let Some(accept) = accept {
        call = call.header("accept-encoding", accept);
    }
    let reply = client.send(call).await;
    reply.assert_ok();
    let raw_size: usize = reply
        .header("x-log-bodyrawsize")
        .expect("x-log-bodyrawsize")
        .parse()
        .expect("number");
    let kind = CompressionType::from_header(reply.header("x-log-compresstype")).expect("known");
    let raw = decompress(kind, &reply.body, Some(raw_size), 64 << 20).expect("decompress");
    let groups = cairn_protocol::decode_log_group_list(raw.into()).expect("LogGroupList");
    let count: usize = reply
        .header("x-log-count")
        .expect("x-log-count")
        .parse()
        .unwrap();
    assert_eq!(count, groups.len());
    let next_cursor = reply
        .header("x-log-cursor")
        .expect("x-log-cursor")
        .to_owned();
    Page {
        groups,
        next_cursor,
        reply,
    }
}

async fn cursor(client: &Client, from: &str) -> String {
    let reply = client
        .send(
            Call::new("GET", Some(PROJECT), "/logstores/app/shards/0")
                .query("type", "cursor")
                .query("from", from),
        )
        .await;
    reply.assert_ok();
    reply.json()["cursor"].as_str().expect("cursor").to_owned()
}

/// Reads pages from `cursor` until the cursor stops moving; returns ids and the last cursor.
async fn read_to_end(client: &Client, mut cursor: String, count: u32) -> (Vec<String>, String) {
    let mut ids = Vec::new();
    loop {
        let page = pull(client, &cursor, count, Some("lz4")).await;
        ids.extend(page.ids());
        if page.next_cursor == cursor {
            assert!(page.groups.is_empty());
            return (ids, cursor);
        }
        cursor = page.next_cursor;
    }
}

/// A group whose topic alternates with `batch`, so batches never merge into one LogGroup.
fn batch(batch: usize, records: usize) -> LogGroupData {
    let mut group = group_of(&format!("b{batch}"), records, now_seconds());
    group.topic = format!("topic-{}", batch % 2).into_bytes().into();
    group
}

async fn setup(server: &TestServer) -> Client {
    let client = server.client();
    client.create_project(PROJECT).await.assert_ok();
    client.create_logstore(PROJECT, "app").await.assert_ok();
    client
}

#[tokio::test]
async fn one_shard_and_cursors_by_position_and_time() {
    let server = TestServer::start().await;
    let client = setup(&server).await;
    let shards = client
        .send(Call::new("GET", Some(PROJECT), "/logstores/app/shards"))
        .await;
    shards.assert_ok();
    let shards = shards.json();
    assert_eq!(shards.as_array().map(Vec::len), Some(1), "{shards}");
    assert_eq!(shards[0]["shardID"], 0);
    assert_eq!(shards[0]["status"], "readwrite");
    assert_eq!(shards[0]["inclusiveBeginKey"], "0".repeat(32));
    assert_eq!(shards[0]["exclusiveEndKey"], "f".repeat(32));
    assert!(shards[0]["createTime"].as_i64().unwrap() > 1_600_000_000);

    assert_eq!(cursor(&client, "begin").await, encode_cursor(0));
    assert_eq!(cursor(&client, "end").await, encode_cursor(0));
    let now = now_seconds();
    for (n, time) in [now - 300, now - 200, now - 100].into_iter().enumerate() {
        let group = group_of(&format!("t{n}"), 5, time);
        client
            .put_group(PROJECT, "app", &group, CompressionType::Lz4)
            .await
            .assert_ok();
    }
    assert_eq!(cursor(&client, "begin").await, encode_cursor(0));
    assert_eq!(cursor(&client, "end").await, encode_cursor(15));
    let at = |seconds: u32| seconds.to_string();
    assert_eq!(cursor(&client, &at(now - 250)).await, encode_cursor(5));
    assert_eq!(cursor(&client, &at(now - 100)).await, encode_cursor(10));
    assert_eq!(cursor(&client, &at(now)).await, encode_cursor(15));
    assert_eq!(cursor(&client, "99999999999").await, encode_cursor(15));

    let cursor_time = client
        .send(
            Call::new("GET", Some(PROJECT), "/logstores/app/shards/0")
                .query("type", "cursor_time")
                .query("cursor", encode_cursor(5)),
        )
        .await;
    cursor_time.assert_ok();
    assert_eq!(cursor_time.json()["cursor_time"], now - 200);

    for (shard, status, code) in [("1", 404, "ShardNotExist"), ("x", 400, "ParameterInvalid")] {
        let path = format!("/logstores/app/shards/{shard}");
        for kind in ["cursor", "cursor_time", "log"] {
            let call = Call::new("GET", Some(PROJECT), &path)
                .query("type", kind)
                .query("from", "begin")
                .query("cursor", encode_cursor(0))
                .query("count", 10);
            client.send(call).await.assert_error(status, code);
        }
    }
    let bad_from = client
        .send(
            Call::new("GET", Some(PROJECT), "/logstores/app/shards/0")
                .query("type", "cursor")
                .query("from", "yesterday"),
        )
        .await;
    bad_from.assert_error(400, "ParameterInvalid");
    for bad in ["not-a-cursor".to_owned(), encode_cursor(16)] {
        let reply = client
            .send(
                Call::new("GET", Some(PROJECT), "/logstores/app/shards/0")
                    .query("type", "log")
                    .query("cursor", bad)
                    .query("count", 10),
            )
            .await;
        reply.assert_error(400, "InvalidCursor");
    }
    let missing = client
        .send(Call::new("GET", Some(PROJECT), "/logstores/nope/shards"))
        .await;
    missing.assert_error(404, "LogStoreNotExist");
}

#[tokio::test]
async fn pull_logs_returns_every_record_once_in_order_across_pages_and_a_kill_9() {
    let temp = tempfile::tempdir().unwrap();
    let data_dir = temp.path().join("data");
    let mut server = TestServer::start_in(&data_dir).await;
    let client = setup(&server).await;
    let mut expected = Vec::new();
    for n in 0..40 {
        let group = batch(n, 7);
        expected.extend(
            group
                .logs
                .iter()
                .map(|log| log.contents[0].value_text().into_owned()),
        );
        client
            .put_group(PROJECT, "app", &group, CompressionType::Lz4)
            .await
            .assert_ok();
    }

    // Halfway through, the server dies without warning.
    let mut cursor_now = cursor(&client, "begin").await;
    let mut read = Vec::new();
    for _ in 0..10 {
        let page = pull(&client, &cursor_now, 2, Some("lz4")).await;
        assert!(page.groups.len() <= 2);
        assert!(page.groups.iter().all(|g| g.logs.len() == 7));
        read.extend(page.ids());
        cursor_now = page.next_cursor;
    }
    assert_eq!(read.len(), 10 * 2 * 7);
    server.kill_hard();

    let server = TestServer::start_in(&data_dir).await;
    let client = server.client();
    for n in 40..45 {
        let group = batch(n, 7);
        expected.extend(
            group
                .logs
                .iter()
                .map(|log| log.contents[0].value_text().into_owned()),
        );
        client
            .put_group(PROJECT, "app", &group, CompressionType::Zstd)
            .await
            .assert_ok();
    }
    let (rest, end) = read_to_end(&client, cursor_now, 3).await;
    read.extend(rest);
    assert_eq!(read, expected, "every record exactly once, in order");
    assert_eq!(end, cursor(&client, "end").await);

    // From the beginning again, in pages of one group, and in one page of many.
    let begin = cursor(&client, "begin").await;
    assert_eq!(read_to_end(&client, begin.clone(), 1).await.0, expected);
    let all = pull(&client, &begin, 1000, None).await;
    assert_eq!(all.ids(), expected);
    assert_eq!(all.groups.len(), 45);
    assert_eq!(
        all.reply.header("x-log-read-last-cursor"),
        Some(encode_cursor(44 * 7).as_str())
    );
}

#[tokio::test]
async fn pull_logs_compresses_as_asked_and_honours_end_cursor() {
    let server = TestServer::start().await;
    let client = setup(&server).await;
    let group = LogGroupData {
        topic: b"t".to_vec().into(),
        source: b"10.1.1.1".to_vec().into(),
        tags: vec![Field::new("env", "prod")],
        logs: (0..50u32)
            .map(|n| LogEntry {
                time: LogTime::new(now_seconds(), n),
                contents: vec![
                    Field::new("id", format!("r{n}")),
                    Field::new("raw", [0xff, 0xfe, n as u8]),
                ],
            })
            .collect(),
    };
    client
        .put_group(PROJECT, "app", &group, CompressionType::None)
        .await
        .assert_ok();
    let begin = encode_cursor(0);
    for (accept, header) in [
        (Some("lz4"), Some("lz4")),
        (Some("zstd"), Some("zstd")),
        (Some("deflate"), Some("deflate")),
        (Some("gzip, deflate"), Some("deflate")),
        (Some(""), None),
        (Some("gzip"), None),
        (None, None),
    ] {
        let page = pull(&client, &begin, 10, accept).await;
        assert_eq!(
            page.reply.header("x-log-compresstype"),
            header,
            "{accept:?}"
        );
        assert_eq!(page.groups, std::slice::from_ref(&group), "{accept:?}");
        assert_eq!(page.next_cursor, encode_cursor(50));
        assert_eq!(
            page.reply.header("content-type"),
            Some("application/x-protobuf")
        );
    }

    // end_cursor (Python) and endCursor (Rust SDK) stop the read before that record.
    for name in ["end_cursor", "endCursor"] {
        let reply = client
            .send(
                Call::new("GET", Some(PROJECT), "/logstores/app/shards/0")
                    .query("type", "logs")
                    .query("cursor", encode_cursor(10))
                    .query("count", 100)
                    .query(name, encode_cursor(15)),
            )
            .await;
        reply.assert_ok();
        let groups = cairn_protocol::decode_log_group_list(reply.body.clone().into()).unwrap();
        assert_eq!(groups[0].logs.len(), 5, "{name}");
        assert_eq!(
            reply.header("x-log-cursor"),
            Some(encode_cursor(15).as_str())
        );
    }

    // At the end: no data, raw, and the cursor stays.
    let end = pull(&client, &encode_cursor(50), 10, Some("lz4")).await;
    assert!(end.groups.is_empty());
    assert_eq!(end.reply.header("x-log-bodyrawsize"), Some("0"));
    assert_eq!(end.reply.header("x-log-compresstype"), None);
    assert_eq!(end.next_cursor, encode_cursor(50));
    for count in ["0", "1001", "many"] {
        client
            .send(
                Call::new("GET", Some(PROJECT), "/logstores/app/shards/0")
                    .query("type", "log")
                    .query("cursor", &begin)
                    .query("count", count),
            )
            .await
            .assert_error(400, "ParameterInvalid");
    }
}
