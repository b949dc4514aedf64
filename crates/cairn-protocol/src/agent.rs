//! The agent control protocol: the open config-server protocol v2 of LoongCollector
//! (`POST /Agent/Heartbeat`, `POST /Agent/FetchPipelineConfig`, protobuf bodies), with Cairn's
//! extensions. Messages are derived by hand with prost (there is no `protoc`), field for field
//! as in `config_server/protocol/v2/agentV2.proto` of loongcollector (proto3).
//!
//! Cairn's extensions use field numbers from 100 up, which a stock LoongCollector neither sends
//! nor reads (proto3 skips unknown fields), so a stock agent and Cairn's agent speak to the same
//! server:
//! - [`HeartbeatRequest`]: `authorized_accounts` (100, the names of the host's `users/<id>`
//!   files), `user_defined_ids` (101, the lines of `user_defined_id`), `request_write_tokens`
//!   (102, the agent holds no valid write token and asks for a fresh set);
//! - [`HeartbeatResponse`]: `write_tokens` (100, scoped temporary credentials, one entry per
//!   logstore the host may write), `memberships` (101, why the host is or is not in each
//!   machine group it matched), `write_tokens_replaced` (102, `write_tokens` is the complete new
//!   set, possibly empty: drop every token held before).
//!
//! A continuous pipeline config's [`ConfigDetail::name`] is `<account>/<project>/<config>`
//! (unique across accounts), its `detail` the pipeline config JSON (`inputs`, `processors`,
//! `aggregators`, `flushers`, `global`), its `extra` may carry `project` and `logstore`. A
//! version of [`DELETED_VERSION`] tells the agent to drop the config.
//!
//! Invariant: decoding never panics on input; a body that is not the message is
//! [`ProtocolError::InvalidProtobuf`].

use std::collections::HashMap;

use prost::Message;

use crate::ProtocolError;

/// `ConfigInfo.version` / `ConfigDetail.version` of a deleted config.
pub const DELETED_VERSION: i64 = -1;

/// Agent capability bits (`HeartbeatRequest.capabilities`).
pub mod agent_capabilities {
    /// The agent accepts continuous pipeline configs.
    pub const ACCEPTS_CONTINUOUS_PIPELINE_CONFIG: u64 = 1;
    /// The agent accepts instance configs.
    pub const ACCEPTS_INSTANCE_CONFIG: u64 = 2;
    /// The agent accepts one-time pipeline configs (commands).
    pub const ACCEPTS_ONETIME_PIPELINE_CONFIG: u64 = 4;
}

/// Server capability bits (`HeartbeatResponse.capabilities`).
pub mod server_capabilities {
    /// The server remembers agent attributes between heartbeats.
    pub const REMEMBERS_ATTRIBUTE: u64 = 1;
    /// The server remembers pipeline config status.
    pub const REMEMBERS_PIPELINE_CONFIG_STATUS: u64 = 2;
    /// The server remembers instance config status.
    pub const REMEMBERS_INSTANCE_CONFIG_STATUS: u64 = 4;
    /// The server remembers one-time pipeline config status.
    pub const REMEMBERS_ONETIME_PIPELINE_CONFIG_STATUS: u64 = 8;
}

/// `HeartbeatRequest.flags` bits.
pub mod request_flags {
    /// The request carries the agent's full state.
    pub const FULL_STATE: u64 = 1;
}

/// `HeartbeatResponse.flags` bits.
pub mod response_flags {
    /// The server lacks the agent's state: send the full state next time.
    pub const REPORT_FULL_STATE: u64 = 1;
    /// Some continuous pipeline config updates carry no detail: call FetchPipelineConfig.
    pub const FETCH_CONTINUOUS_PIPELINE_CONFIG_DETAIL: u64 = 2;
    /// Some instance config updates carry no detail: call FetchInstanceConfig.
    pub const FETCH_INSTANCE_CONFIG_DETAIL: u64 = 4;
}

