//! The agent's own counters: what it read, what it delivered, and — above all — what it
//! dropped and why.
//!
//! Invariant: no record leaves the agent's hands without being either delivered (acknowledged
//! or already committed by the server) or counted here under a [`DropReason`]. Every drop goes
//! through [`AgentMetrics::record_drop`], which counts it *and* logs it with its reason, so a
//! drop can never be counted silently or logged uncounted.
//!
//! Counters are plain atomics (relaxed ordering: they are statistics, not synchronisation);
//! [`AgentMetrics::snapshot`] copies them into a serialisable [`MetricsSnapshot`] that the
//! heartbeat or a metrics endpoint can publish.
//!
//! ## What survives a restart
//!
//! Drop counters are totals over the agent's life, not over one process: the runtime writes
//! the snapshot to `<data_dir>/metrics.json` while it runs and at shutdown, and a new
//! process starts its drop counters ([`DropReason`]s and the processors' `records_filtered`,
//! `records_unparsable`, `records_invalid_time`) from that file ([`AgentMetrics::resume`]).
//! After a crash the increments since the last snapshot (at most a second without control,
//! a heartbeat interval with it) are lost: the counters are written atomically but not
//! fsynced, as writing on every drop would cost a write per filtered record. The activity
//! counters (records read, delivered, ...) count what this process did and start at zero.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// Why data was dropped instead of delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// The disk buffer reached its size limit; its oldest batches made room.
    BufferFull,
    /// A buffered batch outlived the buffer's age limit before the server took it.
    BufferExpired,
    /// A buffered record failed its checksum or could not be decoded.
    BufferCorrupt,
    /// A file we had a checkpoint for disappeared before we could read (or resend) it.
    FileDeletedBeforeRead,
    /// A file was truncated (copytruncate) before we had read bytes we had seen it hold.
    TruncatedBeforeRead,
    /// The server refused the batch as bad data (4xx); retrying would not help.
    RejectedByServer,
}

impl DropReason {
    /// Every reason, in a stable order.
    pub const ALL: [DropReason; 6] = [
        DropReason::BufferFull,
        DropReason::BufferExpired,
        DropReason::BufferCorrupt,
        DropReason::FileDeletedBeforeRead,
        DropReason::TruncatedBeforeRead,
        DropReason::RejectedByServer,
    ];

    /// The reason's name in metrics and logs (`buffer_full`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::BufferFull => "buffer_full",
            DropReason::BufferExpired => "buffer_expired",
            DropReason::BufferCorrupt => "buffer_corrupt",
            DropReason::FileDeletedBeforeRead => "file_deleted_before_read",
            DropReason::TruncatedBeforeRead => "truncated_before_read",
            DropReason::RejectedByServer => "rejected_by_server",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// How much was dropped for one reason.
///
/// `events` counts drop decisions (a batch, a file); `records` and `bytes` count what they
/// held when it is knowable — a file deleted before it was read has an unknown number of
/// records, so only its event (and the bytes we know it held) are counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropCounts {
    /// Drop decisions.
    pub events: u64,
    /// Records (log lines) dropped.
    pub records: u64,
    /// Raw bytes dropped.
    pub bytes: u64,
}

#[derive(Debug, Default)]
struct DropCounters {
    events: AtomicU64,
    records: AtomicU64,
    bytes: AtomicU64,
}

