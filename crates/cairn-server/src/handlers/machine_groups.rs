//! Machine group APIs (SLS `/machinegroups`): CreateMachineGroup, GetMachineGroup,
//! UpdateMachineGroup, DeleteMachineGroup, ListMachineGroup, ListMachines, and applying
//! configs: ApplyConfigToMachineGroup, RemoveConfigFromMachineGroup, GetAppliedConfigs.
//!
//! A group belongs to its project's owner; every call is authorised on the group's ARN
//! `acs:log:<region>:<owner>:project/<p>/machinegroup/<g>` (lists on `machinegroup/*`).
//! Beyond SLS's `groupAttribute` keys (`externalName`, `groupTopic`) Cairn keeps
//! `trustedAccounts` (account ids whose agents may join besides the owner's) and
//! `trustDirectory` (agents of accounts in the owner's resource directory may join).
//!
//! Invariants on what is stored: names follow SLS's rule (3 to 128 of `a-z 0-9 _ -`,
//! starting and ending with a letter or digit); an `ip` group lists IP addresses only; every
//! trusted account is a valid account id.

use std::net::IpAddr;

use cairn_meta::{
    GroupAttribute, ListQuery, MachineGroupRecord, MachineIdentifyType, MachineRecord,
    MachineStatus, ProjectRecord,
};
use cairn_model::{AccountId, ResourceArn};
use serde_json::{json, Map, Value};

use super::{now_seconds, Context};
use crate::error::ApiError;
use crate::response::ApiResponse;

/// The largest page the list APIs return.
const MAX_PAGE_SIZE: u64 = 500;
/// The most entries a machine list may have.
const MAX_MACHINES: usize = 10_000;
/// The longest machine list entry (an IP or a custom identifier), in bytes.
const MAX_ENTRY_BYTES: usize = 128;
/// The most trusted accounts a group may name.
const MAX_TRUSTED_ACCOUNTS: usize = 1_000;
/// A machine whose last heartbeat is older than this shows `FAIL` (agents beat every 10 s).
pub const MACHINE_STALE_SECONDS: i64 = 60;

/// Checks a group or config name: `min..=128` of `a-z 0-9 _ -`, starting and ending with a
/// letter or digit.
pub(super) fn check_name(kind: &str, name: &str, min: usize) -> Result<(), ApiError> {
    let bytes = name.as_bytes();
    let edge = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let valid = (min..=128).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-'))
        && edge(bytes.first())
        && edge(bytes.last());
    if valid {
        Ok(())
    } else {
        Err(ApiError::parameter_invalid(format!(
            "invalid {kind} name {:?}: use {min} to 128 lowercase letters, digits, _ and -, \
             starting and ending with a letter or digit",
            name.chars().take(140).collect::<String>()
        )))
    }
}

/// `acs:log:<region>:<owner>:project/<project>/<kind>/<name>`.
pub(super) fn fleet_arn(
    context: &Context<'_>,
    project: &ProjectRecord,
    kind: &str,
    name: &str,
) -> ResourceArn {
    ResourceArn {
        service: "log".to_owned(),
        region: context.state.region.clone(),
        account: project.account,
        resource: format!("project/{}/{kind}/{name}", project.name),
    }
}

/// The request's project, loaded (authorisation is on the group or config ARN).
pub(super) async fn project_of(context: &Context<'_>) -> Result<ProjectRecord, ApiError> {
    let name = context.request.project_name()?;
    Ok(context.state.meta.get_project(&name).await?)
}

/// The path's group name (the part before `/` for `{group}/{config}` paths), checked.
fn group_name(context: &Context<'_>) -> Result<String, ApiError> {
    let resource = context.resource.unwrap_or_default();
    let name = resource.split('/').next().unwrap_or_default();
    check_name("machine group", name, 3)?;
    Ok(name.to_owned())
}

/// Loads the project and authorises `action` on the path's group.
async fn authorized_group(
    context: &Context<'_>,
    action: &str,
) -> Result<(ProjectRecord, String), ApiError> {
    let name = group_name(context)?;
    let project = project_of(context).await?;
    cairn_iam::authorize(
        context.principal,
        action,
        &fleet_arn(context, &project, "machinegroup", &name),
    )?;
    Ok((project, name))
}

