//! The [`Metastore`] trait: every read and write of Cairn's metadata goes through it.
//!
//! Backends (SQLite today, PostgreSQL later) must behave identically; the behaviour is pinned by
//! the shared suite in [`crate::testsuite`], which every backend runs. Contract common to all
//! methods:
//! - A missing entity is [`MetaError::NotFound`] of that entity's kind; a create on a missing
//!   parent is `NotFound` of the parent's kind; a create on a taken key is
//!   [`MetaError::AlreadyExists`].
//! - Every write is atomic: it happens completely or not at all.
//! - Every list is ordered by name (access keys: by id) and is a snapshot of committed data.
//! - Times are unix seconds given by the caller; backends never read a clock.

use async_trait::async_trait;
use cairn_model::{
    AccessKeyId, AccountId, IndexConfig, LogstoreId, LogstoreName, ProjectName, UserName,
};

use crate::{
    AccessKeyRecord, AccessKeyStatus, Account, ListQuery, LogstoreRecord, LogstoreUpdate,
    MetaError, NewLogstore, Page, ProjectRecord, User,
};

/// Cairn's metadata store. Used as `Arc<dyn Metastore>`.
#[async_trait]
pub trait Metastore:
    crate::DirectoryStore
    + crate::JobStore
    + crate::IamStore
    + crate::FleetStore
    + crate::SplitStore
    + crate::ConsumerGroupStore
    + Send
    + Sync
{
    // ---- accounts ----

    /// Stores a new account. `AlreadyExists` if the id is taken (callers pick random ids and
    /// retry).
    async fn create_account(&self, account: &Account) -> Result<(), MetaError>;

    /// The account with this id.
    async fn get_account(&self, id: AccountId) -> Result<Account, MetaError>;

    /// Every account, ordered by name, then id.
    async fn list_accounts(&self) -> Result<Vec<Account>, MetaError>;

    // ---- users ----

    /// Stores a new user. `NotFound(Account)` if the account is missing, `AlreadyExists(User)`
    /// if the account already has a user of that name.
    async fn create_user(&self, user: &User) -> Result<(), MetaError>;

    /// The user `name` of `account`.
    async fn get_user(&self, account: AccountId, name: &UserName) -> Result<User, MetaError>;

    /// The users of an account, ordered by name (empty for an unknown account).
    async fn list_users(&self, account: AccountId) -> Result<Vec<User>, MetaError>;

    /// Deletes a user together with its AccessKeys and policy attachments, and returns the ids
    /// of the deleted keys so that callers can drop whatever they cached about them.
    async fn delete_user(
        &self,
        account: AccountId,
        name: &UserName,
    ) -> Result<Vec<AccessKeyId>, MetaError>;

    // ---- access keys ----

    /// Stores a new AccessKey. `NotFound(Account)` / `NotFound(User)` if its owner is missing,
    /// `AlreadyExists(AccessKey)` if the id is taken.
    async fn create_access_key(&self, key: &AccessKeyRecord) -> Result<(), MetaError>;

    /// The AccessKey with this id, whatever its account (used to authenticate requests).
    async fn get_access_key(&self, id: &AccessKeyId) -> Result<AccessKeyRecord, MetaError>;

    /// The AccessKeys of an account, root's and every user's, ordered by id.
    async fn list_access_keys(&self, account: AccountId)
        -> Result<Vec<AccessKeyRecord>, MetaError>;

    /// Enables or disables a key of `account`. `NotFound(AccessKey)` if the key does not exist
    /// or belongs to another account.
    async fn set_access_key_status(
        &self,
        account: AccountId,
        id: &AccessKeyId,
        status: AccessKeyStatus,
    ) -> Result<(), MetaError>;

    /// Deletes a key of `account`. `NotFound(AccessKey)` if the key does not exist or belongs to
    /// another account.
    async fn delete_access_key(
        &self,
        account: AccountId,
        id: &AccessKeyId,
    ) -> Result<(), MetaError>;

    /// Records that the key signed an accepted request at `used_at`.
    async fn touch_access_key(&self, id: &AccessKeyId, used_at: i64) -> Result<(), MetaError>;

    // ---- projects ----

    /// Stores a new project. `NotFound(Account)` if the owner is missing,
    /// `AlreadyExists(Project)` if any account already has a project of that name.
    async fn create_project(&self, project: &ProjectRecord) -> Result<(), MetaError>;

    /// The project of this name.
    async fn get_project(&self, name: &ProjectName) -> Result<ProjectRecord, MetaError>;

    /// Replaces a project's description and sets its `last_modified_at`.
    async fn update_project_description(
        &self,
        name: &ProjectName,
        description: &str,
        modified_at: i64,
    ) -> Result<ProjectRecord, MetaError>;

    /// Deletes a project with all its logstores and their index configs, as SLS does, and
    /// returns the ids of the deleted logstores so their data can be dropped.
    async fn delete_project(&self, name: &ProjectName) -> Result<Vec<LogstoreId>, MetaError>;

    /// A page of an account's projects, ordered by name.
    async fn list_projects(
        &self,
        account: AccountId,
        query: &ListQuery,
    ) -> Result<Page<ProjectRecord>, MetaError>;

    // ---- logstores ----

    /// Creates a logstore with a fresh, never reused id. `NotFound(Project)` if the project is
    /// missing, `AlreadyExists(Logstore)` if it already has a logstore of that name.
    async fn create_logstore(&self, logstore: &NewLogstore) -> Result<LogstoreRecord, MetaError>;

    /// The logstore `name` of `project`.
    async fn get_logstore(
        &self,
        project: &ProjectName,
        name: &LogstoreName,
    ) -> Result<LogstoreRecord, MetaError>;

    /// Replaces a logstore's TTL, shard count and settings; returns the updated record.
    async fn update_logstore(
        &self,
        project: &ProjectName,
        name: &LogstoreName,
        update: &LogstoreUpdate,
    ) -> Result<LogstoreRecord, MetaError>;

    /// Deletes a logstore with its index config and returns the id it had.
    async fn delete_logstore(
        &self,
        project: &ProjectName,
        name: &LogstoreName,
    ) -> Result<LogstoreId, MetaError>;

    /// A page of a project's logstore names, ordered by name. `NotFound(Project)` if the
    /// project is missing.
    async fn list_logstores(
        &self,
        project: &ProjectName,
        query: &ListQuery,
    ) -> Result<Page<LogstoreName>, MetaError>;

    // ---- index configs ----

    /// Stores the index config of a logstore that has none. `NotFound(Logstore)` if the
    /// logstore is missing, `AlreadyExists(Index)` if it already has one.
    async fn create_index(
        &self,
        project: &ProjectName,
        logstore: &LogstoreName,
        config: &IndexConfig,
        at: i64,
    ) -> Result<(), MetaError>;

    /// Replaces the index config of a logstore. `NotFound(Index)` if it has none,
    /// `NotFound(Logstore)` if the logstore is missing.
    async fn update_index(
        &self,
        project: &ProjectName,
        logstore: &LogstoreName,
        config: &IndexConfig,
        at: i64,
    ) -> Result<(), MetaError>;

    /// The index config of a logstore. `NotFound(Index)` if it has none, `NotFound(Logstore)`
    /// if the logstore is missing.
    async fn get_index(
        &self,
        project: &ProjectName,
        logstore: &LogstoreName,
    ) -> Result<IndexConfig, MetaError>;

    /// Removes the index config of a logstore. `NotFound(Index)` if it has none,
    /// `NotFound(Logstore)` if the logstore is missing.
    async fn delete_index(
        &self,
        project: &ProjectName,
        logstore: &LogstoreName,
    ) -> Result<(), MetaError>;
}
