//! [`ConsumerGroupStore`]: the durable state of SLS consumer groups — the groups of a
//! logstore, the consumers that heartbeat in them, which consumer holds which shard, and each
//! shard's checkpoint — and its error type.
//!
//! Invariants every backend keeps (pinned by the shared suite, `testsuite::consumer_groups`):
//! - a group belongs to an existing logstore and its name is unique inside it; deleting the
//!   group, the logstore or the project deletes the group with its consumers and checkpoints;
//! - a consumer is *live* while `at - last heartbeat <= timeout`; a consumer that misses its
//!   heartbeats for longer is dropped from the group at the next heartbeat of anyone in it,
//!   and the shards it held become free;
//! - a shard is held by at most one consumer; shards move between consumers only through
//!   [`assign_shards`](crate::assign_shards): a free shard goes to a live consumer below
//!   its fair share, and a shard taken from a consumer above its share stays held by it until
//!   its heartbeat stops reporting the shard, so two consumers never process one shard at once;
//! - a checkpoint is written only by the consumer holding the shard, unless forced.
//!
//! Times are unix seconds given by the caller; backends never read a clock. Refusals are typed
//! [`ConsumerGroupStoreError`] variants; database faults come wrapped as
//! [`ConsumerGroupStoreError::Meta`].

use async_trait::async_trait;
use cairn_model::{ConsumerGroupName, ConsumerName, LogstoreId};

use crate::MetaError;

/// Why a consumer group store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerGroupStoreError {
    /// The logstore does not exist (any more).
    #[error("logstore {logstore} does not exist")]
    LogstoreNotFound {
        /// The logstore looked for.
        logstore: LogstoreId,
    },
    /// The logstore has no consumer group of this name.
    #[error("consumer group {group} does not exist")]
    GroupNotFound {
        /// The group looked for.
        group: ConsumerGroupName,
    },
    /// The logstore already has a consumer group of this name.
    #[error("consumer group {group} already exists")]
    GroupAlreadyExists {
        /// The group's name.
        group: ConsumerGroupName,
    },
    /// An unforced checkpoint came from a consumer that is not a live member of the group
    /// (it never heartbeat, or missed its heartbeats for longer than the group's timeout).
    #[error("consumer {consumer} is not a live member of consumer group {group}")]
    ConsumerNotFound {
        /// The group.
        group: ConsumerGroupName,
        /// The consumer named, empty when none was.
        consumer: String,
    },
    /// An unforced checkpoint came from a live consumer that does not hold the shard.
    #[error("shard {shard} of consumer group {group} is not held by consumer {consumer}")]
    ShardNotHeld {
        /// The group.
        group: ConsumerGroupName,
        /// The shard.
        shard: u32,
        /// The consumer that sent the checkpoint.
        consumer: ConsumerName,
    },
    /// The database failed, or a stored value is corrupt; see [`MetaError::is_transient`].
    #[error(transparent)]
    Meta(#[from] MetaError),
}

impl ConsumerGroupStoreError {
    /// Whether retrying the same call may succeed: only database faults.
    pub fn is_transient(&self) -> bool {
        matches!(self, ConsumerGroupStoreError::Meta(meta) if meta.is_transient())
    }
}

impl From<sqlx::Error> for ConsumerGroupStoreError {
    fn from(error: sqlx::Error) -> Self {
        ConsumerGroupStoreError::Meta(MetaError::Database(error))
    }
}

/// A stored consumer group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroupRecord {
    /// The logstore (incarnation) the group reads.
    pub logstore: LogstoreId,
    /// The group's name, unique inside the logstore.
    pub name: ConsumerGroupName,
    /// Seconds without a heartbeat after which a consumer loses its shards.
    pub timeout_seconds: u32,
    /// SLS's `order`: consume a split shard's children only after the parent. Stored and
    /// returned; with one shard per logstore it changes nothing.
    pub in_order: bool,
    /// Creation time, unix seconds.
    pub created_at: i64,
    /// Last change of timeout or order, unix seconds.
    pub last_modified_at: i64,
}

/// A change to a group's settings; `None` keeps the current value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsumerGroupUpdate {
    /// The new heartbeat timeout, in seconds.
    pub timeout_seconds: Option<u32>,
    /// The new `order` flag.
    pub in_order: Option<bool>,
    /// When the change is made, unix seconds.
    pub modified_at: i64,
}