fn string_field<'a>(body: &'a Map<String, Value>, key: &str) -> Result<&'a str, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(""),
        Some(Value::String(text)) => Ok(text),
        Some(_) => Err(ApiError::parameter_invalid(format!(
            "{key} must be a string"
        ))),
    }
}

fn parse_attribute(value: Option<&Value>) -> Result<GroupAttribute, ApiError> {
    let object = match value {
        None | Some(Value::Null) => return Ok(GroupAttribute::default()),
        Some(Value::Object(object)) => object,
        Some(_) => {
            return Err(ApiError::parameter_invalid(
                "groupAttribute must be an object",
            ))
        }
    };
    let trusted = match object.get("trustedAccounts") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) if items.len() <= MAX_TRUSTED_ACCOUNTS => items
            .iter()
            .map(|item| match item {
                Value::String(text) => AccountId::parse(text.trim()).map_err(ApiError::from),
                Value::Number(number) => {
                    AccountId::parse(&number.to_string()).map_err(ApiError::from)
                }
                _ => Err(ApiError::parameter_invalid(
                    "trustedAccounts must hold 16-digit account ids",
                )),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => {
            return Err(ApiError::parameter_invalid(format!(
                "trustedAccounts must be a list of at most {MAX_TRUSTED_ACCOUNTS} account ids"
            )))
        }
    };
    let trust_directory = match object.get("trustDirectory") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(flag)) => *flag,
        Some(Value::String(text)) => super::parse_bool("trustDirectory", Some(text))?,
        Some(_) => {
            return Err(ApiError::parameter_invalid(
                "trustDirectory must be a boolean",
            ))
        }
    };
    let mut trusted_accounts = trusted;
    trusted_accounts.sort();
    trusted_accounts.dedup();
    Ok(GroupAttribute {
        external_name: string_field(object, "externalName")?.to_owned(),
        group_topic: string_field(object, "groupTopic")?.to_owned(),
        trusted_accounts,
        trust_directory,
    })
}

fn parse_machine_list(
    value: Option<&Value>,
    kind: MachineIdentifyType,
) -> Result<Vec<String>, ApiError> {
    let items = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) if items.len() <= MAX_MACHINES => items,
        Some(_) => {
            return Err(ApiError::parameter_invalid(format!(
                "machineList must be a list of at most {MAX_MACHINES} entries"
            )))
        }
    };
    let mut list: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let Some(entry) = item.as_str().map(str::trim) else {
            return Err(ApiError::parameter_invalid("machineList must hold strings"));
        };
        if entry.is_empty() || entry.len() > MAX_ENTRY_BYTES || entry.chars().any(char::is_control)
        {
            return Err(ApiError::parameter_invalid(format!(
                "machineList entry {entry:?} must be 1 to {MAX_ENTRY_BYTES} bytes without control characters"
            )));
        }
        if kind == MachineIdentifyType::Ip && entry.parse::<IpAddr>().is_err() {
            return Err(ApiError::parameter_invalid(format!(
                "machineList entry {entry:?} is not an IP address (machineIdentifyType is ip)"
            )));
        }
        if !list.iter().any(|known| known == entry) {
            list.push(entry.to_owned());
        }
    }
    Ok(list)
}

/// A group from a create or update body; the name in the body, if any, must be `name`.
fn parse_group(
    body: &Map<String, Value>,
    project: &ProjectRecord,
    name: &str,
    now: i64,
) -> Result<MachineGroupRecord, ApiError> {
    let sent_name = string_field(body, "groupName")?;
    if !sent_name.is_empty() && sent_name != name {
        return Err(ApiError::parameter_invalid(format!(
            "groupName {sent_name:?} in the body differs from {name:?} in the path"
        )));
    }
    let kind_text = string_field(body, "machineIdentifyType")?;
    let kind = MachineIdentifyType::parse(&kind_text.to_ascii_lowercase()).ok_or_else(|| {
        ApiError::parameter_invalid(format!(
            "machineIdentifyType must be ip or userdefined, got {kind_text:?}"
        ))
    })?;
    let group_type = string_field(body, "groupType")?;
    if group_type.len() > 64 {
        return Err(ApiError::parameter_invalid("groupType is too long"));
    }
    Ok(MachineGroupRecord {
        project: project.name.clone(),
        name: name.to_owned(),
        group_type: group_type.to_owned(),
        machine_identify_type: kind,
        machine_list: parse_machine_list(body.get("machineList"), kind)?,
        attribute: parse_attribute(body.get("groupAttribute"))?,
        created_at: now,
        last_modified_at: now,
    })
}

