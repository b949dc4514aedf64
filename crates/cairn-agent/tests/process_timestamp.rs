//! `processor_parse_timestamp_native` (formats, zones, failures) and the tags of a file's
//! LogGroups.

mod process_common;

use cairn_agent::process::{
    parse_timezone, tags_for, DropReason, Multiline, Pipeline, ProcessOutcome, TagContext,
};
use cairn_model::LogTime;
use chrono::FixedOffset;
use process_common::{access_regex, pairs, pipeline, record, run, NOW};
use serde_json::{json, Value};

fn timestamp(format: &str, zone: Option<&str>, extra: Value) -> Value {
    let mut t = json!({"Type": "processor_parse_timestamp_native", "SourceKey": "content", "SourceFormat": format});
    if let Some(z) = zone {
        t["SourceTimezone"] = json!(z);
    }
    for (k, v) in extra.as_object().unwrap() {
        t[k] = v.clone();
    }
    json!([t])
}

fn time_of(processors: Value, text: &str) -> LogTime {
    run(processors, text.as_bytes()).unwrap().1
}

#[test]
fn timestamp_formats() {
    // LoongCollector's example: trailing text after the format is ignored.
    let p = timestamp("%Y-%m-%dT%H:%M:%S", Some("GMT+08:00"), json!({}));
    assert_eq!(
        time_of(p, "2023-12-28T08:07:12.187340"),
        LogTime::new(1_703_722_032, 0)
    );
    let p = timestamp("%Y-%m-%d %H:%M:%S.%f", Some("GMT+00:00"), json!({}));
    assert_eq!(
        time_of(p, "2023-12-28 00:07:12.187"),
        LogTime::new(1_703_722_032, 187_000_000)
    );
    let p = timestamp("%s", None, json!({}));
    assert_eq!(
        time_of(p.clone(), "1703722032"),
        LogTime::new(1_703_722_032, 0)
    );
    assert_eq!(
        time_of(p, "1703722032187"),
        LogTime::new(1_703_722_032, 187_000_000)
    );
    let p = timestamp("%d/%b/%Y:%H:%M:%S %z", Some("GMT+08:00"), json!({}));
    assert_eq!(
        time_of(p, "28/Dec/2023:08:07:12 +0800"),
        LogTime::new(1_703_722_032, 0)
    );
    let p = timestamp(
        "%b %e %I:%M:%S %p",
        Some("UTC"),
        json!({"SourceYear": 2023}),
    );
    assert_eq!(
        time_of(p, "Dec 28 12:07:12 AM host"),
        LogTime::new(1_703_722_032, 0)
    );
    let p = timestamp("%a, %d %B %y %T", Some("-01:30"), json!({}));
    assert_eq!(
        time_of(p, "Wed, 27 december 23 22:37:12"),
        LogTime::new(1_703_722_032, 0)
    );
    let p = timestamp("%F %R", Some("GMT+08:00"), json!({}));
    assert_eq!(
        time_of(p, "2023-12-28 08:07"),
        LogTime::new(1_703_722_020, 0)
    );
    // The default zone (the host's, or the pipeline's when set).
    let zone = FixedOffset::east_opt(8 * 3600).unwrap();
    let entry = pipeline(timestamp("%Y-%m-%d %H:%M:%S", None, json!({})))
        .with_default_zone(zone)
        .process(&record("2023-12-28 08:07:12"), &TagContext::default());
    let ProcessOutcome::Keep(entry) = entry else {
        panic!("{entry:?}")
    };
    assert_eq!(entry.time, LogTime::new(1_703_722_032, 0));
}

#[test]
fn timestamp_failures() {
    let p = timestamp("%Y-%m-%d %H:%M:%S", Some("GMT+08:00"), json!({}));
    // Unparsable or impossible: the record keeps the collection time.
    assert_eq!(time_of(p.clone(), "yesterday"), LogTime::new(NOW as u32, 0));
    assert_eq!(
        time_of(p.clone(), "2023-02-30 00:00:00"),
        LogTime::new(NOW as u32, 0)
    );
    // A missing key too.
    let other = json!([{"Type": "processor_parse_timestamp_native", "SourceKey": "t", "SourceFormat": "%s"}]);
    assert_eq!(time_of(other, "1"), LogTime::new(NOW as u32, 0));
    // At or before the epoch, or past 2106: dropped.
    let p = timestamp("%s", None, json!({}));
    assert_eq!(run(p.clone(), b"0"), Err(DropReason::InvalidTime));
    let p = timestamp("%Y", Some("UTC"), json!({}));
    assert_eq!(run(p.clone(), b"1969"), Err(DropReason::InvalidTime));
    assert_eq!(run(p, b"2200"), Err(DropReason::InvalidTime));
}

#[test]
fn timezones() {
    for (zone, seconds) in [
        ("GMT+08:00", 8 * 3600),
        ("GMT-03:30", -(3 * 3600 + 1800)),
        ("UTC", 0),
        ("GMT", 0),
        ("Z", 0),
        ("UTC+8", 8 * 3600),
        ("+0530", 5 * 3600 + 1800),
        ("-08:00", -8 * 3600),
    ] {
        assert_eq!(
            parse_timezone(zone).unwrap().local_minus_utc(),
            seconds,
            "{zone}"
        );
    }
    for bad in ["Asia/Shanghai", "GMT+8:0x", "+25:00", "GMT+", "08:00", ""] {
        assert!(parse_timezone(bad).is_err() || bad.is_empty(), "{bad}");
    }
}

#[test]
fn tags_name_host_path_and_ids() {
    let ctx = TagContext {
        hostname: "web-1".to_string(),
        user_defined_ids: vec![
            "group-a".to_string(),
            " group-b ".to_string(),
            "group-a".to_string(),
        ],
    };
    let tags = tags_for(&record("x"), &ctx);
    let text: Vec<(String, String)> = tags
        .iter()
        .map(|t| (t.key_text().into_owned(), t.value_text().into_owned()))
        .collect();
    assert_eq!(
        text,
        pairs(&[
            ("__hostname__", "web-1"),
            ("__path__", "/var/log/app/a.log"),
            ("__user_defined_id__", "group-a,group-b"),
        ])
    );
    let bare = tags_for(&record("x"), &TagContext::default());
    assert_eq!(bare.len(), 1);
    assert_eq!(bare[0].key, "__path__");
}

#[test]
fn pipelines_and_splitters_can_move_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Pipeline>();
    send_sync::<Multiline>();
    let _ = access_regex();
}
