//! File input behaviour on real files: globs, start positions, claims, rotation, truncation,
//! inode reuse, deletion, partial lines and checkpoint resumption.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;
use std::time::Duration;

use cairn_agent::input::{
    CheckpointStore, FileCheckpoint, FileInputSpec, FileTailer, TailerOptions,
};
use cairn_agent::metrics::{AgentMetrics, DropReason};
use cairn_agent::FileKey;

use crate::common::{ack_all, append, fast_tailer_options, numbered, poll_for, spec, texts};

const WAIT: Duration = Duration::from_secs(5);

fn tailer(
    dir: &std::path::Path,
    specs: Vec<FileInputSpec>,
) -> (FileTailer, Arc<CheckpointStore>, Arc<AgentMetrics>) {
    let metrics = Arc::new(AgentMetrics::new());
    let store = Arc::new(CheckpointStore::open(dir.join("cp")).expect("store"));
    let tailer = FileTailer::new(specs, store.clone(), fast_tailer_options(metrics.clone()))
        .expect("tailer");
    (tailer, store, metrics)
}

#[test]
fn globs_depth_and_exclusions_select_files() {
    let tmp = tempfile::tempdir().expect("tmp");
    let root = tmp.path().join("logs");
    for dir in ["sub/deep/deeper", "skip", "other"] {
        fs::create_dir_all(root.join(dir)).expect("mkdir");
    }
    for (file, line) in [
        ("a.log", "a"),
        ("sub/b.log", "b"),
        ("sub/deep/c.log", "c"),
        ("sub/deep/deeper/d.log", "d"),
        ("skip/e.log", "e"),
        ("sub/f.tmp.log", "f"),
        ("x.txt", "x"),
        ("sub/deep/g.log", "g"),
    ] {
        fs::write(root.join(file), format!("{line}\n")).expect("write");
    }
    let mut recursive = spec("deep", &root.join("**/*.log"));
    recursive.max_depth = 2;
    recursive.exclude_dirs = vec![root.join("skip").display().to_string()];
    recursive.exclude_files = vec!["*.tmp.log".into()];
    recursive.exclude_paths = vec![root.join("sub/deep/g.log").display().to_string()];
    let (mut t, _, _) = tailer(tmp.path(), vec![recursive]);
    let got: BTreeSet<String> = poll_for(&mut t, 3, WAIT).into_iter().collect();
    assert_eq!(got, ["a", "b", "c"].map(String::from).into());

    let wildcard_dir = spec("wild", &root.join("s*/*.log"));
    let tmp2 = tempfile::tempdir().expect("tmp");
    let (mut t, _, _) = tailer(tmp2.path(), vec![wildcard_dir]);
    let got: BTreeSet<String> = poll_for(&mut t, 3, WAIT).into_iter().collect();
    assert_eq!(
        got,
        ["b", "e", "f"].map(String::from).into(),
        "`s*` is sub/ and skip/"
    );

    let bad = FileTailer::new(
        vec![spec("bad", &root.join("**/x/**/*.log"))],
        Arc::new(CheckpointStore::open(tmp2.path().join("cp2")).expect("store")),
        TailerOptions::default(),
    );
    assert!(bad.is_err(), "two `**` are refused");
}

#[test]
fn tail_size_applies_to_files_found_at_start_only() {
    let tmp = tempfile::tempdir().expect("tmp");
    let big = tmp.path().join("big.log");
    let small = tmp.path().join("small.log");
    fs::write(&big, numbered("big", 0..3000)).expect("write"); // 27 KB
    fs::write(&small, numbered("small", 0..5)).expect("write");
    let mut tail = spec("c", &tmp.path().join("*.log"));
    tail.from_beginning = false;
    tail.tail_size_kb = 1;
    let (mut t, _, _) = tailer(tmp.path(), vec![tail]);
    let records = t.poll().expect("poll");
    let bigs: Vec<String> = texts(&records)
        .into_iter()
        .filter(|l| l.starts_with("big"))
        .collect();
    let smalls = texts(&records)
        .into_iter()
        .filter(|l| l.starts_with("small"))
        .count();
    assert_eq!(smalls, 5, "a file smaller than the tail is read whole");
    assert!(
        bigs.len() <= 1024 / 9 && bigs.len() >= 1024 / 9 - 1,
        "{} lines",
        bigs.len()
    );
    assert_eq!(bigs.last().map(String::as_str), Some("big-2999"));
    assert!(
        bigs.iter().all(|l| l.len() == 8),
        "starts on a line boundary"
    );

    // A file that appears after the start is read from its beginning, however big.
    let later = tmp.path().join("later.log");
    fs::write(&later, numbered("late", 0..3000)).expect("write");
    let lates = poll_for(&mut t, 3000, WAIT);
    assert_eq!(lates.len(), 3000);
    assert_eq!(lates[0], "late-0000");
}

