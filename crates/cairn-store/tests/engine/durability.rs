//! Appends, scans and what survives a reopen: visibility, snapshots, offsets, tombstones,
//! rollover, concurrency, shutdown and the free-space reserve.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use cairn_model::{Field, LogEntry, LogGroupData, LogTime, LogstoreId, TokenQuery};
use cairn_store::{EngineConfig, LogEngine, StoreError};

use crate::support::{config, everything, group, messages, open, produced, request, segments};

#[tokio::test]
async fn appends_are_visible_at_once_in_arrival_order_within_their_time_range() {
    let root = tempfile::tempdir().expect("temp dir");
    let engine = open(root.path()).await;
    assert!(everything(&engine, 1).await.is_empty());

    let receipt = engine
        .append(request(1, group(&["a", "b"], 100)))
        .await
        .expect("append");
    assert_eq!(receipt.records, 2);
    assert_eq!(receipt.first_offset, 0);
    // Raw size: "message" + value, tag "host"/"web-1", topic, source, plus 8 per record.
    assert_eq!(receipt.raw_bytes, 2 * (7 + 1 + 4 + 5 + 5 + 8 + 8));
    assert_eq!(messages(&everything(&engine, 1).await), vec!["a", "b"]);

    let snapshot = everything(&engine, 1).await;
    let receipt = engine
        .append(request(1, group(&["c"], 50)))
        .await
        .expect("append");
    assert_eq!(receipt.first_offset, 2);
    engine
        .append(request(2, group(&["other"], 100)))
        .await
        .expect("append");
    // The earlier result is a snapshot.
    assert_eq!(messages(&snapshot), vec!["a", "b"]);
    // Arrival order, not time order.
    assert_eq!(messages(&everything(&engine, 1).await), vec!["a", "b", "c"]);
    assert_eq!(messages(&everything(&engine, 2).await), vec!["other"]);

    // [from, to) in nanoseconds: 100 s is included as `from`, excluded as `to`.
    let scan = |from, to| {
        let engine = &engine;
        async move {
            let found = engine
                .search(LogstoreId(1), from, to, &TokenQuery::Everything)
                .await
                .expect("search");
            messages(&found)
        }
    };
    assert_eq!(
        scan(LogTime::new(100, 0), LogTime::new(100, 1)).await,
        vec!["a", "b"]
    );
    assert_eq!(
        scan(LogTime::new(50, 0), LogTime::new(100, 0)).await,
        vec!["c"]
    );
    assert!(scan(LogTime::new(50, 1), LogTime::new(99, 999_999_999))
        .await
        .is_empty());

    let stats = engine.stats();
    assert_eq!(stats.records, 4);
    assert_eq!(stats.segments, 1);
    assert!(stats.wal_bytes > 0);
    engine.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn reopen_restores_records_offsets_and_sequence_ids_once_each() {
    let root = tempfile::tempdir().expect("temp dir");
    let binary = LogGroupData {
        topic: vec![0xff, 0x00].into(),
        source: vec![].into(),
        tags: vec![Field::new(vec![0xc3, 0x28], vec![0x80])],
        logs: vec![LogEntry {
            time: LogTime::new(7, 123),
            contents: vec![
                Field::new("message", "bin"),
                Field::new(vec![0xfe], vec![0xed, 0xa0, 0x80]),
            ],
        }],
    };
    let before = {
        let engine = open(root.path()).await;
        engine
            .append(produced(1, 0, "agent", 1, group(&["one"], 1)))
            .await
            .expect("append");
        engine
            .append(produced(1, 0, "agent", 2, binary))
            .await
            .expect("append");
        engine
            .append(request(1, group(&["three", "four"], 3)))
            .await
            .expect("append");
        engine
            .append(produced(2, 4, "agent", 10, group(&["elsewhere"], 1)))
            .await
            .expect("append");
        let before = (
            everything(&engine, 1).await,
            everything(&engine, 2).await,
            engine.stats(),
        );
        engine.shutdown().await.expect("shutdown");
        before
    };

    let engine = open(root.path()).await;
    let after = (
        everything(&engine, 1).await,
        everything(&engine, 2).await,
        engine.stats(),
    );
    // Equal values, byte for byte (the non-UTF-8 record included), none lost, none twice.
    assert_eq!(after, before);
    assert_eq!(messages(&after.0), vec!["one", "bin", "three", "four"]);
    let binary_record = &after.0[1];
    assert_eq!(binary_record.topic, vec![0xff, 0x00]);
    assert_eq!(binary_record.contents[1].value, vec![0xed, 0xa0, 0x80]);
    assert_eq!(binary_record.time, LogTime::new(7, 123));

    // The sequence table came back: replays are refused, the next id is accepted.
    match engine
        .append(produced(1, 0, "agent", 2, group(&["replay"], 1)))
        .await
    {
        Err(StoreError::InvalidSequenceId {
            key,
            sequence_id,
            last_committed,
        }) => assert_eq!((key.as_str(), sequence_id, last_committed), ("agent", 2, 2)),
        other => panic!("expected a refused replay, got {other:?}"),
    }
    assert!(engine
        .append(produced(2, 4, "agent", 10, group(&["replay"], 1)))
        .await
        .is_err());
    // Offsets continue where they stopped.
    let receipt = engine
        .append(produced(1, 0, "agent", 3, group(&["five"], 5)))
        .await
        .expect("append");
    assert_eq!(receipt.first_offset, 4);
    assert_eq!(
        messages(&everything(&engine, 1).await),
        vec!["one", "bin", "three", "four", "five"]
    );
}

#[tokio::test]
async fn a_dropped_engine_without_shutdown_loses_nothing_acknowledged() {
    let root = tempfile::tempdir().expect("temp dir");
    {
        let engine = open(root.path()).await;
        for index in 0..5 {
            let message = format!("m{index}");
            engine
                .append(produced(1, 0, "k", index, group(&[&message], 1)))
                .await
                .expect("append");
        }
        // No shutdown: the engine just goes away, like a killed process.
    }
    let engine = open(root.path()).await;
    assert_eq!(
        messages(&everything(&engine, 1).await),
        vec!["m0", "m1", "m2", "m3", "m4"]
    );
    assert!(engine
        .append(produced(1, 0, "k", 4, group(&["again"], 1)))
        .await
        .is_err());
}

#[tokio::test]
async fn dropped_logstores_stay_dropped_after_reopen() {
    let root = tempfile::tempdir().expect("temp dir");
    {
        let engine = open(root.path()).await;
        engine
            .append(produced(1, 0, "k", 1, group(&["gone"], 1)))
            .await
            .expect("append");
        engine
            .append(request(2, group(&["kept"], 1)))
            .await
            .expect("append");
        engine.drop_logstore(LogstoreId(1)).await.expect("drop");
        assert!(everything(&engine, 1).await.is_empty());
        assert_eq!(engine.stats().records, 1);
        assert!(matches!(
            engine.append(request(1, group(&["late"], 1))).await,
            Err(StoreError::LogstoreDropped {
                logstore: LogstoreId(1)
            })
        ));
        engine.shutdown().await.expect("shutdown");
    }
    let engine = open(root.path()).await;
    assert!(everything(&engine, 1).await.is_empty());
    assert_eq!(messages(&everything(&engine, 2).await), vec!["kept"]);
    assert_eq!(engine.stats().records, 1);
    let refused = engine
        .append(produced(1, 0, "k", 2, group(&["late"], 1)))
        .await;
    assert!(matches!(refused, Err(StoreError::LogstoreDropped { .. })));
}

#[tokio::test]
async fn segments_roll_over_and_replay_in_order() {
    let root = tempfile::tempdir().expect("temp dir");
    let small = EngineConfig {
        segment_max_bytes: 1024,
        ..config(root.path())
    };
    let expected: Vec<String> = (0..60).map(|index| format!("record-{index:03}")).collect();
    {
        let engine = LogEngine::open(small.clone()).await.expect("open");
        for message in &expected {
            engine
                .append(request(1, group(&[message], 1)))
                .await
                .expect("append");
        }
        let stats = engine.stats();
        let files = segments(root.path());
        assert!(files.len() > 3, "only {} segments", files.len());
        assert_eq!(stats.segments, files.len() as u64);
        let on_disk: u64 = files
            .iter()
            .map(|path| std::fs::metadata(path).expect("metadata").len())
            .sum();
        assert_eq!(stats.wal_bytes, on_disk);
        // A segment rolls once a batch took it to its limit, so it exceeds the limit by
        // at most one batch (here one small record).
        for path in &files {
            assert!(std::fs::metadata(path).expect("metadata").len() <= 1024 + 256);
        }
        engine.shutdown().await.expect("shutdown");
    }
    let engine = LogEngine::open(small).await.expect("reopen");
    assert_eq!(messages(&everything(&engine, 1).await), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_are_all_acknowledged_and_stored_exactly_once() {
    let root = tempfile::tempdir().expect("temp dir");
    const TASKS: u64 = 16;
    const APPENDS: u64 = 20;
    {
        let engine = Arc::new(open(root.path()).await);
        let mut handles = Vec::new();
        for task in 0..TASKS {
            let engine = Arc::clone(&engine);
            handles.push(tokio::spawn(async move {
                let mut offsets = Vec::new();
                for sequence_id in 1..=APPENDS {
                    let message = format!("{task}-{sequence_id}");
                    let receipt = engine
                        .append(produced(
                            1,
                            0,
                            &format!("producer-{task}"),
                            sequence_id,
                            group(&[&message], 1),
                        ))
                        .await
                        .expect("append acknowledged");
                    offsets.push(receipt.first_offset);
                }
                offsets
            }));
        }
        let mut offsets = HashSet::new();
        for handle in handles {
            for offset in handle.await.expect("task") {
                assert!(offsets.insert(offset), "offset {offset} given twice");
            }
        }
        assert_eq!(offsets, (0..TASKS * APPENDS).collect::<HashSet<u64>>());
        engine.shutdown().await.expect("shutdown");
    }
    let engine = open(root.path()).await;
    let stored = messages(&everything(&engine, 1).await);
    assert_eq!(stored.len() as u64, TASKS * APPENDS);
    let unique: HashSet<&String> = stored.iter().collect();
    assert_eq!(unique.len(), stored.len(), "a record was stored twice");
    // Per producer, arrival order is sequence order.
    for task in 0..TASKS {
        let prefix = format!("{task}-");
        let own: Vec<&String> = stored.iter().filter(|m| m.starts_with(&prefix)).collect();
        let expected: Vec<String> = (1..=APPENDS).map(|id| format!("{task}-{id}")).collect();
        assert_eq!(own, expected.iter().collect::<Vec<_>>());
        let replay = produced(1, 0, &format!("producer-{task}"), APPENDS, group(&["x"], 1));
        assert!(matches!(
            engine.append(replay).await,
            Err(StoreError::InvalidSequenceId { .. })
        ));
    }
}

#[tokio::test]
async fn a_nearly_full_disk_refuses_appends_without_writing() {
    let root = tempfile::tempdir().expect("temp dir");
    let reserve_everything = EngineConfig {
        min_free_disk_bytes: u64::MAX,
        ..config(root.path())
    };
    {
        let engine = LogEngine::open(reserve_everything).await.expect("open");
        let wal_bytes = engine.stats().wal_bytes;
        let refused = engine
            .append(produced(1, 0, "k", 1, group(&["no room"], 1)))
            .await;
        match &refused {
            Err(error @ StoreError::DiskFull { .. }) => assert!(error.is_retryable()),
            other => panic!("expected DiskFull, got {other:?}"),
        }
        assert_eq!(engine.stats().wal_bytes, wal_bytes);
        assert!(everything(&engine, 1).await.is_empty());
        // Tombstones are exempt from the reserve: they are how space is reclaimed.
        engine.drop_logstore(LogstoreId(9)).await.expect("drop");
        engine.shutdown().await.expect("shutdown");
    }
    let engine = open(root.path()).await;
    assert!(everything(&engine, 1).await.is_empty());
    // The refused sequence id was not committed either.
    engine
        .append(produced(1, 0, "k", 1, group(&["room now"], 1)))
        .await
        .expect("append");
}

#[tokio::test]
async fn every_acknowledgement_follows_an_fsync_and_shutdown_is_final() {
    let root = tempfile::tempdir().expect("temp dir");
    let fsyncs = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&fsyncs);
    let engine = LogEngine::open(EngineConfig {
        on_fsync: Some(Arc::new(move |_latency| {
            counter.fetch_add(1, Ordering::SeqCst);
        })),
        ..config(root.path())
    })
    .await
    .expect("open");
    for index in 0..3 {
        let before = fsyncs.load(Ordering::SeqCst);
        engine
            .append(request(1, group(&["x"], index)))
            .await
            .expect("append");
        assert!(
            fsyncs.load(Ordering::SeqCst) > before,
            "acknowledged before an fsync"
        );
    }
    engine.shutdown().await.expect("shutdown");
    engine.shutdown().await.expect("a second shutdown is fine");
    assert!(matches!(
        engine.append(request(1, group(&["late"], 1))).await,
        Err(StoreError::ShuttingDown)
    ));
    assert!(matches!(
        engine.drop_logstore(LogstoreId(1)).await,
        Err(StoreError::ShuttingDown)
    ));
    assert!(StoreError::ShuttingDown.is_retryable());
    // The scan side keeps working: the records are still in memory.
    assert_eq!(everything(&engine, 1).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_queued_before_shutdown_complete_and_persist() {
    let root = tempfile::tempdir().expect("temp dir");
    let acknowledged = {
        let engine = Arc::new(open(root.path()).await);
        let mut handles = Vec::new();
        for index in 0..50u32 {
            let engine = Arc::clone(&engine);
            handles.push(tokio::spawn(async move {
                let message = format!("m{index}");
                engine
                    .append(request(1, group(&[&message], index)))
                    .await
                    .map(|_| message)
            }));
        }
        engine.shutdown().await.expect("shutdown");
        let mut acknowledged = HashSet::new();
        for handle in handles {
            match handle.await.expect("task") {
                Ok(message) => {
                    acknowledged.insert(message);
                }
                Err(error) => assert!(matches!(error, StoreError::ShuttingDown)),
            }
        }
        acknowledged
    };
    let engine = open(root.path()).await;
    let stored: HashSet<String> = messages(&everything(&engine, 1).await)
        .into_iter()
        .collect();
    assert_eq!(stored, acknowledged);
}

#[tokio::test]
async fn one_engine_per_wal_directory() {
    let root = tempfile::tempdir().expect("temp dir");
    let engine = open(root.path()).await;
    assert!(matches!(
        LogEngine::open(config(root.path())).await,
        Err(StoreError::Locked { .. })
    ));
    drop(engine);
    open(root.path()).await;
}
