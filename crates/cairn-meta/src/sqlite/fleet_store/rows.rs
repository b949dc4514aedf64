//! Encoding and decoding of fleet rows: names re-validated, enums and JSON checked, anything
//! off is [`MetaError::Corrupt`], never trusted.

use std::collections::BTreeMap;

use cairn_model::ProjectName;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use super::super::{decode_account, decode_json, decode_text};
use crate::{
    AgentRecord, MachineGroupRecord, MachineIdentifyType, MachineRecord, MachineStatus, MetaError,
    PipelineConfigRecord,
};

/// The columns of `machine_groups`.
pub(super) const GROUP_COLUMNS: &str = "project, name, group_type, machine_identify_type, \
     machine_list, group_attribute, created_at, last_modified_at";

/// The columns of `pipeline_configs`.
pub(super) const CONFIG_COLUMNS: &str =
    "project, name, detail, version, created_at, last_modified_at";

/// The columns of `fleet_machines`, in insertion order.
pub(super) const MACHINE_COLUMNS: &str = "project, group_name, machine_key, ip, hostname, \
     host_id, user_defined_id, instance_id, agent_account, status, reason, last_heartbeat_time";

/// The columns of `fleet_agents`, in insertion order.
pub(super) const AGENT_COLUMNS: &str = "account_id, instance_id, sequence_num, ip, hostname, \
     host_id, user_defined_ids, authorized_accounts, held_configs, token_scope, token_ids, \
     tokens_issued_at, last_heartbeat_time";

/// A value as JSON text for a JSON column.
pub(super) fn encode_json<T: serde::Serialize + ?Sized>(
    what: &str,
    value: &T,
) -> Result<String, MetaError> {
    serde_json::to_string(value)
        .map_err(|err| MetaError::Corrupt(format!("{what} cannot be encoded: {err}")))
}

/// A machine list without duplicates, in the order given.
pub(super) fn distinct(list: &[String]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    list.iter()
        .filter(|entry| seen.insert(entry.as_str()))
        .cloned()
        .collect()
}

pub(super) fn project_of(row: &SqliteRow) -> Result<ProjectName, MetaError> {
    decode_text(row.try_get("project")?, ProjectName::parse)
}

pub(super) fn group_from_row(row: &SqliteRow) -> Result<MachineGroupRecord, MetaError> {
    let identify: String = row.try_get("machine_identify_type")?;
    let list: String = row.try_get("machine_list")?;
    let attribute: String = row.try_get("group_attribute")?;
    Ok(MachineGroupRecord {
        project: project_of(row)?,
        name: row.try_get("name")?,
        group_type: row.try_get("group_type")?,
        machine_identify_type: MachineIdentifyType::parse(&identify).ok_or_else(|| {
            MetaError::Corrupt(format!("stored machine identify type {identify:?}"))
        })?,
        machine_list: decode_json("machine list", &list)?,
        attribute: decode_json("group attribute", &attribute)?,
        created_at: row.try_get("created_at")?,
        last_modified_at: row.try_get("last_modified_at")?,
    })
}

pub(super) fn config_from_row(row: &SqliteRow) -> Result<PipelineConfigRecord, MetaError> {
    let detail: String = row.try_get("detail")?;
    Ok(PipelineConfigRecord {
        project: project_of(row)?,
        name: row.try_get("name")?,
        detail: decode_json("pipeline config", &detail)?,
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
        last_modified_at: row.try_get("last_modified_at")?,
    })
}

pub(super) fn machine_from_row(row: &SqliteRow) -> Result<MachineRecord, MetaError> {
    let status: String = row.try_get("status")?;
    Ok(MachineRecord {
        project: project_of(row)?,
        group: row.try_get("group_name")?,
        machine_key: row.try_get("machine_key")?,
        ip: row.try_get("ip")?,
        hostname: row.try_get("hostname")?,
        host_id: row.try_get("host_id")?,
        user_defined_id: row.try_get("user_defined_id")?,
        instance_id: row.try_get("instance_id")?,
        agent_account: decode_account(row.try_get("agent_account")?)?,
        status: MachineStatus::parse(&status)
            .ok_or_else(|| MetaError::Corrupt(format!("stored machine status {status:?}")))?,
        reason: row.try_get("reason")?,
        last_heartbeat_time: row.try_get("last_heartbeat_time")?,
    })
}

pub(super) fn agent_from_row(row: &SqliteRow) -> Result<AgentRecord, MetaError> {
    let json = |column: &str| -> Result<String, MetaError> { Ok(row.try_get(column)?) };
    let held: BTreeMap<String, i64> = decode_json("held configs", &json("held_configs")?)?;
    let sequence: i64 = row.try_get("sequence_num")?;
    Ok(AgentRecord {
        account: decode_account(row.try_get("account_id")?)?,
        instance_id: row.try_get("instance_id")?,
        // Stored as the same 64 bits: sequence numbers are unsigned on the wire.
        sequence_num: sequence as u64,
        ip: row.try_get("ip")?,
        hostname: row.try_get("hostname")?,
        host_id: row.try_get("host_id")?,
        user_defined_ids: decode_json("user-defined ids", &json("user_defined_ids")?)?,
        authorized_accounts: decode_json("authorized accounts", &json("authorized_accounts")?)?,
        held_configs: held,
        token_scope: row.try_get("token_scope")?,
        token_ids: decode_json("token ids", &json("token_ids")?)?,
        tokens_issued_at: row.try_get("tokens_issued_at")?,
        last_heartbeat_time: row.try_get("last_heartbeat_time")?,
    })
}
