//! SQL for projects, logstores and index configs.
//!
//! Invariants kept here: a project belongs to an existing account and its name is unique across
//! the server; a logstore belongs to an existing project, its name is unique inside it, and its
//! id comes from `AUTOINCREMENT` so it is never reused; an index config belongs to one logstore
//! incarnation. Deleting a project deletes its logstores and index configs in one transaction.

use cairn_model::{AccountId, IndexConfig, LogstoreId, LogstoreName, ProjectName};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};

use super::identity::require_account;
use super::{
    account_param, decode_account, decode_count, decode_json, decode_text, decode_u32, page_params,
    unique_violation_as, SqliteMetastore,
};
use crate::{
    EntityKind, ListQuery, LogstoreRecord, LogstoreUpdate, MetaError, NewLogstore, Page,
    ProjectRecord,
};

const PROJECT_COLUMNS: &str = "name, account_id, description, created_at, last_modified_at";

const LOGSTORE_COLUMNS: &str =
    "id, project, name, ttl_days, shard_count, settings, created_at, last_modified_at";

/// The name filter shared by both list queries: `?` is NULL (no filter) or a substring.
/// `instr` matches the substring literally, so `_` and `%` in names need no escaping.
const NAME_FILTER: &str = "(?2 IS NULL OR instr(name, ?2) > 0)";

fn project_from_row(row: &SqliteRow) -> Result<ProjectRecord, MetaError> {
    Ok(ProjectRecord {
        name: decode_text(row.try_get("name")?, ProjectName::parse)?,
        account: decode_account(row.try_get("account_id")?)?,
        description: row.try_get("description")?,
        created_at: row.try_get("created_at")?,
        last_modified_at: row.try_get("last_modified_at")?,
    })
}

fn logstore_from_row(row: &SqliteRow) -> Result<LogstoreRecord, MetaError> {
    let settings: String = row.try_get("settings")?;
    Ok(LogstoreRecord {
        id: LogstoreId(row.try_get("id")?),
        project: decode_text(row.try_get("project")?, ProjectName::parse)?,
        name: decode_text(row.try_get("name")?, LogstoreName::parse)?,
        ttl_days: decode_u32("ttl_days", row.try_get("ttl_days")?)?,
        shard_count: decode_u32("shard_count", row.try_get("shard_count")?)?,
        settings: decode_json("logstore settings", &settings)?,
        created_at: row.try_get("created_at")?,
        last_modified_at: row.try_get("last_modified_at")?,
    })
}

fn encode_index(config: &IndexConfig) -> Result<String, MetaError> {
    serde_json::to_string(config)
        .map_err(|err| MetaError::Corrupt(format!("index config cannot be encoded: {err}")))
}

/// Fails with `NotFound(Project)` unless the project exists.
async fn require_project(
    tx: &mut Transaction<'static, Sqlite>,
    name: &ProjectName,
) -> Result<(), MetaError> {
    sqlx::query("SELECT 1 FROM projects WHERE name = ?")
        .bind(name.as_str())
        .fetch_optional(&mut **tx)
        .await?
        .map(|_| ())
        .ok_or_else(|| MetaError::not_found(EntityKind::Project, name))
}

/// The id of a logstore, or `NotFound(Logstore)`.
async fn logstore_id(
    tx: &mut Transaction<'static, Sqlite>,
    project: &ProjectName,
    name: &LogstoreName,
) -> Result<i64, MetaError> {
    let row = sqlx::query("SELECT id FROM logstores WHERE project = ? AND name = ?")
        .bind(project.as_str())
        .bind(name.as_str())
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| MetaError::not_found(EntityKind::Logstore, name))?;
    Ok(row.try_get("id")?)
}

impl SqliteMetastore {
    pub(super) async fn insert_project(&self, project: &ProjectRecord) -> Result<(), MetaError> {
        let mut tx = self.begin_write().await?;
        require_account(&mut tx, project.account).await?;
        sqlx::query(&format!(
            "INSERT INTO projects ({PROJECT_COLUMNS}) VALUES (?, ?, ?, ?, ?)"
        ))
        .bind(project.name.as_str())
        .bind(account_param(project.account))
        .bind(&project.description)
        .bind(project.created_at)
        .bind(project.last_modified_at)
        .execute(&mut *tx)
        .await
        .map_err(|err| unique_violation_as(err, EntityKind::Project, &project.name))?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn select_project(
        &self,
        name: &ProjectName,
    ) -> Result<ProjectRecord, MetaError> {
        let row = sqlx::query(&format!(
            "SELECT {PROJECT_COLUMNS} FROM projects WHERE name = ?"
        ))
        .bind(name.as_str())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| MetaError::not_found(EntityKind::Project, name))?;
        project_from_row(&row)
    }

