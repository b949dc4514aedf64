//! [`SplitStore`]: the catalog of published splits — the immutable Parquet + token-index
//! files a logstore's records move into once they leave the memtable.
//!
//! The metastore knows a split only as data: where its records are (the logstore and the
//! contiguous offsets `[first_offset, end_offset)`), their time range, counts and sizes. The
//! files themselves live in object storage under names derived from the split id; the store
//! never touches them.
//!
//! Invariants every backend keeps (pinned by the shared suite):
//! - published splits of one logstore never share an offset: [`SplitStore::publish_split`]
//!   and [`SplitStore::replace_splits`] check it in the same transaction as the write, so a
//!   record is in at most one published split, whatever crashes and retries happen;
//! - a merge ([`SplitStore::replace_splits`]) removes its inputs and adds its output
//!   atomically: readers see either all the inputs or the output, never both or neither;
//! - lists are ordered by `first_offset`.

use async_trait::async_trait;
use cairn_model::LogstoreId;

use crate::MetaError;

/// Why a split catalog operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SplitStoreError {
    /// The split's offsets overlap a published split of the same logstore.
    #[error(
        "split {split_id} (offsets {first_offset}..{end_offset}) overlaps published split \
         {existing} of logstore {logstore}"
    )]
    Overlap {
        /// The split refused.
        split_id: String,
        /// Its logstore.
        logstore: LogstoreId,
        /// Its first offset.
        first_offset: u64,
        /// Its end offset.
        end_offset: u64,
        /// The published split it overlaps.
        existing: String,
    },
    /// A split named as a merge input is not published (any more).
    #[error("split {split_id} is not published")]
    NotPublished {
        /// The split looked for.
        split_id: String,
    },
    /// The database failed, or a stored value is corrupt; see [`MetaError::is_transient`].
    #[error(transparent)]
    Meta(#[from] MetaError),
}

/// One published split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitRecord {
    /// Unique id; the object names of its files derive from it.
    pub split_id: String,
    /// The logstore whose records it holds.
    pub logstore: LogstoreId,
    /// Offset of its first record.
    pub first_offset: u64,
    /// One past the offset of its last record (offsets are contiguous within a split).
    pub end_offset: u64,
    /// Earliest record time, unix seconds.
    pub min_time: i64,
    /// Latest record time, unix seconds.
    pub max_time: i64,
    /// Number of records (`end_offset - first_offset`).
    pub row_count: u64,
    /// Raw size of the records, as SLS meters it.
    pub raw_bytes: u64,
    /// Size of the Parquet file.
    pub parquet_bytes: u64,
    /// Size of the token-index file.
    pub index_bytes: u64,
    /// 0 for a split flushed from the memtable, 1 + the highest input level for a merge.
    pub merge_level: u32,
    /// When it was published, unix seconds.
    pub published_at: i64,
}

/// The catalog of published splits.
#[async_trait]
pub trait SplitStore: Send + Sync {
    /// Publishes a split. [`SplitStoreError::Overlap`] if a published split of the same
    /// logstore shares an offset with it (then nothing is written).
    async fn publish_split(&self, split: &SplitRecord) -> Result<(), SplitStoreError>;

    /// Replaces the published splits `inputs` (all of `merged.logstore`) by `merged`, in one
    /// transaction. [`SplitStoreError::NotPublished`] if an input is missing (e.g. retention
    /// removed it meanwhile), [`SplitStoreError::Overlap`] if `merged` overlaps a split that
    /// is not an input; nothing changes then.
    async fn replace_splits(
        &self,
        inputs: &[String],
        merged: &SplitRecord,
    ) -> Result<(), SplitStoreError>;

    /// The published splits of a logstore, by first offset.
    async fn list_splits(&self, logstore: LogstoreId) -> Result<Vec<SplitRecord>, MetaError>;

    /// Every published split of every logstore, by logstore then first offset.
    async fn list_all_splits(&self) -> Result<Vec<SplitRecord>, MetaError>;

    /// Published splits whose records are all older than their logstore's TTL at `now`
    /// (`max_time < now - ttl_days * 86400`; a TTL of 3650 days or more is SLS's "forever"),
    /// by logstore then first offset. Splits of
    /// logstores that no longer exist are not listed (they are dropped with the logstore).
    async fn expired_splits(&self, now: i64) -> Result<Vec<SplitRecord>, MetaError>;

    /// Removes split records (retention, logstore deletion); ids not published are ignored.
    async fn delete_splits(&self, split_ids: &[String]) -> Result<(), MetaError>;
}
