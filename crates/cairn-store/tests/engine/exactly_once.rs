//! Exactly-once: per (logstore, shard, producer key) only sequence ids above the last
//! committed one are written, and the check cannot race.

use std::sync::Arc;

use cairn_store::StoreError;

use crate::support::{everything, group, messages, open, produced, request};

fn refused_as_replay(result: Result<cairn_store::AppendReceipt, StoreError>) -> (u64, u64) {
    match result {
        Err(error @ StoreError::InvalidSequenceId { .. }) => {
            assert!(!error.is_retryable());
            match error {
                StoreError::InvalidSequenceId {
                    sequence_id,
                    last_committed,
                    ..
                } => (sequence_id, last_committed),
                _ => unreachable!("matched above"),
            }
        }
        other => panic!("expected InvalidSequenceId, got {other:?}"),
    }
}

#[tokio::test]
async fn replays_and_lower_ids_are_refused_without_writing() {
    let root = tempfile::tempdir().expect("temp dir");
    let engine = open(root.path()).await;
    engine
        .append(produced(1, 0, "agent", 5, group(&["five"], 1)))
        .await
        .expect("first id of a key is accepted");
    let stats = engine.stats();

    let replay = engine
        .append(produced(1, 0, "agent", 5, group(&["five again"], 1)))
        .await;
    assert_eq!(refused_as_replay(replay), (5, 5));
    let lower = engine
        .append(produced(1, 0, "agent", 3, group(&["three"], 1)))
        .await;
    assert_eq!(refused_as_replay(lower), (3, 5));
    let zero = engine
        .append(produced(1, 0, "agent", 0, group(&["zero"], 1)))
        .await;
    assert_eq!(refused_as_replay(zero), (0, 5));
    // Nothing was written for the refusals.
    assert_eq!(engine.stats(), stats);
    assert_eq!(messages(&everything(&engine, 1).await), vec!["five"]);

    // A gap is fine; the next id is above the last.
    engine
        .append(produced(1, 0, "agent", 9, group(&["nine"], 1)))
        .await
        .expect("higher id");
    let after_gap = engine
        .append(produced(1, 0, "agent", 6, group(&["six"], 1)))
        .await;
    assert_eq!(refused_as_replay(after_gap), (6, 9));

    // Keys, shards and logstores are independent.
    for independent in [
        produced(1, 0, "other-agent", 1, group(&["other key"], 1)),
        produced(1, 1, "agent", 1, group(&["other shard"], 1)),
        produced(2, 0, "agent", 1, group(&["other logstore"], 1)),
    ] {
        engine.append(independent).await.expect("independent");
    }
    // Appends without a producer are never deduplicated.
    engine
        .append(request(1, group(&["plain"], 1)))
        .await
        .expect("plain");
    engine
        .append(request(1, group(&["plain"], 1)))
        .await
        .expect("plain again");
    assert_eq!(
        messages(&everything(&engine, 1).await),
        vec!["five", "nine", "other key", "other shard", "plain", "plain"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_copies_of_one_request_are_stored_once() {
    let root = tempfile::tempdir().expect("temp dir");
    let engine = Arc::new(open(root.path()).await);
    for sequence_id in 1..=5u64 {
        let mut handles = Vec::new();
        for _ in 0..16 {
            let engine = Arc::clone(&engine);
            handles.push(tokio::spawn(async move {
                let message = format!("request-{sequence_id}");
                engine
                    .append(produced(1, 0, "agent", sequence_id, group(&[&message], 1)))
                    .await
            }));
        }
        let mut accepted = 0;
        for handle in handles {
            match handle.await.expect("task") {
                Ok(_) => accepted += 1,
                Err(StoreError::InvalidSequenceId {
                    sequence_id: refused,
                    last_committed,
                    ..
                }) => assert_eq!((refused, last_committed), (sequence_id, sequence_id)),
                Err(other) => panic!("unexpected error {other}"),
            }
        }
        assert_eq!(
            accepted, 1,
            "sequence id {sequence_id} accepted {accepted} times"
        );
    }
    let expected: Vec<String> = (1..=5).map(|id| format!("request-{id}")).collect();
    assert_eq!(messages(&everything(&engine, 1).await), expected);
}

#[tokio::test]
async fn oversized_producer_keys_are_refused_as_bad_requests() {
    let root = tempfile::tempdir().expect("temp dir");
    let engine = open(root.path()).await;
    let long_key = "k".repeat(4097);
    match engine
        .append(produced(1, 0, &long_key, 1, group(&["x"], 1)))
        .await
    {
        Err(error @ StoreError::InvalidAppend { .. }) => assert!(!error.is_retryable()),
        other => panic!("expected InvalidAppend, got {other:?}"),
    }
    assert_eq!(engine.stats().wal_bytes, 0);
}
