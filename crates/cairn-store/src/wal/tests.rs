//! Tests of the WAL as a whole: rollover, replay order, truncation by segment, and the
//! errors replay must raise instead of skipping data.

use std::path::Path;

use cairn_model::LogstoreId;

use super::codec::{self, WalEntry, WalRecord};
use super::*;
use crate::StoreError;

fn options(directory: &Path, segment_max_bytes: u64) -> WalOptions {
    WalOptions {
        directory: directory.to_path_buf(),
        segment_max_bytes,
        fsync_timer: FsyncTimer::default(),
    }
}

fn tombstone(logstore: i64) -> Vec<u8> {
    codec::encode(&WalRecord {
        index: 0,
        entry: WalEntry::DropLogstore {
            logstore: LogstoreId(logstore),
        },
    })
    .expect("encodes")
}

fn open_collecting(
    directory: &Path,
    segment_max_bytes: u64,
) -> Result<(WriteAheadLog, Vec<WalRecord>), StoreError> {
    let mut records = Vec::new();
    let log = WriteAheadLog::open(
        options(directory, segment_max_bytes),
        &mut |record, _, _| {
            records.push(record);
            Ok(())
        },
    )?;
    Ok((log, records))
}

fn logstores(records: &[WalRecord]) -> Vec<(u64, i64)> {
    records
        .iter()
        .map(|record| match record.entry {
            WalEntry::DropLogstore { logstore } => (record.index, logstore.0),
            WalEntry::Append(_) | WalEntry::Checkpoint(_) => panic!("unexpected record"),
        })
        .collect()
}

