//! Splits: records move from memory into Parquet + token-index files, published in a real
//! SQLite catalog and stored through a real local object store; reads see every record
//! exactly once before, during and after; the WAL is truncated; a crash at each step of
//! flush and merge (a halting failpoint, then a reopen) neither loses nor doubles a record;
//! retention removes expired splits whole.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use cairn_meta::{Account, Metastore, NewLogstore, ProjectRecord, SplitStore, SqliteMetastore};
use cairn_model::{AccountId, LogTime, LogstoreId, LogstoreName, ProjectName, TokenQuery};
use cairn_store::{
    EngineConfig, FailpointAction, LogEngine, SplitFailpoint, SplitSettings, StoreError,
    TimeOrderedQuery,
};
use object_store::local::LocalFileSystem;
use object_store::ObjectStore;

use crate::support::{config, everything, group, messages, produced, request};

/// A catalog with one logstore (TTL `ttl_days`), and the object store, under `root`.
async fn storage(root: &Path, ttl_days: u32) -> (Arc<SqliteMetastore>, Arc<dyn ObjectStore>, i64) {
    let meta = Arc::new(
        SqliteMetastore::open(&root.join("meta.db"))
            .await
            .expect("metastore"),
    );
    let account = AccountId::parse("1000000000000001").expect("account id");
    if meta.get_account(account).await.is_err() {
        meta.create_account(&Account {
            id: account,
            name: "owner".to_owned(),
            created_at: 1,
        })
        .await
        .expect("account");
        meta.create_project(&ProjectRecord {
            name: ProjectName::parse("proj").expect("name"),
            account,
            description: String::new(),
            created_at: 1,
            last_modified_at: 1,
        })
        .await
        .expect("project");
        create_logstore(&meta, "store", ttl_days).await;
    }
    let logstore = logstore_id(&meta, "store").await;
    std::fs::create_dir_all(root.join("objects")).expect("objects dir");
    let objects: Arc<dyn ObjectStore> =
        Arc::new(LocalFileSystem::new_with_prefix(root.join("objects")).expect("object store"));
    (meta, objects, logstore)
}

/// Creates logstore `name` (TTL `ttl_days`) in the catalog's project and returns its id.
async fn create_logstore(meta: &SqliteMetastore, name: &str, ttl_days: u32) -> i64 {
    meta.create_logstore(&NewLogstore {
        project: ProjectName::parse("proj").expect("name"),
        name: LogstoreName::parse(name).expect("name"),
        ttl_days,
        shard_count: 1,
        settings: serde_json::json!({}),
        created_at: 1,
    })
    .await
    .expect("logstore");
    logstore_id(meta, name).await
}

/// The id of logstore `name` in the catalog's project.
async fn logstore_id(meta: &SqliteMetastore, name: &str) -> i64 {
    meta.get_logstore(
        &ProjectName::parse("proj").expect("name"),
        &LogstoreName::parse(name).expect("name"),
    )
    .await
    .expect("logstore")
    .id
    .0
}

fn split_config(
    root: &Path,
    meta: &Arc<SqliteMetastore>,
    objects: &Arc<dyn ObjectStore>,
    failpoint: Option<SplitFailpoint>,
) -> EngineConfig {
    let mut settings =
        SplitSettings::new(Arc::clone(objects), Arc::clone(meta) as Arc<dyn SplitStore>);
    // Flushes happen when the tests ask; merges as soon as four splits exist. The background
    // pass does not run within a test: tests run passes with `run_split_lifecycle_pass`, so
    // what a pass does never depends on timing (`with_background_passes` to test the task).
    settings.flush_bytes = u64::MAX;
    settings.flush_age = Duration::from_secs(3600);
    settings.tick = Duration::from_secs(3600);
    settings.deletion_grace = Duration::ZERO;
    settings.failpoint = failpoint.map(|step| (step, FailpointAction::Halt));
    EngineConfig {
        segment_max_bytes: 16 * 1024,
        splits: Some(settings),
        ..config(root)
    }
}

