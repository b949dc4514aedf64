//! The embedded SQLite backend of [`Metastore`].
//!
//! One database file, opened in WAL journal mode with `synchronous = FULL` (an acknowledged
//! change survives power loss) and foreign keys enforced. The schema lives in `migrations/`,
//! embedded into the binary and applied on [`SqliteMetastore::open`].
//!
//! Concurrency: every write that reads before it writes runs in a `BEGIN IMMEDIATE`
//! transaction, which takes SQLite's write lock up front (waiting up to the busy timeout), so a
//! check-then-insert can never be interleaved with another writer and never fails half-way with
//! a lock upgrade error. Lists read their count and their page in one read transaction, so both
//! come from the same snapshot.
//!
//! The SQL is split by subject: [`identity`] (accounts, users, AccessKeys) and [`logs`]
//! (projects, logstores, index configs); this module holds the connection and value codecs.

mod consumer_group_store;
mod directory_store;
mod fleet_store;
mod iam_store;
mod identity;
mod job_store;
mod logs;
mod split_store;

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use cairn_model::{
    AccessKeyId, AccountId, IndexConfig, LogstoreId, LogstoreName, ModelError, ProjectName,
    UserName,
};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};

use crate::{
    AccessKeyRecord, AccessKeyStatus, Account, EntityKind, ListQuery, LogstoreRecord,
    LogstoreUpdate, MetaError, Metastore, NewLogstore, Page, ProjectRecord, User,
};

/// The schema migrations, embedded at build time.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// How long a statement waits for SQLite's write lock before failing with a (transient) error.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections in the pool: readers run in parallel under WAL, writers queue on the lock.
const MAX_CONNECTIONS: u32 = 4;

/// The SQLite metastore. Cheap to clone: clones share one connection pool.
#[derive(Debug, Clone)]
pub struct SqliteMetastore {
    pool: SqlitePool,
}

impl SqliteMetastore {
    /// Opens the metastore at `path`, creating the file if it does not exist, and brings its
    /// schema up to date. The parent directory must exist.
    pub async fn open(path: &Path) -> Result<Self, MetaError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        tracing::info!(path = %path.display(), "metastore opened");
        Ok(Self { pool })
    }

    /// Closes every connection, waiting for running statements to finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Starts a transaction holding the write lock from its first statement.
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, MetaError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Starts a read transaction: every statement in it sees one snapshot.
    async fn begin_read(&self) -> Result<Transaction<'static, Sqlite>, MetaError> {
        Ok(self.pool.begin().await?)
    }
}

// ---- value codecs shared by the SQL modules ----

/// An account id as stored. Account ids have 16 digits, far inside `i64`.
fn account_param(id: AccountId) -> i64 {
    id.as_u64() as i64
}

/// An account id read back from storage.
fn decode_account(raw: i64) -> Result<AccountId, MetaError> {
    u64::try_from(raw)
        .ok()
        .and_then(|value| AccountId::from_u64(value).ok())
        .ok_or_else(|| MetaError::Corrupt(format!("stored account id {raw} is not 16 digits")))
}

/// A validated value (name, id) read back from its stored text.
fn decode_text<T>(
    text: String,
    parse: impl FnOnce(&str) -> Result<T, ModelError>,
) -> Result<T, MetaError> {
    parse(&text).map_err(|err| MetaError::Corrupt(format!("stored value: {err}")))
}

/// A `u32` column (TTL, shard count) read back from storage.
fn decode_u32(column: &str, raw: i64) -> Result<u32, MetaError> {
    u32::try_from(raw)
        .map_err(|_| MetaError::Corrupt(format!("stored {column} {raw} is out of range")))
}

/// A JSON column read back from storage.
fn decode_json<T: serde::de::DeserializeOwned>(column: &str, text: &str) -> Result<T, MetaError> {
    serde_json::from_str(text)
        .map_err(|err| MetaError::Corrupt(format!("stored {column} is not valid JSON: {err}")))
}

/// An access key status read back from storage.
fn decode_status(text: &str) -> Result<AccessKeyStatus, MetaError> {
    AccessKeyStatus::from_stored(text)
        .ok_or_else(|| MetaError::Corrupt(format!("stored access key status {text:?}")))
}

/// Maps a unique-constraint violation to `AlreadyExists`, anything else to `Database`.
fn unique_violation_as(err: sqlx::Error, kind: EntityKind, name: impl ToString) -> MetaError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            MetaError::already_exists(kind, name.to_string())
        }
        _ => MetaError::Database(err),
    }
}

/// `LIMIT` and `OFFSET` parameters of a list query.
fn page_params(query: &ListQuery) -> (i64, i64) {
    let clamp = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
    (clamp(query.size), clamp(query.offset))
}

/// A `COUNT(*)` result as an unsigned total.
fn decode_count(raw: i64) -> Result<u64, MetaError> {
    u64::try_from(raw).map_err(|_| MetaError::Corrupt(format!("negative row count {raw}")))
}

