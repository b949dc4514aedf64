//! Cairn's log storage: PutLogs groups become WAL records, fsynced with group commit before
//! they are acknowledged, served from memory at once, then moved into immutable splits.
//!
//! ```text
//! append ──encode──▶ channel ──▶ writer thread: check sequence ids, free space
//!                                   │ one write + one fsync per batch (wal)
//!                                   ▼
//!                                memtable ──flush──▶ split (Parquet + token filters)
//!                                   │                 │ object store, published in
//!                                   │                 │ the metastore; WAL truncated
//!                                   ▼                 ▼
//!                   search / visit / first_by_time / read_from (one snapshot of both)
//! ```
//!
//! - [`LogEngine`] is the whole public surface: `open` loads the published splits and replays
//!   the WAL, `append` returns after the fsync, `search`, `visit` and `first_by_time` read by
//!   time (skipping split blocks a search's tokens rule out), `read_from` / `next_offset` /
//!   `first_offset` read by logstore offset (for PullLogs and copy jobs), `query_sources`
//!   hands SQL the split files and the records in memory, `drop_logstore` writes a durable
//!   tombstone and deletes the splits, `shutdown` drains and closes.
//! - Exactly-once: per (logstore, shard, producer key) the last committed sequence id is
//!   kept; it is written in the same WAL record as the data, and checked and raised by the one
//!   writer thread, so concurrent replays of one request store it once. Segment checkpoints
//!   carry it across WAL truncation.
//! - The WAL's format, limits, recovery and truncation rules are documented in the `wal`
//!   module; the split lifecycle (flush, merge, retention, crash safety) in
//!   `split::lifecycle`; the split format in ADR 0009.

mod config;
mod engine;
mod error;
mod memtable;
mod producers;
pub mod split;
mod state;
mod wal;
mod writer;

pub use config::{EngineConfig, FsyncObserver};
pub use engine::{
    AppendReceipt, AppendRequest, EngineStats, LogEngine, ProducerSequence, QuerySources,
};
pub use error::StoreError;
pub use split::reader::TimeOrderedQuery;
pub use split::{FailpointAction, SplitFailpoint, SplitSettings};
