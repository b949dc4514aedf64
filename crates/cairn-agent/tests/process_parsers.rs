//! The parsing, filtering and field processors one by one, success and failure paths,
//! following LoongCollector's documented behaviour.

mod process_common;

use cairn_agent::process::DropReason;
use cairn_model::LogTime;
use process_common::{access_regex, fields, pairs, run, ACCESS_LINE, NOW};
use serde_json::{json, Value};
#[test]
fn no_processors_keeps_content_with_clock_time() {
    let (f, time) = run(json!([]), b"hello").unwrap();
    assert_eq!(f, pairs(&[("content", "hello")]));
    assert_eq!(time, LogTime::new(NOW as u32, 0));
}

#[test]
fn regex_parses_access_log() {
    let f = fields(json!([access_regex()]), ACCESS_LINE);
    assert_eq!(
        f,
        pairs(&[
            ("ip", "127.0.0.1"),
            ("time", "07/Jul/2022:10:43:30"),
            ("method", "POST"),
            ("url", "/PutData?Category=YunOsAccountOpLog"),
            ("request_time", "0.024"),
            ("request_length", "18204"),
            ("status", "200"),
            ("length", "37"),
            ("ref_url", "-"),
            ("browser", "aliyun-sdk-java"),
        ])
    );
}

#[test]
fn regex_is_a_full_match_and_dot_spans_lines() {
    let p = json!([{"Type": "processor_parse_regex_native", "SourceKey": "content",
        "Regex": r"\[(\S+)]\s\[(\S+)]\s(.*)", "Keys": ["time", "level", "msg"]}]);
    let text =
        "[2022-07-07T10:43:27.360266763] [INFO] java.lang.Exception: boom\n    at f(X.java:1)";
    let f = fields(p.clone(), text);
    assert_eq!(
        f[2],
        (
            "msg".to_string(),
            "java.lang.Exception: boom\n    at f(X.java:1)".to_string()
        )
    );
    let p = json!([{"Type": "processor_parse_regex_native", "Regex": r"(\d+)", "Keys": ["n"]}]);
    assert_eq!(
        run(p, b"12ab"),
        Err(DropReason::ParseFailed),
        "a partial match fails"
    );
}

#[test]
fn regex_failure_paths() {
    let base = |extra: Value| {
        let mut p = json!({"Type": "processor_parse_regex_native", "SourceKey": "content",
            "Regex": r"(\d+) (\w+)", "Keys": ["n", "w"]});
        for (k, v) in extra.as_object().unwrap() {
            p[k] = v.clone();
        }
        json!([p])
    };
    assert_eq!(run(base(json!({})), b"nope"), Err(DropReason::ParseFailed));
    assert_eq!(
        fields(base(json!({"KeepingSourceWhenParseFail": true})), "nope"),
        pairs(&[("content", "nope")])
    );
    assert_eq!(
        fields(
            base(
                json!({"KeepingSourceWhenParseFail": true, "RenamedSourceKey": "raw", "CopingRawLog": true})
            ),
            "nope"
        ),
        pairs(&[("raw", "nope"), ("__raw_log__", "nope")])
    );
    assert_eq!(
        fields(
            base(json!({"KeepingSourceWhenParseSucceed": true, "RenamedSourceKey": "raw"})),
            "1 a"
        ),
        pairs(&[("n", "1"), ("w", "a"), ("raw", "1 a")])
    );
    // A missing source key leaves the record alone.
    let p = json!([{"Type": "processor_parse_regex_native", "SourceKey": "other", "Regex": "(.*)", "Keys": ["x"]}]);
    assert_eq!(fields(p, "text"), pairs(&[("content", "text")]));
    // A key named like the source replaces it; an optional group that did not match is empty.
    let p = json!([{"Type": "processor_parse_regex_native", "Regex": r"(\w+)(-(\d+))?", "Keys": ["content", "skip", "num"]}]);
    assert_eq!(
        fields(p, "abc"),
        pairs(&[("content", "abc"), ("skip", ""), ("num", "")])
    );
}

