//! Parsing LoongCollector-shaped collection configs: examples modelled on LoongCollector's
//! plugin docs, defaults, warnings for keys Cairn ignores, and errors that name the bad key.

use std::time::Duration;

use cairn_agent::config::{
    ConfigError, DesensitizeMatch, DesensitizeMethod, OverflowedFieldsTreatment, PipelineConfig,
    ProcessorConfig, UnmatchedContentTreatment,
};
use serde_json::{json, Value};

fn parse(config: Value) -> Result<PipelineConfig, ConfigError> {
    PipelineConfig::from_json("cfg", 3, config.to_string().as_bytes())
}

fn with_input(input: Value) -> Value {
    json!({
        "inputs": [input],
        "flushers": [{"Type": "flusher_sls", "Project": "proj", "Logstore": "store"}]
    })
}

fn with_processors(processors: Value) -> Value {
    json!({
        "inputs": [{"Type": "input_file", "FilePaths": ["/var/log/app/*.log"]}],
        "processors": processors,
        "flushers": [{"Type": "flusher_sls", "Project": "proj", "Logstore": "store"}]
    })
}

fn error(config: Value) -> String {
    match parse(config) {
        Ok(c) => panic!("expected an error, got {c:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn regex_and_timestamp_example_parses() {
    let config = parse(json!({
        "enable": true,
        "inputs": [{"Type": "input_file", "FilePaths": ["/home/test-log/reg.log"]}],
        "processors": [
            {"Type": "processor_parse_regex_native", "SourceKey": "content",
             "Regex": r#"([\d\.]+) \S+ \S+ \[(\S+) \S+\] "(\w+) ([^\\"]*)" ([\d\.]+) (\d+) (\d+) (\d+|-) "([^\\"]*)" "([^\\"]*)""#,
             "Keys": ["ip", "time", "method", "url", "request_time", "request_length", "status",
                      "length", "ref_url", "browser"]},
            {"Type": "processor_parse_timestamp_native", "SourceKey": "time",
             "SourceFormat": "%Y-%m-%dT%H:%M:%S", "SourceTimezone": "GMT+08:00"}
        ],
        "flushers": [{"Type": "flusher_sls", "Region": "cn-hangzhou",
                      "Endpoint": "cn-hangzhou.log.aliyuncs.com",
                      "Project": "test-project", "Logstore": "test_logstore"}]
    }))
    .unwrap();
    assert_eq!(config.name, "cfg");
    assert_eq!(config.version, 3);
    assert!(config.enabled);
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    assert_eq!(config.flusher.project, "test-project");
    assert_eq!(config.flusher.logstore, "test_logstore");
    assert_eq!(config.processors.len(), 2);
    let ProcessorConfig::ParseRegex(regex) = &config.processors[0] else {
        panic!("{:?}", config.processors[0]);
    };
    assert_eq!(regex.keys.len(), 10);
    assert_eq!(regex.source.source_key, "content");
    assert!(!regex.source.keeping_source_when_parse_fail);
    let ProcessorConfig::ParseTimestamp(ts) = &config.processors[1] else {
        panic!("{:?}", config.processors[1]);
    };
    assert_eq!(ts.source_timezone.as_deref(), Some("GMT+08:00"));
}

#[test]
fn input_defaults_and_spec() {
    let config = parse(with_input(
        json!({"Type": "input_file", "FilePaths": ["/home/test-log/**/*.log"]}),
    ))
    .unwrap();
    let input = &config.inputs[0];
    assert_eq!(input.tail_size_kb, 1024);
    assert_eq!(input.max_dir_search_depth, 0);
    assert!(!input.from_beginning);
    assert!(!input.allowing_included_by_multi_configs);
    assert_eq!(input.flush_timeout, Duration::from_secs(60));
    assert!(input.multiline.is_none());

    let config = parse(with_input(json!({
        "Type": "input_file",
        "FilePaths": ["/home/test-log/**/*.log"],
        "MaxDirSearchDepth": 10,
        "ExcludeFilePaths": ["/home/test-log/skip/*.log"],
        "ExcludeFiles": ["*.gz"],
        "ExcludeDirs": ["/home/test-log/tmp*"],
        "TailSizeKB": 2048,
        "FromBeginning": true,
        "AllowingIncludedByMultiConfigs": true,
        "FlushTimeoutSecs": 5,
        "Multiline": {"StartPattern": r"\d+-\d+-\d+.*"}
    })))
    .unwrap();
    let spec = config.inputs[0].to_spec("cfg");
    assert_eq!(spec.config, "cfg");
    assert_eq!(spec.paths, vec!["/home/test-log/**/*.log"]);
    assert_eq!(spec.max_depth, 10);
    assert_eq!(spec.exclude_paths, vec!["/home/test-log/skip/*.log"]);
    assert_eq!(spec.exclude_files, vec!["*.gz"]);
    assert_eq!(spec.exclude_dirs, vec!["/home/test-log/tmp*"]);
    assert_eq!(spec.tail_size_kb, 2048);
    assert!(spec.from_beginning);
    assert!(spec.allow_multiple_configs);
    assert_eq!(spec.flush_timeout, Duration::from_secs(5));
    let multiline = spec.multiline.unwrap();
    assert_eq!(multiline.start_pattern.as_deref(), Some(r"\d+-\d+-\d+"));
    assert_eq!(multiline.flush_timeout, Duration::from_secs(5));
    assert_eq!(
        multiline.unmatched_content_treatment,
        UnmatchedContentTreatment::SingleLine
    );
}

#[test]
fn tailing_all_matched_files_is_not_from_beginning() {
    let config = parse(with_input(json!({
        "Type": "input_file", "FilePaths": ["/a/*.log"], "TailingAllMatchedFiles": true
    })))
    .unwrap();
    assert!(config.inputs[0].tailing_all_matched_files);
    assert!(!config.inputs[0].from_beginning);
    assert!(config.warnings.is_empty());
}

#[test]
fn multiline_normalisation_follows_loongcollector() {
    let multiline = |m: Value| {
        let config = parse(with_input(
            json!({"Type": "input_file", "FilePaths": ["/a/*.log"], "Multiline": m}),
        ))
        .unwrap();
        (config.inputs[0].multiline.clone(), config.warnings)
    };
    let (m, w) = multiline(json!({"ContinuePattern": r"\s+at"}));
    assert!(m.is_none());
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("ContinuePattern"), "{w:?}");

    let (m, w) = multiline(
        json!({"StartPattern": "a", "ContinuePattern": "b", "EndPattern": "c$",
                                  "UnmatchedContentTreatment": "discard"}),
    );
    let m = m.unwrap();
    assert_eq!(m.continue_pattern, None);
    assert_eq!(m.end_pattern.as_deref(), Some("c"));
    assert_eq!(
        m.unmatched_content_treatment,
        UnmatchedContentTreatment::Discard
    );
    assert_eq!(w.len(), 1, "{w:?}");

    let (m, w) = multiline(json!({"Mode": "JSON"}));
    assert!(m.is_none());
    assert!(w[0].contains("JSON"), "{w:?}");

    let (m, _) = multiline(json!({"StartPattern": ".*"}));
    assert!(m.is_none(), "a pattern reduced to nothing is absent");
}

#[test]
fn ignored_keys_become_warnings() {
    let config = parse(json!({
        "enable": false,
        "configName": "cfg",
        "global": {"TopicType": "custom"},
        "aggregators": [{"Type": "aggregator_context"}],
        "inputs": [{"Type": "input_file", "FilePaths": ["/a/*.log"], "EnableContainerDiscovery": true,
                     "AppendingLogPositionMeta": true, "FileEncoding": "gbk",
                     "EnableExactlyOnce": 8}],
        "processors": [{"Type": "processor_parse_json_native", "SourceKey": "content", "Shiny": 1}],
        "flushers": [{"Type": "flusher_sls", "Project": "proj", "Logstore": "store",
                       "Match": {"Type": "tag"}, "ShardHashKeys": ["a"]}],
        "mystery": 1
    }))
    .unwrap();
    assert!(!config.enabled);
    let all = config.warnings.join("\n");
    for needle in [
        "global: unsupported key \"TopicType\"",
        "aggregators",
        "EnableContainerDiscovery",
        "\"AppendingLogPositionMeta\"",
        "FileEncoding \"gbk\"",
        "processors[0] (processor_parse_json_native): unsupported key \"Shiny\"",
        "flushers[0] (flusher_sls): Match",
        "\"ShardHashKeys\"",
        "config: unsupported key \"mystery\"",
    ] {
        assert!(all.contains(needle), "missing {needle:?} in\n{all}");
    }
    assert!(!all.contains("EnableExactlyOnce"), "{all}");
    assert_eq!(config.warnings.len(), 9, "{all}");
}

#[test]
fn processors_parse_with_loongcollector_names() {
    let config = parse(with_processors(json!([
        {"Type": "processor_parse_delimiter_native", "SourceKey": "content", "Separator": "\\t",
         "Keys": ["a,b,c"], "AllowingShortenedFields": false, "OverflowedFieldsTreatment": "discard",
         "KeepingSourceWhenParseFail": true, "RenamedSourceKey": "raw", "CopingRawLog": true},
        {"Type": "processor_filter_regex_native", "FilterKey": ["method"], "FilterRegex": ["POST|PUT"]},
        {"Type": "processor_filter_regex", "Include": {"ip": "10\\..*"}, "Exclude": {"ua": "bot"}},
        {"Type": "processor_drop", "DropKeys": ["x"]},
        {"Type": "processor_rename", "SourceKeys": ["a"], "DestKeys": ["b"], "NoKeyError": true},
        {"Type": "processor_desensitize_native", "SourceKey": "content", "Method": "const",
         "ReplacingString": "******", "ContentPatternBeforeReplacedString": "password\":\"",
         "ReplacedContentPattern": "[^\"]+", "ReplacingAll": false},
        {"Type": "processor_desensitize", "SourceKey": "content", "Method": "md5", "Match": "full"}
    ])))
    .unwrap();
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    let p = &config.processors;
    let ProcessorConfig::ParseDelimiter(d) = &p[0] else {
        panic!()
    };
    assert_eq!(d.separator, b"\t");
    assert_eq!(d.quote, Some(b'"'));
    assert_eq!(d.keys, vec!["a", "b", "c"]);
    assert!(!d.allowing_shortened_fields);
    assert_eq!(
        d.overflowed_fields_treatment,
        OverflowedFieldsTreatment::Discard
    );
    assert_eq!(d.source.renamed_source_key.as_deref(), Some("raw"));
    assert!(d.source.coping_raw_log && d.source.keeping_source_when_parse_fail);
    let ProcessorConfig::Filter(f) = &p[1] else {
        panic!()
    };
    assert!(f.full_match);
    assert_eq!(
        f.include,
        vec![("method".to_string(), "POST|PUT".to_string())]
    );
    let ProcessorConfig::Filter(f) = &p[2] else {
        panic!()
    };
    assert!(!f.full_match);
    assert_eq!(f.exclude, vec![("ua".to_string(), "bot".to_string())]);
    let ProcessorConfig::Desensitize(s) = &p[5] else {
        panic!()
    };
    assert_eq!(s.method, DesensitizeMethod::Const("******".to_string()));
    assert!(!s.replacing_all && s.md5_uppercase);
    let ProcessorConfig::Desensitize(s) = &p[6] else {
        panic!()
    };
    assert_eq!(s.target, DesensitizeMatch::Full);
    assert!(!s.md5_uppercase);
    assert_eq!(p[6].type_name(), "processor_desensitize");
}

#[test]
fn shape_errors() {
    assert!(error(json!([1])).contains("JSON object"));
    assert!(matches!(
        PipelineConfig::from_json("c", 1, b"{not json"),
        Err(ConfigError::Json(_))
    ));
    let no_input = json!({"inputs": [], "flushers": [{"Type": "flusher_sls", "Project": "pp1", "Logstore": "store"}]});
    assert!(error(no_input).contains("no input"));
    let no_flusher = json!({"inputs": [{"Type": "input_file", "FilePaths": ["/a/b.log"]}]});
    assert!(error(no_flusher).contains("exactly one"));
    let two = json!({"inputs": [{"Type": "input_file", "FilePaths": ["/a/b.log"]}],
        "flushers": [{"Type": "flusher_sls", "Project": "pp1", "Logstore": "store"},
                     {"Type": "flusher_sls", "Project": "pp2", "Logstore": "store"}]});
    assert!(error(two).contains("has 2 flusher_sls"));
}

#[test]
fn unknown_types_are_named() {
    let e = error(with_input(json!({"Type": "input_container_stdio"})));
    assert!(
        e.contains("inputs[0]") && e.contains("input_container_stdio"),
        "{e}"
    );
    let e = error(with_processors(json!([{"Type": "processor_grok"}])));
    assert!(
        e.contains("processors[0]") && e.contains("processor_grok"),
        "{e}"
    );
    let e = error(
        json!({"inputs": [{"Type": "input_file", "FilePaths": ["/a/b.log"]}],
        "flushers": [{"Type": "flusher_stdout"}]}),
    );
    assert!(
        e.contains("flushers[0]") && e.contains("flusher_stdout"),
        "{e}"
    );
    let e = error(with_processors(json!([{"SourceKey": "x"}])));
    assert!(
        e.contains("processors[0]") && e.contains("Type is required"),
        "{e}"
    );
}

#[test]
fn input_errors_name_key_and_value() {
    let cases = [
        (json!({"Type": "input_file"}), "FilePaths is required"),
        (
            json!({"Type": "input_file", "FilePaths": "/a/b.log"}),
            "FilePaths: must be a list",
        ),
        (
            json!({"Type": "input_file", "FilePaths": ["a/b.log"]}),
            "\"a/b.log\" is not an absolute path",
        ),
        (
            json!({"Type": "input_file", "FilePaths": ["/a/**/b/**/c.log"]}),
            "** may appear once",
        ),
        (
            json!({"Type": "input_file", "FilePaths": ["/a/x**/c.log"]}),
            "** may appear once",
        ),
        (
            json!({"Type": "input_file", "FilePaths": ["/a/**"]}),
            "cannot be in the file name",
        ),
        (
            json!({"Type": "input_file", "FilePaths": ["/a/*.log"], "TailSizeKB": "big"}),
            "TailSizeKB: must be an integer",
        ),
        (
            json!({"Type": "input_file", "FilePaths": ["/a/*.log"], "TailSizeKB": 104857601}),
            "TailSizeKB: 104857601 is outside",
        ),
        (
            json!({"Type": "input_file", "FilePaths": ["/a/*.log"], "MaxDirSearchDepth": 1001}),
            "MaxDirSearchDepth: 1001",
        ),
        (
            json!({"Type": "input_file", "FilePaths": ["/a/*.log"], "ExcludeDirs": ["tmp"]}),
            "ExcludeDirs: \"tmp\"",
        ),
        (
            json!({"Type": "input_file", "FilePaths": ["/a/*.log"], "ExcludeFiles": ["/a/b"]}),
            "ExcludeFiles",
        ),
        (
            json!({"Type": "input_file", "FilePaths": ["/a/*.log"], "FromBeginning": "yes"}),
            "FromBeginning: must be true or false",
        ),
        (
            json!({"Type": "input_file", "FilePaths": ["/a/*.log"], "Multiline": {"StartPattern": "(unclosed"}}),
            "StartPattern: \"(unclosed\" is not a valid regex",
        ),
        (
            json!({"Type": "input_file", "FilePaths": ["/a/*.log"], "Multiline": {"StartPattern": "a", "UnmatchedContentTreatment": "keep"}}),
            "UnmatchedContentTreatment",
        ),
        (
            json!({"Type": "input_file", "FilePaths": ["/a/*.log"], "Multiline": "a"}),
            "Multiline: must be an object",
        ),
    ];
    for (input, needle) in cases {
        let e = error(with_input(input.clone()));
        assert!(e.contains(needle), "{input}: {e:?} lacks {needle:?}");
        assert!(e.starts_with("inputs[0]"), "{e}");
    }
}

#[test]
fn processor_errors_name_key_and_value() {
    let cases = [
        (
            json!({"Type": "processor_parse_regex_native", "Keys": ["a"]}),
            "Regex is required",
        ),
        (
            json!({"Type": "processor_parse_regex_native", "Regex": "(a", "Keys": ["a"]}),
            "Regex: \"(a\" is not a valid regex",
        ),
        (
            json!({"Type": "processor_parse_regex_native", "Regex": "(a)", "Keys": ["a", "b"]}),
            "1 capture groups but Keys names 2",
        ),
        (
            json!({"Type": "processor_parse_regex_native", "Regex": "(a)"}),
            "Keys is required",
        ),
        (
            json!({"Type": "processor_parse_regex_native", "Regex": "(a)", "Keys": ["a", 1]}),
            "Keys[1]: must be a string",
        ),
        (
            json!({"Type": "processor_parse_json_native", "KeepingSourceWhenParseFail": "true"}),
            "KeepingSourceWhenParseFail: must be true or false",
        ),
        (
            json!({"Type": "processor_parse_delimiter_native", "Separator": "|||||", "Keys": ["a"]}),
            "Separator: \"|||||\"",
        ),
        (
            json!({"Type": "processor_parse_delimiter_native", "Separator": ",", "Quote": "''", "Keys": ["a"]}),
            "Quote",
        ),
        (
            json!({"Type": "processor_parse_delimiter_native", "Separator": ",", "Keys": ["a"], "OverflowedFieldsTreatment": "explode"}),
            "OverflowedFieldsTreatment: \"explode\"",
        ),
        (
            json!({"Type": "processor_parse_timestamp_native", "SourceKey": "t", "SourceFormat": "%Q"}),
            "SourceFormat: \"%Q\": directive %Q",
        ),
        (
            json!({"Type": "processor_parse_timestamp_native", "SourceKey": "t", "SourceFormat": "%s", "SourceTimezone": "Asia/Shanghai"}),
            "SourceTimezone: \"Asia/Shanghai\"",
        ),
        (
            json!({"Type": "processor_parse_timestamp_native", "SourceFormat": "%s"}),
            "SourceKey is required",
        ),
        (
            json!({"Type": "processor_filter_regex_native", "FilterKey": ["a", "b"], "FilterRegex": ["x"]}),
            "FilterRegex: has 1 entries but FilterKey has 2",
        ),
        (
            json!({"Type": "processor_filter_regex_native", "FilterKey": ["a"], "FilterRegex": ["(x"]}),
            "FilterRegex.a: \"(x\" is not a valid regex",
        ),
        (
            json!({"Type": "processor_filter_regex_native", "ConditionExp": {"operator": "and"}}),
            "ConditionExp",
        ),
        (
            json!({"Type": "processor_filter_regex", "Exclude": {"a": 1}}),
            "Exclude.a: must be a string",
        ),
        (
            json!({"Type": "processor_rename", "SourceKeys": ["a", "b"], "DestKeys": ["c"]}),
            "DestKeys: has 1 keys but SourceKeys has 2",
        ),
        (
            json!({"Type": "processor_desensitize_native", "SourceKey": "c", "Method": "sha1"}),
            "Method: \"sha1\"",
        ),
        (
            json!({"Type": "processor_desensitize_native", "SourceKey": "c", "Method": "const", "ContentPatternBeforeReplacedString": "a", "ReplacedContentPattern": "b"}),
            "ReplacingString is required",
        ),
        (
            json!({"Type": "processor_desensitize_native", "SourceKey": "c", "Method": "md5", "ContentPatternBeforeReplacedString": "a", "ReplacedContentPattern": "(b"}),
            "is not a valid regex",
        ),
    ];
    for (processor, needle) in cases {
        let e = error(with_processors(json!([processor.clone()])));
        assert!(e.contains(needle), "{processor}: {e:?} lacks {needle:?}");
        assert!(e.starts_with("processors[0]"), "{e}");
    }
}

#[test]
fn flusher_errors_name_key_and_value() {
    let flusher = |f: Value| {
        error(
            json!({"inputs": [{"Type": "input_file", "FilePaths": ["/a/b.log"]}], "flushers": [f]}),
        )
    };
    assert!(flusher(json!({"Type": "flusher_sls", "Logstore": "store"}))
        .contains("Project is required"));
    let e = flusher(json!({"Type": "flusher_sls", "Project": "Bad_Name!", "Logstore": "store"}));
    assert!(e.contains("Project: \"Bad_Name!\""), "{e}");
    let e = flusher(
        json!({"Type": "flusher_sls", "Project": "proj", "Logstore": "store", "TelemetryType": "metrics"}),
    );
    assert!(e.contains("TelemetryType: \"metrics\""), "{e}");
}
