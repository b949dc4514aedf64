//! Reads by offset: within a logstore, `read_from` returns every acknowledged record exactly
//! once, at the offset its append receipt announced, in order, also after refused appends,
//! concurrent appends and a reopen.

use std::sync::Arc;

use cairn_model::LogstoreId;
use cairn_store::LogEngine;

use crate::support::{group, messages, open, produced, request};

/// Reads the whole logstore `batch` records at a time, checking that offsets are contiguous.
async fn read_all(engine: &LogEngine, logstore: i64, batch: usize) -> Vec<String> {
    let mut offset = 0;
    let mut read = Vec::new();
    loop {
        let (records, next) = engine
            .read_from(LogstoreId(logstore), offset, batch)
            .await
            .expect("read");
        if records.is_empty() {
            assert_eq!(next, offset, "an empty read keeps the offset");
            break;
        }
        for (expected, (at, _)) in (offset..).zip(&records) {
            assert_eq!(*at, expected, "offsets are contiguous");
        }
        assert_eq!(next, offset + records.len() as u64);
        offset = next;
        read.extend(records.into_iter().map(|(_, record)| record));
    }
    assert_eq!(offset, engine.next_offset(LogstoreId(logstore)));
    messages(&read)
}

#[tokio::test]
async fn offsets_match_receipts_and_skip_nothing_across_refusals_and_reopen() {
    let root = tempfile::tempdir().expect("temp dir");
    let engine = open(root.path()).await;
    assert_eq!(engine.next_offset(LogstoreId(1)), 0);
    let first = engine
        .append(produced(1, 0, "p", 1, group(&["a", "b"], 10)))
        .await
        .expect("append");
    assert_eq!(first.first_offset, 0);
    // A refused replay takes no offset.
    assert!(engine
        .append(produced(1, 0, "p", 1, group(&["replay"], 10)))
        .await
        .is_err());
    engine
        .append(request(2, group(&["other logstore"], 10)))
        .await
        .expect("append");
    let second = engine
        .append(request(1, group(&["c"], 5)))
        .await
        .expect("append");
    assert_eq!(second.first_offset, 2);
    let (records, next) = engine.read_from(LogstoreId(1), 2, 10).await.expect("read");
    assert_eq!(next, 3);
    assert_eq!(records[0].0, second.first_offset);
    assert_eq!(read_all(&engine, 1, 1).await, ["a", "b", "c"]);
    assert_eq!(read_all(&engine, 2, 7).await, ["other logstore"]);
    drop(engine);

    let engine = open(root.path()).await;
    assert_eq!(engine.next_offset(LogstoreId(1)), 3);
    assert_eq!(read_all(&engine, 1, 2).await, ["a", "b", "c"]);
    let third = engine
        .append(request(1, group(&["d"], 1)))
        .await
        .expect("append");
    assert_eq!(third.first_offset, 3);
    assert_eq!(read_all(&engine, 1, 100).await, ["a", "b", "c", "d"]);
}

#[tokio::test]
async fn concurrent_appends_are_read_at_their_receipt_offsets() {
    let root = tempfile::tempdir().expect("temp dir");
    let engine = Arc::new(open(root.path()).await);
    let mut tasks = Vec::new();
    for task in 0..8 {
        let engine = Arc::clone(&engine);
        tasks.push(tokio::spawn(async move {
            let mut receipts = Vec::new();
            for i in 0..25 {
                let a = format!("t{task}-{i}-a");
                let b = format!("t{task}-{i}-b");
                let receipt = engine
                    .append(request(7, group(&[&a, &b], 1)))
                    .await
                    .expect("append");
                receipts.push((receipt.first_offset, a, b));
            }
            receipts
        }));
    }
    let mut receipts = Vec::new();
    for task in tasks {
        receipts.extend(task.await.expect("task"));
    }
    assert_eq!(engine.next_offset(LogstoreId(7)), 400);
    for (offset, a, b) in receipts {
        let (records, _) = engine
            .read_from(LogstoreId(7), offset, 2)
            .await
            .expect("read");
        let read: Vec<_> = records.into_iter().map(|(_, record)| record).collect();
        assert_eq!(messages(&read), [a, b]);
    }
    assert_eq!(read_all(&engine, 7, 33).await.len(), 400);
}
