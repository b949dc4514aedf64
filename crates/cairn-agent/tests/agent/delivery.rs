//! Delivery on real files, real tasks and a real disk buffer, against the fake exactly-once
//! peer: crash between "pending" and the ack, outages beyond the buffer's limits, replay
//! order, rejections, filtered records, and back-off bounds.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cairn_agent::delivery::{
    Backoff, BufferedBatch, DiskBuffer, DiskBufferOptions, LogSink, WriteTarget,
};
use cairn_agent::metrics::DropReason;
use cairn_agent::FileKey;
use cairn_model::{Field, LogEntry, LogGroupData, LogTime};

use crate::common::{append, fast_delivery_options, numbered, spec, Agent, FakeServer, Mode};

const WAIT: Duration = Duration::from_secs(20);

fn lines(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    numbered(prefix, range).lines().map(String::from).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_line_arrives_once_and_checkpoints_follow_acks() {
    let tmp = tempfile::tempdir().expect("tmp");
    let path = tmp.path().join("app.log");
    append(&path, &numbered("l", 0..95));
    let server = FakeServer::new(Mode::Normal);
    let sink: Arc<dyn LogSink> = server.clone();
    let mut agent = Agent::start(
        tmp.path(),
        vec![spec("c", &path)],
        sink,
        fast_delivery_options(),
        DiskBufferOptions::default(),
    );
    agent.pump_until(WAIT, |_| server.lines().len() >= 95).await;
    agent.delivery.flush().await.expect("flush");
    assert_eq!(server.lines(), lines("l", 0..95));
    let (key, cp) = agent.store.all().pop().expect("checkpoint");
    assert_eq!(cp.offset, std::fs::metadata(&path).expect("stat").len());
    assert!(cp.pending.is_none());
    let state = server.state.lock().expect("state");
    let first = state.commits[0].1;
    assert!(
        first > 1_600_000_000_000_000,
        "sequences start at the clock (µs)"
    );
    let sequences: Vec<u64> = state.commits.iter().map(|(_, s)| *s).collect();
    assert_eq!(sequences, (first..first + 10).collect::<Vec<_>>());
    assert_eq!(
        cp.next_sequence,
        first + 10,
        "10 batches of at most 10 records"
    );
    let expected_key = cairn_agent::delivery::producer_key("host-1", &key);
    assert!(state.commits.iter().all(|(k, _)| *k == expected_key));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_pending_and_ack_is_resent_once() {
    let tmp = tempfile::tempdir().expect("tmp");
    let path = tmp.path().join("app.log");
    append(&path, &numbered("l", 0..45));
    let server = FakeServer::new(Mode::HangAfterCommit(3));
    {
        let sink: Arc<dyn LogSink> = server.clone();
        let mut agent = Agent::start(
            tmp.path(),
            vec![spec("c", &path)],
            sink,
            fast_delivery_options(),
            DiskBufferOptions::default(),
        );
        let hung = server.hung.notified();
        tokio::pin!(hung);
        hung.as_mut().enable();
        agent.pump().await;
        tokio::time::timeout(WAIT, hung)
            .await
            .expect("third put committed and hung");
        let (_, cp) = agent.store.all().pop().expect("checkpoint");
        let third = server.state.lock().expect("state").commits[2].1;
        assert_eq!(
            cp.pending.map(|p| p.sequence),
            Some(third),
            "the hung batch is pending"
        );
        assert_eq!(cp.offset, 2 * 10 * 7, "two batches acknowledged");
        // The crash: tasks are dropped mid-send, nothing is flushed.
    }
    append(&path, &numbered("l", 45..60));
    server.set_mode(Mode::Normal);
    let sink: Arc<dyn LogSink> = server.clone();
    let mut agent = Agent::start(
        tmp.path(),
        vec![spec("c", &path)],
        sink,
        fast_delivery_options(),
        DiskBufferOptions::default(),
    );
    agent.pump_until(WAIT, |_| server.lines().len() >= 60).await;
    agent.delivery.flush().await.expect("flush");
    assert_eq!(
        server.lines(),
        lines("l", 0..60),
        "every line exactly once, in order"
    );
    assert_eq!(server.state.lock().expect("state").already_committed, 1);
    assert_eq!(agent.metrics.snapshot().batches_already_committed, 1);
}

/// Runs an outage: `rounds` rounds of 10 lines while the server is down, then heals it.
async fn outage(
    buffer: DiskBufferOptions,
    rounds: usize,
    pause: Duration,
) -> (Arc<FakeServer>, Agent, usize) {
    let tmp = tempfile::tempdir().expect("tmp");
    let path = tmp.path().join("app.log");
    let server = FakeServer::new(Mode::Down);
    let sink: Arc<dyn LogSink> = server.clone();
    let mut agent = Agent::start(
        tmp.path(),
        vec![spec("c", &path)],
        sink,
        fast_delivery_options(),
        buffer,
    );
    for round in 0..rounds {
        append(&path, &numbered("l", round * 10..round * 10 + 10));
        agent.pump_until(WAIT, |a| a.pump_count_done(round)).await;
        agent.delivery.flush().await.expect("flush");
        tokio::time::sleep(pause).await;
    }
    server.set_mode(Mode::Normal);
    tokio::time::timeout(WAIT, agent.delivery.wait_idle())
        .await
        .expect("idle")
        .expect("drained");
    std::mem::forget(tmp); // Keep the files for the agent's lifetime.
    (server, agent, rounds * 10)
}

impl Agent {
    fn pump_count_done(&self, round: usize) -> bool {
        self.metrics.snapshot().records_read as usize >= (round + 1) * 10
    }
}

fn assert_exactly_counted(
    server: &FakeServer,
    agent: &Agent,
    total: usize,
    reason: DropReason,
) -> Vec<String> {
    let got = server.lines();
    let unique: BTreeSet<&String> = got.iter().collect();
    assert_eq!(unique.len(), got.len(), "no duplicates");
    let dropped = agent.metrics.dropped(reason);
    assert!(dropped.records > 0, "the outage outlived the buffer");
    assert_eq!(
        got.len() as u64 + dropped.records,
        total as u64,
        "exactly the counted drops are missing"
    );
    assert_eq!(agent.metrics.dropped_records_total(), dropped.records);
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_longer_than_the_buffer_age_loses_only_counted_batches() {
    let buffer = DiskBufferOptions {
        max_age: Duration::from_millis(400),
        ..DiskBufferOptions::default()
    };
    let (server, agent, total) = outage(buffer, 6, Duration::from_millis(150)).await;
    let got = assert_exactly_counted(&server, &agent, total, DropReason::BufferExpired);
    assert_eq!(
        got.last().map(String::as_str),
        Some("l-0059"),
        "the newest survive"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_larger_than_the_buffer_drops_the_oldest_and_counts_them() {
    let buffer = DiskBufferOptions {
        max_bytes: 1200,
        segment_bytes: 400,
        ..DiskBufferOptions::default()
    };
    let (server, agent, total) = outage(buffer, 8, Duration::ZERO).await;
    let got = assert_exactly_counted(&server, &agent, total, DropReason::BufferFull);
    let all = lines("l", 0..total);
    // The batch being sent when the buffer filled is pinned and survives; everything after
    // it that survives is the newest, in order.
    let newest_from = (0..=got.len())
        .find(|&k| got[k..] == all[all.len() - (got.len() - k)..])
        .expect("an empty tail always matches");
    assert!(
        newest_from <= 10,
        "at most the one batch in flight survives out of line: {got:?}"
    );
    if let Some(first) = got.first() {
        let start = all.iter().position(|l| l == first).expect("a sent line");
        assert_eq!(
            got[..newest_from],
            all[start..start + newest_from],
            "the pinned batch is whole and in order"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_buffer_replays_in_order_per_producer_key() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (a, b) = (tmp.path().join("a.log"), tmp.path().join("b.log"));
    let server = FakeServer::new(Mode::Down);
    let sink: Arc<dyn LogSink> = server.clone();
    let specs = vec![spec("c", &tmp.path().join("*.log"))];
    let mut agent = Agent::start(
        tmp.path(),
        specs,
        sink,
        fast_delivery_options(),
        DiskBufferOptions::default(),
    );
    for round in 0..4 {
        append(&a, &numbered("a", round * 10..round * 10 + 10));
        append(&b, &numbered("b", round * 10..round * 10 + 10));
        agent
            .pump_until(WAIT, |x| x.pump_count_done(2 * round + 1))
            .await;
        agent.delivery.flush().await.expect("flush");
    }
    assert!(agent.delivery.buffered_batches() >= 8);
    server.set_mode(Mode::Normal);
    tokio::time::timeout(WAIT, agent.delivery.wait_idle())
        .await
        .expect("idle")
        .expect("drained");
    let state = server.state.lock().expect("state");
    let mut last: HashMap<&str, u64> = HashMap::new();
    for (key, sequence) in &state.commits {
        let previous = last.insert(key, *sequence).unwrap_or(0);
        assert!(*sequence > previous, "{key}: {sequence} after {previous}");
    }
    let of = |prefix: &str| -> Vec<String> {
        let keep = |(_, line): &&(String, String)| line.starts_with(prefix);
        state
            .committed
            .iter()
            .filter(keep)
            .map(|(_, l)| l.clone())
            .collect()
    };
    assert_eq!(of("a-"), lines("a", 0..40));
    assert_eq!(of("b-"), lines("b", 0..40));
}

fn batch(sequence: u64, line: &str) -> BufferedBatch {
    BufferedBatch {
        target: WriteTarget {
            project: "p".into(),
            logstore: "s".into(),
        },
        producer_key: "k".into(),
        sequence,
        file: FileKey {
            config: "c".into(),
            device: 1,
            inode: 2,
            fingerprint: 3,
        },
        start_offset: sequence * 10,
        end_offset: sequence * 10 + 10,
        created_unix_ms: cairn_agent::delivery::disk_buffer::now_unix_ms(),
        group: LogGroupData {
            logs: vec![LogEntry {
                time: LogTime::new(1, 0),
                contents: vec![Field::new("content", line)],
            }],
            ..LogGroupData::default()
        },
    }
}

#[test]
fn the_disk_buffer_survives_reopen_in_order_and_cuts_a_torn_tail() {
    let tmp = tempfile::tempdir().expect("tmp");
    let options = DiskBufferOptions {
        segment_bytes: 300,
        ..DiskBufferOptions::default()
    };
    let mut buffer = DiskBuffer::open(tmp.path(), options.clone()).expect("open");
    for sequence in 1..=6 {
        buffer
            .append(&batch(sequence, &format!("line {sequence}")))
            .expect("append");
    }
    assert_eq!(buffer.front().expect("front").map(|b| b.sequence), Some(1));
    buffer.pop_front().expect("pop");
    drop(buffer);
    // A crash mid-append leaves half a frame at the end of the last segment.
    let mut segments: Vec<_> = std::fs::read_dir(tmp.path())
        .expect("ls")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "buf"))
        .collect();
    segments.sort();
    append(segments.last().expect("segment"), "\u{7}\0\0\0garbage");
    let mut buffer = DiskBuffer::open(tmp.path(), options).expect("reopen");
    assert!(buffer.take_drops().is_empty(), "a torn tail is not a drop");
    let mut order = Vec::new();
    while let Some(b) = buffer.front().expect("front") {
        assert_eq!(
            b,
            BufferedBatch {
                created_unix_ms: b.created_unix_ms,
                ..batch(b.sequence, &format!("line {}", b.sequence))
            }
        );
        order.push(b.sequence);
        buffer.pop_front().expect("pop");
    }
    assert_eq!(order, [2, 3, 4, 5, 6]);
}

/// Consumes every batch of `buffer`, returning their sequence numbers in order.
fn drain_sequences(buffer: &mut DiskBuffer) -> Vec<u64> {
    let mut order = Vec::new();
    while let Some(b) = buffer.front().expect("front") {
        order.push(b.sequence);
        buffer.pop_front().expect("pop");
    }
    order
}

#[test]
fn a_full_buffer_drops_the_oldest_but_never_the_batch_being_sent() {
    let tmp = tempfile::tempdir().expect("tmp");
    let frame = {
        let probe = tempfile::tempdir().expect("tmp");
        let mut buffer =
            DiskBuffer::open(probe.path(), DiskBufferOptions::default()).expect("open");
        buffer.append(&batch(1, "line 1")).expect("append");
        buffer.bytes()
    };
    let options = DiskBufferOptions {
        max_bytes: 3 * frame,
        ..DiskBufferOptions::default()
    };
    let mut buffer = DiskBuffer::open(tmp.path(), options).expect("open");
    for sequence in 1..=3 {
        let line = format!("line {sequence}");
        buffer.append(&batch(sequence, &line)).expect("append");
    }
    let sending = buffer.front().expect("front").map(|b| b.sequence);
    assert_eq!(sending, Some(1));
    buffer.append(&batch(4, "line 4")).expect("append");
    buffer.append(&batch(5, "line 5")).expect("append");
    let dropped: Vec<u64> = buffer.take_drops().iter().map(|d| d.records).collect();
    assert_eq!(dropped, [1, 1], "two batches made room");
    assert_eq!(
        drain_sequences(&mut buffer),
        [1, 4, 5],
        "the pinned head survives, then the newest"
    );
    buffer.append(&batch(6, "line 6")).expect("append");
    buffer.front().expect("front");
    buffer.unpin();
    for sequence in 7..=9 {
        let line = format!("line {sequence}");
        buffer.append(&batch(sequence, &line)).expect("append");
    }
    assert_eq!(
        drain_sequences(&mut buffer),
        [7, 8, 9],
        "an unpinned head is the oldest, so it goes first"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_batches_are_dropped_and_counted_and_filtered_records_advance() {
    let tmp = tempfile::tempdir().expect("tmp");
    let path = tmp.path().join("app.log");
    append(&path, &numbered("l", 0..10));
    append(&path, "poison\n");
    append(&path, &numbered("m", 0..9));
    let server = FakeServer::with_poison("poison");
    let sink: Arc<dyn LogSink> = server.clone();
    let mut agent = Agent::start(
        tmp.path(),
        vec![spec("c", &path)],
        sink,
        fast_delivery_options(),
        DiskBufferOptions::default(),
    );
    agent.pump().await;
    agent.delivery.flush().await.expect("flush");
    assert_eq!(server.lines(), lines("l", 0..10));
    let rejected = agent.metrics.dropped(DropReason::RejectedByServer);
    assert_eq!((rejected.events, rejected.records), (1, 10));

    // Records the processors filtered out are submitted without an entry: no put, but the
    // checkpoint moves past them.
    append(&path, &numbered("f", 0..5));
    let records = agent.tailer.poll().expect("poll");
    let end = records.last().map(|r| r.end_offset).expect("records");
    let key = records[0].file.clone();
    let items = records.into_iter().map(|r| (r, None)).collect();
    let puts_before = server.state.lock().expect("state").commits.len();
    agent
        .delivery
        .submit(crate::common::target(), items, Vec::new(), Bytes::new())
        .await
        .expect("submit");
    agent.delivery.flush().await.expect("flush");
    assert_eq!(
        server.state.lock().expect("state").commits.len(),
        puts_before
    );
    assert_eq!(agent.store.get(&key).map(|cp| cp.offset), Some(end));
}

#[test]
fn backoff_delays_grow_within_jittered_bounds() {
    let min = Duration::from_millis(100);
    let max = Duration::from_secs(2);
    let mut distinct = BTreeSet::new();
    for _ in 0..200 {
        let mut backoff = Backoff::new(min, max);
        for attempt in 0..10u32 {
            let ceiling = (min * 2u32.pow(attempt)).min(max);
            let delay = backoff.next_delay();
            assert!(
                delay >= min && delay <= ceiling,
                "attempt {attempt}: {delay:?}"
            );
            if attempt == 3 {
                distinct.insert(delay);
            }
        }
        backoff.reset();
        assert_eq!(backoff.ceiling(), min);
    }
    assert!(distinct.len() > 100, "delays are jittered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_during_an_outage_replays_the_buffer_after_restart() {
    let tmp = tempfile::tempdir().expect("tmp");
    let path = tmp.path().join("app.log");
    let server = FakeServer::new(Mode::Down);
    {
        let sink: Arc<dyn LogSink> = server.clone();
        let mut agent = Agent::start(
            tmp.path(),
            vec![spec("c", &path)],
            sink,
            fast_delivery_options(),
            DiskBufferOptions::default(),
        );
        append(&path, &numbered("l", 0..30));
        agent.pump_until(WAIT, |a| a.pump_count_done(2)).await;
        agent.delivery.flush().await.expect("flush");
        assert_eq!(agent.delivery.buffered_batches(), 3);
        let (_, cp) = agent.store.all().pop().expect("checkpoint");
        assert_eq!(
            cp.offset,
            30 * 7,
            "the buffer owns what the file no longer needs to hold"
        );
    }
    // While the agent is down the file is rotated away and deleted: its data lives on in the
    // buffer only.
    std::fs::remove_file(&path).expect("delete");
    append(&path, &numbered("n", 0..5));
    server.set_mode(Mode::Normal);
    let sink: Arc<dyn LogSink> = server.clone();
    let mut agent = Agent::start(
        tmp.path(),
        vec![spec("c", &path)],
        sink,
        fast_delivery_options(),
        DiskBufferOptions::default(),
    );
    agent.pump_until(WAIT, |_| server.lines().len() >= 35).await;
    tokio::time::timeout(WAIT, agent.delivery.wait_idle())
        .await
        .expect("idle")
        .expect("drained");
    let mut want = lines("l", 0..30);
    want.extend(lines("n", 0..5));
    let mut got = server.lines();
    got.sort();
    assert_eq!(got, want, "every line once");
    assert_eq!(agent.metrics.dropped_records_total(), 0);
}