    pub(super) async fn update_project(
        &self,
        name: &ProjectName,
        description: &str,
        modified_at: i64,
    ) -> Result<ProjectRecord, MetaError> {
        let row = sqlx::query(&format!(
            "UPDATE projects SET description = ?, last_modified_at = ? WHERE name = ? \
             RETURNING {PROJECT_COLUMNS}"
        ))
        .bind(description)
        .bind(modified_at)
        .bind(name.as_str())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| MetaError::not_found(EntityKind::Project, name))?;
        project_from_row(&row)
    }

    pub(super) async fn remove_project(
        &self,
        name: &ProjectName,
    ) -> Result<Vec<LogstoreId>, MetaError> {
        let mut tx = self.begin_write().await?;
        // Index configs go with their logstores through ON DELETE CASCADE.
        let logstore_rows = sqlx::query("DELETE FROM logstores WHERE project = ? RETURNING id")
            .bind(name.as_str())
            .fetch_all(&mut *tx)
            .await?;
        let deleted = sqlx::query("DELETE FROM projects WHERE name = ?")
            .bind(name.as_str())
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(MetaError::not_found(EntityKind::Project, name));
        }
        let mut ids = logstore_rows
            .iter()
            .map(|row| row.try_get("id").map(LogstoreId))
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        tx.commit().await?;
        ids.sort();
        Ok(ids)
    }

    pub(super) async fn select_projects(
        &self,
        account: AccountId,
        query: &ListQuery,
    ) -> Result<Page<ProjectRecord>, MetaError> {
        let (limit, offset) = page_params(query);
        let mut tx = self.begin_read().await?;
        let total: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM projects WHERE account_id = ?1 AND {NAME_FILTER}"
        ))
        .bind(account_param(account))
        .bind(query.name_contains.as_deref())
        .fetch_one(&mut *tx)
        .await?;
        let rows = sqlx::query(&format!(
            "SELECT {PROJECT_COLUMNS} FROM projects WHERE account_id = ?1 AND {NAME_FILTER} \
             ORDER BY name LIMIT ?3 OFFSET ?4"
        ))
        .bind(account_param(account))
        .bind(query.name_contains.as_deref())
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Page {
            total: decode_count(total)?,
            items: rows
                .iter()
                .map(project_from_row)
                .collect::<Result<_, _>>()?,
        })
    }

    pub(super) async fn insert_logstore(
        &self,
        logstore: &NewLogstore,
    ) -> Result<LogstoreRecord, MetaError> {
        let mut tx = self.begin_write().await?;
        require_project(&mut tx, &logstore.project).await?;
        let row = sqlx::query(
            "INSERT INTO logstores (project, name, ttl_days, shard_count, settings, created_at, \
             last_modified_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) RETURNING id",
        )
        .bind(logstore.project.as_str())
        .bind(logstore.name.as_str())
        .bind(i64::from(logstore.ttl_days))
        .bind(i64::from(logstore.shard_count))
        .bind(logstore.settings.to_string())
        .bind(logstore.created_at)
        .fetch_one(&mut *tx)
        .await
        .map_err(|err| unique_violation_as(err, EntityKind::Logstore, &logstore.name))?;
        let id = LogstoreId(row.try_get("id")?);
        tx.commit().await?;
        Ok(LogstoreRecord {
            id,
            project: logstore.project.clone(),
            name: logstore.name.clone(),
            ttl_days: logstore.ttl_days,
            shard_count: logstore.shard_count,
            settings: logstore.settings.clone(),
            created_at: logstore.created_at,
            last_modified_at: logstore.created_at,
        })
    }

    pub(super) async fn select_logstore(
        &self,
        project: &ProjectName,
        name: &LogstoreName,
    ) -> Result<LogstoreRecord, MetaError> {
        let row = sqlx::query(&format!(
            "SELECT {LOGSTORE_COLUMNS} FROM logstores WHERE project = ? AND name = ?"
        ))
        .bind(project.as_str())
        .bind(name.as_str())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| MetaError::not_found(EntityKind::Logstore, name))?;
        logstore_from_row(&row)
    }

    pub(super) async fn replace_logstore_settings(
        &self,
        project: &ProjectName,
        name: &LogstoreName,
        update: &LogstoreUpdate,
    ) -> Result<LogstoreRecord, MetaError> {
        let row = sqlx::query(&format!(
            "UPDATE logstores SET ttl_days = ?, shard_count = ?, settings = ?, \
             last_modified_at = ? WHERE project = ? AND name = ? RETURNING {LOGSTORE_COLUMNS}"
        ))
        .bind(i64::from(update.ttl_days))
        .bind(i64::from(update.shard_count))
        .bind(update.settings.to_string())
        .bind(update.modified_at)
        .bind(project.as_str())
        .bind(name.as_str())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| MetaError::not_found(EntityKind::Logstore, name))?;
        logstore_from_row(&row)
    }

    pub(super) async fn remove_logstore(
        &self,
        project: &ProjectName,
        name: &LogstoreName,
    ) -> Result<LogstoreId, MetaError> {
        let row = sqlx::query("DELETE FROM logstores WHERE project = ? AND name = ? RETURNING id")
            .bind(project.as_str())
            .bind(name.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| MetaError::not_found(EntityKind::Logstore, name))?;
        Ok(LogstoreId(row.try_get("id")?))
    }

    pub(super) async fn select_logstore_names(
        &self,
        project: &ProjectName,
        query: &ListQuery,
    ) -> Result<Page<LogstoreName>, MetaError> {
        let (limit, offset) = page_params(query);
        let mut tx = self.begin_read().await?;
        require_project(&mut tx, project).await?;
        let total: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM logstores WHERE project = ?1 AND {NAME_FILTER}"
        ))
        .bind(project.as_str())
        .bind(query.name_contains.as_deref())
        .fetch_one(&mut *tx)
        .await?;
        let names: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT name FROM logstores WHERE project = ?1 AND {NAME_FILTER} \
             ORDER BY name LIMIT ?3 OFFSET ?4"
        ))
        .bind(project.as_str())
        .bind(query.name_contains.as_deref())
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Page {
            total: decode_count(total)?,
            items: names
                .into_iter()
                .map(|name| decode_text(name, LogstoreName::parse))
                .collect::<Result<_, _>>()?,
        })
    }

    pub(super) async fn insert_index(
        &self,
        project: &ProjectName,
        logstore: &LogstoreName,
        config: &IndexConfig,
        at: i64,
    ) -> Result<(), MetaError> {
        let encoded = encode_index(config)?;
        let mut tx = self.begin_write().await?;
        let id = logstore_id(&mut tx, project, logstore).await?;
        sqlx::query(
            "INSERT INTO index_configs (logstore_id, config, created_at, last_modified_at) \
             VALUES (?1, ?2, ?3, ?3)",
        )
        .bind(id)
        .bind(encoded)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(|err| unique_violation_as(err, EntityKind::Index, logstore))?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn replace_index(
        &self,
        project: &ProjectName,
        logstore: &LogstoreName,
        config: &IndexConfig,
        at: i64,
    ) -> Result<(), MetaError> {
        let encoded = encode_index(config)?;
        let mut tx = self.begin_write().await?;
        let id = logstore_id(&mut tx, project, logstore).await?;
        let updated = sqlx::query(
            "UPDATE index_configs SET config = ?, last_modified_at = ? WHERE logstore_id = ?",
        )
        .bind(encoded)
        .bind(at)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(MetaError::not_found(EntityKind::Index, logstore));
        }
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn select_index(
        &self,
        project: &ProjectName,
        logstore: &LogstoreName,
    ) -> Result<IndexConfig, MetaError> {
        let row = sqlx::query(
            "SELECT i.config AS config FROM logstores AS l \
             LEFT JOIN index_configs AS i ON i.logstore_id = l.id \
             WHERE l.project = ? AND l.name = ?",
        )
        .bind(project.as_str())
        .bind(logstore.as_str())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| MetaError::not_found(EntityKind::Logstore, logstore))?;
        let config: Option<String> = row.try_get("config")?;
        let config = config.ok_or_else(|| MetaError::not_found(EntityKind::Index, logstore))?;
        decode_json("index config", &config)
    }

    pub(super) async fn remove_index(
        &self,
        project: &ProjectName,
        logstore: &LogstoreName,
    ) -> Result<(), MetaError> {
        let mut tx = self.begin_write().await?;
        let id = logstore_id(&mut tx, project, logstore).await?;
        let deleted = sqlx::query("DELETE FROM index_configs WHERE logstore_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(MetaError::not_found(EntityKind::Index, logstore));
        }
        tx.commit().await?;
        Ok(())
    }
}
