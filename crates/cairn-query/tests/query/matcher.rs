//! Matcher tests: records built from cairn_model types, searched with and without index
//! configs.

use cairn_model::{
    Field, FieldIndex, FieldIndexType, FullTextIndex, IndexConfig, LogRecord, LogTime,
    DEFAULT_TOKEN_DELIMITERS,
};
use cairn_query::{parse_search, QueryError, SearchMatcher};

fn record(contents: &[(&str, &str)]) -> LogRecord {
    LogRecord {
        time: LogTime::new(1_700_000_000, 0),
        topic: b"nginx".to_vec().into(),
        source: b"10.0.0.1".to_vec().into(),
        tags: vec![
            Field::new("host", "web-1"),
            Field::new("__path__", "/var/log/a.log"),
        ],
        contents: contents.iter().map(|(k, v)| Field::new(*k, *v)).collect(),
    }
}

fn access_log() -> LogRecord {
    record(&[
        ("method", "GET"),
        ("path", "/api/v1/Users?id=3"),
        ("status", "200"),
        ("latency", "0.25"),
        ("message", "Connection reset by peer, retrying"),
    ])
}

fn matcher(query: &str, index: Option<&IndexConfig>) -> SearchMatcher {
    let search = parse_search(query).unwrap_or_else(|e| panic!("{query:?}: {e}"));
    SearchMatcher::new(&search, index).unwrap_or_else(|e| panic!("{query:?}: {e}"))
}

fn matches(query: &str, index: Option<&IndexConfig>, record: &LogRecord) -> bool {
    matcher(query, index).matches(record)
}

fn compile_error(query: &str, index: Option<&IndexConfig>) -> QueryError {
    let search = parse_search(query).unwrap();
    SearchMatcher::new(&search, index).expect_err(query)
}

fn text_field(tokens: &str, case_sensitive: bool, alias: Option<&str>) -> FieldIndex {
    FieldIndex {
        field_type: FieldIndexType::Text,
        token: tokens.chars().map(String::from).collect(),
        case_sensitive,
        alias: alias.map(str::to_owned),
        doc_value: true,
        chn: false,
        json_keys: None,
        extra: Default::default(),
    }
}

fn typed_field(field_type: FieldIndexType) -> FieldIndex {
    FieldIndex {
        field_type,
        ..text_field("", false, None)
    }
}

/// Full text with default delimiters plus `status` long, `latency` double, `message` text
/// (space-delimited, case-sensitive, alias `msg`).
fn typed_index() -> IndexConfig {
    let mut index = IndexConfig {
        line: Some(FullTextIndex::with_default_tokens()),
        ..Default::default()
    };
    index
        .keys
        .insert("status".into(), typed_field(FieldIndexType::Long));
    index
        .keys
        .insert("latency".into(), typed_field(FieldIndexType::Double));
    index
        .keys
        .insert("message".into(), text_field(" ", true, Some("msg")));
    index
}

#[test]
fn no_index_full_text_is_case_insensitive_over_keys_and_values() {
    let log = access_log();
    for query in [
        "users",
        "USERS",
        "get",
        "peer",
        "api v1",
        "status",
        "\"connection reset\"",
        "\"reset connection\"",
        "#\"connection reset\"",
    ] {
        assert!(matches(query, None, &log), "{query:?} should match");
    }
    for query in ["user", "api/v2", "#\"reset connection\"", "nginx", "web-1"] {
        assert!(!matches(query, None, &log), "{query:?} should not match");
    }
}

#[test]
fn terms_with_delimiters_need_every_token_in_any_order() {
    let log = access_log();
    assert!(matches("/api/v1", None, &log));
    assert!(matches("v1/users", None, &log));
    assert!(
        matches("api/users", None, &log),
        "unquoted text is not a phrase"
    );
    assert!(matches("users/api", None, &log));
    assert!(
        matches("get/peer", None, &log),
        "tokens may be in different fields"
    );
    assert!(!matches("api/v2", None, &log), "every token is needed");
    assert!(matches("\"by peer\"", None, &log));
    assert!(
        matches("\"peer by\"", None, &log),
        "quoted text is not a phrase"
    );
    assert!(matches("#\"by peer\"", None, &log));
    assert!(!matches("#\"peer by\"", None, &log), "phrases keep order");
    assert!(matches("#\"/api/v1\"", None, &log));
    assert!(
        !matches("#\"api/users\"", None, &log),
        "phrase tokens are consecutive"
    );
    assert!(
        !matches("#\"get peer\"", None, &log),
        "a phrase stays in one value"
    );
}

