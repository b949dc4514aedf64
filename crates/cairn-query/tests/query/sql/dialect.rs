//! The SLS dialect: optional FROM, clauses, names, typed keys, differing schemas, errors.

use cairn_query::sql::{SqlEngineConfig, SqlTable};
use cairn_query::QueryError;

use super::{expect, texts, Fixture, T0};

#[tokio::test]
async fn from_is_optional_and_log_is_the_logstore() {
    let fixture = Fixture::new().await;
    let counts = expect(&[&["200", "7"], &["500", "3"], &["404", "1"], &["503", "1"]]);
    for sql in [
        "SELECT status, count(*) AS c GROUP BY status ORDER BY c DESC, status",
        "SELECT status, count(*) AS c FROM log GROUP BY status ORDER BY c DESC, status",
        "select status, count(*) as c from LOG group by status order by c desc, status",
    ] {
        let result = fixture.query(sql).await.expect(sql);
        assert_eq!(result.columns, ["status", "c"], "{sql}");
        assert_eq!(texts(&result), counts, "{sql}");
    }
}

#[tokio::test]
async fn group_by_having_order_by_and_limit() {
    let fixture = Fixture::new().await;
    let base = "SELECT url, count(*) AS c FROM log GROUP BY url HAVING count(*) > 1 \
                ORDER BY c DESC, url";
    assert_eq!(
        fixture.rows(&format!("{base} LIMIT 2")).await,
        expect(&[&["/a", "4"], &["null", "3"]])
    );
    assert_eq!(
        fixture.rows(&format!("{base} LIMIT 1, 2")).await,
        expect(&[&["null", "3"], &["/b", "2"]])
    );
    assert_eq!(
        fixture.rows(&format!("{base} LIMIT 2 OFFSET 2")).await,
        expect(&[&["/b", "2"], &["/z", "2"]])
    );
}

#[tokio::test]
async fn nulls_sort_last_in_either_direction_as_in_sls() {
    let fixture = Fixture::new().await;
    for direction in ["ASC", "DESC"] {
        let rows = fixture
            .rows(&format!(
                "SELECT url FROM log GROUP BY url ORDER BY url {direction}"
            ))
            .await;
        assert!(rows.len() > 2, "{rows:?}");
        assert_eq!(
            rows.last(),
            Some(&vec!["null".to_owned()]),
            "{direction}: {rows:?}"
        );
        assert_ne!(
            rows.first(),
            Some(&vec!["null".to_owned()]),
            "{direction}: {rows:?}"
        );
    }
    // An explicit NULLS FIRST still wins.
    let rows = fixture
        .rows("SELECT url FROM log GROUP BY url ORDER BY url DESC NULLS FIRST")
        .await;
    assert_eq!(rows.first(), Some(&vec!["null".to_owned()]), "{rows:?}");
}

#[tokio::test]
async fn unnamed_columns_are_numbered_like_sls() {
    let fixture = Fixture::new().await;
    let result = fixture
        .query("SELECT status, count(*), max(__time__) AS last GROUP BY status ORDER BY 2 DESC LIMIT 1")
        .await
        .expect("runs");
    assert_eq!(result.columns, ["status", "_col1", "last"]);
    assert_eq!(
        texts(&result),
        expect(&[&["200", "7", &(T0 + 125).to_string()]])
    );
}

#[tokio::test]
async fn limits_default_to_sls_and_results_are_capped() {
    let fixture = Fixture::with_config(SqlEngineConfig {
        target_partitions: 2,
        default_limit: 5,
        max_result_rows: 8,
        ..SqlEngineConfig::default()
    })
    .await;
    let result = fixture.query("SELECT __time__").await.expect("runs");
    assert_eq!((result.rows.len(), result.truncated), (5, false));
    let result = fixture
        .query("SELECT __time__ LIMIT 8")
        .await
        .expect("runs");
    assert_eq!((result.rows.len(), result.truncated), (8, false));
    let result = fixture
        .query("SELECT __time__ LIMIT 1000")
        .await
        .expect("runs");
    assert_eq!((result.rows.len(), result.truncated), (8, true));
}

#[tokio::test]
async fn long_and_double_keys_are_typed_with_try_cast() {
    let fixture = Fixture::new().await;
    // latency: 100 250 abc 50 1000 75 (split A), 10.5 20 30 (split B): "abc" and "10.5" are
    // not BIGINT, so NULL.
    assert_eq!(
        fixture
            .rows("SELECT count(latency), sum(latency), min(latency), max(latency), avg(latency)")
            .await,
        expect(&[&["7", "1525", "20", "1000", "217.85714285714286"]])
    );
    assert_eq!(
        fixture.rows("SELECT count(*) WHERE latency > 100").await,
        expect(&[&["2"]])
    );
    assert_eq!(
        fixture
            .rows("SELECT avg(ms), sum(ms), count(ms), max(ms) * 2")
            .await,
        expect(&[&["2", "4", "2", "5"]])
    );
    // A declared key that no record has is a NULL of its type, so aggregates still work.
    assert_eq!(
        fixture
            .rows("SELECT declared, count(*), sum(declared) GROUP BY declared")
            .await,
        expect(&[&["null", "12", "null"]])
    );
}