#[test]
fn json_flattens_top_level_in_order() {
    let p = json!([{"Type": "processor_parse_json_native", "SourceKey": "content"}]);
    let text = r#"{"url": "POST /PutData HTTP/1.1", "ip": "10.200.98.220", "request": {"status": "200", "latency": 18204}, "n": 1.5, "ok": true, "none": null, "list": [1, "a"]}"#;
    let mut f = fields(p.clone(), text);
    let nested: Value = serde_json::from_str(&f[2].1).unwrap();
    assert_eq!(nested, json!({"status": "200", "latency": 18204}));
    assert!(!f[2].1.contains(' '), "compact JSON text");
    f[2].1.clear();
    assert_eq!(
        f,
        pairs(&[
            ("url", "POST /PutData HTTP/1.1"),
            ("ip", "10.200.98.220"),
            ("request", ""),
            ("n", "1.5"),
            ("ok", "true"),
            ("none", ""),
            ("list", r#"[1,"a"]"#),
        ])
    );
    assert_eq!(run(p.clone(), b"[1, 2]"), Err(DropReason::ParseFailed));
    assert_eq!(run(p.clone(), b"{\"a\": "), Err(DropReason::ParseFailed));
    assert_eq!(run(p.clone(), b""), Err(DropReason::ParseFailed));
    assert_eq!(run(p, b"{\"a\": \"\xff\"}"), Err(DropReason::ParseFailed));
    let keep = json!([{"Type": "processor_parse_json_native", "SourceKey": "content", "KeepingSourceWhenParseFail": true}]);
    assert_eq!(fields(keep, "not json"), pairs(&[("content", "not json")]));
}

#[test]
fn delimiter_parses_csv_like_lines() {
    let keys = json!(["ip", "time", "method"]);
    let p = json!([{"Type": "processor_parse_delimiter_native", "SourceKey": "content",
        "Separator": ",", "Quote": "\"", "Keys": keys}]);
    assert_eq!(
        fields(
            p.clone(),
            r#"  127.0.0.1,"07/Jul/2022:10:43:30, +0800","say ""hi""" "#
        ),
        pairs(&[
            ("ip", "127.0.0.1"),
            ("time", "07/Jul/2022:10:43:30, +0800"),
            ("method", r#"say "hi""#)
        ])
    );
    assert_eq!(
        run(p.clone(), br#"a,b"c,d"#),
        Err(DropReason::ParseFailed),
        "quote inside data"
    );
    assert_eq!(
        run(p.clone(), br#"a,"b"c,d"#),
        Err(DropReason::ParseFailed),
        "text after quote"
    );
    assert_eq!(
        run(p.clone(), br#"a,"b,d"#),
        Err(DropReason::ParseFailed),
        "unclosed quote"
    );
    assert_eq!(
        fields(p.clone(), "a,b"),
        pairs(&[("ip", "a"), ("time", "b")]),
        "shortened allowed"
    );
    assert_eq!(
        fields(p.clone(), "   \r"),
        pairs(&[("content", "   \r")]),
        "blank left alone"
    );
    assert_eq!(
        fields(p, "a,b,c,d,e"),
        pairs(&[
            ("ip", "a"),
            ("time", "b"),
            ("method", "c"),
            ("__column3__", "d"),
            ("__column4__", "e")
        ])
    );
}

#[test]
fn delimiter_options() {
    let p = |extra: Value| {
        let mut d = json!({"Type": "processor_parse_delimiter_native", "Separator": ",", "Keys": ["a", "_", "c"]});
        for (k, v) in extra.as_object().unwrap() {
            d[k] = v.clone();
        }
        json!([d])
    };
    assert_eq!(
        run(p(json!({"AllowingShortenedFields": false})), b"1,2"),
        Err(DropReason::ParseFailed)
    );
    assert_eq!(
        fields(p(json!({"OverflowedFieldsTreatment": "keep"})), "1,2,3,4,5"),
        pairs(&[("a", "1"), ("_", "2"), ("c", "3"), ("__column3__", "4,5")])
    );
    assert_eq!(
        fields(
            p(json!({"OverflowedFieldsTreatment": "discard"})),
            "1,2,3,4,5"
        ),
        pairs(&[("a", "1"), ("c", "3")])
    );
    let tab = json!([{"Type": "processor_parse_delimiter_native", "Separator": "\\t", "Keys": ["a", "b"]}]);
    assert_eq!(fields(tab, "x\ty"), pairs(&[("a", "x"), ("b", "y")]));
    let multi = json!([{"Type": "processor_parse_delimiter_native", "Separator": "||", "Keys": ["a", "b", "c"]}]);
    assert_eq!(
        fields(multi, "x||\"y||z"),
        pairs(&[("a", "x"), ("b", "\"y"), ("c", "z")])
    );
}

#[test]
fn filters() {
    let native = json!([access_regex(), {"Type": "processor_filter_regex_native",
        "FilterKey": ["method", "status"], "FilterRegex": ["POST|PUT", "200"]}]);
    assert!(run(native.clone(), ACCESS_LINE.as_bytes()).is_ok());
    let get = ACCESS_LINE.replace("POST", "GET");
    assert_eq!(
        run(native.clone(), get.as_bytes()),
        Err(DropReason::Filtered)
    );
    let posted = ACCESS_LINE.replace("POST", "POSTX");
    assert_eq!(
        run(native, posted.as_bytes()),
        Err(DropReason::Filtered),
        "native is a full match"
    );

    let missing = json!([{"Type": "processor_filter_regex_native", "Include": {"nope": ".*"}}]);
    assert_eq!(run(missing, b"x"), Err(DropReason::Filtered));

    let go = json!([{"Type": "processor_filter_regex", "Include": {"content": "err"}, "Exclude": {"content": "debug"}}]);
    assert!(
        run(go.clone(), b"an error here").is_ok(),
        "Go plugin searches"
    );
    assert_eq!(run(go.clone(), b"all fine"), Err(DropReason::Filtered));
    assert_eq!(run(go, b"debug error"), Err(DropReason::Filtered));

    let utf8 = json!([{"Type": "processor_filter_regex_native", "DiscardingNonUTF8": true}]);
    assert_eq!(
        run(utf8, b"a\xffb\xe4\xb8").unwrap().0,
        pairs(&[("content", "a b  ")])
    );
}

#[test]
fn drop_and_rename() {
    let p = json!([
        {"Type": "processor_parse_json_native", "SourceKey": "content"},
        {"Type": "processor_drop", "DropKeys": ["key1", "absent"]},
        {"Type": "processor_rename", "SourceKeys": ["key2", "absent"], "DestKeys": ["new_key2", "x"]}
    ]);
    assert_eq!(
        fields(p, r#"{"key1": 123456, "key2": "abcd", "key3": 1}"#),
        pairs(&[("new_key2", "abcd"), ("key3", "1")])
    );
    let clash = json!([
        {"Type": "processor_parse_json_native", "SourceKey": "content"},
        {"Type": "processor_rename", "SourceKeys": ["a"], "DestKeys": ["b"]}
    ]);
    assert_eq!(
        fields(clash, r#"{"a": "1", "b": "2"}"#),
        pairs(&[("b", "1")])
    );
}

#[test]
fn desensitize() {
    let text = r#"{"account":"1812213231432969","password":"04a23f38"},{"password":"123a"}"#;
    let native = |method: &str, all: bool| {
        json!([{"Type": "processor_desensitize_native", "SourceKey": "content", "Method": method,
            "ReplacingString": "$1******", "ContentPatternBeforeReplacedString": "password\":\"",
            "ReplacedContentPattern": "[^\"]+", "ReplacingAll": all}])
    };
    assert_eq!(
        fields(native("const", true), text)[0].1,
        r#"{"account":"1812213231432969","password":"$1******"},{"password":"$1******"}"#
    );
    assert_eq!(
        fields(native("const", false), text)[0].1,
        r#"{"account":"1812213231432969","password":"$1******"},{"password":"123a"}"#
    );
    let md5 = fields(native("md5", true), text)[0].1.clone();
    assert!(
        md5.contains(r#""password":"9C525F463BA1C89D6BADCD78B2B7BD79""#),
        "{md5}"
    );
    assert!(
        md5.contains(r#""password":"1552C03E78D38D5005D4CE7B8018ADDF""#),
        "{md5}"
    );

    let go = json!([{"Type": "processor_desensitize", "SourceKey": "content", "Method": "md5",
        "Match": "regex", "RegexBegin": "'password':'", "RegexContent": "[^']*"}]);
    assert_eq!(
        fields(go, "{'password':'04a23f38'}")[0].1,
        "{'password':'9c525f463ba1c89d6badcd78b2b7bd79'}"
    );
    let full = json!([{"Type": "processor_desensitize", "SourceKey": "content", "Method": "const",
        "Match": "full", "ReplaceString": "********"}]);
    assert_eq!(
        fields(full.clone(), "secret"),
        pairs(&[("content", "********")])
    );
    assert_eq!(
        fields(full, ""),
        pairs(&[("content", "")]),
        "empty values are left alone"
    );
}

#[test]
fn processors_chain_in_order() {
    let p = json!([
        access_regex(),
        {"Type": "processor_parse_timestamp_native", "SourceKey": "time",
         "SourceFormat": "%d/%b/%Y:%H:%M:%S", "SourceTimezone": "GMT+08:00"},
        {"Type": "processor_filter_regex_native", "FilterKey": ["status"], "FilterRegex": ["2\\d\\d"]},
        {"Type": "processor_drop", "DropKeys": ["ref_url", "browser", "request_length", "length", "request_time"]},
        {"Type": "processor_rename", "SourceKeys": ["ip"], "DestKeys": ["client"]}
    ]);
    let (f, time) = run(p, ACCESS_LINE.as_bytes()).unwrap();
    assert_eq!(
        f,
        pairs(&[
            ("client", "127.0.0.1"),
            ("time", "07/Jul/2022:10:43:30"),
            ("method", "POST"),
            ("url", "/PutData?Category=YunOsAccountOpLog"),
            ("status", "200"),
        ])
    );
    assert_eq!(time, LogTime::new(1_657_161_810, 0));
}