fn group_json(group: &MachineGroupRecord) -> Value {
    json!({
        "groupName": group.name,
        "groupType": group.group_type,
        "machineIdentifyType": group.machine_identify_type.as_str(),
        "machineList": group.machine_list,
        "groupAttribute": {
            "externalName": group.attribute.external_name,
            "groupTopic": group.attribute.group_topic,
            "trustedAccounts": group.attribute.trusted_accounts,
            "trustDirectory": group.attribute.trust_directory,
        },
        "createTime": group.created_at,
        "lastModifyTime": group.last_modified_at,
    })
}

/// A machine as ListMachines shows it: a stale heartbeat shows `FAIL`, whatever it said.
fn machine_json(machine: &MachineRecord, now: i64) -> Value {
    let silent_for = now - machine.last_heartbeat_time;
    let (status, reason) = if silent_for > MACHINE_STALE_SECONDS {
        (
            MachineStatus::Fail,
            format!("no heartbeat for {silent_for} seconds"),
        )
    } else {
        (machine.status, machine.reason.clone())
    };
    json!({
        "ip": machine.ip,
        "machine-uniqueid": machine.machine_key,
        "userdefined-id": machine.user_defined_id,
        "hostname": machine.hostname,
        "lastHeartbeatTime": machine.last_heartbeat_time,
        "heartbeatStatus": status.as_str(),
        "heartbeatReason": reason,
    })
}

pub async fn create(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let project = project_of(&context).await?;
    let body: Map<String, Value> = context.json_body()?;
    let name = string_field(&body, "groupName")?.to_owned();
    check_name("machine group", &name, 3)?;
    let arn = fleet_arn(&context, &project, "machinegroup", &name);
    cairn_iam::authorize(context.principal, "log:CreateMachineGroup", &arn)?;
    let group = parse_group(&body, &project, &name, now_seconds())?;
    context.state.meta.create_machine_group(&group).await?;
    tracing::info!(project = %project.name, group = %name,
        identify_type = group.machine_identify_type.as_str(), machines = group.machine_list.len(),
        "machine group created");
    Ok(ApiResponse::empty())
}

pub async fn get(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let (project, name) = authorized_group(&context, "log:GetMachineGroup").await?;
    let group = context
        .state
        .meta
        .get_machine_group(&project.name, &name)
        .await?;
    Ok(ApiResponse::json(&group_json(&group)))
}

pub async fn update(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let (project, name) = authorized_group(&context, "log:UpdateMachineGroup").await?;
    let body: Map<String, Value> = context.json_body()?;
    let group = parse_group(&body, &project, &name, now_seconds())?;
    context.state.meta.update_machine_group(&group).await?;
    tracing::info!(project = %project.name, group = %name, machines = group.machine_list.len(),
        "machine group updated");
    Ok(ApiResponse::empty())
}

pub async fn delete(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let (project, name) = authorized_group(&context, "log:DeleteMachineGroup").await?;
    context
        .state
        .meta
        .delete_machine_group(&project.name, &name)
        .await?;
    tracing::info!(project = %project.name, group = %name, "machine group deleted");
    Ok(ApiResponse::empty())
}

pub async fn list(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let project = project_of(&context).await?;
    let arn = fleet_arn(&context, &project, "machinegroup", "*");
    cairn_iam::authorize(context.principal, "log:ListMachineGroup", &arn)?;
    let offset = context.query_u64("offset", 0)?;
    let size = context.query_u64("size", 100)?.min(MAX_PAGE_SIZE);
    let mut query = ListQuery::page(offset, size);
    if let Some(filter) = context
        .request
        .query_param("groupName")
        .filter(|n| !n.is_empty())
    {
        query = query.with_name_containing(filter);
    }
    let page = context
        .state
        .meta
        .list_machine_groups(&project.name, &query)
        .await?;
    Ok(ApiResponse::json(&json!({
        "count": page.items.len(),
        "total": page.total,
        "machinegroups": page.items,
    })))
}

