//! Tests of the writer's batch logic, driven synchronously: checks inside one batch, and
//! what a failed write or fsync leaves behind (injected failures).

use std::path::Path;

use cairn_model::{Field, LogEntry, LogGroupData, LogTime};

use super::*;
use crate::memtable::Memtable;
use crate::wal::codec::AppendEntry;
use crate::wal::{FsyncTimer, InjectedFailure, WalOptions};

type AppendAnswer = oneshot::Receiver<Result<AppendReceipt, StoreError>>;

fn open_writer(directory: &Path) -> (Writer, Arc<Memtable>) {
    let memtable = Arc::new(Memtable::default());
    let mut state = IngestState::new(Arc::clone(&memtable));
    let wal = WriteAheadLog::open(
        WalOptions {
            directory: directory.to_path_buf(),
            segment_max_bytes: 1 << 20,
            fsync_timer: FsyncTimer::default(),
        },
        &mut |record, path, offset| state.replay(record, path, offset),
    )
    .expect("wal opens");
    let writer = Writer {
        wal,
        state,
        min_free_disk_bytes: 0,
        segment_max_bytes: 1 << 20,
        failure: None,
    };
    (writer, memtable)
}

fn append(logstore: i64, producer: Option<(&str, u64)>, message: &str) -> (Command, AppendAnswer) {
    let entry = AppendEntry {
        logstore: LogstoreId(logstore),
        first_offset: 0,
        shard: 0,
        producer: producer.map(|(key, sequence_id)| ProducerSequence {
            key: key.to_owned(),
            sequence_id,
        }),
        group: LogGroupData {
            logs: vec![LogEntry {
                time: LogTime::new(1, 0),
                contents: vec![Field::new("message", message)],
            }],
            ..LogGroupData::default()
        },
    };
    let payload = codec::encode_append(0, &entry).expect("encodes");
    let records: Vec<Arc<LogRecord>> = entry
        .group
        .into_records()
        .into_iter()
        .map(Arc::new)
        .collect();
    let raw_bytes = records.iter().map(|record| record.raw_size() as u64).sum();
    let (reply, answer) = oneshot::channel();
    let append = PreparedAppend {
        logstore: LogstoreId(logstore),
        shard: 0,
        producer: entry.producer,
        payload,
        records,
        raw_bytes,
    };
    (Command::Append { append, reply }, answer)
}

fn drop_logstore(logstore: i64) -> (Command, oneshot::Receiver<Result<(), StoreError>>) {
    let (reply, answer) = oneshot::channel();
    let command = Command::DropLogstore {
        logstore: LogstoreId(logstore),
        payload: codec::encode_drop_logstore(0, LogstoreId(logstore)),
        reply,
    };
    (command, answer)
}

fn answered<T>(mut answer: oneshot::Receiver<Result<T, StoreError>>) -> Result<T, StoreError> {
    answer.try_recv().expect("the command was answered")
}

fn messages(memtable: &Memtable, logstore: i64) -> Vec<String> {
    memtable
        .scan(LogstoreId(logstore), LogTime::new(0, 0), LogTime::new(9, 0))
        .iter()
        .map(|record| record.contents[0].value_text().into_owned())
        .collect()
}

fn segment_len(directory: &Path) -> u64 {
    std::fs::metadata(directory.join("wal-00000000000000000000.log"))
        .expect("segment")
        .len()
}

#[test]
fn checks_inside_one_batch_see_the_batch_s_earlier_commands() {
    let directory = tempfile::tempdir().expect("temp dir");
    let (mut writer, memtable) = open_writer(directory.path());
    let (first, first_answer) = append(1, Some(("k", 5)), "first");
    let (copy, copy_answer) = append(1, Some(("k", 5)), "copy");
    let (drop_command, drop_answer) = drop_logstore(2);
    let (late, late_answer) = append(2, None, "late");
    assert!(writer
        .process(vec![first, copy, drop_command, late])
        .is_none());
    assert_eq!(answered(first_answer).expect("first").first_offset, 0);
    assert!(matches!(
        answered(copy_answer),
        Err(StoreError::InvalidSequenceId {
            sequence_id: 5,
            last_committed: 5,
            ..
        })
    ));
    answered(drop_answer).expect("drop");
    assert!(matches!(
        answered(late_answer),
        Err(StoreError::LogstoreDropped { .. })
    ));
    assert_eq!(messages(&memtable, 1), vec!["first"]);

    // Whatever follows a shutdown in the same batch is refused.
    let (shutdown_reply, _shutdown_answer) = oneshot::channel();
    let (after, after_answer) = append(1, None, "after");
    let replies = writer.process(vec![
        Command::Shutdown {
            reply: shutdown_reply,
        },
        after,
    ]);
    assert_eq!(replies.map(|replies| replies.len()), Some(1));
    assert!(matches!(
        answered(after_answer),
        Err(StoreError::ShuttingDown)
    ));
}

