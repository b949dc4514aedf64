//! Multiline splitting in every pattern mode, unmatched treatment, flush timeout, size cap
//! and the offsets a checkpoint may move to.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cairn_agent::config::{
    ConfigError, MultilineConfig, UnmatchedContentTreatment, DEFAULT_MAX_RECORD_BYTES,
};
use cairn_agent::process::{Multiline, MultilineOutput};
use cairn_agent::{FileKey, SourceRecord};

fn config(start: Option<&str>, cont: Option<&str>, end: Option<&str>) -> MultilineConfig {
    MultilineConfig {
        start_pattern: start.map(str::to_string),
        continue_pattern: cont.map(str::to_string),
        end_pattern: end.map(str::to_string),
        unmatched_content_treatment: UnmatchedContentTreatment::SingleLine,
        flush_timeout: Duration::from_secs(60),
        max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
    }
}

/// Lines of a file with their offsets (each line plus `\n`).
fn lines(text: &str) -> Vec<SourceRecord> {
    let mut offset = 100;
    text.lines()
        .map(|line| {
            let start = offset;
            offset += line.len() as u64 + 1;
            SourceRecord {
                file: FileKey {
                    config: "cfg".to_string(),
                    device: 1,
                    inode: 2,
                    fingerprint: 3,
                },
                path: PathBuf::from("/var/log/app.log"),
                start_offset: start,
                end_offset: offset,
                text: Bytes::copy_from_slice(line.as_bytes()),
            }
        })
        .collect()
}

struct Run {
    records: Vec<String>,
    spans: Vec<(u64, u64)>,
    discarded: u64,
    consumed: Vec<u64>,
}

/// Pushes every line, then flushes; the records' texts.
fn split(config: &MultilineConfig, text: &str, flush: bool) -> Run {
    let mut m = Multiline::new(config).unwrap();
    let mut outs: Vec<MultilineOutput> = lines(text).into_iter().map(|l| m.push(l)).collect();
    if flush {
        outs.push(m.flush());
    }
    let mut run = Run {
        records: Vec::new(),
        spans: Vec::new(),
        discarded: 0,
        consumed: Vec::new(),
    };
    for out in outs {
        for r in out.records {
            run.records
                .push(String::from_utf8(r.text.to_vec()).unwrap());
            run.spans.push((r.start_offset, r.end_offset));
        }
        run.discarded += out.discarded;
        run.consumed.push(out.consumed_up_to);
    }
    run
}

const JAVA: &str = "\
[2022-07-07T10:43:27.360266763] [INFO] java.lang.Exception: exception happened
    at com.aliyun.sls.devops.logGenerator.type.RegexMultiLog.f2(RegexMultiLog.java:108)
    at java.base/java.lang.Thread.run(Thread.java:833)
[2022-07-07T10:43:28.000000000] [INFO] next";

#[test]
fn start_pattern_joins_until_the_next_start() {
    let c = config(Some(r"\[\d+-\d+-\w+:\d+:\d+.\d+]\s\[\w+]\s"), None, None);
    let run = split(&c, JAVA, false);
    assert_eq!(run.records.len(), 1);
    assert_eq!(
        run.records[0],
        JAVA.lines().take(3).collect::<Vec<_>>().join("\n")
    );
    let first_len: u64 = JAVA.lines().take(3).map(|l| l.len() as u64 + 1).sum();
    assert_eq!(run.spans[0], (100, 100 + first_len));
    // The last record is pending: nothing from its first line on is consumed.
    assert_eq!(*run.consumed.last().unwrap(), 100 + first_len);

    let run = split(&c, JAVA, true);
    assert_eq!(run.records.len(), 2);
    assert_eq!(
        run.records[1],
        "[2022-07-07T10:43:28.000000000] [INFO] next"
    );
    assert_eq!(*run.consumed.last().unwrap(), 100 + JAVA.len() as u64 + 1);
}

#[test]
fn lines_before_a_start_are_unmatched() {
    let c = config(Some("START"), None, None);
    let run = split(&c, "junk 1\njunk 2\nSTART a\nmore", true);
    assert_eq!(run.records, vec!["junk 1", "junk 2", "START a\nmore"]);
    assert_eq!(run.discarded, 0);

    let mut discard = c.clone();
    discard.unmatched_content_treatment = UnmatchedContentTreatment::Discard;
    let run = split(&discard, "junk 1\njunk 2\nSTART a\nmore", true);
    assert_eq!(run.records, vec!["START a\nmore"]);
    assert_eq!(run.discarded, 2);
    // Discarded lines still count as consumed.
    assert_eq!(run.consumed[0], 107);
    assert_eq!(run.consumed[1], 114);
}

#[test]
fn start_and_continue() {
    let c = config(Some(r"\d"), Some(r"\s"), None);
    let run = split(&c, "1 a\n  b\n  c\nx\n2 d\n  e\n3 f", true);
    assert_eq!(run.records, vec!["1 a\n  b\n  c", "x", "2 d\n  e", "3 f"]);
}

