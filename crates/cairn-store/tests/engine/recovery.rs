//! Recovery from damaged WAL files: a torn or corrupt tail is cut and never served; damage
//! in an earlier segment stops the engine from opening.

use std::path::Path;

use cairn_store::{EngineConfig, LogEngine, StoreError};

use crate::support::{config, everything, group, messages, open, produced, segments};

/// Writes three producer appends ("one", "two", "three") to a fresh WAL under `root`, and
/// returns the single segment's bytes and where the last record starts.
async fn three_records(root: &Path) -> (Vec<u8>, usize) {
    let engine = open(root).await;
    let mut boundary = 0;
    for (sequence_id, message) in ["one", "two", "three"].into_iter().enumerate() {
        boundary = engine.stats().wal_bytes;
        engine
            .append(produced(
                1,
                0,
                "agent",
                sequence_id as u64 + 1,
                group(&[message], 1),
            ))
            .await
            .expect("append");
    }
    engine.shutdown().await.expect("shutdown");
    let files = segments(root);
    assert_eq!(files.len(), 1);
    let bytes = std::fs::read(&files[0]).expect("read segment");
    (bytes, boundary as usize)
}

/// Writes `bytes` as the only segment of a fresh WAL under `root`.
fn write_segment(root: &Path, bytes: &[u8]) {
    let wal = root.join("wal");
    std::fs::create_dir_all(&wal).expect("wal dir");
    std::fs::write(wal.join("wal-00000000000000000000.log"), bytes).expect("write");
}

/// Opens the damaged WAL and checks the tail was dropped and writing goes on.
async fn assert_tail_dropped(root: &Path, boundary: usize, damage: &str) {
    let engine = open(root).await;
    assert_eq!(
        messages(&everything(&engine, 1).await),
        vec!["one", "two"],
        "{damage}"
    );
    let segment = &segments(root)[0];
    assert_eq!(
        std::fs::metadata(segment).expect("metadata").len(),
        boundary as u64,
        "{damage}: the torn bytes were not truncated"
    );
    assert_eq!(engine.stats().wal_bytes, boundary as u64);
    // The lost record's sequence id was never committed: the producer's retry is accepted.
    engine
        .append(produced(1, 0, "agent", 3, group(&["three again"], 1)))
        .await
        .unwrap_or_else(|error| panic!("{damage}: append after recovery failed: {error}"));
    engine.shutdown().await.expect("shutdown");
    drop(engine);
    let engine = open(root).await;
    assert_eq!(
        messages(&everything(&engine, 1).await),
        vec!["one", "two", "three again"],
        "{damage}"
    );
}

#[tokio::test]
async fn a_tail_cut_at_any_byte_is_dropped_and_writing_continues() {
    let original = tempfile::tempdir().expect("temp dir");
    let (bytes, boundary) = three_records(original.path()).await;
    assert!(bytes.len() > boundary + 8);
    // Every cut strictly inside the last record (header included).
    for cut in boundary + 1..bytes.len() {
        let root = tempfile::tempdir().expect("temp dir");
        write_segment(root.path(), &bytes[..cut]);
        assert_tail_dropped(root.path(), boundary, &format!("cut at {cut}")).await;
    }
    // A cut exactly on the boundary is a clean end.
    let root = tempfile::tempdir().expect("temp dir");
    write_segment(root.path(), &bytes[..boundary]);
    assert_tail_dropped(root.path(), boundary, "cut on the boundary").await;
}

#[tokio::test]
async fn a_flipped_byte_anywhere_in_the_tail_record_drops_it() {
    let original = tempfile::tempdir().expect("temp dir");
    let (bytes, boundary) = three_records(original.path()).await;
    for position in boundary..bytes.len() {
        let mut damaged = bytes.clone();
        damaged[position] ^= 0x40;
        let root = tempfile::tempdir().expect("temp dir");
        write_segment(root.path(), &damaged);
        assert_tail_dropped(root.path(), boundary, &format!("flip at {position}")).await;
    }
}

#[tokio::test]
async fn zeroed_space_after_the_last_record_is_dropped() {
    let original = tempfile::tempdir().expect("temp dir");
    let (mut bytes, _) = three_records(original.path()).await;
    let end = bytes.len();
    bytes.extend_from_slice(&[0; 4096]);
    let root = tempfile::tempdir().expect("temp dir");
    write_segment(root.path(), &bytes);
    let engine = open(root.path()).await;
    assert_eq!(
        messages(&everything(&engine, 1).await),
        vec!["one", "two", "three"]
    );
    assert_eq!(engine.stats().wal_bytes, end as u64);
}

#[tokio::test]
async fn damage_inside_an_earlier_segment_is_an_error_not_a_skip() {
    let root = tempfile::tempdir().expect("temp dir");
    let small = EngineConfig {
        segment_max_bytes: 256,
        ..config(root.path())
    };
    {
        let engine = LogEngine::open(small.clone()).await.expect("open");
        for index in 0..12u64 {
            let message = format!("record-{index}");
            engine
                .append(produced(1, 0, "agent", index + 1, group(&[&message], 1)))
                .await
                .expect("append");
        }
        engine.shutdown().await.expect("shutdown");
    }
    let files = segments(root.path());
    assert!(files.len() >= 3);
    let first = &files[0];
    let mut bytes = std::fs::read(first).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(first, &bytes).expect("write");

    match LogEngine::open(small.clone()).await {
        Err(error @ StoreError::Corrupt { .. }) => {
            assert!(!error.is_retryable());
            let StoreError::Corrupt { path, .. } = &error else {
                unreachable!("matched above")
            };
            assert_eq!(path, first);
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    // Nothing was truncated or rewritten by the failed open.
    assert_eq!(std::fs::read(first).expect("read"), bytes);
    assert_eq!(segments(root.path()), files);

    // A segment cut short that is not the last is corruption too.
    bytes[middle] ^= 0xff;
    std::fs::write(first, &bytes[..bytes.len() - 3]).expect("write");
    assert!(matches!(
        LogEngine::open(small).await,
        Err(StoreError::Corrupt { .. })
    ));
}
