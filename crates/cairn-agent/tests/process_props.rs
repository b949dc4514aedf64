//! Property tests: no processor panics on arbitrary bytes, and the multiline splitter accounts
//! for every line in order whatever the lines.

use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use cairn_agent::config::{MultilineConfig, PipelineConfig, UnmatchedContentTreatment};
use cairn_agent::process::{Multiline, Pipeline, ProcessOutcome, TagContext};
use cairn_agent::{FileKey, SourceRecord};
use proptest::prelude::*;
use serde_json::json;

fn record(text: Vec<u8>, start: u64) -> SourceRecord {
    let end = start + text.len() as u64 + 1;
    SourceRecord {
        file: FileKey {
            config: "cfg".to_string(),
            device: 1,
            inode: 2,
            fingerprint: 3,
        },
        path: PathBuf::from("/var/log/x.log"),
        start_offset: start,
        end_offset: end,
        text: Bytes::from(text),
    }
}

fn every_processor() -> &'static Pipeline {
    static PIPELINE: std::sync::OnceLock<Pipeline> = std::sync::OnceLock::new();
    PIPELINE.get_or_init(build_pipeline)
}

fn build_pipeline() -> Pipeline {
    let config = json!({
        "inputs": [{"Type": "input_file", "FilePaths": ["/var/log/*.log"]}],
        "processors": [
            {"Type": "processor_desensitize_native", "SourceKey": "content", "Method": "md5",
             "ContentPatternBeforeReplacedString": "pw=", "ReplacedContentPattern": "\\w*"},
            {"Type": "processor_parse_regex_native", "SourceKey": "content", "Regex": "(\\S*) (.*)",
             "Keys": ["first", "rest"], "KeepingSourceWhenParseFail": true, "KeepingSourceWhenParseSucceed": true},
            {"Type": "processor_parse_json_native", "SourceKey": "rest", "KeepingSourceWhenParseFail": true,
             "CopingRawLog": true},
            {"Type": "processor_parse_delimiter_native", "SourceKey": "content", "Separator": ",",
             "Keys": ["a", "b", "_"], "OverflowedFieldsTreatment": "keep", "KeepingSourceWhenParseFail": true,
             "KeepingSourceWhenParseSucceed": true},
            {"Type": "processor_parse_delimiter_native", "SourceKey": "first", "Separator": "::",
             "Keys": ["x", "y"], "KeepingSourceWhenParseFail": true},
            {"Type": "processor_parse_timestamp_native", "SourceKey": "first",
             "SourceFormat": "%Y-%m-%dT%H:%M:%S.%f%z", "SourceTimezone": "GMT+08:00"},
            {"Type": "processor_parse_timestamp_native", "SourceKey": "a", "SourceFormat": "%s"},
            {"Type": "processor_parse_timestamp_native", "SourceKey": "b",
             "SourceFormat": "%c %j %U %r %C%y %A", "SourceYear": 2020},
            {"Type": "processor_filter_regex", "Exclude": {"a": "^never$"}},
            {"Type": "processor_filter_regex_native", "DiscardingNonUTF8": true},
            {"Type": "processor_rename", "SourceKeys": ["a", "b"], "DestKeys": ["b", "c"]},
            {"Type": "processor_drop", "DropKeys": ["x"]},
            {"Type": "processor_desensitize", "SourceKey": "c", "Method": "const", "Match": "full",
             "ReplaceString": "*"}
        ],
        "flushers": [{"Type": "flusher_sls", "Project": "proj", "Logstore": "store"}]
    });
    let config = PipelineConfig::from_json("cfg", 1, config.to_string().as_bytes()).unwrap();
    Pipeline::new(&config.processors)
        .unwrap()
        .with_clock(std::sync::Arc::new(|| {
            UNIX_EPOCH + Duration::from_secs(1_700_000_000)
        }))
}

fn text_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        "[ -~\\n]{0,120}".prop_map(String::into_bytes),
        "(\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{1,12}[+-]\\d{2}:?\\d{2}) \\{\"k\":\"[a-z,]{0,10}\"\\}"
            .prop_map(String::into_bytes),
        "[0-9,:\" ]{0,60}".prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn processors_never_panic(text in text_strategy()) {
        let pipeline = every_processor();
        match pipeline.process(&record(text, 0), &TagContext::default()) {
            ProcessOutcome::Keep(entry) => {
                let mut keys: Vec<_> = entry.contents.iter().map(|f| f.key.clone()).collect();
                let n = keys.len();
                keys.sort();
                keys.dedup();
                prop_assert_eq!(keys.len(), n, "keys stay unique");
                prop_assert!(entry.time.seconds > 0);
            }
            ProcessOutcome::Drop(_) => {}
        }
    }

    #[test]
    fn multiline_accounts_for_every_line(
        raw_lines in proptest::collection::vec("[abSEC ]{0,6}", 0..40),
        mode in 0usize..5,
        discard in any::<bool>(),
        cap in 1usize..64,
    ) {
        let (start, cont, end) = [
            (Some("S"), None, None),
            (Some("S"), Some(" "), None),
            (Some("S"), None, Some("E")),
            (None, Some("C"), Some("E")),
            (None, None, Some("E")),
        ][mode];
        let config = MultilineConfig {
            start_pattern: start.map(str::to_string),
            continue_pattern: cont.map(str::to_string),
            end_pattern: end.map(str::to_string),
            unmatched_content_treatment: if discard {
                UnmatchedContentTreatment::Discard
            } else {
                UnmatchedContentTreatment::SingleLine
            },
            flush_timeout: Duration::from_secs(60),
            max_record_bytes: cap,
        };
        let mut m = Multiline::new(&config).unwrap();
        let mut offset = 0;
        let mut emitted = Vec::new();
        let mut discarded = 0;
        let mut last_consumed = 0;
        for line in &raw_lines {
            let r = record(line.clone().into_bytes(), offset);
            offset = r.end_offset;
            let out = m.push(r);
            prop_assert!(out.consumed_up_to >= last_consumed);
            prop_assert!(out.consumed_up_to <= offset);
            last_consumed = out.consumed_up_to;
            emitted.extend(out.records);
            discarded += out.discarded;
        }
        let out = m.flush();
        prop_assert_eq!(out.consumed_up_to, offset);
        emitted.extend(out.records);
        discarded += out.discarded;

        let lines_out: usize = emitted.iter().map(|r| r.text.split(|b| *b == b'\n').count()).sum();
        prop_assert_eq!(lines_out as u64 + discarded, raw_lines.len() as u64);
        for pair in emitted.windows(2) {
            prop_assert!(pair[0].end_offset <= pair[1].start_offset);
        }
        if !discard {
            let joined: Vec<u8> = emitted.iter().map(|r| r.text.to_vec()).collect::<Vec<_>>().join(&b'\n');
            prop_assert_eq!(joined, raw_lines.join("\n").into_bytes());
        }
    }
}