#[async_trait]
impl Metastore for SqliteMetastore {
    async fn create_account(&self, account: &Account) -> Result<(), MetaError> {
        self.insert_account(account).await
    }

    async fn get_account(&self, id: AccountId) -> Result<Account, MetaError> {
        self.select_account(id).await
    }

    async fn list_accounts(&self) -> Result<Vec<Account>, MetaError> {
        self.select_accounts().await
    }

    async fn create_user(&self, user: &User) -> Result<(), MetaError> {
        self.insert_user(user).await
    }

    async fn get_user(&self, account: AccountId, name: &UserName) -> Result<User, MetaError> {
        self.select_user(account, name).await
    }

    async fn list_users(&self, account: AccountId) -> Result<Vec<User>, MetaError> {
        self.select_users(account).await
    }

    async fn delete_user(
        &self,
        account: AccountId,
        name: &UserName,
    ) -> Result<Vec<AccessKeyId>, MetaError> {
        self.remove_user(account, name).await
    }

    async fn create_access_key(&self, key: &AccessKeyRecord) -> Result<(), MetaError> {
        self.insert_access_key(key).await
    }

    async fn get_access_key(&self, id: &AccessKeyId) -> Result<AccessKeyRecord, MetaError> {
        self.select_access_key(id).await
    }

    async fn list_access_keys(
        &self,
        account: AccountId,
    ) -> Result<Vec<AccessKeyRecord>, MetaError> {
        self.select_access_keys(account).await
    }

    async fn set_access_key_status(
        &self,
        account: AccountId,
        id: &AccessKeyId,
        status: AccessKeyStatus,
    ) -> Result<(), MetaError> {
        self.update_access_key_status(account, id, status).await
    }

    async fn delete_access_key(
        &self,
        account: AccountId,
        id: &AccessKeyId,
    ) -> Result<(), MetaError> {
        self.remove_access_key(account, id).await
    }

    async fn touch_access_key(&self, id: &AccessKeyId, used_at: i64) -> Result<(), MetaError> {
        self.update_access_key_last_used(id, used_at).await
    }

    async fn create_project(&self, project: &ProjectRecord) -> Result<(), MetaError> {
        self.insert_project(project).await
    }

    async fn get_project(&self, name: &ProjectName) -> Result<ProjectRecord, MetaError> {
        self.select_project(name).await
    }

    async fn update_project_description(
        &self,
        name: &ProjectName,
        description: &str,
        modified_at: i64,
    ) -> Result<ProjectRecord, MetaError> {
        self.update_project(name, description, modified_at).await
    }

    async fn delete_project(&self, name: &ProjectName) -> Result<Vec<LogstoreId>, MetaError> {
        self.remove_project(name).await
    }

    async fn list_projects(
        &self,
        account: AccountId,
        query: &ListQuery,
    ) -> Result<Page<ProjectRecord>, MetaError> {
        self.select_projects(account, query).await
    }

    async fn create_logstore(&self, logstore: &NewLogstore) -> Result<LogstoreRecord, MetaError> {
        self.insert_logstore(logstore).await
    }

    async fn get_logstore(
        &self,
        project: &ProjectName,
        name: &LogstoreName,
    ) -> Result<LogstoreRecord, MetaError> {
        self.select_logstore(project, name).await
    }

    async fn update_logstore(
        &self,
        project: &ProjectName,
        name: &LogstoreName,
        update: &LogstoreUpdate,
    ) -> Result<LogstoreRecord, MetaError> {
        self.replace_logstore_settings(project, name, update).await
    }

    async fn delete_logstore(
        &self,
        project: &ProjectName,
        name: &LogstoreName,
    ) -> Result<LogstoreId, MetaError> {
        self.remove_logstore(project, name).await
    }

    async fn list_logstores(
        &self,
        project: &ProjectName,
        query: &ListQuery,
    ) -> Result<Page<LogstoreName>, MetaError> {
        self.select_logstore_names(project, query).await
    }

    async fn create_index(
        &self,
        project: &ProjectName,
        logstore: &LogstoreName,
        config: &IndexConfig,
        at: i64,
    ) -> Result<(), MetaError> {
        self.insert_index(project, logstore, config, at).await
    }

    async fn update_index(
        &self,
        project: &ProjectName,
        logstore: &LogstoreName,
        config: &IndexConfig,
        at: i64,
    ) -> Result<(), MetaError> {
        self.replace_index(project, logstore, config, at).await
    }

    async fn get_index(
        &self,
        project: &ProjectName,
        logstore: &LogstoreName,
    ) -> Result<IndexConfig, MetaError> {
        self.select_index(project, logstore).await
    }

    async fn delete_index(
        &self,
        project: &ProjectName,
        logstore: &LogstoreName,
    ) -> Result<(), MetaError> {
        self.remove_index(project, logstore).await
    }
}

#[cfg(test)]
mod tests;
