//! Resources: row-group pruning by time, the memory limit, spilling, concurrency, storage
//! failures.

use std::sync::Arc;

use cairn_query::sql::{ParquetFileRef, SqlEngine, SqlEngineConfig, SqlTable};
use cairn_query::QueryError;
use datafusion::arrow::record_batch::RecordBatch;

use super::{batch, expect, texts, Fixture, Record, T0};

#[tokio::test]
async fn the_time_range_prunes_row_groups() {
    let fixture = Fixture::new().await;
    // Split A holds three row groups of two rows: [T0, T0+10], [T0+59, T0+60], [T0+61, T0+130].
    let table = SqlTable {
        object_store: Some(Arc::clone(&fixture.store)),
        parquet_files: vec![fixture.files[0].clone()],
        batches: Vec::new(),
        time_range: (T0 + 100, T0 + 200),
        field_types: Vec::new(),
    };
    let result = fixture
        .engine
        .execute("SELECT count(*), max(url)", table.clone())
        .await
        .expect("runs");
    assert_eq!(texts(&result), expect(&[&["1", "/b"]]));
    assert_eq!(result.row_groups_pruned, 2, "{result:?}");
    assert_eq!(result.processed_rows, 2, "only the last row group is read");
    assert!(result.processed_bytes > 0);
    let everything = fixture
        .engine
        .execute(
            "SELECT count(*)",
            SqlTable {
                time_range: (T0, T0 + 3600),
                ..table
            },
        )
        .await
        .expect("runs");
    assert_eq!(everything.row_groups_pruned, 0);
    assert_eq!(everything.processed_rows, 6);
}

/// `count` rows with distinct values of `k`, in batches of 10,000.
fn distinct_keys(count: usize) -> Vec<RecordBatch> {
    let keys: Vec<String> = (0..count).map(|i| format!("key-{i:09}")).collect();
    keys.chunks(10_000)
        .map(|chunk| {
            let records: Vec<Record> = chunk
                .iter()
                .map(|key| (T0, vec![Some(key.as_str())]))
                .collect();
            batch(&["k"], &records)
        })
        .collect()
}

fn memory_table(batches: Vec<RecordBatch>) -> SqlTable {
    SqlTable {
        batches,
        time_range: (T0, T0 + 60),
        ..SqlTable::default()
    }
}

#[tokio::test]
async fn exceeding_the_memory_limit_is_a_clear_error() {
    let engine = SqlEngine::new(SqlEngineConfig {
        memory_per_query_bytes: 1024 * 1024,
        target_partitions: 2,
        ..SqlEngineConfig::default()
    })
    .expect("engine");
    let batches = distinct_keys(200_000);
    for sql in [
        "SELECT k, count(*) AS c GROUP BY k ORDER BY c DESC LIMIT 3",
        "SELECT k ORDER BY k DESC LIMIT 100000",
    ] {
        match engine.execute(sql, memory_table(batches.clone())).await {
            Err(error @ QueryError::MemoryLimit { .. }) => {
                let message = error.to_string();
                assert!(message.contains("more than 1 MB of memory"), "{message}");
                assert!(!error.is_transient());
            }
            other => panic!("{sql}: expected the memory limit, got {other:?}"),
        }
    }
    // Small answers from the same rows stay within the limit.
    let result = engine
        .execute("SELECT count(*), max(k)", memory_table(batches))
        .await
        .expect("runs");
    assert_eq!(texts(&result), expect(&[&["200000", "key-000199999"]]));
}

#[tokio::test]
async fn with_a_spill_directory_large_sorts_spill_instead_of_failing() {
    let spill = tempfile::tempdir().expect("spill dir");
    let engine = SqlEngine::new(SqlEngineConfig {
        memory_per_query_bytes: 8 * 1024 * 1024,
        spill_directory: Some(spill.path().to_owned()),
        target_partitions: 2,
        ..SqlEngineConfig::default()
    })
    .expect("engine");
    let table = || memory_table(distinct_keys(300_000));
    let sorted = "SELECT k FROM (SELECT k, row_number() OVER (ORDER BY k DESC) AS r FROM log) \
                  WHERE r = 150000";
    match engine.execute(sorted, table()).await {
        Ok(result) => assert_eq!(texts(&result), expect(&[&["key-000150000"]])),
        Err(error) => panic!("{sorted}: {error:?}"),
    }
    let grouped = "SELECT count(*), max(c) FROM (SELECT k, count(*) AS c FROM log GROUP BY k)";
    match engine.execute(grouped, table()).await {
        Ok(result) => assert_eq!(texts(&result), expect(&[&["300000", "1"]])),
        Err(error) => panic!("{grouped}: {error:?}"),
    }
}

#[tokio::test]
async fn queries_beyond_the_concurrency_bound_wait_their_turn() {
    let fixture = Fixture::with_config(SqlEngineConfig {
        max_concurrent_queries: 1,
        target_partitions: 2,
        ..SqlEngineConfig::default()
    })
    .await;
    let (a, b) = tokio::join!(
        fixture.query("SELECT count(*)"),
        fixture.query("SELECT count(url)")
    );
    assert_eq!(texts(&a.expect("first")), expect(&[&["12"]]));
    assert_eq!(texts(&b.expect("second")), expect(&[&["9"]]));
}

#[tokio::test]
async fn unreadable_splits_are_transient_storage_errors() {
    let fixture = Fixture::new().await;
    let mut table = fixture.table();
    table.parquet_files.push(ParquetFileRef {
        path: "splits/missing.parquet".into(),
        size_bytes: 1000,
    });
    match fixture.engine.execute("SELECT count(*)", table).await {
        Err(error @ QueryError::Storage { .. }) => assert!(error.is_transient()),
        other => panic!("expected a storage error, got {other:?}"),
    }
    let mut table = fixture.table();
    table.object_store = None;
    assert!(fixture.engine.execute("SELECT 1", table).await.is_err());
}

#[tokio::test]
async fn engines_are_shared_across_tasks() {
    fn assert_shareable<T: Send + Sync>(_: &T) {}
    let fixture = Fixture::new().await;
    assert_shareable(&fixture.engine);
    let engine = Arc::new(SqlEngine::new(SqlEngineConfig::default()).expect("engine"));
    let table = fixture.table();
    let task = tokio::spawn({
        let engine = Arc::clone(&engine);
        async move { engine.execute("SELECT count(*)", table).await }
    });
    let result = task.await.expect("joins").expect("runs");
    assert_eq!(texts(&result), expect(&[&["12"]]));
}