#[test]
fn wildcards_match_within_tokens() {
    let log = access_log();
    assert!(matches("us*", None, &log));
    assert!(matches("U?ers", None, &log));
    assert!(matches("con*ion", None, &log));
    assert!(matches("/api/v*", None, &log));
    assert!(!matches("ust*", None, &log));
    assert!(!matches("\"us*\"", None, &log), "quoted stars are literal");
    assert!(!matches("#\"us*\"", None, &log), "so are phrase stars");
    assert!(
        matches("path: /api/us*", None, &log),
        "each token anywhere; the prefix applies to its own token"
    );
    assert!(!matches("path: /api/ust*", None, &log));
    assert!(matches("path: /api/v1/us*", None, &log));
}

#[test]
fn boolean_composition() {
    let log = access_log();
    assert!(matches("missing or get and peer", None, &log));
    assert!(!matches("(missing or get) and nothing", None, &log));
    assert!(matches("get not post", None, &log));
    assert!(!matches("get and not peer", None, &log));
    assert!(matches("not not get", None, &log));
    assert!(matches("*", None, &log));
    assert!(matcher("* and *", None).matches_all());
    assert!(!matcher("get", None).matches_all());
}

#[test]
fn no_index_field_search_is_textual_and_comparisons_parse_numbers() {
    let log = access_log();
    assert!(matches("method: get", None, &log));
    assert!(matches("method:GET", None, &log));
    assert!(!matches("method: post", None, &log));
    assert!(matches("path: \"v1 users\"", None, &log));
    assert!(matches("path: \"users v1\"", None, &log));
    assert!(matches("path: #\"v1 users\"", None, &log));
    assert!(!matches("path: #\"users v1\"", None, &log));
    assert!(
        !matches("path: \"v1 peer\"", None, &log),
        "field search stays in its field"
    );
    assert!(matches("status: 200", None, &log));
    assert!(!matches("missing: 200", None, &log));
    assert!(matches("status > 199 and status < 201", None, &log));
    assert!(matches(
        "status = 200 and status >= 200 and status <= 200",
        None,
        &log
    ));
    assert!(!matches("status >= 500", None, &log));
    assert!(matches("latency < 1.5 and latency > 0.2", None, &log));
    assert!(matches("status in [200 299]", None, &log));
    assert!(!matches("status in (200 299]", None, &log));
    assert!(matches("latency in [0 0.25]", None, &log));
    assert!(!matches("latency in [0 0.25)", None, &log));
    assert!(
        !matches("method > 1", None, &log),
        "non-numeric values never compare"
    );
}

#[test]
fn reserved_fields_tags_and_time() {
    let log = access_log();
    assert!(matches("__topic__: nginx", None, &log));
    assert!(matches("__source__: 10.0.0.1", None, &log));
    assert!(matches("__tag__:host: web-1", None, &log));
    assert!(
        !matches("__tag__:host: web", None, &log),
        "- is not a delimiter: web-1 is one token"
    );
    assert!(matches("__tag__:__path__: \"/var/log/a.log\"", None, &log));
    assert!(!matches("__tag__:host: web-2", None, &log));
    assert!(matches(
        "__time__ >= 1700000000 and __time__ < 1700000001",
        None,
        &log
    ));
    assert!(matches("__time__: 1700000000", None, &log));
    assert!(matches("__time__: *", None, &log));
}

#[test]
fn existence_and_empty_values() {
    let log = record(&[("a", "x"), ("empty", ""), ("commas", ",,")]);
    assert!(matches("a: *", None, &log));
    assert!(matches("empty: *", None, &log));
    assert!(!matches("missing: *", None, &log));
    assert!(matches("not missing: *", None, &log));
    assert!(matches("empty: \"\"", None, &log));
    assert!(
        matches("commas: \"\"", None, &log),
        "only delimiters: no tokens"
    );
    assert!(!matches("a: \"\"", None, &log));
    assert!(
        matches("\"\"", None, &log),
        "a term without tokens constrains nothing"
    );
}

