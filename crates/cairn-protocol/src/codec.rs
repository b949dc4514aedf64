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
    let mut buf = Vec::with_capacity(direct::group_len(group));
    direct::write_group(group, &mut buf);
    buf
}

/// The direct `LogGroup` encoder (see [`encode_log_group`]).
mod direct {
    use cairn_model::{Field, LogEntry, LogGroupData};
    use prost::encoding::{encode_varint, encoded_len_varint};

    /// Wire types.
    const VARINT: u8 = 0;
    const LEN: u8 = 2;
    const FIXED32: u8 = 5;

    /// The key byte of field `tag` (all tags here are below 16: one byte).
    const fn key(tag: u8, wire_type: u8) -> u8 {
        (tag << 3) | wire_type
    }

    /// A length-delimited field of `len` bytes, key included.
    fn len_field(len: usize) -> usize {
        1 + encoded_len_varint(len as u64) + len
    }

    fn field_len(field: &Field) -> usize {
        len_field(field.key.len()) + len_field(field.value.len())
    }

    fn log_len(entry: &LogEntry) -> usize {
        let contents: usize = entry.contents.iter().map(|f| len_field(field_len(f))).sum();
        1 + encoded_len_varint(u64::from(entry.time.seconds)) + contents + 1 + 4
    }

    pub(super) fn group_len(group: &LogGroupData) -> usize {
        let logs: usize = group.logs.iter().map(|e| len_field(log_len(e))).sum();
        let tags: usize = group.tags.iter().map(|t| len_field(field_len(t))).sum();
        logs + len_field(group.topic.len()) + len_field(group.source.len()) + tags
    }

    fn write_bytes(tag: u8, bytes: &[u8], buf: &mut Vec<u8>) {
        buf.push(key(tag, LEN));
        encode_varint(bytes.len() as u64, buf);
        buf.extend_from_slice(bytes);
    }

    /// A `LogContent` or `LogTag` (key = 1, value = 2) as field `tag` of its parent.
    fn write_pair(tag: u8, field: &Field, buf: &mut Vec<u8>) {
        buf.push(key(tag, LEN));
        encode_varint(field_len(field) as u64, buf);
        write_bytes(1, &field.key, buf);
        write_bytes(2, &field.value, buf);
    }

    pub(super) fn write_group(group: &LogGroupData, buf: &mut Vec<u8>) {
        for entry in &group.logs {
            buf.push(key(1, LEN));
            encode_varint(log_len(entry) as u64, buf);
            buf.push(key(1, VARINT));
            encode_varint(u64::from(entry.time.seconds), buf);
            for field in &entry.contents {
                write_pair(2, field, buf);
            }
            buf.push(key(4, FIXED32));
            buf.extend_from_slice(&entry.time.nanos.to_le_bytes());
        }
        write_bytes(3, &group.topic, buf);
        write_bytes(4, &group.source, buf);
        for tag in &group.tags {
            write_pair(6, tag, buf);
        }
    }
}

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
            assert_eq!(direct.len(), direct::group_len(&group));
        }
    }
}