fn segment_files(directory: &Path) -> Vec<(String, u64)> {
    let mut files: Vec<(String, u64)> = std::fs::read_dir(directory)
        .expect("read dir")
        .map(|entry| entry.expect("entry"))
        .filter(|entry| entry.file_name().to_string_lossy().starts_with("wal-"))
        .map(|entry| {
            let length = entry.metadata().expect("metadata").len();
            (entry.file_name().to_string_lossy().into_owned(), length)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn batches_roll_into_new_segments_and_replay_in_order() {
    let directory = tempfile::tempdir().expect("temp dir");
    // A tombstone frame is 26 bytes: three fit under 80, the fourth rolls.
    let (mut log, records) = open_collecting(directory.path(), 80).expect("open");
    assert!(records.is_empty());
    for logstore in 0..10 {
        log.append_batch(&mut [tombstone(logstore)])
            .expect("append");
    }
    // A batch of three would not fit after record 9: it rolls whole, never split.
    log.append_batch(&mut [tombstone(10), tombstone(11), tombstone(12)])
        .expect("append");
    assert_eq!(log.next_index(), 13);
    let files = segment_files(directory.path());
    assert_eq!(
        files,
        vec![
            ("wal-00000000000000000000.log".to_owned(), 78),
            ("wal-00000000000000000003.log".to_owned(), 78),
            ("wal-00000000000000000006.log".to_owned(), 78),
            ("wal-00000000000000000009.log".to_owned(), 26),
            ("wal-00000000000000000010.log".to_owned(), 78),
        ]
    );
    assert_eq!(log.stats().segments(), 5);
    assert_eq!(log.stats().bytes(), 78 * 4 + 26);
    drop(log);

    let (log, records) = open_collecting(directory.path(), 80).expect("reopen");
    let expected: Vec<(u64, i64)> = (0..13).map(|index| (index as u64, index)).collect();
    assert_eq!(logstores(&records), expected);
    assert_eq!(log.next_index(), 13);
}

#[test]
fn removing_segments_keeps_the_active_one_and_everything_after_the_index() {
    let directory = tempfile::tempdir().expect("temp dir");
    let (mut log, _) = open_collecting(directory.path(), 80).expect("open");
    for logstore in 0..10 {
        log.append_batch(&mut [tombstone(logstore)])
            .expect("append");
    }
    // Segments start at 0, 3, 6 and 9. Records below 5 are elsewhere: only [0, 3) can go.
    assert_eq!(log.remove_segments_before(5).expect("remove"), 1);
    assert_eq!(log.remove_segments_before(6).expect("remove"), 1);
    // Never the active segment, even when every record is covered.
    assert_eq!(log.remove_segments_before(100).expect("remove"), 1);
    assert_eq!(log.stats().segments(), 1);
    log.append_batch(&mut [tombstone(10)]).expect("append");
    drop(log);

    let (_, records) = open_collecting(directory.path(), 80).expect("reopen");
    assert_eq!(logstores(&records), vec![(9, 9), (10, 10)]);
}

#[test]
fn a_missing_segment_is_corruption() {
    let directory = tempfile::tempdir().expect("temp dir");
    let (mut log, _) = open_collecting(directory.path(), 80).expect("open");
    for logstore in 0..7 {
        log.append_batch(&mut [tombstone(logstore)])
            .expect("append");
    }
    drop(log);
    std::fs::remove_file(directory.path().join("wal-00000000000000000003.log")).expect("remove");
    match open_collecting(directory.path(), 80) {
        Err(StoreError::Corrupt { path, offset, .. }) => {
            assert!(path.ends_with("wal-00000000000000000006.log"));
            assert_eq!(offset, 0);
        }
        other => panic!("expected corruption, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn a_checksummed_record_that_does_not_decode_is_corruption_even_at_the_tail() {
    let directory = tempfile::tempdir().expect("temp dir");
    let (mut log, _) = open_collecting(directory.path(), 1024).expect("open");
    log.append_batch(&mut [tombstone(1)]).expect("append");
    let mut unknown_version = tombstone(2);
    unknown_version[0] = 99;
    log.append_batch(&mut [unknown_version]).expect("append");
    drop(log);
    let path = directory.path().join("wal-00000000000000000000.log");
    let length_before = std::fs::metadata(&path).expect("metadata").len();
    match open_collecting(directory.path(), 1024) {
        Err(StoreError::Corrupt { offset, reason, .. }) => {
            assert_eq!(offset, 26);
            assert!(reason.contains("version 99"), "{reason}");
        }
        other => panic!("expected corruption, got {:?}", other.map(|_| ())),
    }
    // Nothing was truncated: an operator can still inspect the record.
    assert_eq!(
        std::fs::metadata(&path).expect("metadata").len(),
        length_before
    );
}

#[test]
fn a_record_whose_index_does_not_match_its_position_is_corruption() {
    let directory = tempfile::tempdir().expect("temp dir");
    let (mut log, _) = open_collecting(directory.path(), 1024).expect("open");
    log.append_batch(&mut [tombstone(1), tombstone(2)])
        .expect("append");
    drop(log);
    // Rename the segment as if it started at index 5.
    std::fs::rename(
        directory.path().join("wal-00000000000000000000.log"),
        directory.path().join("wal-00000000000000000005.log"),
    )
    .expect("rename");
    match open_collecting(directory.path(), 1024) {
        Err(StoreError::Corrupt { reason, .. }) => {
            assert!(reason.contains("record index 0 where 5"), "{reason}")
        }
        other => panic!("expected corruption, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn one_log_per_directory() {
    let directory = tempfile::tempdir().expect("temp dir");
    let (log, _) = open_collecting(directory.path(), 1024).expect("open");
    match open_collecting(directory.path(), 1024) {
        Err(StoreError::Locked { path }) => assert!(path.ends_with("LOCK")),
        other => panic!("expected a lock error, got {:?}", other.map(|_| ())),
    }
    drop(log);
    open_collecting(directory.path(), 1024).expect("reopen after the first closed");
}

#[test]
fn an_empty_last_segment_left_by_a_crash_after_rollover_is_reused() {
    let directory = tempfile::tempdir().expect("temp dir");
    let (mut log, _) = open_collecting(directory.path(), 1024).expect("open");
    log.append_batch(&mut [tombstone(1)]).expect("append");
    drop(log);
    std::fs::write(directory.path().join("wal-00000000000000000001.log"), b"").expect("write");
    let (mut log, records) = open_collecting(directory.path(), 1024).expect("reopen");
    assert_eq!(logstores(&records), vec![(0, 1)]);
    log.append_batch(&mut [tombstone(2)]).expect("append");
    drop(log);
    let (_, records) = open_collecting(directory.path(), 1024).expect("reopen");
    assert_eq!(logstores(&records), vec![(0, 1), (1, 2)]);
    assert_eq!(segment_files(directory.path()).len(), 2);
}
