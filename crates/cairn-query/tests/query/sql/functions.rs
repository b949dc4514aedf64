//! Functions: aggregates, time bucketing, regex, JSON, strings, and histograms over splits.

use cairn_query::QueryError;

use super::{batch, expect, Fixture, Record, T0};

#[tokio::test]
async fn aggregates() {
    let fixture = Fixture::new().await;
    assert_eq!(
        fixture
            .rows(
                "SELECT count(*) AS n, count(1), approx_distinct(url) AS urls, \
                 approx_percentile(latency, 0.5) AS p50, count_if(status = '500') AS errors, \
                 count_if(latency > 90) AS slow, max(status), min(url)"
            )
            .await,
        expect(&[&["12", "12", "4", "75", "3", "3", "503", "/a"]])
    );
    let result = fixture
        .rows("SELECT arbitrary(__topic__) FROM log WHERE __topic__ IS NOT NULL")
        .await;
    assert_eq!(result, expect(&[&["nginx"]]));
    // latency 1000 is /a's (split A), 20 is split B's, which has no url.
    assert_eq!(
        fixture
            .rows("SELECT max_by(url, latency), min_by(status, latency), max_by(url, declared)")
            .await,
        expect(&[&["/a", "500", "null"]])
    );
}

#[tokio::test]
async fn three_ways_of_bucketing_time_agree() {
    let fixture = Fixture::new().await;
    let seconds = |offset: i64| (T0 + offset).to_string();
    assert_eq!(
        fixture
            .rows("SELECT __time__ - __time__ % 60 AS t, count(*) AS c GROUP BY t ORDER BY t")
            .await,
        expect(&[
            &[&seconds(0), "5"],
            &[&seconds(60), "5"],
            &[&seconds(120), "2"]
        ])
    );
    let as_timestamps = expect(&[
        &["2024-01-01 00:00:00.000", "5"],
        &["2024-01-01 00:01:00.000", "5"],
        &["2024-01-01 00:02:00.000", "2"],
    ]);
    assert_eq!(
        fixture
            .rows("SELECT date_trunc('minute', __time__) AS t, count(*) AS c GROUP BY t ORDER BY t")
            .await,
        as_timestamps
    );
    assert_eq!(
        fixture
            .rows(
                "SELECT from_unixtime(__time__ - __time__ % 60) AS t, count(*) AS c \
                 GROUP BY t ORDER BY t"
            )
            .await,
        as_timestamps
    );
    assert_eq!(
        fixture
            .rows(
                "SELECT count(*) FROM log WHERE to_unixtime(date_trunc('minute', __time__)) \
                 <> __time__ - __time__ % 60 \
                 OR date_trunc('minute', from_unixtime(__time__)) <> date_trunc('minute', __time__)"
            )
            .await,
        expect(&[&["0"]])
    );
}

#[tokio::test]
async fn dates_format_and_parse_with_mysql_specifiers() {
    let fixture = Fixture::new().await;
    assert_eq!(
        fixture
            .rows(
                "SELECT date_format(__time__, '%Y-%m-%d %H:%i:%s'), \
                 date_format(date_trunc('hour', from_unixtime(__time__)), '%H:%i %b'), \
                 to_unixtime(date_parse('2024-01-01 00:01:00', '%Y-%m-%d %H:%i:%s')) \
                 ORDER BY __time__ DESC LIMIT 1"
            )
            .await,
        expect(&[&["2024-01-01 00:02:10", "00:00 Jan", "1704067260"]])
    );
    assert_eq!(
        fixture
            .rows("SELECT date_parse('yesterday', '%Y-%m-%d') IS NULL LIMIT 1")
            .await,
        expect(&[&["true"]])
    );
}

#[tokio::test]
async fn regular_expressions() {
    let fixture = Fixture::new().await;
    assert_eq!(
        fixture
            .rows("SELECT count(*) WHERE regexp_like(url, '^/[ab]$')")
            .await,
        expect(&[&["6"]])
    );
    assert_eq!(
        fixture
            .rows(
                "SELECT regexp_extract(url, '/(\\w)', 1) AS letter, count(*) AS c \
                 WHERE url IS NOT NULL GROUP BY letter ORDER BY letter"
            )
            .await,
        expect(&[&["a", "4"], &["b", "2"], &["c", "1"], &["z", "2"]])
    );
    assert_eq!(
        fixture
            .rows(
                "SELECT regexp_extract('k=v1,k=v2', 'k=(\\w+)'), \
                 regexp_extract('none', 'k=(\\w+)', 1), regexp_replace('a-b-c', '-', '+') LIMIT 1"
            )
            .await,
        expect(&[&["k=v1", "null", "a+b+c"]])
    );
    assert!(matches!(
        fixture
            .query("SELECT regexp_extract(url, '(unclosed') LIMIT 1")
            .await,
        Err(QueryError::SqlExecution { .. })
    ));
}

