//! SQL for applying configs to machine groups (see [`crate::FleetStore`]).
//!
//! Invariants kept here: a config is applied only to a group of its own project, both
//! checked in the same write transaction as the insert; applying twice or removing what is
//! not applied changes nothing.

use cairn_model::ProjectName;

use super::rows::config_from_row;
use super::{require_config, require_group, SqliteMetastore};
use crate::{FleetStoreError, MetaError, PipelineConfigRecord};

impl SqliteMetastore {
    pub(super) async fn insert_application(
        &self,
        project: &ProjectName,
        group: &str,
        config: &str,
        at: i64,
    ) -> Result<(), FleetStoreError> {
        let mut tx = self.begin_write().await?;
        require_group(&mut tx, project, group).await?;
        require_config(&mut tx, project, config).await?;
        sqlx::query(
            "INSERT INTO config_applications (project, group_name, config_name, applied_at) \
             VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(project.as_str())
        .bind(group)
        .bind(config)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn delete_application(
        &self,
        project: &ProjectName,
        group: &str,
        config: &str,
    ) -> Result<(), FleetStoreError> {
        let mut tx = self.begin_write().await?;
        require_group(&mut tx, project, group).await?;
        require_config(&mut tx, project, config).await?;
        sqlx::query(
            "DELETE FROM config_applications \
             WHERE project = ? AND group_name = ? AND config_name = ?",
        )
        .bind(project.as_str())
        .bind(group)
        .bind(config)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn select_group_configs(
        &self,
        project: &ProjectName,
        group: &str,
    ) -> Result<Vec<String>, FleetStoreError> {
        let mut tx = self.begin_read().await?;
        require_group(&mut tx, project, group).await?;
        let names = sqlx::query_scalar(
            "SELECT config_name FROM config_applications WHERE project = ? AND group_name = ? \
             ORDER BY config_name",
        )
        .bind(project.as_str())
        .bind(group)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(names)
    }

    pub(super) async fn select_config_groups(
        &self,
        project: &ProjectName,
        config: &str,
    ) -> Result<Vec<String>, FleetStoreError> {
        let mut tx = self.begin_read().await?;
        require_config(&mut tx, project, config).await?;
        let names = sqlx::query_scalar(
            "SELECT group_name FROM config_applications WHERE project = ? AND config_name = ? \
             ORDER BY group_name",
        )
        .bind(project.as_str())
        .bind(config)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(names)
    }

    pub(super) async fn select_applied_configs(
        &self,
        project: &ProjectName,
        group: &str,
    ) -> Result<Vec<PipelineConfigRecord>, FleetStoreError> {
        let rows = sqlx::query(
            "SELECT c.project, c.name, c.detail, c.version, c.created_at, c.last_modified_at \
             FROM config_applications a JOIN pipeline_configs c \
               ON c.project = a.project AND c.name = a.config_name \
             WHERE a.project = ? AND a.group_name = ? ORDER BY c.name",
        )
        .bind(project.as_str())
        .bind(group)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(config_from_row)
            .collect::<Result<_, MetaError>>()?)
    }
}