#[test]
fn index_case_sensitivity_and_delimiters() {
    let log = record(&[("message", "Error in a,b")]);
    let mut index = IndexConfig {
        line: Some(FullTextIndex {
            token: vec![" ".into()],
            case_sensitive: true,
            ..FullTextIndex::with_default_tokens()
        }),
        ..Default::default()
    };
    assert!(matches("Error", Some(&index), &log));
    assert!(!matches("error", Some(&index), &log));
    assert!(matches("a,b", Some(&index), &log));
    assert!(!matches("a", Some(&index), &log), "only space splits");
    assert!(matches("a,*", Some(&index), &log));
    index.line.as_mut().unwrap().case_sensitive = false;
    assert!(matches("ERROR", Some(&index), &log));
    // Fields without a field index use the full-text settings.
    assert!(matches("message: \"error in\"", Some(&index), &log));
    assert!(!matches("message: a", Some(&index), &log));
}

#[test]
fn include_and_exclude_keys_limit_full_text() {
    let log = record(&[("public", "alpha"), ("secret", "beta")]);
    let mut line = FullTextIndex::with_default_tokens();
    line.include_keys = Some(vec!["public".into()]);
    let index = IndexConfig {
        line: Some(line.clone()),
        ..Default::default()
    };
    assert!(matches("alpha", Some(&index), &log));
    assert!(!matches("beta", Some(&index), &log));
    assert!(
        matches("secret: beta", Some(&index), &log),
        "field search still reaches it"
    );
    line.include_keys = None;
    line.exclude_keys = Some(vec!["public".into()]);
    let index = IndexConfig {
        line: Some(line),
        ..Default::default()
    };
    assert!(!matches("alpha", Some(&index), &log));
    assert!(matches("beta", Some(&index), &log));
}

#[test]
fn typed_fields_and_aliases() {
    let index = typed_index();
    let log = record(&[
        ("status", "200"),
        ("latency", "1"),
        ("message", "Disk FULL on /dev/sda1"),
    ]);
    let idx = Some(&index);
    assert!(matches("status: 200", idx, &log));
    assert!(matches("status: \"200\"", idx, &log));
    assert!(
        !matches("status: 20", idx, &log),
        "numeric equality, not tokens"
    );
    assert!(matches("status > 100 and status in [200 200]", idx, &log));
    assert!(
        matches("latency > 0.5 and latency <= 1.0", idx, &log),
        "ints are doubles too"
    );
    assert!(matches("message: FULL", idx, &log));
    assert!(
        !matches("message: full", idx, &log),
        "the field is case-sensitive"
    );
    assert!(
        matches("msg: \"Disk FULL\"", idx, &log),
        "alias resolves to message"
    );
    assert!(
        !matches("message: sda1", idx, &log),
        "only spaces split this field"
    );
    assert!(matches("message: /dev/sda1", idx, &log));
    assert!(matches("msg: *", idx, &log));
    assert!(
        matches("full", idx, &log),
        "full text keeps its own case rules"
    );

    let fractional = record(&[("status", "200.5"), ("latency", "abc")]);
    assert!(
        !matches("status > 100", idx, &fractional),
        "long fields need integers"
    );
    assert!(!matches("latency > 0", idx, &fractional));
}

#[test]
fn conditions_that_do_not_fit_the_index_are_errors() {
    let index = typed_index();
    let idx = Some(&index);
    for query in ["message > 3", "msg in [1 2]", "message = 1"] {
        let error = compile_error(query, idx);
        assert!(
            matches!(error, QueryError::InvalidField { .. }),
            "{query}: {error:?}"
        );
        assert!(error.to_string().contains("text"), "{error}");
    }
    let error = compile_error("status: abc", idx);
    assert!(
        error.to_string().contains("\"abc\" is not a number"),
        "{error}"
    );
    let error = compile_error("status: 2*", idx);
    assert!(error.to_string().contains("wildcard"), "{error}");
    assert!(matches!(
        compile_error("__time__: x", None),
        QueryError::InvalidField { .. }
    ));
}

