//! Cairn's metastore: the durable home of accounts, users, AccessKeys, projects, logstores and
//! index configs.
//!
//! Everything goes through the [`Metastore`] trait, used as `Arc<dyn Metastore>`, so the
//! backend can be swapped: [`SqliteMetastore`] is the embedded default, a PostgreSQL backend can
//! follow. All backends must pass the one behavioural suite in [`testsuite`] (compiled for this
//! crate's tests, and for other crates with the `testsuite` feature), run per backend through
//! [`metastore_test_suite!`].
//!
//! Invariants every backend keeps:
//! - names read back are valid (`ProjectName`, `LogstoreName`, ...) or the read fails with
//!   [`MetaError::Corrupt`];
//! - project names are unique across all accounts; logstore ids are never reused;
//! - AccessKey secrets are stored only sealed, as `cairn-iam` hands them over.
//! - an account is in at most one resource directory, and every membership change is logged
//!   with its events in one transaction (see [`DirectoryStore`]).
//! - a pipeline config's version never repeats for its name (see [`FleetStore`]).
//! - published splits of a logstore never share an offset (see [`SplitStore`]).
//! - a shard of a consumer group is held by at most one consumer, and an unforced checkpoint
//!   comes only from its holder (see [`ConsumerGroupStore`]).

mod consumer_group_store;
mod directory_store;
mod error;
mod fleet_records;
mod fleet_store;
mod iam_records;
mod iam_store;
mod job_store;
mod metastore;
mod records;
mod shard_assignment;
mod split_store;
mod sqlite;

#[cfg(any(test, feature = "testsuite"))]
pub mod testsuite;

pub use consumer_group_store::{
    CheckpointUpdate, ConsumerGroupRecord, ConsumerGroupStore, ConsumerGroupStoreError,
    ConsumerGroupUpdate, ConsumerHeartbeat, ShardCheckpoint,
};
pub use directory_store::{
    DirectoryEvent, DirectoryMembership, DirectoryRecord, DirectoryService, DirectoryStore,
    DirectoryStoreError, InvitationRecord, InvitationStatus, JoinMethod, MemberRecord,
    SequencedEvent,
};
pub use error::{EntityKind, MetaError};
pub use fleet_records::{
    AgentRecord, CandidateGroup, GroupAttribute, MachineGroupRecord, MachineIdentifyType,
    MachineRecord, MachineStatus, PipelineConfigRecord,
};
pub use fleet_store::{FleetStore, FleetStoreError, NewPipelineConfig};
pub use iam_records::{
    AttachedPolicy, CustomPolicyRecord, PolicyAttachment, PolicyKind, PolicyTarget, StoredRole,
    StsSessionRecord,
};
pub use iam_store::{IamStore, IamStoreError};
pub use job_store::{JobProgress, JobRecord, JobState, JobStore, JobStoreError};
pub use metastore::Metastore;
pub use records::{
    AccessKeyRecord, AccessKeyStatus, Account, ListQuery, LogstoreRecord, LogstoreUpdate,
    NewLogstore, Page, ProjectRecord, User,
};
pub use shard_assignment::{assign_shards, Assignment, AssignmentInput};
pub use split_store::{SplitRecord, SplitStore, SplitStoreError};
pub use sqlite::SqliteMetastore;