#[tokio::test]
async fn files_and_batches_with_different_columns_form_one_table() {
    let fixture = Fixture::new().await;
    let result = fixture
        .query(
            "SELECT count(*), count(url), count(content), count(extra), count(\"my-key\"), \
             count(__topic__), count(__source__)",
        )
        .await
        .expect("runs");
    assert_eq!(
        texts(&result),
        expect(&[&["12", "9", "3", "2", "2", "6", "0"]])
    );
    // Split B's last row is past the range but in the same row group: read, then filtered.
    assert_eq!(result.processed_rows, 13);
}

#[tokio::test]
async fn offsets_are_hidden_and_absent_keys_are_null() {
    let fixture = Fixture::new().await;
    let result = fixture.query("SELECT * LIMIT 1").await.expect("runs");
    assert!(
        !result.columns.iter().any(|c| c == "__offset__"),
        "{:?}",
        result.columns
    );
    for column in [
        "__time__",
        "__time_ns_part__",
        "__topic__",
        "__tag__:__hostname__",
        "url",
    ] {
        assert!(
            result.columns.iter().any(|c| c == column),
            "{column}: {:?}",
            result.columns
        );
    }
    assert_eq!(
        fixture.rows("SELECT __offset__ LIMIT 1").await,
        expect(&[&["null"]])
    );
    assert_eq!(
        fixture
            .rows("SELECT nothing_here, count(*) AS c GROUP BY nothing_here")
            .await,
        expect(&[&["null", "12"]])
    );
    assert_eq!(
        fixture
            .rows("SELECT count(*) FROM log AS l WHERE l.nothing_here IS NULL")
            .await,
        expect(&[&["12"]])
    );
}

#[tokio::test]
async fn quoted_names_reach_tags_and_odd_keys() {
    let fixture = Fixture::new().await;
    assert_eq!(
        fixture
            .rows(
                "SELECT \"__tag__:__hostname__\" AS host, count(*) AS c GROUP BY host \
                 ORDER BY c DESC"
            )
            .await,
        expect(&[&["null", "6"], &["web-1", "4"], &["web-2", "2"]])
    );
    assert_eq!(
        fixture
            .rows("SELECT \"my-key\" FROM log WHERE \"__tag__:__hostname__\" IS NULL AND \"my-key\" = 'y'")
            .await,
        expect(&[&["y"]])
    );
}

#[tokio::test]
async fn the_time_range_applies_to_every_source() {
    let fixture = Fixture::new().await;
    let mut table = fixture.table();
    table.time_range = (T0 + 60, T0 + 120);
    let result = fixture
        .engine
        .execute("SELECT count(*), min(__time__), max(__time__)", table)
        .await
        .expect("runs");
    let (low, high) = ((T0 + 60).to_string(), (T0 + 119).to_string());
    assert_eq!(texts(&result), expect(&[&["5", &low, &high]]));
}

#[tokio::test]
async fn an_empty_logstore_answers_like_any_other() {
    let fixture = Fixture::new().await;
    let result = fixture
        .engine
        .execute(
            "SELECT count(*), max(url), count(DISTINCT __topic__)",
            SqlTable::default(),
        )
        .await
        .expect("runs");
    assert_eq!(texts(&result), expect(&[&["0", "null", "0"]]));
    assert_eq!(result.processed_rows, 0);
}

#[tokio::test]
async fn the_current_time_is_fixed_per_query() {
    let fixture = Fixture::new().await;
    assert_eq!(
        fixture
            .rows("SELECT length(date_format(now(), '%Y-%m-%d %H:%i:%s')), now() = now() LIMIT 1")
            .await,
        expect(&[&["19", "true"]])
    );
}

#[tokio::test]
async fn mistakes_are_reported_clearly() {
    let fixture = Fixture::new().await;
    match fixture.query("SELECT status,, count(*)").await {
        Err(QueryError::SqlSyntax { position, message }) => {
            assert_eq!(position, 14, "{message}");
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
    match fixture.query("SELECT cout(*)").await {
        Err(QueryError::UnknownFunction { name, suggestion }) => {
            assert_eq!(name, "cout");
            assert!(suggestion.is_some());
        }
        other => panic!("expected an unknown function, got {other:?}"),
    }
    match fixture.query("SELECT status AS s WHERE s = '200'").await {
        Err(QueryError::UnknownColumn { name, hint }) => {
            assert_eq!(name, "s");
            assert!(hint.contains("alias"), "{hint}");
        }
        other => panic!("expected an unknown column, got {other:?}"),
    }
    match fixture.query("SELECT x.status FROM log t").await {
        Err(error @ QueryError::UnknownColumn { .. }) => {
            assert!(error.to_string().contains("x.status"), "{error}");
        }
        other => panic!("expected an unknown column, got {other:?}"),
    }
    assert!(matches!(
        fixture.query("SELECT * FROM users").await,
        Err(QueryError::UnknownTable { .. })
    ));
    assert!(matches!(
        fixture.query("DELETE FROM log").await,
        Err(QueryError::SqlUnsupported { .. })
    ));
    match fixture.query("SELECT sum(url)").await {
        Err(QueryError::SqlInvalid { message }) => assert!(!message.is_empty()),
        other => panic!("expected invalid SQL, got {other:?}"),
    }
    let deep = format!("SELECT {} AS x", vec!["1"; 5000].join("+"));
    assert!(matches!(
        fixture.query(&deep).await,
        Err(QueryError::TooDeep { limit: 200, .. })
    ));
    match fixture.query("SELECT status, count(*)").await {
        Err(error @ QueryError::SqlInvalid { .. }) => {
            assert!(!error.is_transient(), "{error}")
        }
        other => panic!("expected invalid SQL, got {other:?}"),
    }
}