/// The agent's counters, shared by the inputs and delivery (`Arc<AgentMetrics>`).
#[derive(Debug, Default)]
pub struct AgentMetrics {
    /// Records the file inputs produced.
    pub records_read: AtomicU64,
    /// Bytes the file inputs consumed.
    pub bytes_read: AtomicU64,
    /// Files opened for reading.
    pub files_opened: AtomicU64,
    /// Truncations (copytruncate) detected.
    pub truncations: AtomicU64,
    /// PutLogs calls the server acknowledged.
    pub batches_acked: AtomicU64,
    /// Resends the server answered with `InvalidSequenceId` (the first attempt had landed).
    pub batches_already_committed: AtomicU64,
    /// Log records in acknowledged batches.
    pub records_delivered: AtomicU64,
    /// Uncompressed protobuf bytes in acknowledged batches.
    pub bytes_delivered: AtomicU64,
    /// Send attempts that failed transiently (network, 5xx, busy, expired token).
    pub send_failures: AtomicU64,
    /// Batches written to the disk buffer.
    pub batches_buffered: AtomicU64,
    /// Batches currently in the disk buffer.
    pub buffer_batches: AtomicU64,
    /// Bytes currently in the disk buffer.
    pub buffer_bytes: AtomicU64,
    /// Records a config's filter processors left out (by the config's intent, still counted).
    pub records_filtered: AtomicU64,
    /// Records a parse processor could not parse and the config said not to keep.
    pub records_unparsable: AtomicU64,
    /// Records whose parsed time is outside what a log time can hold.
    pub records_invalid_time: AtomicU64,
    /// Durable writes of the checkpoint table (a gauge the runtime copies from the store).
    pub checkpoint_writes: AtomicU64,
    drops: [DropCounters; DropReason::ALL.len()],
}

impl AgentMetrics {
    /// Fresh counters, all zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts a drop and logs it with its reason. `context` names what was dropped (a file
    /// path, a producer key); it goes to the log only.
    pub fn record_drop(&self, reason: DropReason, records: u64, bytes: u64, context: &str) {
        let counters = &self.drops[reason.index()];
        counters.events.fetch_add(1, Ordering::Relaxed);
        counters.records.fetch_add(records, Ordering::Relaxed);
        counters.bytes.fetch_add(bytes, Ordering::Relaxed);
        tracing::warn!(
            reason = reason.as_str(),
            records,
            bytes,
            context,
            "data dropped"
        );
    }

    /// Counters that start where an earlier process's snapshot left them (see the module
    /// docs): its drops by reason and its processor drops; everything else starts at zero.
    pub fn resume(previous: &PersistedDrops) -> Self {
        let metrics = Self::new();
        let carried = [
            (&metrics.records_filtered, previous.records_filtered),
            (&metrics.records_unparsable, previous.records_unparsable),
            (&metrics.records_invalid_time, previous.records_invalid_time),
        ];
        for (counter, value) in carried {
            counter.store(value, Ordering::Relaxed);
        }
        for reason in DropReason::ALL {
            let found = previous
                .dropped
                .iter()
                .find(|(name, _)| name == reason.as_str());
            if let Some((_, counts)) = found {
                let counters = &metrics.drops[reason.index()];
                counters.events.store(counts.events, Ordering::Relaxed);
                counters.records.store(counts.records, Ordering::Relaxed);
                counters.bytes.store(counts.bytes, Ordering::Relaxed);
            }
        }
        metrics
    }

    /// What was dropped for `reason` so far.
    pub fn dropped(&self, reason: DropReason) -> DropCounts {
        let counters = &self.drops[reason.index()];
        DropCounts {
            events: counters.events.load(Ordering::Relaxed),
            records: counters.records.load(Ordering::Relaxed),
            bytes: counters.bytes.load(Ordering::Relaxed),
        }
    }

    /// Records dropped for any reason.
    pub fn dropped_records_total(&self) -> u64 {
        DropReason::ALL
            .iter()
            .map(|reason| self.dropped(*reason).records)
            .sum()
    }

    /// A copy of every counter.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        MetricsSnapshot {
            records_read: load(&self.records_read),
            bytes_read: load(&self.bytes_read),
            files_opened: load(&self.files_opened),
            truncations: load(&self.truncations),
            batches_acked: load(&self.batches_acked),
            batches_already_committed: load(&self.batches_already_committed),
            records_delivered: load(&self.records_delivered),
            bytes_delivered: load(&self.bytes_delivered),
            send_failures: load(&self.send_failures),
            batches_buffered: load(&self.batches_buffered),
            buffer_batches: load(&self.buffer_batches),
            buffer_bytes: load(&self.buffer_bytes),
            records_filtered: load(&self.records_filtered),
            records_unparsable: load(&self.records_unparsable),
            records_invalid_time: load(&self.records_invalid_time),
            checkpoint_writes: load(&self.checkpoint_writes),
            dropped: DropReason::ALL
                .iter()
                .map(|reason| (reason.as_str(), self.dropped(*reason)))
                .collect(),
        }
    }
}