/// `config` with the background pass running every 20 ms.
fn with_background_passes(mut config: EngineConfig) -> EngineConfig {
    if let Some(settings) = config.splits.as_mut() {
        settings.tick = Duration::from_millis(20);
    }
    config
}

/// Runs one lifecycle pass, which must not stop at a failpoint.
async fn pass(engine: &LogEngine) {
    engine
        .run_split_lifecycle_pass()
        .await
        .expect("lifecycle pass");
}

/// The current unix time: records must be younger than the logstore's TTL, or retention
/// (which runs in the background) removes their splits.
fn now() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as u32
}

/// Appends `count` records `prefix-N`, 100 per request, with producer sequence ids.
async fn append_numbered(
    engine: &LogEngine,
    logstore: i64,
    prefix: &str,
    count: usize,
    first_seq: u64,
) {
    let names: Vec<String> = (0..count).map(|n| format!("{prefix}-{n}")).collect();
    for (chunk_number, chunk) in names.chunks(100).enumerate() {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        engine
            .append(produced(
                logstore,
                0,
                "producer",
                first_seq + chunk_number as u64,
                group(&refs, now()),
            ))
            .await
            .expect("append");
    }
}

/// Appends one record per message, all stamped `seconds`, in one request.
async fn append_at(engine: &LogEngine, logstore: i64, messages: &[String], seconds: u32) {
    let refs: Vec<&str> = messages.iter().map(String::as_str).collect();
    engine
        .append(request(logstore, group(&refs, seconds)))
        .await
        .expect("append");
}

