//! The SLS PutLogs / PullLogs protobuf messages (proto2), derived by hand with prost.
//!
//! These mirror `log.proto` of the public SDKs field for field. Every `string` of the original
//! proto is typed `bytes` here: the wire encoding is identical, and it lets Cairn accept
//! non-UTF-8 keys and values losslessly (the Python SDK's raw mode sends them).
//!
//! Fields this crate does not know (such as the agent's `Log.values`, field 3) are skipped by
//! prost while decoding. Required fields that are missing decode as empty / zero: Cairn is
//! lenient on input, strict only where it matters (see [`crate::decode_log_group`]).

/// One key/value pair of a record (`Log.Content` in the Python SDK).
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct LogContent {
    /// The key (proto2 `required string Key = 1`).
    #[prost(bytes = "bytes", required, tag = "1")]
    pub key: ::bytes::Bytes,
    /// The value (proto2 `required string Value = 2`).
    #[prost(bytes = "bytes", required, tag = "2")]
    pub value: ::bytes::Bytes,
}

/// One record.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct Log {
    /// Unix seconds (`required uint32 Time = 1`).
    #[prost(uint32, required, tag = "1")]
    pub time: u32,
    /// The record's key/value pairs, in order (`repeated LogContent Contents = 2`).
    #[prost(message, repeated, tag = "2")]
    pub contents: Vec<LogContent>,
    /// Nanoseconds past `time`, 0..1e9 (`optional fixed32 Time_ns = 4`).
    #[prost(fixed32, optional, tag = "4")]
    pub time_ns: Option<u32>,
}

/// One tag of a group, surfaced as `__tag__:<key>`.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct LogTag {
    /// The tag key (`required string Key = 1`).
    #[prost(bytes = "bytes", required, tag = "1")]
    pub key: ::bytes::Bytes,
    /// The tag value (`required string Value = 2`).
    #[prost(bytes = "bytes", required, tag = "2")]
    pub value: ::bytes::Bytes,
}

/// The body of one PutLogs call: records sharing a topic, a source and tags.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct LogGroup {
    /// The records (`repeated Log Logs = 1`).
    #[prost(message, repeated, tag = "1")]
    pub logs: Vec<Log>,
    /// Internal field, "do not fill" (`optional string Category = 2`; Python calls it
    /// `Reserved`). Decoded but ignored by Cairn.
    #[prost(bytes = "bytes", optional, tag = "2")]
    pub category: Option<::bytes::Bytes>,
    /// `__topic__` (`optional string Topic = 3`).
    #[prost(bytes = "bytes", optional, tag = "3")]
    pub topic: Option<::bytes::Bytes>,
    /// `__source__` (`optional string Source = 4`).
    #[prost(bytes = "bytes", optional, tag = "4")]
    pub source: Option<::bytes::Bytes>,
    /// The sending machine (`optional string MachineUUID = 5`). Decoded but ignored by Cairn.
    #[prost(bytes = "bytes", optional, tag = "5")]
    pub machine_uuid: Option<::bytes::Bytes>,
    /// The group's tags (`repeated LogTag LogTags = 6`).
    #[prost(message, repeated, tag = "6")]
    pub log_tags: Vec<LogTag>,
}

/// Several groups: the body of a PullLogs response (`repeated LogGroup LogGroups = 1`).
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct LogGroupList {
    /// The groups, in order.
    #[prost(message, repeated, tag = "1")]
    pub log_groups: Vec<LogGroup>,
}