pub async fn list_machines(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let (project, name) = authorized_group(&context, "log:ListMachines").await?;
    let offset = context.query_u64("offset", 0)?;
    let size = context.query_u64("size", 100)?.min(MAX_PAGE_SIZE);
    let page = context
        .state
        .meta
        .list_machines(&project.name, &name, &ListQuery::page(offset, size))
        .await?;
    let now = now_seconds();
    let machines: Vec<Value> = page.items.iter().map(|m| machine_json(m, now)).collect();
    Ok(ApiResponse::json(&json!({
        "count": machines.len(),
        "total": page.total,
        "machines": machines,
    })))
}

/// The `{group}/{config}` of an apply/remove path, both checked.
fn group_and_config(context: &Context<'_>) -> Result<(String, String), ApiError> {
    let resource = context.resource.unwrap_or_default();
    let (group, config) = resource.split_once('/').unwrap_or((resource, ""));
    check_name("machine group", group, 3)?;
    check_name("config", config, 2)?;
    Ok((group.to_owned(), config.to_owned()))
}

pub async fn apply_config(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let (group, config) = group_and_config(&context)?;
    let project = project_of(&context).await?;
    let arn = fleet_arn(&context, &project, "machinegroup", &group);
    cairn_iam::authorize(context.principal, "log:ApplyConfigToGroup", &arn)?;
    context
        .state
        .meta
        .apply_config_to_group(&project.name, &group, &config, now_seconds())
        .await?;
    tracing::info!(project = %project.name, group = %group, config = %config, "config applied");
    Ok(ApiResponse::empty())
}

pub async fn remove_config(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let (group, config) = group_and_config(&context)?;
    let project = project_of(&context).await?;
    let arn = fleet_arn(&context, &project, "machinegroup", &group);
    cairn_iam::authorize(context.principal, "log:RemoveConfigFromGroup", &arn)?;
    context
        .state
        .meta
        .remove_config_from_group(&project.name, &group, &config)
        .await?;
    tracing::info!(project = %project.name, group = %group, config = %config, "config removed");
    Ok(ApiResponse::empty())
}

pub async fn list_applied_configs(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let (project, name) = authorized_group(&context, "log:GetAppliedConfigs").await?;
    let configs = context
        .state
        .meta
        .list_group_configs(&project.name, &name)
        .await?;
    Ok(ApiResponse::json(&json!({
        "count": configs.len(),
        "configs": configs,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_sls() {
        for good in ["web", "web-servers_2", "a1b", &"x".repeat(128)] {
            assert!(check_name("machine group", good, 3).is_ok(), "{good}");
        }
        for bad in [
            "ab",
            "Web",
            "-web",
            "web-",
            "web servers",
            "wéb",
            &"x".repeat(129),
        ] {
            assert!(check_name("machine group", bad, 3).is_err(), "{bad}");
        }
        assert!(check_name("config", "ab", 2).is_ok());
    }

    #[test]
    fn ip_groups_list_ip_addresses_and_lists_are_deduplicated() {
        let list = json!(["10.0.0.1", " 10.0.0.1 ", "::1"]);
        assert_eq!(
            parse_machine_list(Some(&list), MachineIdentifyType::Ip).expect("ok"),
            ["10.0.0.1", "::1"]
        );
        let bad = json!(["web-1"]);
        assert!(parse_machine_list(Some(&bad), MachineIdentifyType::Ip).is_err());
        assert_eq!(
            parse_machine_list(Some(&bad), MachineIdentifyType::UserDefined).expect("ok"),
            ["web-1"]
        );
        assert!(parse_machine_list(Some(&json!([""])), MachineIdentifyType::UserDefined).is_err());
        assert!(parse_machine_list(Some(&json!("x")), MachineIdentifyType::UserDefined).is_err());
    }

    #[test]
    fn attributes_carry_trust_settings() {
        let attribute = parse_attribute(Some(&json!({
            "externalName": "ext", "groupTopic": "t",
            "trustedAccounts": ["1000000000000002", 1000000000000001_u64, "1000000000000002"],
            "trustDirectory": "true",
        })))
        .expect("ok");
        assert_eq!(attribute.trusted_accounts.len(), 2);
        assert!(attribute.trust_directory);
        assert_eq!(attribute.group_topic, "t");
        assert!(parse_attribute(Some(&json!({"trustedAccounts": ["123"]}))).is_err());
        assert!(parse_attribute(Some(&json!({"trustDirectory": 3}))).is_err());
        assert_eq!(
            parse_attribute(None).expect("ok"),
            GroupAttribute::default()
        );
    }
}