/// Polls (for up to 10 s) the object files under `root` and the published splits of
/// `logstore` until `done(files, published)`; returns the last pair seen.
async fn wait_for_files_and_splits(
    meta: &SqliteMetastore,
    root: &Path,
    logstore: i64,
    done: impl Fn(usize, usize) -> bool,
) -> (usize, usize) {
    let mut state = (0, 0);
    for _ in 0..500 {
        let published = meta
            .list_splits(LogstoreId(logstore))
            .await
            .expect("list")
            .len();
        state = (object_files(root), published);
        if done(state.0, state.1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    state
}

/// Reads the whole logstore by offset, checking offsets are contiguous.
async fn read_all(engine: &LogEngine, logstore: i64) -> Vec<String> {
    let mut offset = engine.first_offset(LogstoreId(logstore));
    let mut read = Vec::new();
    loop {
        let (records, next) = engine
            .read_from(LogstoreId(logstore), offset, 700)
            .await
            .expect("read");
        if records.is_empty() {
            break;
        }
        for (expected, (at, _)) in (offset..).zip(&records) {
            assert_eq!(*at, expected, "offsets are contiguous");
        }
        offset = next;
        read.extend(records.into_iter().map(|(_, record)| record));
    }
    assert_eq!(offset, engine.next_offset(LogstoreId(logstore)));
    messages(&read)
}

fn numbered(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|n| format!("{prefix}-{n}")).collect()
}

fn object_files(root: &Path) -> usize {
    fn count(path: &Path) -> usize {
        std::fs::read_dir(path).map_or(0, |entries| {
            entries
                .flatten()
                .map(|entry| {
                    if entry.path().is_dir() {
                        count(&entry.path())
                    } else {
                        1
                    }
                })
                .sum()
        })
    }
    count(&root.join("objects"))
}

#[tokio::test]
async fn flushed_records_are_read_once_from_splits_and_the_wal_is_truncated() {
    let root = tempfile::tempdir().expect("temp dir");
    let (meta, objects, logstore) = storage(root.path(), 30).await;
    let engine = LogEngine::open(split_config(root.path(), &meta, &objects, None))
        .await
        .expect("open");
    append_numbered(&engine, logstore, "a", 2500, 1).await;
    let segments_before = engine.stats().segments;
    assert!(segments_before > 3, "{segments_before} segments");
    let in_memory = everything(&engine, logstore).await;
    engine.flush(LogstoreId(logstore)).await.expect("flush");
    let splits = engine.splits(LogstoreId(logstore));
    assert_eq!(splits.len(), 1);
    assert_eq!((splits[0].first_offset, splits[0].end_offset), (0, 2500));
    let raw_bytes: u64 = in_memory.iter().map(|r| r.raw_size() as u64).sum();
    assert_eq!(
        splits[0].raw_bytes, raw_bytes,
        "the memtable's count is kept"
    );
    assert_eq!(engine.stats().records, 0, "memory is empty after the flush");
    // The writer truncates asynchronously after the publish.
    for _ in 0..100 {
        if engine.stats().segments < segments_before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        engine.stats().segments < segments_before,
        "the wal was truncated"
    );

    append_numbered(&engine, logstore, "b", 300, 100).await;
    let mut expected = numbered("a", 2500);
    expected.extend(numbered("b", 300));
    assert_eq!(read_all(&engine, logstore).await, expected);
    assert_eq!(messages(&everything(&engine, logstore).await), expected);

    // A token search reads only the blocks that may hold the token.
    let found = engine
        .search(
            LogstoreId(logstore),
            LogTime::new(0, 0),
            LogTime::new(u32::MAX, 0),
            &TokenQuery::all_tokens([&b"a-1234"[..]]),
        )
        .await
        .expect("search");
    let from_splits = messages(&found)
        .iter()
        .filter(|message| message.starts_with("a-"))
        .count();
    assert!(
        from_splits <= 1024,
        "read {from_splits} records from splits"
    );
    assert!(messages(&found).contains(&"a-1234".to_owned()));
    assert_eq!(
        engine
            .offset_at_time(LogstoreId(logstore), LogTime::new(now() - 3600, 0))
            .await
            .expect("offset"),
        0
    );
    engine.shutdown().await.expect("shutdown");
    drop(engine);

    // After a restart: the same records, once each; sequence ids committed in truncated
    // segments are still refused.
    let engine = LogEngine::open(split_config(root.path(), &meta, &objects, None))
        .await
        .expect("reopen");
    assert_eq!(read_all(&engine, logstore).await, expected);
    let replay = engine
        .append(produced(
            logstore,
            0,
            "producer",
            5,
            group(&["replayed"], 1),
        ))
        .await;
    assert!(
        matches!(replay, Err(StoreError::InvalidSequenceId { .. })),
        "{replay:?}"
    );
    assert_eq!(engine.next_offset(LogstoreId(logstore)), 2800);
}

/// Appends, flushes with a halting failpoint, reopens without it; every record is there
/// exactly once and no orphan file is left.
async fn crash_during_flush(step: SplitFailpoint) {
    let root = tempfile::tempdir().expect("temp dir");
    let (meta, objects, logstore) = storage(root.path(), 30).await;
    {
        let engine = LogEngine::open(split_config(root.path(), &meta, &objects, Some(step)))
            .await
            .expect("open");
        append_numbered(&engine, logstore, "r", 1500, 1).await;
        assert!(engine.flush(LogstoreId(logstore)).await.is_err(), "halted");
        // The crash: no shutdown, the engine is simply gone.
    }
    let engine = LogEngine::open(split_config(root.path(), &meta, &objects, None))
        .await
        .expect("reopen");
    assert_eq!(
        read_all(&engine, logstore).await,
        numbered("r", 1500),
        "{step:?}"
    );
    let published = meta
        .list_splits(LogstoreId(logstore))
        .await
        .expect("list")
        .len();
    assert_eq!(
        object_files(root.path()),
        published * 2,
        "{step:?}: no orphans"
    );
    engine.flush(LogstoreId(logstore)).await.expect("flush");
    append_numbered(&engine, logstore, "s", 10, 100).await;
    let mut expected = numbered("r", 1500);
    expected.extend(numbered("s", 10));
    assert_eq!(read_all(&engine, logstore).await, expected, "{step:?}");
}

#[tokio::test]
async fn a_crash_after_upload_loses_and_doubles_nothing() {
    crash_during_flush(SplitFailpoint::AfterUpload).await;
}

#[tokio::test]
async fn a_crash_after_publish_loses_and_doubles_nothing() {
    crash_during_flush(SplitFailpoint::AfterPublish).await;
}

/// Makes four splits, lets the merge run into `step` (or finish), reopens, and checks.
/// Appends 300 records and flushes them, four times (one merge's worth of small splits);
/// returns the messages in order.
async fn four_flushed_splits(engine: &LogEngine, logstore: i64) -> Vec<String> {
    let mut expected = Vec::new();
    for (round, prefix) in ["w", "x", "y", "z"].iter().enumerate() {
        append_numbered(engine, logstore, prefix, 300, 1 + 10 * round as u64).await;
        expected.extend(numbered(prefix, 300));
        engine.flush(LogstoreId(logstore)).await.expect("flush");
    }
    expected
}

/// Four flushed splits, then one pass, which merges them or stops at `step`; after a reopen
/// (and the orphan sweep) every record reads back once, and the next pass merges.
async fn merge_with(step: Option<SplitFailpoint>) {
    let root = tempfile::tempdir().expect("temp dir");
    let (meta, objects, logstore) = storage(root.path(), 30).await;
    let expected;
    {
        let engine = LogEngine::open(split_config(root.path(), &meta, &objects, step))
            .await
            .expect("open");
        expected = four_flushed_splits(&engine, logstore).await;
        let merged = engine.run_split_lifecycle_pass().await;
        assert_eq!(merged.is_ok(), step.is_none(), "{step:?}: {merged:?}");
        let published = meta.list_splits(LogstoreId(logstore)).await.expect("list");
        let (files, published) = (object_files(root.path()), published.len());
        let expected_state = match step {
            // The inputs' files go in the same pass (no grace, no reader holds them).
            None => (2, 1),
            // Four inputs published; the merged split's files uploaded, not published.
            Some(SplitFailpoint::AfterMergeUpload) => (10, 4),
            // The merged split published; the inputs' files not yet deleted.
            Some(_) => (10, 1),
        };
        assert_eq!((files, published), expected_state, "{step:?}");
        assert_eq!(read_all(&engine, logstore).await, expected, "{step:?}");
    }
    let engine = LogEngine::open(split_config(root.path(), &meta, &objects, None))
        .await
        .expect("reopen");
    assert_eq!(
        read_all(&engine, logstore).await,
        expected,
        "{step:?} after reopen"
    );
    // The sweep at open removed the crashed merge's orphans: every file left belongs to a
    // published split.
    let published = meta.list_splits(LogstoreId(logstore)).await.expect("list");
    assert_eq!(
        object_files(root.path()),
        published.len() * 2,
        "{step:?}: no orphans"
    );
    pass(&engine).await;
    assert_eq!(engine.splits(LogstoreId(logstore)).len(), 1, "{step:?}");
    assert_eq!(object_files(root.path()), 2, "{step:?}");
    assert_eq!(
        read_all(&engine, logstore).await,
        expected,
        "{step:?} at the end"
    );
}

#[tokio::test]
async fn small_splits_are_merged_in_the_background() {
    let root = tempfile::tempdir().expect("temp dir");
    let (meta, objects, logstore) = storage(root.path(), 30).await;
    let config = with_background_passes(split_config(root.path(), &meta, &objects, None));
    let engine = LogEngine::open(config).await.expect("open");
    let expected = four_flushed_splits(&engine, logstore).await;
    let state = wait_for_files_and_splits(&meta, root.path(), logstore, |files, published| {
        published == 1 && files == 2
    })
    .await;
    assert_eq!(state, (2, 1), "(files, published)");
    assert_eq!(read_all(&engine, logstore).await, expected);
}

#[tokio::test]
async fn small_splits_are_merged_by_a_pass() {
    merge_with(None).await;
}

#[tokio::test]
async fn a_crash_after_merge_upload_loses_and_doubles_nothing() {
    merge_with(Some(SplitFailpoint::AfterMergeUpload)).await;
}

#[tokio::test]
async fn a_crash_after_merge_publish_loses_and_doubles_nothing() {
    merge_with(Some(SplitFailpoint::AfterMergePublish)).await;
}

#[tokio::test]
async fn expired_splits_are_removed_whole_and_reading_starts_after_them() {
    let root = tempfile::tempdir().expect("temp dir");
    let (meta, objects, logstore) = storage(root.path(), 1).await;
    let engine = LogEngine::open(split_config(root.path(), &meta, &objects, None))
        .await
        .expect("open");
    let now = now();
    engine
        .append(request(
            logstore,
            group(&["old-1", "old-2"], now - 3 * 86_400),
        ))
        .await
        .expect("append");
    engine.flush(LogstoreId(logstore)).await.expect("flush");
    engine
        .append(request(logstore, group(&["new-1"], now)))
        .await
        .expect("append");
    engine.flush(LogstoreId(logstore)).await.expect("flush");
    assert_eq!(engine.splits(LogstoreId(logstore)).len(), 2);
    engine.apply_retention().await.expect("retention");
    let left = engine.splits(LogstoreId(logstore));
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].first_offset, 2);
    assert_eq!(engine.first_offset(LogstoreId(logstore)), 2);
    let (records, next) = engine
        .read_from(LogstoreId(logstore), 0, 10)
        .await
        .expect("read");
    assert_eq!(next, 3);
    assert_eq!(
        records[0].0, 2,
        "reading from an expired offset starts at the first kept"
    );
    assert_eq!(read_all(&engine, logstore).await, ["new-1"]);
    // Files of removed splits go (the test's grace period is zero; the next pass deletes).
    assert_eq!(object_files(root.path()), 4);
    pass(&engine).await;
    assert_eq!(object_files(root.path()), 2);
}

