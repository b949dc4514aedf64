use bytes::Bytes;
use cairn_model::{Field, LogRecord, LogTime};
use serde_json::json;

use super::*;

fn record(contents: &[(&str, &str)]) -> LogRecord {
    LogRecord {
        time: LogTime::new(100, 5),
        topic: Bytes::from_static(b"app"),
        source: Bytes::from_static(b"10.0.0.1"),
        tags: vec![Field::new("host", "web-1"), Field::new("pod", "p-1")],
        contents: contents.iter().map(|(k, v)| Field::new(k, v)).collect(),
    }
}

fn pairs(fields: &[Field]) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|field| {
            (
                field.key_text().into_owned(),
                field.value_text().into_owned(),
            )
        })
        .collect()
}

fn transform(value: serde_json::Value) -> Transform {
    Transform::from_json(&value).expect("valid transform")
}

fn invalid(value: serde_json::Value) -> String {
    match Transform::from_json(&value) {
        Err(JobError::Invalid { message }) => message,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn the_default_transform_copies_records_unchanged() {
    let identity = Transform::default();
    assert!(identity.is_identity());
    let original = record(&[("a", "1")]);
    assert_eq!(identity.apply(&original), Some(original));
    assert!(transform(json!({})).is_identity());
}

#[test]
fn steps_run_in_order_filter_extract_rename_drop_add() {
    let t = transform(json!({
        "filter": "status >= 500",
        "extract": [{"field": "msg", "regex": "(?P<user>\\w+) logged in from (?P<ip>[\\d.]+)"}],
        // rename sees the extracted field; drop sees the renamed one; add comes last.
        "rename": {"user": "login", "status": "code", "__tag__:host": "__tag__:hostname"},
        "drop": ["ip", "secret", "__tag__:pod", "__source__"],
        "add": {"env": "prod", "code": "overridden", "__topic__": "copied", "__tag__:via": "job"}
    }));
    assert!(
        t.apply(&record(&[("status", "200")])).is_none(),
        "filtered out"
    );
    assert!(
        t.apply(&record(&[("msg", "x")])).is_none(),
        "no status: filtered out"
    );

    let out = t
        .apply(&record(&[
            ("status", "503"),
            ("msg", "alice logged in from 10.1.2.3"),
            ("secret", "s3cr3t"),
        ]))
        .expect("kept");
    assert_eq!(
        pairs(&out.contents),
        [
            ("code", "overridden"),
            ("msg", "alice logged in from 10.1.2.3"),
            ("login", "alice"),
            ("env", "prod"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
    assert_eq!(
        pairs(&out.tags),
        [
            ("hostname".to_owned(), "web-1".to_owned()),
            ("via".to_owned(), "job".to_owned())
        ]
    );
    assert_eq!(&out.topic[..], b"copied");
    assert!(out.source.is_empty());
    assert_eq!(out.time, LogTime::new(100, 5), "time is kept");
}

#[test]
fn extract_without_a_match_leaves_the_record_and_overwrites_on_a_match() {
    let t = transform(json!({"extract": [{"field": "msg", "regex": "user=(?P<user>\\w+)"}]}));
    let unmatched = record(&[("msg", "nothing here"), ("user", "old")]);
    assert_eq!(t.apply(&unmatched), Some(unmatched.clone()));
    let matched = t
        .apply(&record(&[("user", "old"), ("msg", "user=bob ok")]))
        .expect("kept");
    assert_eq!(matched.field("user"), Some(&b"bob"[..]));
    assert_eq!(matched.contents.len(), 2, "replaced, not duplicated");
    // A missing field is no match either.
    let absent = record(&[("other", "user=x")]);
    assert_eq!(t.apply(&absent), Some(absent.clone()));
    // Tags and the topic can be extracted from too.
    let from_tag =
        transform(json!({"extract": [{"field": "__tag__:host", "regex": "(?P<tier>[a-z]+)-\\d"}]}));
    assert_eq!(
        from_tag.apply(&record(&[])).expect("kept").field("tier"),
        Some(&b"web"[..])
    );
}

#[test]
fn renames_are_simultaneous_and_replace_their_target() {
    let swap = transform(json!({"rename": {"a": "b", "b": "a"}}));
    let out = swap
        .apply(&record(&[("a", "1"), ("b", "2")]))
        .expect("kept");
    assert_eq!(
        pairs(&out.contents),
        [
            ("b".to_owned(), "1".to_owned()),
            ("a".to_owned(), "2".to_owned())
        ]
    );

    let onto = transform(json!({"rename": {"a": "b"}}));
    let out = onto
        .apply(&record(&[("b", "old"), ("a", "new")]))
        .expect("kept");
    assert_eq!(pairs(&out.contents), [("b".to_owned(), "new".to_owned())]);
    // Without an `a`, an existing `b` stays.
    let out = onto.apply(&record(&[("b", "kept")])).expect("kept");
    assert_eq!(pairs(&out.contents), [("b".to_owned(), "kept".to_owned())]);
}

#[test]
fn filters_use_the_sls_search_syntax() {
    let t = transform(json!({"filter": "error and not path: health"}));
    assert!(t.keeps(&record(&[("msg", "an error"), ("path", "/api")])));
    assert!(!t.keeps(&record(&[("msg", "an error"), ("path", "/health")])));
    assert!(!t.keeps(&record(&[("msg", "fine")])));
    let tagged = transform(json!({"filter": "__tag__:host: web-1 and __topic__: app"}));
    assert!(tagged.keeps(&record(&[])));
}

#[test]
fn invalid_transforms_say_where_and_why() {
    let message = invalid(json!({"filter": "status >= 500 and (error"}));
    assert!(message.contains("transform.filter"), "{message}");
    assert!(message.contains("position"), "{message}");

    let message = invalid(json!({"extract": [{"field": "msg", "regex": "(?P<user>\\w+"}]}));
    assert!(message.contains("transform.extract[0].regex"), "{message}");

    let message = invalid(json!({"extract": [{"field": "msg", "regex": "\\w+"}]}));
    assert!(message.contains("no named group"), "{message}");

    let message = invalid(json!({"renme": {"a": "b"}}));
    assert!(message.contains("unknown field"), "{message}");
    let message = invalid(json!({"extract": [{"field": "m", "regex": "(?P<a>x)", "flags": "i"}]}));
    assert!(message.contains("unknown field"), "{message}");

    let message = invalid(json!({"rename": {"a": "c", "b": "c"}}));
    assert!(message.contains("two fields"), "{message}");
    let message = invalid(json!({"rename": {"a": "__tag__:a"}}));
    assert!(
        message.contains("content fields to content fields"),
        "{message}"
    );
    let message = invalid(json!({"drop": ["__time__"]}));
    assert!(message.contains("__time__"), "{message}");
    let message = invalid(json!({"add": {"__tag__:": "x"}}));
    assert!(message.contains("names no tag"), "{message}");
    let message = invalid(json!({"drop": "a"}));
    assert!(message.contains("transform"), "{message}");

    let many: serde_json::Map<String, serde_json::Value> = (0..=MAX_TRANSFORM_ENTRIES)
        .map(|i| (format!("k{i}"), json!("v")))
        .collect();
    let message = invalid(json!({"add": many}));
    assert!(message.contains("at most"), "{message}");
    let long = "a".repeat(MAX_REGEX_BYTES + 1);
    let message = invalid(json!({"extract": [{"field": "m", "regex": format!("(?P<x>{long})")}]}));
    assert!(message.contains("at most"), "{message}");
}

#[test]
fn specs_round_trip_through_json() {
    let value = json!({
        "rename": {"a": "b"},
        "drop": ["c"],
        "add": {"d": "e"},
        "filter": "x",
        "extract": [{"field": "f", "regex": "(?P<g>h)"}]
    });
    let t = transform(value.clone());
    assert_eq!(serde_json::to_value(t.spec()).expect("json"), value);
    assert_eq!(Transform::compile(t.spec().clone()).expect("compiles"), t);
}