#[test]
fn unknown_fields_are_searched_leniently() {
    let index = typed_index();
    let log = record(&[("region", "cn-hangzhou"), ("size", "42")]);
    assert!(matches("region: cn-hangzhou", Some(&index), &log));
    assert!(matches("size > 40", Some(&index), &log));
    assert!(matches("size: 42", Some(&index), &log));
}

#[test]
fn field_indexes_without_full_text_search_text_fields() {
    let mut index = IndexConfig::default();
    index
        .keys
        .insert("message".into(), text_field(" ", false, None));
    index
        .keys
        .insert("status".into(), typed_field(FieldIndexType::Long));
    let log = record(&[
        ("message", "hello world"),
        ("other", "unindexed"),
        ("status", "200"),
    ]);
    assert!(matches("hello", Some(&index), &log));
    assert!(!matches("unindexed", Some(&index), &log));
    assert!(
        !matches("200", Some(&index), &log),
        "long fields are not full text"
    );

    let mut numeric_only = IndexConfig::default();
    numeric_only
        .keys
        .insert("status".into(), typed_field(FieldIndexType::Long));
    let error = compile_error("hello", Some(&numeric_only));
    assert!(
        matches!(error, QueryError::FullTextUnavailable { .. }),
        "{error:?}"
    );
    assert!(matches("status: 200", Some(&numeric_only), &log));

    // An index config with nothing in it behaves like no index.
    assert!(matches("unindexed", Some(&IndexConfig::default()), &log));
}

#[test]
fn non_utf8_and_non_ascii_values() {
    let mut log = record(&[("city", "MÜNCHEN straße")]);
    log.contents
        .push(Field::new("raw", vec![0xff, b' ', b'o', b'k', 0xfe]));
    assert!(matches("münchen", None, &log));
    assert!(
        !matches("STRASSE", None, &log),
        "ß lowercases to itself, not ss"
    );
    assert!(matches("Straße", None, &log));
    assert!(matches("mün*", None, &log));
    assert!(matches("m?nchen", None, &log));
    assert!(
        matches("raw: ok*", None, &log),
        "invalid bytes stay inside the token ok\\xfe"
    );
    assert!(!matches("raw: \"ok\"", None, &log));
    assert!(!matches("missing", None, &log));
}

/// The compatibility suite's data: `status` long, `latency` double, `msg` and `user` text with
/// SLS's default delimiters, full text with the defaults too.
fn compat_index() -> IndexConfig {
    let mut index = IndexConfig {
        line: Some(FullTextIndex::with_default_tokens()),
        ..Default::default()
    };
    index
        .keys
        .insert("status".into(), typed_field(FieldIndexType::Long));
    index
        .keys
        .insert("latency".into(), typed_field(FieldIndexType::Double));
    for key in ["msg", "user"] {
        index.keys.insert(
            key.into(),
            text_field(DEFAULT_TOKEN_DELIMITERS, false, None),
        );
    }
    index
}

fn compat_rows() -> Vec<LogRecord> {
    [
        ("200", "0.010", "alice", "GET /index.html served"),
        ("404", "0.002", "bob", "GET /missing not found"),
        (
            "500",
            "1.500",
            "carol",
            "upstream connection refused by backend",
        ),
        ("503", "2.250", "bob", "upstream timeout after retries"),
        ("201", "0.120", "alice", "POST /orders created"),
        ("200", "0.050", "dave", "refused connection was retried"),
        ("302", "0.004", "alice", "redirect to abcdef page"),
        ("401", "0.030", "erin", "abcxyz token rejected"),
        ("200", "0.300", "bob", "job finished ok"),
        ("500", "5.000", "alice", "job crashed: connection refused"),
    ]
    .iter()
    .map(|(status, latency, user, msg)| {
        record(&[
            ("status", status),
            ("latency", latency),
            ("user", user),
            ("msg", msg),
        ])
    })
    .collect()
}

/// The rows (by position) that `query` matches.
fn hits(query: &str, index: &IndexConfig, rows: &[LogRecord]) -> Vec<usize> {
    let matcher = matcher(query, Some(index));
    (0..rows.len())
        .filter(|&i| matcher.matches(&rows[i]))
        .collect()
}