#[test]
fn a_failed_write_is_cut_back_and_its_tentative_changes_undone() {
    let directory = tempfile::tempdir().expect("temp dir");
    let (mut writer, memtable) = open_writer(directory.path());
    let (one, one_answer) = append(1, Some(("k", 1)), "one");
    assert!(writer.process(vec![one]).is_none());
    answered(one_answer).expect("one");
    let length = segment_len(directory.path());

    writer
        .wal
        .inject_failure(InjectedFailure::Write(std::io::ErrorKind::StorageFull));
    let (two, two_answer) = append(1, Some(("k", 2)), "two");
    let (three, three_answer) = append(1, Some(("k", 3)), "three");
    let (fresh, fresh_answer) = append(7, Some(("k", 1)), "fresh");
    assert!(writer.process(vec![two, three, fresh]).is_none());
    for answer in [two_answer, three_answer, fresh_answer] {
        match answered(answer) {
            Err(error @ StoreError::DiskFull { .. }) => assert!(error.is_retryable()),
            other => panic!("expected DiskFull, got {other:?}"),
        }
    }
    assert_eq!(
        segment_len(directory.path()),
        length,
        "half a batch remained"
    );
    assert_eq!(messages(&memtable, 1), vec!["one"]);

    writer
        .wal
        .inject_failure(InjectedFailure::Write(std::io::ErrorKind::Other));
    let (two, two_answer) = append(1, Some(("k", 2)), "two");
    assert!(writer.process(vec![two]).is_none());
    match answered(two_answer) {
        Err(error @ StoreError::Io(_)) => assert!(!error.is_retryable()),
        other => panic!("expected Io, got {other:?}"),
    }
    assert_eq!(segment_len(directory.path()), length);

    // The sequence ids and offsets were not consumed: the retries get them.
    let (two, two_answer) = append(1, Some(("k", 2)), "two");
    let (fresh, fresh_answer) = append(7, Some(("k", 1)), "fresh");
    assert!(writer.process(vec![two, fresh]).is_none());
    assert_eq!(answered(two_answer).expect("two").first_offset, 1);
    assert_eq!(answered(fresh_answer).expect("fresh").first_offset, 0);
    drop(writer);

    let (_, memtable) = open_writer(directory.path());
    assert_eq!(messages(&memtable, 1), vec!["one", "two"]);
    assert_eq!(messages(&memtable, 7), vec!["fresh"]);
}

#[test]
fn a_failed_fsync_stops_every_later_write() {
    let directory = tempfile::tempdir().expect("temp dir");
    let (mut writer, memtable) = open_writer(directory.path());
    writer.wal.inject_failure(InjectedFailure::Fsync);
    let (one, one_answer) = append(1, Some(("k", 1)), "one");
    assert!(writer.process(vec![one]).is_none());
    assert!(matches!(
        answered(one_answer),
        Err(StoreError::WalFailed { .. })
    ));
    assert!(messages(&memtable, 1).is_empty());

    let (two, two_answer) = append(1, Some(("k", 2)), "two");
    let (drop_command, drop_answer) = drop_logstore(1);
    assert!(writer.process(vec![two, drop_command]).is_none());
    match answered(two_answer) {
        Err(error @ StoreError::WalFailed { .. }) => assert!(!error.is_retryable()),
        other => panic!("expected WalFailed, got {other:?}"),
    }
    assert!(matches!(
        answered(drop_answer),
        Err(StoreError::WalFailed { .. })
    ));
    assert!(messages(&memtable, 1).is_empty());
}
