//! The plain records the metastore reads and writes, and the paging types of its list calls.
//!
//! Records are data only: no behaviour, no database handles. Times are unix seconds supplied by
//! the caller (the metastore never reads a clock, so tests control time). Secrets never appear
//! here in plain text: an AccessKey's secret is stored as the ciphertext and nonce produced by
//! `cairn-iam` under the server's master key.

use cairn_model::{AccessKeyId, AccountId, LogstoreId, LogstoreName, ProjectName, UserName};
use serde::{Deserialize, Serialize};

/// A tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The 16-digit account id, chosen by the caller (see `cairn-iam`).
    pub id: AccountId,
    /// A human name; not unique.
    pub name: String,
    /// When the account was created, unix seconds.
    pub created_at: i64,
}

/// A user inside an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The account the user belongs to.
    pub account: AccountId,
    /// The user's name, unique inside its account.
    pub name: UserName,
    /// A free-form name for people.
    pub display_name: String,
    /// When the user was created, unix seconds.
    pub created_at: i64,
}

/// Whether an AccessKey may be used to sign requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AccessKeyStatus {
    /// The key authenticates requests.
    Active,
    /// The key is kept but refused.
    Disabled,
}

impl AccessKeyStatus {
    /// The status as stored and as SLS/RAM spell it (`Active`, `Inactive`).
    pub fn as_str(self) -> &'static str {
        match self {
            AccessKeyStatus::Active => "Active",
            AccessKeyStatus::Disabled => "Inactive",
        }
    }

    /// Parses the stored form; `None` for anything else.
    pub fn from_stored(text: &str) -> Option<Self> {
        match text {
            "Active" => Some(AccessKeyStatus::Active),
            "Inactive" => Some(AccessKeyStatus::Disabled),
            _ => None,
        }
    }
}

/// An AccessKey as stored: the secret only in sealed form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessKeyRecord {
    /// The public key id, unique across the server.
    pub id: AccessKeyId,
    /// The account the key acts for.
    pub account: AccountId,
    /// The user the key belongs to; `None` for a key of the account's root identity.
    pub user: Option<UserName>,
    /// The secret, AES-256-GCM-encrypted under the master key with the key id as associated data.
    pub secret_ciphertext: Vec<u8>,
    /// The nonce the secret was encrypted with.
    pub secret_nonce: Vec<u8>,
    /// Whether the key may be used.
    pub status: AccessKeyStatus,
    /// When the key was created, unix seconds.
    pub created_at: i64,
    /// When the key last signed an accepted request, unix seconds, if ever (updated lazily).
    pub last_used_at: Option<i64>,
}

/// A project: a globally uniquely named namespace of logstores, owned by one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectRecord {
    /// The project's name, unique across the server.
    pub name: ProjectName,
    /// The owning account.
    pub account: AccountId,
    /// Free-form description.
    pub description: String,
    /// When the project was created, unix seconds.
    pub created_at: i64,
    /// When the project was last changed, unix seconds.
    pub last_modified_at: i64,
}

/// A logstore as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogstoreRecord {
    /// The id of this incarnation; never reused, even after the logstore is deleted.
    pub id: LogstoreId,
    /// The project the logstore lives in.
    pub project: ProjectName,
    /// The logstore's name, unique inside its project.
    pub name: LogstoreName,
    /// Retention in days.
    pub ttl_days: u32,
    /// Number of shards.
    pub shard_count: u32,
    /// Settings a client sent that Cairn keeps without interpreting (a JSON object in practice),
    /// returned as they were on GetLogStore.
    pub settings: serde_json::Value,
    /// When the logstore was created, unix seconds.
    pub created_at: i64,
    /// When the logstore was last changed, unix seconds.
    pub last_modified_at: i64,
}

/// What is needed to create a logstore; the metastore assigns its id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewLogstore {
    /// The project to create the logstore in; must exist.
    pub project: ProjectName,
    /// The logstore's name.
    pub name: LogstoreName,
    /// Retention in days.
    pub ttl_days: u32,
    /// Number of shards.
    pub shard_count: u32,
    /// Settings kept verbatim.
    pub settings: serde_json::Value,
    /// Creation time, unix seconds; also the first `last_modified_at`.
    pub created_at: i64,
}

/// The mutable part of a logstore, replaced as a whole by an update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogstoreUpdate {
    /// New retention in days.
    pub ttl_days: u32,
    /// New number of shards.
    pub shard_count: u32,
    /// New settings, replacing the old ones.
    pub settings: serde_json::Value,
    /// Time of the change, unix seconds.
    pub modified_at: i64,
}

/// Which page of a list to return, and an optional name filter.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ListQuery {
    /// How many matching entries to skip (in name order).
    pub offset: u64,
    /// At most how many entries to return.
    pub size: u64,
    /// Only names containing this substring (case-sensitive, no wildcards), if given.
    pub name_contains: Option<String>,
}

impl ListQuery {
    /// The page `offset..offset + size` of everything.
    pub fn page(offset: u64, size: u64) -> Self {
        Self {
            offset,
            size,
            name_contains: None,
        }
    }

    /// The same page, only of names containing `needle`.
    pub fn with_name_containing(mut self, needle: impl Into<String>) -> Self {
        self.name_contains = Some(needle.into());
        self
    }
}

/// One page of a list, with the number of entries matching the filter across all pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    /// Entries matching the filter, on all pages.
    pub total: u64,
    /// The entries of this page, ordered by name.
    pub items: Vec<T>,
}
