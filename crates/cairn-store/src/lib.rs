//! Cairn's durable ingest path: PutLogs groups become WAL records, fsynced with group
//! commit before they are acknowledged, then served from memory.
//!
//! ```text
//! append ──encode──▶ channel ──▶ writer thread: check sequence ids, free space
//!                                   │ one write + one fsync per batch (wal)
//!                                   ▼
//!                                memtable ──▶ scan (snapshot, arrival order)
//! ```
//!
//! - [`LogEngine`] is the whole public surface: `open` replays the WAL, `append` returns
//!   after the fsync, `scan` reads what was acknowledged, `read_from` / `next_offset` read it
//!   by logstore offset (for followers such as copy jobs), `drop_logstore` writes a durable
//!   tombstone, `shutdown` drains and closes.
//! - Exactly-once: per (logstore, shard, producer key) the last committed sequence id is
//!   kept; it is written in the same WAL record as the data, and checked and raised by the one
//!   writer thread, so concurrent replays of one request store it once.
//! - The WAL's format, limits and recovery rules are documented in the `wal` module.
//!
//! Columnar splits (and truncating the WAL once a split is published) come later; the
//! memtable holds everything until then.

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