#[tokio::test]
async fn dropping_a_logstore_deletes_its_splits() {
    let root = tempfile::tempdir().expect("temp dir");
    let (meta, objects, logstore) = storage(root.path(), 30).await;
    let engine = LogEngine::open(split_config(root.path(), &meta, &objects, None))
        .await
        .expect("open");
    append_numbered(&engine, logstore, "d", 50, 1).await;
    engine.flush(LogstoreId(logstore)).await.expect("flush");
    assert_eq!(object_files(root.path()), 2);
    engine
        .drop_logstore(LogstoreId(logstore))
        .await
        .expect("drop");
    assert!(meta
        .list_splits(LogstoreId(logstore))
        .await
        .expect("list")
        .is_empty());
    assert_eq!(object_files(root.path()), 0);
    assert!(everything(&engine, logstore).await.is_empty());
}

/// A query that took its snapshot before a merge keeps reading the merged-away splits' files,
/// even with no grace period: they go only once no snapshot holds their split.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_running_across_a_merge_reads_the_files_it_planned_to() {
    let root = tempfile::tempdir().expect("temp dir");
    let (meta, objects, logstore) = storage(root.path(), 30).await;
    let engine = Arc::new(
        LogEngine::open(split_config(root.path(), &meta, &objects, None))
            .await
            .expect("open"),
    );
    // Three splits of two pages each: one short of the four a merge takes.
    let start = now() - 1000;
    for split in 0..3u32 {
        let names: Vec<String> = (0..2048).map(|n| format!("row {split} {n}")).collect();
        append_at(&engine, logstore, &names, start + split).await;
        engine.flush(LogstoreId(logstore)).await.expect("flush");
    }
    // The query stops at its first record until the merge is done.
    let (started, query_started) = std::sync::mpsc::channel::<()>();
    let (resume, query_resumes) = std::sync::mpsc::channel::<()>();
    let query_resumes = std::sync::Mutex::new(query_resumes);
    let query = {
        let engine = Arc::clone(&engine);
        tokio::spawn(async move {
            let mut seen = 0u64;
            engine
                .visit(
                    LogstoreId(logstore),
                    LogTime::new(0, 0),
                    LogTime::new(u32::MAX, 0),
                    &TokenQuery::Everything,
                    &mut |_| {
                        if seen == 0 {
                            started.send(()).expect("test waits");
                            let resumes = query_resumes.lock().expect("one query");
                            resumes.recv().expect("test resumes");
                        }
                        seen += 1;
                    },
                )
                .await
                .map(|_| seen)
        })
    };
    tokio::task::spawn_blocking(move || query_started.recv().expect("query started"))
        .await
        .expect("join");
    let names: Vec<String> = (0..2048).map(|n| format!("row 3 {n}")).collect();
    append_at(&engine, logstore, &names, start + 3).await;
    engine.flush(LogstoreId(logstore)).await.expect("flush");
    pass(&engine).await;
    assert_eq!(
        engine.splits(LogstoreId(logstore)).len(),
        1,
        "the four splits were merged"
    );
    // More passes, any of which would delete the query's files were its splits not pinned.
    for _ in 0..3 {
        pass(&engine).await;
    }
    assert_eq!(
        object_files(root.path()),
        8,
        "the merged split's files, and the three the query holds (the fourth it never saw)"
    );
    resume.send(()).expect("query waits");
    let seen = query.await.expect("join").expect("visit");
    assert_eq!(seen, 3 * 2048, "every record of the snapshot, once");
    // Once the query is done, the next pass deletes the replaced files.
    pass(&engine).await;
    assert_eq!(
        object_files(root.path()),
        2,
        "only the merged split's two files remain"
    );
}

