//! The records of [`FleetStore`](crate::FleetStore): machine groups, pipeline configs, the
//! machines seen in a group, and agents' heartbeat state.
//!
//! Data only, like [`crate::records`]. Names of groups and configs are validated by the
//! server (SLS's rules); a pipeline config's detail is the JSON the server validated, kept
//! here without interpretation.

use std::collections::BTreeMap;

use cairn_model::{AccountId, ProjectName};
use serde::{Deserialize, Serialize};

/// How a machine group recognises its hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MachineIdentifyType {
    /// By the IP the agent reports.
    Ip,
    /// By one of the custom identifiers in the host's `user_defined_id` file.
    UserDefined,
}

impl MachineIdentifyType {
    /// The type as SLS spells it and as stored: `ip`, `userdefined`.
    pub fn as_str(self) -> &'static str {
        match self {
            MachineIdentifyType::Ip => "ip",
            MachineIdentifyType::UserDefined => "userdefined",
        }
    }

    /// Parses [`as_str`](Self::as_str)'s form; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "ip" => Some(MachineIdentifyType::Ip),
            "userdefined" => Some(MachineIdentifyType::UserDefined),
            _ => None,
        }
    }
}

/// A machine group's attributes: SLS's `externalName` and `groupTopic`, and Cairn's trust
/// settings. Serialised with SLS's camel-case keys.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupAttribute {
    /// An external name (free text).
    #[serde(default)]
    pub external_name: String,
    /// The topic of logs collected from this group.
    #[serde(default)]
    pub group_topic: String,
    /// Accounts (besides the group's own) whose agents may join.
    #[serde(default)]
    pub trusted_accounts: Vec<AccountId>,
    /// Whether agents of accounts in the group account's resource directory may join.
    #[serde(default)]
    pub trust_directory: bool,
}

/// A machine group as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineGroupRecord {
    /// The project the group belongs to (its owner owns the group).
    pub project: ProjectName,
    /// The group's name, unique inside the project.
    pub name: String,
    /// SLS's `groupType` (`""` or `Armory`), kept as sent.
    pub group_type: String,
    /// How hosts are recognised.
    pub machine_identify_type: MachineIdentifyType,
    /// The IPs or custom identifiers of the group's hosts, in the order sent, without
    /// duplicates.
    pub machine_list: Vec<String>,
    /// The group's attributes.
    pub attribute: GroupAttribute,
    /// When the group was created, unix seconds.
    pub created_at: i64,
    /// When the group was last changed, unix seconds.
    pub last_modified_at: i64,
}

/// A machine group a host matched, with the account that owns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CandidateGroup {
    /// The owner of the group's project.
    pub owner: AccountId,
    /// The group.
    pub group: MachineGroupRecord,
}

/// A pipeline (collection) config as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineConfigRecord {
    /// The project the config belongs to.
    pub project: ProjectName,
    /// The config's name, unique inside the project.
    pub name: String,
    /// The config JSON (`configName`, `inputs`, `processors`, `flushers`, ...).
    pub detail: serde_json::Value,
    /// 1 when created, one more on every update; a config created again after a delete
    /// continues above the highest version its name ever had.
    pub version: i64,
    /// When the config was created, unix seconds.
    pub created_at: i64,
    /// When the config was last changed, unix seconds.
    pub last_modified_at: i64,
}

/// A host's standing in a machine group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MachineStatus {
    /// The host joined the group: it receives the group's configs.
    Ok,
    /// The host matched the group but may not join; the reason says why.
    Fail,
}

impl MachineStatus {
    /// The status as SLS shows it and as stored: `OK`, `FAIL`.
    pub fn as_str(self) -> &'static str {
        match self {
            MachineStatus::Ok => "OK",
            MachineStatus::Fail => "FAIL",
        }
    }

    /// Parses [`as_str`](Self::as_str)'s form; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "OK" => Some(MachineStatus::Ok),
            "FAIL" => Some(MachineStatus::Fail),
            _ => None,
        }
    }
}

/// A host seen matching a machine group, as of its last heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineRecord {
    /// The group's project.
    pub project: ProjectName,
    /// The group.
    pub group: String,
    /// The host's identity inside the group: its host id when the agent reports one, else its
    /// IP. One row per host and group.
    pub machine_key: String,
    /// The IP the agent reported.
    pub ip: String,
    /// The hostname the agent reported.
    pub hostname: String,
    /// The host id the agent reported (may be empty).
    pub host_id: String,
    /// The custom identifier that matched a user-defined group (empty for IP groups).
    pub user_defined_id: String,
    /// The agent process's instance id.
    pub instance_id: String,
    /// The account whose credential the agent signs with.
    pub agent_account: AccountId,
    /// Joined or not.
    pub status: MachineStatus,
    /// Why not, for [`MachineStatus::Fail`]; empty otherwise.
    pub reason: String,
    /// When the heartbeat arrived, unix seconds.
    pub last_heartbeat_time: i64,
}

/// The heartbeat state of one agent process, kept between heartbeats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentRecord {
    /// The account whose credential the agent signs with.
    pub account: AccountId,
    /// The agent's instance id (changes when the agent restarts).
    pub instance_id: String,
    /// The sequence number of the last heartbeat handled.
    pub sequence_num: u64,
    /// The IP the agent last reported.
    pub ip: String,
    /// The hostname the agent last reported.
    pub hostname: String,
    /// The host id the agent last reported.
    pub host_id: String,
    /// The host's custom identifiers, as last reported.
    pub user_defined_ids: Vec<String>,
    /// The accounts the host authorises (its `users/<id>` files), as last reported.
    pub authorized_accounts: Vec<String>,
    /// The configs the agent holds after the last response: name to version.
    pub held_configs: BTreeMap<String, i64>,
    /// What the write tokens last handed out cover (the server's own encoding).
    pub token_scope: String,
    /// The temporary AccessKey ids of those tokens.
    pub token_ids: Vec<String>,
    /// When they were issued, unix seconds; `None` if none were.
    pub tokens_issued_at: Option<i64>,
    /// When the last heartbeat arrived, unix seconds.
    pub last_heartbeat_time: i64,
}
