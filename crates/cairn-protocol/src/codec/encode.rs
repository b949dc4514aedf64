//! The direct `LogGroup` encoder (see [`super::encode_log_group`]): the exact bytes prost
//! writes for [`crate::proto::LogGroup`], written straight from the model.

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