/// The status of a config the agent holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, ::prost::Enumeration)]
#[repr(i32)]
pub enum ConfigStatus {
    /// Not set.
    Unset = 0,
    /// The agent is applying the config it received.
    Applying = 1,
    /// The agent applied the config.
    Applied = 2,
    /// The agent could not apply the config; `message` says why.
    Failed = 3,
}

/// A tag of the agent (`ilogtail_tags` in its config).
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct AgentGroupTag {
    /// The tag's name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// The tag's value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// What the agent says about its host.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct AgentAttributes {
    /// The agent's version.
    #[prost(bytes = "vec", tag = "1")]
    pub version: Vec<u8>,
    /// The host's IP (IP machine groups match on it).
    #[prost(bytes = "vec", tag = "2")]
    pub ip: Vec<u8>,
    /// The host's name.
    #[prost(bytes = "vec", tag = "3")]
    pub hostname: Vec<u8>,
    /// A stable id of the host (e.g. `/etc/machine-id`); Cairn keys machines by it.
    #[prost(bytes = "vec", tag = "4")]
    pub hostid: Vec<u8>,
    /// Other attributes (`osDetail`, ...).
    #[prost(map = "string, bytes", tag = "100")]
    pub extras: HashMap<String, Vec<u8>>,
}

/// A config the agent holds: its name, version and status.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct ConfigInfo {
    /// The config's name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// The version the agent holds; [`DELETED_VERSION`] once deleted.
    #[prost(int64, tag = "2")]
    pub version: i64,
    /// Whether it is applied.
    #[prost(enumeration = "ConfigStatus", tag = "3")]
    pub status: i32,
    /// Why applying it failed, if it did.
    #[prost(string, tag = "4")]
    pub message: String,
    /// Extra information.
    #[prost(map = "string, bytes", tag = "5")]
    pub extra: HashMap<String, Vec<u8>>,
}

/// `POST /Agent/Heartbeat`: the agent's periodic report, every 10 s.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct HeartbeatRequest {
    /// A random id of this request, echoed in the response.
    #[prost(bytes = "vec", tag = "1")]
    pub request_id: Vec<u8>,
    /// Increments by one after every successful heartbeat.
    #[prost(uint64, tag = "2")]
    pub sequence_num: u64,
    /// [`agent_capabilities`] bits.
    #[prost(uint64, tag = "3")]
    pub capabilities: u64,
    /// The agent process's id (`<uuid>_<ip>_<start time>`; changes on restart).
    #[prost(bytes = "vec", tag = "4")]
    pub instance_id: Vec<u8>,
    /// `LoongCollector`, or Cairn's agent.
    #[prost(string, tag = "5")]
    pub agent_type: String,
    /// The host's attributes; absent in a compressed heartbeat.
    #[prost(message, optional, tag = "6")]
    pub attributes: Option<AgentAttributes>,
    /// The agent's tags.
    #[prost(message, repeated, tag = "7")]
    pub tags: Vec<AgentGroupTag>,
    /// Human-readable running status (`running`).
    #[prost(string, tag = "8")]
    pub running_status: String,
    /// When the agent started, unix seconds.
    #[prost(int64, tag = "9")]
    pub startup_time: i64,
    /// The continuous pipeline configs the agent holds.
    #[prost(message, repeated, tag = "10")]
    pub continuous_pipeline_configs: Vec<ConfigInfo>,
    /// The instance configs the agent holds.
    #[prost(message, repeated, tag = "11")]
    pub instance_configs: Vec<ConfigInfo>,
    /// The one-time pipeline configs the agent holds.
    #[prost(message, repeated, tag = "12")]
    pub onetime_pipeline_configs: Vec<ConfigInfo>,
    /// [`request_flags`] bits.
    #[prost(uint64, tag = "13")]
    pub flags: u64,
    /// Opaque extension data.
    #[prost(bytes = "vec", tag = "14")]
    pub opaque: Vec<u8>,
    /// Cairn: the accounts this host authorises (the names of its `users/<id>` files).
    #[prost(string, repeated, tag = "100")]
    pub authorized_accounts: Vec<String>,
    /// Cairn: the host's custom identifiers (the lines of its `user_defined_id` file).
    #[prost(string, repeated, tag = "101")]
    pub user_defined_ids: Vec<String>,
    /// Cairn: the agent holds no valid write token and asks for a fresh set now.
    #[prost(bool, tag = "102")]
    pub request_write_tokens: bool,
}