#[tokio::test]
async fn the_newest_records_are_found_without_reading_every_block() {
    let root = tempfile::tempdir().expect("temp dir");
    let (meta, objects, logstore) = storage(root.path(), 30).await;
    let engine = LogEngine::open(split_config(root.path(), &meta, &objects, None))
        .await
        .expect("open");
    let start = now() - 10_000;
    // Ten splits of 2048 records, each a later second than the one before.
    for split in 0..10u32 {
        let names: Vec<String> = (0..2048).map(|n| format!("t{split}-{n}")).collect();
        append_at(&engine, logstore, &names, start + split).await;
        engine.flush(LogstoreId(logstore)).await.expect("flush");
    }
    engine
        .append(request(logstore, group(&["in-memory"], start + 5)))
        .await
        .expect("append");
    let accept = |_: &cairn_model::LogRecord| true;
    let query = TimeOrderedQuery {
        from: LogTime::new(0, 0),
        to: LogTime::new(u32::MAX, 0),
        tokens: &TokenQuery::Everything,
        accept: &accept,
        newest_first: true,
        limit: 5,
    };
    let (newest, examined) = engine
        .first_by_time(LogstoreId(logstore), &query)
        .await
        .expect("newest");
    assert_eq!(newest.len(), 5);
    assert!(newest.iter().all(|record| record.time.seconds == start + 9));
    assert!(examined < 20_480 / 2, "examined {examined} records");
    let oldest_query = TimeOrderedQuery {
        newest_first: false,
        ..query
    };
    let (oldest, _) = engine
        .first_by_time(LogstoreId(logstore), &oldest_query)
        .await
        .expect("oldest");
    assert!(oldest.iter().all(|record| record.time.seconds == start));

    let mut visited = 0u64;
    let mut in_window = 0u64;
    let total = engine
        .visit(
            LogstoreId(logstore),
            LogTime::new(start + 5, 0),
            LogTime::new(start + 7, 0),
            &TokenQuery::Everything,
            &mut |record| {
                visited += 1;
                if (start + 5..start + 7).contains(&record.time.seconds) {
                    in_window += 1;
                }
            },
        )
        .await
        .expect("visit");
    assert_eq!((visited, in_window), (2 * 2048 + 1, 2 * 2048 + 1));
    // Examined: the rows of the blocks read, at least those visited, far from all 20,480.
    assert!((visited..20_480 / 2).contains(&total), "examined {total}");
}