#[test]
fn one_config_per_file_unless_forced() {
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("app.log");
    fs::write(&file, "line\n").expect("write");
    let first = spec("first", &tmp.path().join("*.log"));
    let second = spec("second", &tmp.path().join("app.*"));
    let mut forced = spec("forced", &file);
    forced.allow_multiple_configs = true;
    let (mut t, _, _) = tailer(tmp.path(), vec![first, second, forced]);
    let records = t.poll().expect("poll");
    let configs: BTreeSet<String> = records.iter().map(|r| r.file.config.clone()).collect();
    assert_eq!(configs, ["first", "forced"].map(String::from).into());
    assert_eq!(records.len(), 2);
}

#[test]
fn rename_rotation_reads_the_old_file_to_its_end_and_the_new_from_zero() {
    let tmp = tempfile::tempdir().expect("tmp");
    let path = tmp.path().join("app.log");
    append(&path, &numbered("l", 0..10));
    let (mut t, store, _) = tailer(tmp.path(), vec![spec("c", &path)]);
    let mut all = Vec::new();
    let first = t.poll().expect("poll");
    ack_all(&mut t, &store, &first);
    all.extend(texts(&first));
    // The writer still holds the old file when logrotate renames it.
    let mut writer = fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .expect("open");
    fs::rename(&path, tmp.path().join("app.log.1")).expect("rename");
    std::io::Write::write_all(&mut writer, numbered("l", 10..15).as_bytes()).expect("late write");
    append(&path, &numbered("l", 15..20));
    let deadline = std::time::Instant::now() + WAIT;
    while (all.len() < 20 || t.open_files() > 1) && std::time::Instant::now() < deadline {
        let records = t.poll().expect("poll");
        ack_all(&mut t, &store, &records);
        all.extend(texts(&records));
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        numbered("l", 0..20)
            .lines()
            .map(String::from)
            .collect::<Vec<_>>()
    );
    assert_eq!(
        t.open_files(),
        1,
        "the rotated file is closed once delivered"
    );
    assert_eq!(store.all().len(), 1, "its checkpoint is forgotten");
}

#[test]
fn copytruncate_reads_new_content_from_zero_and_skips_a_matching_copy() {
    let tmp = tempfile::tempdir().expect("tmp");
    let path = tmp.path().join("app.log");
    let long = |range| numbered(&"x".repeat(100), range);
    append(&path, &long(0..20)); // > 1 KiB: a full fingerprint
    let (mut t, store, metrics) = tailer(tmp.path(), vec![spec("c", &tmp.path().join("app.log*"))]);
    let mut all = poll_for(&mut t, 20, WAIT);
    fs::copy(&path, tmp.path().join("app.log.1")).expect("copy");
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open")
        .set_len(0)
        .expect("truncate");
    append(&path, &long(20..25));
    all.extend(poll_for(&mut t, 5, WAIT));
    std::thread::sleep(Duration::from_millis(200));
    all.extend(texts(&t.poll().expect("poll")));
    assert_eq!(
        all,
        long(0..25).lines().map(String::from).collect::<Vec<_>>()
    );
    assert_eq!(metrics.snapshot().truncations, 1);
    drop(store);
}

#[test]
fn truncation_restarts_at_zero_and_counts_bytes_it_never_read() {
    let tmp = tempfile::tempdir().expect("tmp");
    let path = tmp.path().join("app.log");
    append(&path, &numbered("ol", 0..10)); // 80 bytes
    let metrics = Arc::new(AgentMetrics::new());
    let store = Arc::new(CheckpointStore::open(tmp.path().join("cp")).expect("store"));
    let options = TailerOptions {
        max_read_bytes_per_poll: 40,
        ..fast_tailer_options(metrics.clone())
    };
    let mut t = FileTailer::new(vec![spec("c", &path)], store, options).expect("tailer");
    let first = texts(&t.poll().expect("poll"));
    assert_eq!(first.len(), 5, "40 bytes per poll");
    fs::write(&path, numbered("new", 0..3)).expect("rewrite");
    let rest = poll_for(&mut t, 3, WAIT);
    assert_eq!(
        rest,
        numbered("new", 0..3)
            .lines()
            .map(String::from)
            .collect::<Vec<_>>()
    );
    let dropped = metrics.dropped(DropReason::TruncatedBeforeRead);
    assert_eq!((dropped.events, dropped.bytes), (1, 40));
}

#[test]
fn a_reused_inode_is_a_new_file() {
    let tmp = tempfile::tempdir().expect("tmp");
    let path = tmp.path().join("app.log");
    fs::write(&path, numbered("new", 0..3)).expect("write");
    let meta = fs::metadata(&path).expect("stat");
    {
        // The checkpoint a deleted file with the same inode left behind.
        let store = CheckpointStore::open(tmp.path().join("cp")).expect("store");
        let stale = FileKey {
            config: "c".into(),
            device: meta.dev(),
            inode: meta.ino(),
            fingerprint: 0x1234,
        };
        store
            .set(&stale, FileCheckpoint::new(path.clone(), 20, 24))
            .expect("set");
        store.mark_config_known("c").expect("known");
    }
    let mut tailer_spec = spec("c", &path);
    tailer_spec.from_beginning = false;
    let (mut t, store, _) = tailer(tmp.path(), vec![tailer_spec]);
    let got = poll_for(&mut t, 3, WAIT);
    assert_eq!(got, ["new-0000", "new-0001", "new-0002"]);
    let keys: Vec<FileKey> = store.all().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys.len(), 1);
    assert_ne!(keys[0].fingerprint, 0x1234);
}