#[test]
fn quotes_make_literals_and_hash_quotes_make_phrases() {
    let (index, rows) = (compat_index(), compat_rows());
    let expected: &[(&str, &[usize])] = &[
        ("connection refused", &[2, 5, 9]),
        ("connection and refused", &[2, 5, 9]),
        // Quotes do not make a phrase: both tokens, any order, anywhere.
        ("\"connection refused\"", &[2, 5, 9]),
        ("\"refused connection\"", &[2, 5, 9]),
        ("msg: \"connection refused\"", &[2, 5, 9]),
        ("msg:\"connection refused\"", &[2, 5, 9]),
        // `#"..."` does: consecutive tokens, in order, in one value.
        ("#\"connection refused\"", &[2, 9]),
        ("#\"refused connection\"", &[5]),
        ("#\"CONNECTION  refused\"", &[2, 9]),
        ("msg: #\"connection refused\"", &[2, 9]),
        ("msg:#\"connection refused\"", &[2, 9]),
        ("msg: #\"connection refused by\"", &[2]),
        ("msg: #\"refused\"", &[2, 5, 9]),
        ("user: #\"connection refused\"", &[]),
        ("#\"connection refused\" and status >= 500", &[2, 9]),
        ("\"connection refused\" not #\"connection refused\"", &[5]),
        // `#` not before a quote keeps its meaning: a delimiter inside a word.
        ("msg: #refused", &[2, 5, 9]),
        ("#refused", &[2, 5, 9]),
        // Unquoted text with delimiters needs every token, in any order.
        ("msg: refused/connection", &[2, 5, 9]),
        ("refused/connection", &[2, 5, 9]),
        ("msg: #\"refused/connection\"", &[5]),
        // Quotes and phrases are literal: no wildcards, no keywords.
        ("\"conn*\"", &[]),
        ("#\"conn*\"", &[]),
        ("\"connection and refused\"", &[]),
        ("conn* refused", &[2, 5, 9]),
    ];
    for (query, want) in expected {
        assert_eq!(hits(query, &index, &rows), *want, "{query:?}");
    }
}

#[test]
fn quoted_full_text_tokens_may_be_in_different_fields_but_phrases_may_not() {
    let index = compat_index();
    let log = record(&[("user", "connection"), ("msg", "refused")]);
    assert!(matches("\"connection refused\"", Some(&index), &log));
    assert!(matches("connection/refused", Some(&index), &log));
    assert!(!matches("#\"connection refused\"", Some(&index), &log));
    assert!(!matches("msg: \"connection refused\"", Some(&index), &log));
    // A key and its value are separate texts for a phrase.
    let keyed = record(&[("connection", "refused")]);
    assert!(matches("\"connection refused\"", None, &keyed));
    assert!(!matches("#\"connection refused\"", None, &keyed));
}

#[test]
fn phrases_with_empty_text_and_on_numeric_fields() {
    let (index, rows) = (compat_index(), compat_rows());
    assert_eq!(hits("#\"\"", &index, &rows).len(), rows.len());
    assert_eq!(hits("status: #\"500\"", &index, &rows), vec![2, 9]);
    let log = record(&[("empty", ""), ("a", "x")]);
    assert!(matches("empty: #\"\"", None, &log));
    assert!(!matches("a: #\"\"", None, &log));
}

#[test]
fn field_indexes_only_search_each_field_by_form() {
    let mut index = IndexConfig::default();
    index
        .keys
        .insert("message".into(), text_field(" /", false, None));
    index
        .keys
        .insert("other".into(), text_field(" ", false, None));
    let log = record(&[("message", "hello big world"), ("other", "a/b")]);
    let idx = Some(&index);
    assert!(matches("\"world hello\"", idx, &log));
    assert!(matches("world/hello", idx, &log));
    assert!(matches("#\"big world\"", idx, &log));
    assert!(!matches("#\"hello world\"", idx, &log));
    assert!(matches("#\"a/b\"", idx, &log), "`other` keeps a/b whole");
    assert!(!matches("\"b/a\"", idx, &log));
}