#[tokio::test]
async fn a_late_record_does_not_make_its_neighbours_look_new() {
    let root = tempfile::tempdir().expect("temp dir");
    let (meta, objects, logstore) = storage(root.path(), 30).await;
    let engine = LogEngine::open(split_config(root.path(), &meta, &objects, None))
        .await
        .expect("open");
    let start = now() - 100_000;
    // Sixteen splits of 2,049 records a second apart, a day back, each with one record
    // stamped now in the middle of its first page (as a clock gone wrong would send).
    for split in 0..16u32 {
        let before: Vec<String> = (0..500).map(|n| format!("old {split} {n}")).collect();
        let after: Vec<String> = (500..2048).map(|n| format!("old {split} {n}")).collect();
        let late = vec!["late".to_owned()];
        for (names, time) in [
            (before, start + split),
            (late, now()),
            (after, start + split),
        ] {
            append_at(&engine, logstore, &names, time).await;
        }
        engine.flush(LogstoreId(logstore)).await.expect("flush");
    }
    let accept = |record: &cairn_model::LogRecord| {
        record
            .contents
            .iter()
            .any(|field| field.value.starts_with(b"old"))
    };
    let query = TimeOrderedQuery {
        from: LogTime::new(0, 0),
        to: LogTime::new(u32::MAX, 0),
        tokens: &TokenQuery::all_tokens([&b"old"[..]]),
        accept: &accept,
        newest_first: true,
        limit: 5,
    };
    let (newest, examined) = engine
        .first_by_time(LogstoreId(logstore), &query)
        .await
        .expect("newest");
    assert_eq!(newest.len(), 5);
    assert!(newest
        .iter()
        .all(|record| record.time.seconds == start + 15));
    // The late records' pages are not read for them (that would be 16 × 1,024 rows): only
    // the newest split and what the last read step took beside it.
    assert!(examined < 2 * 2_049, "examined {examined} records");
}