/// The counters of a [`MetricsSnapshot`] that outlive a process, read back from its JSON
/// (unknown reasons and other fields are ignored; missing ones are zero).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct PersistedDrops {
    /// See [`AgentMetrics::records_filtered`].
    #[serde(default)]
    pub records_filtered: u64,
    /// See [`AgentMetrics::records_unparsable`].
    #[serde(default)]
    pub records_unparsable: u64,
    /// See [`AgentMetrics::records_invalid_time`].
    #[serde(default)]
    pub records_invalid_time: u64,
    /// Drops by reason name.
    #[serde(default)]
    pub dropped: Vec<(String, DropCounts)>,
}

/// A point-in-time copy of [`AgentMetrics`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetricsSnapshot {
    /// See [`AgentMetrics::records_read`].
    pub records_read: u64,
    /// See [`AgentMetrics::bytes_read`].
    pub bytes_read: u64,
    /// See [`AgentMetrics::files_opened`].
    pub files_opened: u64,
    /// See [`AgentMetrics::truncations`].
    pub truncations: u64,
    /// See [`AgentMetrics::batches_acked`].
    pub batches_acked: u64,
    /// See [`AgentMetrics::batches_already_committed`].
    pub batches_already_committed: u64,
    /// See [`AgentMetrics::records_delivered`].
    pub records_delivered: u64,
    /// See [`AgentMetrics::bytes_delivered`].
    pub bytes_delivered: u64,
    /// See [`AgentMetrics::send_failures`].
    pub send_failures: u64,
    /// See [`AgentMetrics::batches_buffered`].
    pub batches_buffered: u64,
    /// See [`AgentMetrics::buffer_batches`].
    pub buffer_batches: u64,
    /// See [`AgentMetrics::buffer_bytes`].
    pub buffer_bytes: u64,
    /// See [`AgentMetrics::records_filtered`].
    pub records_filtered: u64,
    /// See [`AgentMetrics::records_unparsable`].
    pub records_unparsable: u64,
    /// See [`AgentMetrics::records_invalid_time`].
    pub records_invalid_time: u64,
    /// See [`AgentMetrics::checkpoint_writes`].
    pub checkpoint_writes: u64,
    /// Drops by reason name.
    pub dropped: Vec<(&'static str, DropCounts)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_are_counted_by_reason() {
        let metrics = AgentMetrics::new();
        metrics.record_drop(DropReason::BufferFull, 3, 300, "k");
        metrics.record_drop(DropReason::BufferFull, 2, 200, "k");
        metrics.record_drop(DropReason::RejectedByServer, 1, 10, "k");
        assert_eq!(
            metrics.dropped(DropReason::BufferFull),
            DropCounts {
                events: 2,
                records: 5,
                bytes: 500
            }
        );
        assert_eq!(
            metrics.dropped(DropReason::BufferExpired),
            DropCounts::default()
        );
        assert_eq!(metrics.dropped_records_total(), 6);
        let snapshot = metrics.snapshot();
        assert_eq!(snapshot.dropped.len(), DropReason::ALL.len());
    }

    #[test]
    fn drop_counters_resume_from_a_snapshot() {
        let before = AgentMetrics::new();
        before.record_drop(DropReason::RejectedByServer, 4, 40, "k");
        before.records_unparsable.store(7, Ordering::Relaxed);
        before.records_read.store(100, Ordering::Relaxed);
        let json = serde_json::to_vec(&before.snapshot()).expect("serialise");
        let persisted: PersistedDrops = serde_json::from_slice(&json).expect("read back");
        let after = AgentMetrics::resume(&persisted);
        assert_eq!(
            after.dropped(DropReason::RejectedByServer),
            before.dropped(DropReason::RejectedByServer)
        );
        assert_eq!(after.records_unparsable.load(Ordering::Relaxed), 7);
        assert_eq!(
            after.records_read.load(Ordering::Relaxed),
            0,
            "activity restarts"
        );
    }
}
