//! SQL for the agents' control plane (see [`crate::FleetStore`]): machine groups and pipeline
//! configs here, applications in [`applications`], machines and agents in [`agents`].
//!
//! Invariants kept here: every write that checks before it writes runs in one `BEGIN
//! IMMEDIATE` transaction; a group's machine list and its `machine_group_entries` rows are
//! written together; a config's version and its name's high-water mark
//! (`pipeline_config_versions`) are written together, so versions never repeat for a name.

mod agents;
mod applications;
mod rows;

use async_trait::async_trait;
use cairn_model::{AccountId, ProjectName};
use sqlx::{Sqlite, Transaction};

use self::rows::{
    config_from_row, distinct, encode_json, group_from_row, CONFIG_COLUMNS, GROUP_COLUMNS,
};
use super::{decode_count, page_params, SqliteMetastore};
use crate::{
    AgentRecord, CandidateGroup, FleetStore, FleetStoreError, ListQuery, MachineGroupRecord,
    MachineRecord, NewPipelineConfig, Page, PipelineConfigRecord,
};

/// Name filter of the list queries: `?2` is NULL (no filter) or a literal substring.
const NAME_FILTER: &str = "(?2 IS NULL OR instr(name, ?2) > 0)";

fn group_not_found(project: &ProjectName, group: &str) -> FleetStoreError {
    FleetStoreError::MachineGroupNotFound {
        project: project.clone(),
        group: group.to_owned(),
    }
}

fn config_not_found(project: &ProjectName, config: &str) -> FleetStoreError {
    FleetStoreError::ConfigNotFound {
        project: project.clone(),
        config: config.to_owned(),
    }
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// Fails with `ProjectNotFound` unless the project exists.
async fn require_project(
    tx: &mut Transaction<'static, Sqlite>,
    project: &ProjectName,
) -> Result<(), FleetStoreError> {
    sqlx::query("SELECT 1 FROM projects WHERE name = ?")
        .bind(project.as_str())
        .fetch_optional(&mut **tx)
        .await?
        .map(|_| ())
        .ok_or_else(|| FleetStoreError::ProjectNotFound {
            project: project.clone(),
        })
}

/// Fails with `MachineGroupNotFound` unless the group exists.
async fn require_group(
    tx: &mut Transaction<'static, Sqlite>,
    project: &ProjectName,
    group: &str,
) -> Result<(), FleetStoreError> {
    sqlx::query("SELECT 1 FROM machine_groups WHERE project = ? AND name = ?")
        .bind(project.as_str())
        .bind(group)
        .fetch_optional(&mut **tx)
        .await?
        .map(|_| ())
        .ok_or_else(|| group_not_found(project, group))
}

/// Fails with `ConfigNotFound` unless the config exists.
async fn require_config(
    tx: &mut Transaction<'static, Sqlite>,
    project: &ProjectName,
    config: &str,
) -> Result<(), FleetStoreError> {
    sqlx::query("SELECT 1 FROM pipeline_configs WHERE project = ? AND name = ?")
        .bind(project.as_str())
        .bind(config)
        .fetch_optional(&mut **tx)
        .await?
        .map(|_| ())
        .ok_or_else(|| config_not_found(project, config))
}

/// Replaces the identity rows of a group with its machine list.
async fn write_entries(
    tx: &mut Transaction<'static, Sqlite>,
    group: &MachineGroupRecord,
    list: &[String],
) -> Result<(), FleetStoreError> {
    sqlx::query("DELETE FROM machine_group_entries WHERE project = ? AND group_name = ?")
        .bind(group.project.as_str())
        .bind(&group.name)
        .execute(&mut **tx)
        .await?;
    for identity in list {
        sqlx::query(
            "INSERT INTO machine_group_entries (project, group_name, identify_type, identity) \
             VALUES (?, ?, ?, ?)",
        )
        .bind(group.project.as_str())
        .bind(&group.name)
        .bind(group.machine_identify_type.as_str())
        .bind(identity)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

impl SqliteMetastore {
    /// A page of names from `table` (`machine_groups` or `pipeline_configs`) of a project.
    async fn list_names(
        &self,
        table: &str,
        project: &ProjectName,
        query: &ListQuery,
    ) -> Result<Page<String>, FleetStoreError> {
        let (limit, offset) = page_params(query);
        let mut tx = self.begin_read().await?;
        require_project(&mut tx, project).await?;
        let total: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM {table} WHERE project = ?1 AND {NAME_FILTER}"
        ))
        .bind(project.as_str())
        .bind(query.name_contains.as_deref())
        .fetch_one(&mut *tx)
        .await?;
        let names: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT name FROM {table} WHERE project = ?1 AND {NAME_FILTER} \
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
            items: names,
        })
    }
}