#[tokio::test]
async fn json_extraction() {
    let fixture = Fixture::new().await;
    assert_eq!(
        fixture
            .rows(
                "SELECT json_extract_scalar(content, '$.user.name') AS name, \
                 json_extract(content, '$.user.tags') AS tags, \
                 json_array_length(json_extract(content, '$.user.tags')) AS n, \
                 CAST(json_extract_scalar(content, '$.n') AS BIGINT) + 1 AS next \
                 WHERE content IS NOT NULL ORDER BY __time__"
            )
            .await,
        expect(&[
            &["ann", r#"["a","b"]"#, "2", "4"],
            &["bob", "null", "null", "null"],
            &["null", "null", "null", "null"],
        ])
    );
    assert!(matches!(
        fixture
            .query("SELECT json_extract(content, 'user') LIMIT 1")
            .await,
        Err(QueryError::SqlExecution { .. })
    ));
}

#[tokio::test]
async fn string_functions() {
    let fixture = Fixture::new().await;
    assert_eq!(
        fixture
            .rows(
                "SELECT upper(url), length(url), split_part(url, '/', 2), \
                 concat(status, ':', url), strpos(url, 'a') FROM log \
                 WHERE url = '/a' ORDER BY __time__ LIMIT 1"
            )
            .await,
        expect(&[&["/A", "2", "a", "200:/a", "2"]])
    );
}

#[tokio::test]
async fn histograms_count_over_splits() {
    let fixture = Fixture::new().await;
    let buckets = fixture
        .engine
        .histogram(fixture.table(), Some(60))
        .await
        .expect("histogram");
    assert_eq!(buckets.len(), 60);
    let counts: Vec<u64> = buckets.iter().map(|b| b.count).collect();
    assert_eq!(&counts[..4], &[5, 5, 2, 0]);
    assert_eq!(counts.iter().sum::<u64>(), 12);
    assert_eq!(buckets[0].from, u32::try_from(T0).expect("fits"));
    let auto = fixture
        .engine
        .histogram(fixture.table(), None)
        .await
        .expect("histogram");
    assert_eq!(auto.iter().map(|b| b.count).sum::<u64>(), 12);
}

#[tokio::test]
async fn approx_percentile_by_group_is_close_to_exact_for_every_group() {
    // 40 groups of 1,500 values each (more than one buffered run per group), interleaved so
    // every batch touches every group; the values of group g are g * 10_000 + 0..1500.
    let groups = 40i64;
    let per_group = 1_500i64;
    let values: Vec<(String, String)> = (0..per_group)
        .flat_map(|i| {
            (0..groups).map(move |g| {
                (
                    format!("g{g:02}"),
                    (g * 10_000 + (i * 7) % per_group).to_string(),
                )
            })
        })
        .collect();
    let records: Vec<Record<'_>> = values
        .iter()
        .map(|(g, v)| (T0 + 1, vec![Some(g.as_str()), Some(v.as_str())]))
        .collect();
    let mut fixture = Fixture::new().await;
    fixture.batches.push(batch(&["g", "ms"], &records));
    let rows = fixture
        .rows(
            "SELECT g, approx_percentile(ms, 0.5) AS p50, approx_percentile(ms, 0.99) AS p99 \
             FROM log WHERE g IS NOT NULL GROUP BY g ORDER BY g",
        )
        .await;
    assert_eq!(rows.len(), groups as usize);
    for (g, row) in rows.iter().enumerate() {
        let base = g as f64 * 10_000.0;
        let p50: f64 = row[1].parse().expect("p50");
        let p99: f64 = row[2].parse().expect("p99");
        assert!((p50 - (base + 750.0)).abs() < 15.0, "group {g}: p50 {p50}");
        assert!(
            (p99 - (base + 1_485.0)).abs() < 15.0,
            "group {g}: p99 {p99}"
        );
    }
    // Without GROUP BY (DataFusion's own accumulator) the answer is the same kind.
    let all = fixture
        .rows("SELECT approx_percentile(ms, 0.5) FROM log WHERE g IS NOT NULL")
        .await;
    let median: f64 = all[0][0].parse().expect("median");
    assert!((median - 195_000.0).abs() < 10_000.0, "median {median}");
    // A group with no values answers NULL, like DataFusion's accumulator.
    assert_eq!(
        fixture
            .rows("SELECT approx_percentile(ms, 0.5) FROM log WHERE g IS NULL AND ms IS NULL GROUP BY g")
            .await,
        expect(&[&["null"]])
    );
}