#[test]
fn deleted_files_are_read_to_their_end_and_lost_ones_are_counted() {
    let tmp = tempfile::tempdir().expect("tmp");
    let path = tmp.path().join("app.log");
    append(&path, &numbered("l", 0..3));
    let (mut t, store, metrics) = tailer(tmp.path(), vec![spec("c", &path)]);
    let first = t.poll().expect("poll");
    ack_all(&mut t, &store, &first);
    let mut writer = fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .expect("open");
    fs::remove_file(&path).expect("delete");
    std::io::Write::write_all(&mut writer, numbered("l", 3..5).as_bytes()).expect("write");
    let deadline = std::time::Instant::now() + WAIT;
    let mut rest = Vec::new();
    while t.open_files() > 0 && std::time::Instant::now() < deadline {
        let records = t.poll().expect("poll");
        ack_all(&mut t, &store, &records);
        rest.extend(texts(&records));
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(rest, ["l-0003", "l-0004"]);
    assert!(store.all().is_empty());
    assert_eq!(metrics.dropped(DropReason::FileDeletedBeforeRead).events, 0);

    // A checkpointed file deleted while the agent is down is counted.
    let other = tmp.path().join("other.log");
    append(&other, &numbered("o", 0..2));
    let (mut t, store, _) = tailer(tmp.path(), vec![spec("c", &tmp.path().join("*.log"))]);
    let records = t.poll().expect("poll");
    assert_eq!(records.len(), 2);
    drop(t);
    drop(store);
    fs::remove_file(&other).expect("delete");
    let (mut t, store, metrics) = tailer(tmp.path(), vec![spec("c", &tmp.path().join("*.log"))]);
    t.poll().expect("poll");
    assert_eq!(metrics.dropped(DropReason::FileDeletedBeforeRead).events, 1);
    assert!(store.all().is_empty());
}

#[test]
fn a_final_line_without_newline_is_held_then_emitted_when_idle() {
    let tmp = tempfile::tempdir().expect("tmp");
    let path = tmp.path().join("app.log");
    append(&path, "one\ntw");
    let (mut t, _, _) = tailer(tmp.path(), vec![spec("c", &path)]);
    assert_eq!(texts(&t.poll().expect("poll")), ["one"]);
    append(&path, "o\nthr");
    assert_eq!(texts(&t.poll().expect("poll")), ["two"]);
    std::thread::sleep(Duration::from_millis(150));
    let records = t.poll().expect("poll");
    assert_eq!(texts(&records), ["thr"]);
    assert_eq!(records[0].end_offset, 11);
}

#[test]
fn a_restart_resumes_at_the_checkpoint_and_finds_files_renamed_meanwhile() {
    let tmp = tempfile::tempdir().expect("tmp");
    let path = tmp.path().join("app.log");
    append(&path, &numbered("l", 0..5));
    {
        let (mut t, store, _) = tailer(tmp.path(), vec![spec("c", &path)]);
        let records = t.poll().expect("poll");
        ack_all(&mut t, &store, &records[..3]); // l-3 and l-4 were never acknowledged
    }
    // While the agent is down: more lines, then a rename rotation.
    append(&path, &numbered("l", 5..7));
    fs::rename(&path, tmp.path().join("app.log.1")).expect("rename");
    append(&path, &numbered("n", 0..2));
    let (mut t, _, _) = tailer(tmp.path(), vec![spec("c", &path)]);
    let mut got = poll_for(&mut t, 6, WAIT);
    got.sort();
    assert_eq!(
        got,
        ["l-0003", "l-0004", "l-0005", "l-0006", "n-0000", "n-0001"]
    );
}

#[test]
fn removing_a_config_closes_its_readers_and_adding_one_starts_at_its_tail() {
    let tmp = tempfile::tempdir().expect("tmp");
    let path = tmp.path().join("app.log");
    append(&path, &numbered("l", 0..200)); // 1400 bytes
    let (mut t, _, _) = tailer(tmp.path(), vec![spec("a", &path)]);
    assert_eq!(poll_for(&mut t, 200, WAIT).len(), 200);
    assert_eq!(t.open_files(), 1);
    let mut late = spec("b", &path);
    late.from_beginning = false;
    late.tail_size_kb = 1;
    t.set_specs(vec![late]).expect("set specs");
    assert_eq!(t.open_files(), 0, "config a's reader is closed");
    let records = t.poll().expect("poll");
    assert!(records.iter().all(|r| r.file.config == "b"));
    assert_eq!(records.len(), 1024 / 7, "a new config starts at its tail");
}