/// A consumer's heartbeat: it is alive, holds these shards, and asks which to hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerHeartbeat {
    /// The logstore.
    pub logstore: LogstoreId,
    /// The group.
    pub group: ConsumerGroupName,
    /// Who heartbeats.
    pub consumer: ConsumerName,
    /// The shards the consumer reports it is still processing.
    pub held_shards: Vec<u32>,
    /// Every shard of the logstore that can be assigned, ascending.
    pub shards: Vec<u32>,
    /// When, unix seconds.
    pub at: i64,
}

/// A checkpoint to save for one shard of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointUpdate {
    /// The logstore.
    pub logstore: LogstoreId,
    /// The group.
    pub group: ConsumerGroupName,
    /// The shard.
    pub shard: u32,
    /// The consumer saving it; `None` when the client named none (allowed only when forced).
    pub consumer: Option<ConsumerName>,
    /// The checkpoint (a cursor, opaque to the store).
    pub checkpoint: String,
    /// SLS's `forceSuccess`: save even when the consumer does not hold the shard.
    pub force: bool,
    /// When, unix seconds.
    pub at: i64,
}

/// The saved checkpoint of one shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardCheckpoint {
    /// The shard.
    pub shard: u32,
    /// The checkpoint as saved.
    pub checkpoint: String,
    /// The consumer that saved it; empty if it named none.
    pub consumer: String,
    /// When it was saved, unix seconds.
    pub updated_at: i64,
}

/// Storage of consumer groups. A supertrait of [`crate::Metastore`].
#[async_trait]
pub trait ConsumerGroupStore: Send + Sync {
    /// Stores a new group. `LogstoreNotFound`, `GroupAlreadyExists`.
    async fn create_consumer_group(
        &self,
        group: &ConsumerGroupRecord,
    ) -> Result<(), ConsumerGroupStoreError>;

    /// The group `name` of a logstore; `GroupNotFound` if there is none.
    async fn get_consumer_group(
        &self,
        logstore: LogstoreId,
        name: &ConsumerGroupName,
    ) -> Result<ConsumerGroupRecord, ConsumerGroupStoreError>;

    /// The groups of a logstore, ordered by name (empty for an unknown logstore).
    async fn list_consumer_groups(
        &self,
        logstore: LogstoreId,
    ) -> Result<Vec<ConsumerGroupRecord>, ConsumerGroupStoreError>;

    /// Changes a group's timeout and/or order; returns the updated group. `GroupNotFound`.
    async fn update_consumer_group(
        &self,
        logstore: LogstoreId,
        name: &ConsumerGroupName,
        update: &ConsumerGroupUpdate,
    ) -> Result<ConsumerGroupRecord, ConsumerGroupStoreError>;

    /// Deletes a group with its consumers and checkpoints. `GroupNotFound`.
    async fn delete_consumer_group(
        &self,
        logstore: LogstoreId,
        name: &ConsumerGroupName,
    ) -> Result<(), ConsumerGroupStoreError>;

    /// Records a heartbeat, drops consumers that missed theirs, reassigns shards as
    /// [`assign_shards`](crate::assign_shards) decides, and returns the shards the
    /// consumer is to hold, ascending. `GroupNotFound`.
    async fn consumer_group_heartbeat(
        &self,
        heartbeat: &ConsumerHeartbeat,
    ) -> Result<Vec<u32>, ConsumerGroupStoreError>;

    /// Saves a shard's checkpoint. Unless forced, only a live consumer holding the shard may:
    /// `ConsumerNotFound` for a consumer that is not a live member, `ShardNotHeld` for one
    /// that does not hold the shard. `GroupNotFound`.
    async fn update_consumer_group_checkpoint(
        &self,
        update: &CheckpointUpdate,
    ) -> Result<(), ConsumerGroupStoreError>;

    /// The saved checkpoints of a group, ordered by shard (shards never checkpointed are
    /// absent). `GroupNotFound`.
    async fn consumer_group_checkpoints(
        &self,
        logstore: LogstoreId,
        name: &ConsumerGroupName,
    ) -> Result<Vec<ShardCheckpoint>, ConsumerGroupStoreError>;
}
