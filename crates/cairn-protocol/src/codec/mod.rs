//! Conversion between PutLogs / PullLogs protobuf bodies and Cairn's record model.
//!
//! Invariants:
//! * decoding is lossless for keys and values (bytes in, the same bytes out, UTF-8 or not);
//! * a decoded [`LogTime`] always has `nanos < 1_000_000_000` (a missing `Time_ns` is 0, a
//!   larger one is refused rather than clamped);
//! * `decode_log_group(encode_log_group(g).into()) == Ok(g)` for every valid group `g`, and
//!   likewise `decode_log_group_list(encode_log_group_list(gs).into()) == Ok(gs)`.
//!
//! The encoder always writes `Topic`, `Source` and `Time_ns` (as the SLS service and the
//! Python SDK do), so clients that read them without a presence check see `""` / `0`.

use cairn_model::{Field, LogEntry, LogGroupData, LogTime};
use prost::Message;

use crate::error::ProtocolError;
use crate::proto;

/// Decodes an (uncompressed) PutLogs body: one protobuf `LogGroup`.
///
/// Keys and values come out as slices of `body`: no field is copied. Unknown fields are
/// skipped; `Category` and `MachineUUID` are dropped. A record whose `Time_ns` is one second
/// or more is refused with [`ProtocolError::InvalidTimeNanos`].
pub fn decode_log_group(body: bytes::Bytes) -> Result<LogGroupData, ProtocolError> {
    decode::decode_log_group(&body)
}

/// [`decode_log_group`] through prost's derived decoder: the reference the direct decoder is
/// checked against (by its property test and the `decode_log_group` fuzz target). Same
/// results; the direct one is faster.
#[doc(hidden)]
pub fn decode_log_group_with_prost(body: bytes::Bytes) -> Result<LogGroupData, ProtocolError> {
    let group =
        proto::LogGroup::decode(body).map_err(|e| ProtocolError::InvalidProtobuf(e.to_string()))?;
    group_from_proto(group)
}

/// Encodes one group as a protobuf `LogGroup` (a PutLogs body).
///
/// Written straight from the model, in exactly the bytes prost writes for
/// [`proto::LogGroup`] (field order, required fields always present): the agent encodes
/// every batch it sends, and building the prost structs first cost an allocation per record
/// and a reference count per field.
pub fn encode_log_group(group: &LogGroupData) -> Vec<u8> {
    let mut buf = Vec::with_capacity(encode::group_len(group));
    encode::write_group(group, &mut buf);
    buf
}

mod decode;
mod encode;

/// Encodes groups as a protobuf `LogGroupList` (a PullLogs response body, before compression).
pub fn encode_log_group_list(groups: &[LogGroupData]) -> Vec<u8> {
    proto::LogGroupList {
        log_groups: groups.iter().map(group_to_proto).collect(),
    }
    .encode_to_vec()
}

/// Decodes an (uncompressed) PullLogs body, a protobuf `LogGroupList`, as
/// [`decode_log_group`] decodes each of its groups. Cairn's own clients and tests read
/// PullLogs answers with it.
pub fn decode_log_group_list(body: bytes::Bytes) -> Result<Vec<LogGroupData>, ProtocolError> {
    let list = proto::LogGroupList::decode(body)
        .map_err(|e| ProtocolError::InvalidProtobuf(e.to_string()))?;
    list.log_groups.into_iter().map(group_from_proto).collect()
}

/// Moves a decoded protobuf group into the model, checking each record's time.
fn group_from_proto(group: proto::LogGroup) -> Result<LogGroupData, ProtocolError> {
    let proto::LogGroup {
        logs,
        category: _,
        topic,
        source,
        machine_uuid: _,
        log_tags,
    } = group;
    let logs = logs
        .into_iter()
        .map(entry_from_proto)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(LogGroupData {
        topic: topic.unwrap_or_default(),
        source: source.unwrap_or_default(),
        tags: log_tags
            .into_iter()
            .map(|tag| Field {
                key: tag.key,
                value: tag.value,
            })
            .collect(),
        logs,
    })
}

fn entry_from_proto(log: proto::Log) -> Result<LogEntry, ProtocolError> {
    let nanos = log.time_ns.unwrap_or(0);
    if nanos >= 1_000_000_000 {
        return Err(ProtocolError::InvalidTimeNanos { nanos });
    }
    Ok(LogEntry {
        time: LogTime {
            seconds: log.time,
            nanos,
        },
        contents: log
            .contents
            .into_iter()
            .map(|content| Field {
                key: content.key,
                value: content.value,
            })
            .collect(),
    })
}

fn group_to_proto(group: &LogGroupData) -> proto::LogGroup {
    proto::LogGroup {
        logs: group
            .logs
            .iter()
            .map(|entry| proto::Log {
                time: entry.time.seconds,
                contents: entry
                    .contents
                    .iter()
                    .map(|field| proto::LogContent {
                        key: field.key.clone(),
                        value: field.value.clone(),
                    })
                    .collect(),
                time_ns: Some(entry.time.nanos),
            })
            .collect(),
        category: None,
        topic: Some(group.topic.clone()),
        source: Some(group.source.clone()),
        machine_uuid: None,
        log_tags: group
            .tags
            .iter()
            .map(|tag| proto::LogTag {
                key: tag.key.clone(),
                value: tag.value.clone(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn field(key: &str, value: Vec<u8>) -> Field {
        Field {
            key: Bytes::copy_from_slice(key.as_bytes()),
            value: Bytes::from(value),
        }
    }

    #[test]
    fn the_direct_encoder_writes_what_prost_writes() {
        let long = vec![b'x'; 300]; // two-byte length prefixes
        let groups = [
            LogGroupData::default(),
            LogGroupData {
                topic: Bytes::from_static(b"topic"),
                source: Bytes::from_static(b"10.0.0.1"),
                tags: vec![
                    field("__path__", b"/var/log/a.log".to_vec()),
                    field("", vec![]),
                ],
                logs: vec![
                    LogEntry {
                        time: LogTime::new(1_700_000_000, 999_999_999),
                        contents: vec![field("content", long.clone()), field("k", vec![0xff])],
                    },
                    LogEntry {
                        time: LogTime::new(0, 0),
                        contents: Vec::new(),
                    },
                    LogEntry {
                        time: LogTime::new(u32::MAX, 1),
                        contents: (0..200)
                            .map(|i| field(&format!("key{i}"), long.clone()))
                            .collect(),
                    },
                ],
            },
        ];
        for group in groups {
            let direct = encode_log_group(&group);
            assert_eq!(direct, group_to_proto(&group).encode_to_vec());
            assert_eq!(direct.len(), encode::group_len(&group));
        }
    }
}