#[tokio::test]
async fn memory_over_the_engine_limit_is_flushed_largest_first() {
    let root = tempfile::tempdir().expect("temp dir");
    let (meta, objects, large) = storage(root.path(), 30).await;
    let small = create_logstore(&meta, "small", 30).await;
    let mut config = split_config(root.path(), &meta, &objects, None);
    if let Some(settings) = config.splits.as_mut() {
        settings.memory_limit_bytes = 10_000;
    }
    let engine = LogEngine::open(config).await.expect("open");
    // The small logstore alone is far under 10 kB; the large one (1,000 records) puts the
    // total over it.
    let small_messages = numbered("s", 10);
    append_at(&engine, small, &small_messages, now()).await;
    let large_messages = numbered("m", 1000);
    append_at(&engine, large, &large_messages, now()).await;
    let small_records = small_messages.len() as u64;
    pass(&engine).await;
    assert_eq!(
        engine.stats().records,
        small_records,
        "the largest logstore was flushed"
    );
    // Flushing the largest brought the total under the limit: the small one stays in memory
    // over further passes (its age and size are far from their thresholds).
    for _ in 0..3 {
        pass(&engine).await;
    }
    assert_eq!(
        engine.stats().records,
        small_records,
        "the small one stayed"
    );
    assert_eq!(read_all(&engine, large).await, large_messages);
    assert_eq!(read_all(&engine, small).await, small_messages);
}