#[test]
fn start_and_end() {
    let text = "\
[t] [ERROR] java.lang.Exception: exception happened
[t]    at f2(RegexMultiLog.java:108)
[t]    ... 23 more
[t] Some user custom log
[t] Some user custom log
[t] [ERROR] java.lang.Exception: again
[t]    at f3";
    let c = config(
        Some(r"\[\w+].*Exception.*"),
        None,
        Some(r".*\.\.\. \d+ more"),
    );
    let c = MultilineConfig {
        start_pattern: c
            .start_pattern
            .as_deref()
            .and_then(cairn_agent::config::normalize_multiline_pattern),
        end_pattern: c
            .end_pattern
            .as_deref()
            .and_then(cairn_agent::config::normalize_multiline_pattern),
        ..c
    };
    let run = split(&c, text, false);
    assert_eq!(
        run.records,
        vec![
            "[t] [ERROR] java.lang.Exception: exception happened\n[t]    at f2(RegexMultiLog.java:108)\n[t]    ... 23 more",
            "[t] Some user custom log",
            "[t] Some user custom log",
        ]
    );
    // At the end of data, a record without its end line is unmatched.
    let run = split(&c, text, true);
    assert_eq!(run.records.len(), 5);
    assert_eq!(run.records[3], "[t] [ERROR] java.lang.Exception: again");
    assert_eq!(run.records[4], "[t]    at f3");
}

#[test]
fn continue_and_end() {
    let c = config(None, Some(r"\s"), Some("END"));
    let run = split(&c, "  a\n  b\nEND 1\nEND 2\n  c\nnope\nplain", true);
    assert_eq!(
        run.records,
        vec!["  a\n  b\nEND 1", "END 2", "  c", "nope", "plain"]
    );
}

#[test]
fn end_only() {
    let c = config(None, None, Some(r".*;$"));
    let run = split(&c, "a\nb;\nc;\nd\ne", false);
    assert_eq!(run.records, vec!["a\nb;", "c;"]);
    assert_eq!(run.consumed.last(), Some(&(100 + 2 + 3 + 3)));
    let run = split(&c, "a\nb;\nc;\nd\ne", true);
    assert_eq!(run.records, vec!["a\nb;", "c;", "d", "e"]);
}

#[test]
fn idle_flush_after_timeout() {
    let mut c = config(Some("START"), None, None);
    c.flush_timeout = Duration::from_secs(5);
    let mut m = Multiline::new(&c).unwrap();
    let t0 = Instant::now();
    let mut it = lines("START a\n  more").into_iter();
    assert!(m.push_at(it.next().unwrap(), t0).records.is_empty());
    assert!(m.push_at(it.next().unwrap(), t0).records.is_empty());
    assert!(m.has_pending());
    let early = m.flush_if_idle(t0 + Duration::from_secs(4));
    assert!(early.records.is_empty());
    assert_eq!(early.consumed_up_to, 100);
    let late = m.flush_if_idle(t0 + Duration::from_secs(5));
    assert_eq!(late.records.len(), 1);
    assert_eq!(late.records[0].text, "START a\n  more");
    assert_eq!(late.consumed_up_to, 115);
    assert!(!m.has_pending());
    // Nothing left: later calls are no-ops.
    assert!(m
        .flush_if_idle(t0 + Duration::from_secs(60))
        .records
        .is_empty());
}

#[test]
fn oversized_records_are_cut() {
    let mut c = config(Some("START"), None, None);
    c.max_record_bytes = 20;
    let run = split(&c, "START 1\naaaaaaaa\nbbbbbbbb\ncccccccc\nSTART 2", true);
    assert_eq!(
        run.records,
        vec!["START 1\naaaaaaaa\nbbbbbbbb", "cccccccc", "START 2"]
    );
}

#[test]
fn every_line_is_accounted_for() {
    let text = "x\nSTART\n a\n b\nSTART\nEND\nzz";
    for c in [
        config(Some("START"), None, None),
        config(Some("START"), Some(" "), None),
        config(Some("START"), None, Some("END")),
        config(None, Some(" "), Some("END")),
        config(None, None, Some("END")),
    ] {
        for treatment in [
            UnmatchedContentTreatment::SingleLine,
            UnmatchedContentTreatment::Discard,
        ] {
            let c = MultilineConfig {
                unmatched_content_treatment: treatment,
                ..c.clone()
            };
            let run = split(&c, text, true);
            let lines_out: u64 = run.records.iter().map(|r| r.lines().count() as u64).sum();
            assert_eq!(lines_out + run.discarded, 7, "{c:?}: {:?}", run.records);
            assert!(
                run.spans.windows(2).all(|w| w[0].1 <= w[1].0),
                "{:?}",
                run.spans
            );
            assert!(
                run.consumed.windows(2).all(|w| w[0] <= w[1]),
                "{:?}",
                run.consumed
            );
            assert_eq!(*run.consumed.last().unwrap(), 100 + text.len() as u64 + 1);
        }
    }
}

#[test]
fn construction_errors() {
    let err = Multiline::new(&config(None, Some("x"), None)).unwrap_err();
    assert!(
        err.to_string().contains("StartPattern or an EndPattern"),
        "{err}"
    );
    let err = Multiline::new(&config(Some("(x"), None, None)).unwrap_err();
    assert!(
        matches!(&err, ConfigError::Invalid { key, .. } if key == "StartPattern"),
        "{err}"
    );
}

#[test]
fn pattern_normalisation() {
    use cairn_agent::config::normalize_multiline_pattern as n;
    assert_eq!(n(r"\d+.*$").as_deref(), Some(r"\d+"));
    assert_eq!(n(r"a.*.*").as_deref(), Some("a"));
    assert_eq!(n(r"a\.*").as_deref(), Some(r"a\.*"));
    assert_eq!(n(r"a\$").as_deref(), Some(r"a\$"));
    assert_eq!(n(".*"), None);
    assert_eq!(n(""), None);
}