/// The status of a response: 0 is success; on error every other field is empty.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct CommonResponse {
    /// 0 on success.
    #[prost(int32, tag = "1")]
    pub status: i32,
    /// What went wrong.
    #[prost(bytes = "vec", tag = "2")]
    pub error_message: Vec<u8>,
}

/// A config to (re)load, or to drop when `version` is [`DELETED_VERSION`].
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct ConfigDetail {
    /// `<account>/<project>/<config>` for Cairn's pipeline configs.
    #[prost(string, tag = "1")]
    pub name: String,
    /// The config's version.
    #[prost(int64, tag = "2")]
    pub version: i64,
    /// The pipeline config JSON; empty for a deletion.
    #[prost(bytes = "vec", tag = "3")]
    pub detail: Vec<u8>,
    /// Extra information: Cairn sets `project` and `logstore` (the flusher's target).
    #[prost(map = "string, bytes", tag = "4")]
    pub extra: HashMap<String, Vec<u8>>,
}

/// A one-time command (Cairn sends none).
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct CommandDetail {
    /// The command's name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// The command's detail.
    #[prost(bytes = "vec", tag = "2")]
    pub detail: Vec<u8>,
    /// After when the command may be skipped, unix seconds.
    #[prost(int64, tag = "3")]
    pub expire_time: i64,
    /// Extra information.
    #[prost(map = "string, bytes", tag = "4")]
    pub extra: HashMap<String, Vec<u8>>,
}

/// Cairn: temporary credentials that may write (`log:PostLogStoreLogs`) one logstore, and
/// the logstores sharing them.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct WriteToken {
    /// The logstore's project.
    #[prost(string, tag = "1")]
    pub project: String,
    /// The logstore.
    #[prost(string, tag = "2")]
    pub logstore: String,
    /// The temporary AccessKey id (`STS.`...).
    #[prost(string, tag = "3")]
    pub access_key_id: String,
    /// The secret to sign with.
    #[prost(string, tag = "4")]
    pub access_key_secret: String,
    /// Sent as `x-acs-security-token`.
    #[prost(string, tag = "5")]
    pub security_token: String,
    /// When the credentials stop working, unix seconds.
    #[prost(int64, tag = "6")]
    pub expiration: i64,
    /// The account that owns the logstore.
    #[prost(string, tag = "7")]
    pub account: String,
}

/// Cairn: whether the host is in a machine group it matched, and if not, why.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct GroupMembership {
    /// The group's account.
    #[prost(string, tag = "1")]
    pub account: String,
    /// The group's project; empty when the group's account does not trust the agent's.
    #[prost(string, tag = "2")]
    pub project: String,
    /// The group's name; empty when the group's account does not trust the agent's.
    #[prost(string, tag = "3")]
    pub group: String,
    /// Whether the host joined (heartbeat OK).
    #[prost(bool, tag = "4")]
    pub ok: bool,
    /// Why not, when `ok` is false.
    #[prost(string, tag = "5")]
    pub reason: String,
}

