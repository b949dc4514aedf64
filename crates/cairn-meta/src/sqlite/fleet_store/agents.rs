//! SQL for what heartbeats touch: the groups a host matches, the machines seen in a group,
//! and each agent's heartbeat state (see [`crate::FleetStore`]).
//!
//! Invariants kept here: a machine row is written only while its group exists (the insert
//! selects from `machine_groups`, so a group deleted meanwhile silently gets no row); machine
//! and agent rows are replaced whole, keyed by their primary keys.

use cairn_model::{AccountId, ProjectName};
use sqlx::Row;

use super::rows::{
    agent_from_row, encode_json, group_from_row, machine_from_row, AGENT_COLUMNS, MACHINE_COLUMNS,
};
use super::{require_group, SqliteMetastore};
use crate::sqlite::{account_param, decode_account, decode_count, page_params};
use crate::{
    AgentRecord, CandidateGroup, FleetStoreError, ListQuery, MachineRecord, MetaError, Page,
};

impl SqliteMetastore {
    pub(super) async fn select_candidate_groups(
        &self,
        ip: &str,
        user_defined_ids: &[String],
    ) -> Result<Vec<CandidateGroup>, FleetStoreError> {
        let mut clauses = Vec::new();
        if !ip.is_empty() {
            clauses.push("(e.identify_type = 'ip' AND e.identity = ?)".to_owned());
        }
        if !user_defined_ids.is_empty() {
            let marks = vec!["?"; user_defined_ids.len()].join(", ");
            clauses.push(format!(
                "(e.identify_type = 'userdefined' AND e.identity IN ({marks}))"
            ));
        }
        if clauses.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT g.project, g.name, g.group_type, g.machine_identify_type, g.machine_list, \
                    g.group_attribute, g.created_at, g.last_modified_at, p.account_id \
             FROM machine_groups g JOIN projects p ON p.name = g.project \
             WHERE EXISTS (SELECT 1 FROM machine_group_entries e \
                           WHERE e.project = g.project AND e.group_name = g.name AND ({})) \
             ORDER BY g.project, g.name",
            clauses.join(" OR ")
        );
        let mut query = sqlx::query(&sql);
        if !ip.is_empty() {
            query = query.bind(ip);
        }
        for id in user_defined_ids {
            query = query.bind(id);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| -> Result<CandidateGroup, FleetStoreError> {
                Ok(CandidateGroup {
                    owner: decode_account(row.try_get("account_id")?)?,
                    group: group_from_row(row)?,
                })
            })
            .collect()
    }

    pub(super) async fn upsert_machines(
        &self,
        machines: &[MachineRecord],
    ) -> Result<(), FleetStoreError> {
        if machines.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for machine in machines {
            sqlx::query(&format!(
                "INSERT OR REPLACE INTO fleet_machines ({MACHINE_COLUMNS}) \
                 SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? \
                 WHERE EXISTS (SELECT 1 FROM machine_groups WHERE project = ? AND name = ?)"
            ))
            .bind(machine.project.as_str())
            .bind(&machine.group)
            .bind(&machine.machine_key)
            .bind(&machine.ip)
            .bind(&machine.hostname)
            .bind(&machine.host_id)
            .bind(&machine.user_defined_id)
            .bind(&machine.instance_id)
            .bind(account_param(machine.agent_account))
            .bind(machine.status.as_str())
            .bind(&machine.reason)
            .bind(machine.last_heartbeat_time)
            .bind(machine.project.as_str())
            .bind(&machine.group)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn select_machines(
        &self,
        project: &ProjectName,
        group: &str,
        query: &ListQuery,
    ) -> Result<Page<MachineRecord>, FleetStoreError> {
        let (limit, offset) = page_params(query);
        let mut tx = self.begin_read().await?;
        require_group(&mut tx, project, group).await?;
        let total: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM fleet_machines WHERE project = ? AND group_name = ?",
        )
        .bind(project.as_str())
        .bind(group)
        .fetch_one(&mut *tx)
        .await?;
        let rows = sqlx::query(&format!(
            "SELECT {MACHINE_COLUMNS} FROM fleet_machines WHERE project = ? AND group_name = ? \
             ORDER BY machine_key LIMIT ? OFFSET ?"
        ))
        .bind(project.as_str())
        .bind(group)
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Page {
            total: decode_count(total)?,
            items: rows
                .iter()
                .map(machine_from_row)
                .collect::<Result<_, MetaError>>()?,
        })
    }

    pub(super) async fn select_agent(
        &self,
        account: AccountId,
        instance_id: &str,
    ) -> Result<Option<AgentRecord>, FleetStoreError> {
        let row = sqlx::query(&format!(
            "SELECT {AGENT_COLUMNS} FROM fleet_agents WHERE account_id = ? AND instance_id = ?"
        ))
        .bind(account_param(account))
        .bind(instance_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(agent_from_row).transpose()?)
    }

    pub(super) async fn upsert_agent(&self, agent: &AgentRecord) -> Result<(), FleetStoreError> {
        sqlx::query(&format!(
            "INSERT OR REPLACE INTO fleet_agents ({AGENT_COLUMNS}) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(account_param(agent.account))
        .bind(&agent.instance_id)
        // The same 64 bits: sequence numbers are unsigned on the wire.
        .bind(agent.sequence_num as i64)
        .bind(&agent.ip)
        .bind(&agent.hostname)
        .bind(&agent.host_id)
        .bind(encode_json("user-defined ids", &agent.user_defined_ids)?)
        .bind(encode_json(
            "authorized accounts",
            &agent.authorized_accounts,
        )?)
        .bind(encode_json("held configs", &agent.held_configs)?)
        .bind(&agent.token_scope)
        .bind(encode_json("token ids", &agent.token_ids)?)
        .bind(agent.tokens_issued_at)
        .bind(agent.last_heartbeat_time)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(super) async fn delete_stale_fleet(&self, before: i64) -> Result<u64, FleetStoreError> {
        let mut tx = self.begin_write().await?;
        let machines = sqlx::query("DELETE FROM fleet_machines WHERE last_heartbeat_time < ?")
            .bind(before)
            .execute(&mut *tx)
            .await?;
        let agents = sqlx::query("DELETE FROM fleet_agents WHERE last_heartbeat_time < ?")
            .bind(before)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(machines.rows_affected() + agents.rows_affected())
    }
}