#[async_trait]
impl FleetStore for SqliteMetastore {
    async fn create_machine_group(
        &self,
        group: &MachineGroupRecord,
    ) -> Result<(), FleetStoreError> {
        let list = distinct(&group.machine_list);
        let mut tx = self.begin_write().await?;
        require_project(&mut tx, &group.project).await?;
        let inserted = sqlx::query(&format!(
            "INSERT INTO machine_groups ({GROUP_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(group.project.as_str())
        .bind(&group.name)
        .bind(&group.group_type)
        .bind(group.machine_identify_type.as_str())
        .bind(encode_json("machine list", &list)?)
        .bind(encode_json("group attribute", &group.attribute)?)
        .bind(group.created_at)
        .bind(group.last_modified_at)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(err) if is_unique_violation(&err) => {
                return Err(FleetStoreError::MachineGroupAlreadyExists {
                    project: group.project.clone(),
                    group: group.name.clone(),
                })
            }
            Err(err) => return Err(err.into()),
        }
        write_entries(&mut tx, group, &list).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_machine_group(
        &self,
        project: &ProjectName,
        name: &str,
    ) -> Result<MachineGroupRecord, FleetStoreError> {
        let row = sqlx::query(&format!(
            "SELECT {GROUP_COLUMNS} FROM machine_groups WHERE project = ? AND name = ?"
        ))
        .bind(project.as_str())
        .bind(name)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| group_not_found(project, name))?;
        Ok(group_from_row(&row)?)
    }

    async fn update_machine_group(
        &self,
        group: &MachineGroupRecord,
    ) -> Result<(), FleetStoreError> {
        let list = distinct(&group.machine_list);
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE machine_groups SET group_type = ?, machine_identify_type = ?, \
             machine_list = ?, group_attribute = ?, last_modified_at = ? \
             WHERE project = ? AND name = ?",
        )
        .bind(&group.group_type)
        .bind(group.machine_identify_type.as_str())
        .bind(encode_json("machine list", &list)?)
        .bind(encode_json("group attribute", &group.attribute)?)
        .bind(group.last_modified_at)
        .bind(group.project.as_str())
        .bind(&group.name)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(group_not_found(&group.project, &group.name));
        }
        write_entries(&mut tx, group, &list).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_machine_group(
        &self,
        project: &ProjectName,
        name: &str,
    ) -> Result<(), FleetStoreError> {
        // Entries, applications and machines go through ON DELETE CASCADE.
        let deleted = sqlx::query("DELETE FROM machine_groups WHERE project = ? AND name = ?")
            .bind(project.as_str())
            .bind(name)
            .execute(&self.pool)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(group_not_found(project, name));
        }
        Ok(())
    }

    async fn list_machine_groups(
        &self,
        project: &ProjectName,
        query: &ListQuery,
    ) -> Result<Page<String>, FleetStoreError> {
        self.list_names("machine_groups", project, query).await
    }

    async fn candidate_groups(
        &self,
        ip: &str,
        user_defined_ids: &[String],
    ) -> Result<Vec<CandidateGroup>, FleetStoreError> {
        self.select_candidate_groups(ip, user_defined_ids).await
    }

    async fn create_pipeline_config(
        &self,
        config: &NewPipelineConfig,
    ) -> Result<PipelineConfigRecord, FleetStoreError> {
        let detail = encode_json("pipeline config", &config.detail)?;
        let mut tx = self.begin_write().await?;
        require_project(&mut tx, &config.project).await?;
        let highest: Option<i64> = sqlx::query_scalar(
            "SELECT version FROM pipeline_config_versions WHERE project = ? AND name = ?",
        )
        .bind(config.project.as_str())
        .bind(&config.name)
        .fetch_optional(&mut *tx)
        .await?;
        let version = highest.unwrap_or(0).saturating_add(1);
        let inserted = sqlx::query(&format!(
            "INSERT INTO pipeline_configs ({CONFIG_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) \
             RETURNING {CONFIG_COLUMNS}"
        ))
        .bind(config.project.as_str())
        .bind(&config.name)
        .bind(detail)
        .bind(version)
        .bind(config.created_at)
        .bind(config.created_at)
        .fetch_one(&mut *tx)
        .await;
        let row = match inserted {
            Ok(row) => row,
            Err(err) if is_unique_violation(&err) => {
                return Err(FleetStoreError::ConfigAlreadyExists {
                    project: config.project.clone(),
                    config: config.name.clone(),
                })
            }
            Err(err) => return Err(err.into()),
        };
        let record = config_from_row(&row)?;
        raise_high_water(&mut tx, &config.project, &config.name, version).await?;
        tx.commit().await?;
        Ok(record)
    }

    async fn get_pipeline_config(
        &self,
        project: &ProjectName,
        name: &str,
    ) -> Result<PipelineConfigRecord, FleetStoreError> {
        let row = sqlx::query(&format!(
            "SELECT {CONFIG_COLUMNS} FROM pipeline_configs WHERE project = ? AND name = ?"
        ))
        .bind(project.as_str())
        .bind(name)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| config_not_found(project, name))?;
        Ok(config_from_row(&row)?)
    }

    async fn update_pipeline_config(
        &self,
        project: &ProjectName,
        name: &str,
        detail: &serde_json::Value,
        modified_at: i64,
    ) -> Result<PipelineConfigRecord, FleetStoreError> {
        let detail = encode_json("pipeline config", detail)?;
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(&format!(
            "UPDATE pipeline_configs SET detail = ?, version = version + 1, \
             last_modified_at = ? WHERE project = ? AND name = ? RETURNING {CONFIG_COLUMNS}"
        ))
        .bind(detail)
        .bind(modified_at)
        .bind(project.as_str())
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| config_not_found(project, name))?;
        let record = config_from_row(&row)?;
        raise_high_water(&mut tx, project, name, record.version).await?;
        tx.commit().await?;
        Ok(record)
    }

    async fn delete_pipeline_config(
        &self,
        project: &ProjectName,
        name: &str,
    ) -> Result<(), FleetStoreError> {
        let deleted = sqlx::query("DELETE FROM pipeline_configs WHERE project = ? AND name = ?")
            .bind(project.as_str())
            .bind(name)
            .execute(&self.pool)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(config_not_found(project, name));
        }
        Ok(())
    }

    async fn list_pipeline_configs(
        &self,
        project: &ProjectName,
        query: &ListQuery,
    ) -> Result<Page<String>, FleetStoreError> {
        self.list_names("pipeline_configs", project, query).await
    }

    async fn apply_config_to_group(
        &self,
        project: &ProjectName,
        group: &str,
        config: &str,
        at: i64,
    ) -> Result<(), FleetStoreError> {
        self.insert_application(project, group, config, at).await
    }

    async fn remove_config_from_group(
        &self,
        project: &ProjectName,
        group: &str,
        config: &str,
    ) -> Result<(), FleetStoreError> {
        self.delete_application(project, group, config).await
    }

    async fn list_group_configs(
        &self,
        project: &ProjectName,
        group: &str,
    ) -> Result<Vec<String>, FleetStoreError> {
        self.select_group_configs(project, group).await
    }

    async fn list_config_groups(
        &self,
        project: &ProjectName,
        config: &str,
    ) -> Result<Vec<String>, FleetStoreError> {
        self.select_config_groups(project, config).await
    }

    async fn configs_applied_to(
        &self,
        project: &ProjectName,
        group: &str,
    ) -> Result<Vec<PipelineConfigRecord>, FleetStoreError> {
        self.select_applied_configs(project, group).await
    }

    async fn record_machines(&self, machines: &[MachineRecord]) -> Result<(), FleetStoreError> {
        self.upsert_machines(machines).await
    }

    async fn list_machines(
        &self,
        project: &ProjectName,
        group: &str,
        query: &ListQuery,
    ) -> Result<Page<MachineRecord>, FleetStoreError> {
        self.select_machines(project, group, query).await
    }

    async fn get_agent(
        &self,
        account: AccountId,
        instance_id: &str,
    ) -> Result<Option<AgentRecord>, FleetStoreError> {
        self.select_agent(account, instance_id).await
    }

    async fn save_agent(&self, agent: &AgentRecord) -> Result<(), FleetStoreError> {
        self.upsert_agent(agent).await
    }

    async fn purge_fleet(&self, before: i64) -> Result<u64, FleetStoreError> {
        self.delete_stale_fleet(before).await
    }
}

/// Records that `name` reached `version`.
async fn raise_high_water(
    tx: &mut Transaction<'static, Sqlite>,
    project: &ProjectName,
    name: &str,
    version: i64,
) -> Result<(), FleetStoreError> {
    sqlx::query(
        "INSERT INTO pipeline_config_versions (project, name, version) VALUES (?, ?, ?) \
         ON CONFLICT (project, name) DO UPDATE SET version = max(version, excluded.version)",
    )
    .bind(project.as_str())
    .bind(name)
    .bind(version)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