/// The server's answer to a heartbeat.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct HeartbeatResponse {
    /// The request's id.
    #[prost(bytes = "vec", tag = "1")]
    pub request_id: Vec<u8>,
    /// Success or the error.
    #[prost(message, optional, tag = "2")]
    pub common_response: Option<CommonResponse>,
    /// [`server_capabilities`] bits.
    #[prost(uint64, tag = "3")]
    pub capabilities: u64,
    /// Continuous pipeline configs to load, change or drop.
    #[prost(message, repeated, tag = "4")]
    pub continuous_pipeline_config_updates: Vec<ConfigDetail>,
    /// Instance configs to load, change or drop.
    #[prost(message, repeated, tag = "5")]
    pub instance_config_updates: Vec<ConfigDetail>,
    /// One-time commands.
    #[prost(message, repeated, tag = "6")]
    pub onetime_pipeline_config_updates: Vec<CommandDetail>,
    /// [`response_flags`] bits.
    #[prost(uint64, tag = "7")]
    pub flags: u64,
    /// Opaque extension data.
    #[prost(bytes = "vec", tag = "8")]
    pub opaque: Vec<u8>,
    /// Cairn: the write credentials, one entry per logstore.
    #[prost(message, repeated, tag = "100")]
    pub write_tokens: Vec<WriteToken>,
    /// Cairn: the machine groups the host matched, joined or not.
    #[prost(message, repeated, tag = "101")]
    pub memberships: Vec<GroupMembership>,
    /// Cairn: `write_tokens` is the complete new set (possibly empty); when false and
    /// `write_tokens` is empty, keep the tokens held.
    #[prost(bool, tag = "102")]
    pub write_tokens_replaced: bool,
}

/// `POST /Agent/FetchPipelineConfig` (and `FetchInstanceConfig`): details of named configs.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct FetchConfigRequest {
    /// A random id of this request.
    #[prost(bytes = "vec", tag = "1")]
    pub request_id: Vec<u8>,
    /// The agent's instance id, as in its heartbeats.
    #[prost(bytes = "vec", tag = "2")]
    pub instance_id: Vec<u8>,
    /// The continuous pipeline configs wanted (name and version).
    #[prost(message, repeated, tag = "3")]
    pub continuous_pipeline_configs: Vec<ConfigInfo>,
    /// The instance configs wanted.
    #[prost(message, repeated, tag = "4")]
    pub instance_configs: Vec<ConfigInfo>,
    /// The one-time pipeline configs wanted.
    #[prost(message, repeated, tag = "5")]
    pub onetime_pipeline_configs: Vec<ConfigInfo>,
}

/// The details asked for.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct FetchConfigResponse {
    /// The request's id.
    #[prost(bytes = "vec", tag = "1")]
    pub request_id: Vec<u8>,
    /// Success or the error.
    #[prost(message, optional, tag = "2")]
    pub common_response: Option<CommonResponse>,
    /// The continuous pipeline configs' details.
    #[prost(message, repeated, tag = "3")]
    pub continuous_pipeline_config_updates: Vec<ConfigDetail>,
    /// The instance configs' details.
    #[prost(message, repeated, tag = "4")]
    pub instance_config_updates: Vec<ConfigDetail>,
    /// One-time commands.
    #[prost(message, repeated, tag = "5")]
    pub onetime_pipeline_config_updates: Vec<CommandDetail>,
}

/// Encoding and decoding without naming prost: `to_bytes` and `from_bytes`.
macro_rules! wire_helpers {
    ($($message:ty),+ $(,)?) => {
        $(
            impl $message {
                /// The protobuf encoding of this message.
                pub fn to_bytes(&self) -> Vec<u8> {
                    self.encode_to_vec()
                }

                /// Decodes the message; unknown fields are skipped.
                pub fn from_bytes(body: &[u8]) -> Result<Self, ProtocolError> {
                    Self::decode(body).map_err(|error| ProtocolError::InvalidProtobuf(error.to_string()))
                }
            }
        )+
    };
}

wire_helpers!(
    HeartbeatRequest,
    HeartbeatResponse,
    FetchConfigRequest,
    FetchConfigResponse,
);

#[cfg(test)]
mod tests;
