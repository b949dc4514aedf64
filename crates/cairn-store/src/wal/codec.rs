//! The versioned binary encoding of one WAL record's payload.
//!
//! The layout is described in the [WAL design doc](super). In short: a version byte, a kind
//! byte, the record's WAL index, then the kind's fields; integers are little-endian, byte
//! strings are a `u32` length followed by the bytes, lists are a `u32` count followed by the
//! items.
//!
//! Invariants:
//! - `decode(encode(record)) == record`, byte for byte: keys and values are opaque bytes and
//!   round-trip whether or not they are UTF-8.
//! - Decoding never allocates more than the payload it is given: every length and count is
//!   checked against the bytes that remain before anything is allocated, so a corrupted length
//!   yields an error, never a huge allocation or a panic.
//! - The WAL index and an append's first offset sit at fixed positions, so the writer can set
//!   them after the (parallel) encoding without re-encoding.

use bytes::Bytes;
use cairn_model::{Field, LogEntry, LogGroupData, LogTime, LogstoreId};

use crate::ProducerSequence;

/// The only payload format version written and read.
pub(crate) const FORMAT_VERSION: u8 = 1;
/// The largest payload written or read: 64 MiB.
pub(crate) const MAX_PAYLOAD_BYTES: u64 = 64 * 1024 * 1024;
/// The longest producer key accepted: 4 KiB.
pub(crate) const MAX_PRODUCER_KEY_BYTES: usize = 4096;

const KIND_APPEND: u8 = 1;
const KIND_DROP_LOGSTORE: u8 = 2;
const KIND_CHECKPOINT: u8 = 3;
/// Smallest encoded checkpoint producer entry: logstore, shard, empty key, sequence id.
const MIN_PRODUCER_ENTRY_BYTES: usize = 8 + 4 + 4 + 8;
const INDEX_POSITION: usize = 2;
const FIRST_OFFSET_POSITION: usize = 18;
/// version + kind + index + logstore + first offset + shard + producer flag.
const APPEND_FIXED_BYTES: u64 = 1 + 1 + 8 + 8 + 8 + 4 + 1;
/// version + kind + index + logstore.
const DROP_FIXED_BYTES: u64 = 1 + 1 + 8 + 8;
/// The smallest encoded field: two empty byte strings.
const MIN_FIELD_BYTES: usize = 8;
/// The smallest encoded log: seconds, nanos and an empty contents list.
const MIN_LOG_BYTES: usize = 12;

/// One decoded WAL record: its position in the log and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WalRecord {
    /// The record's index: 0 for the first record ever written, then one more per record.
    pub index: u64,
    /// What the record says.
    pub entry: WalEntry,
}

/// What a WAL record says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WalEntry {
    /// One acknowledged PutLogs group.
    Append(AppendEntry),
    /// A logstore's tombstone: forget its records and producer sequence ids.
    DropLogstore {
        /// The dropped logstore.
        logstore: LogstoreId,
    },
    /// The first record of every segment the writer starts: the exactly-once table and the
    /// tombstones as they were when the previous segment ended, so that replay may begin at
    /// this segment once the segments before it are removed.
    Checkpoint(WalCheckpoint),
}

/// The state a [`WalEntry::Checkpoint`] carries forward.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct WalCheckpoint {
    /// (logstore, shard, producer key, last committed sequence id).
    pub producers: Vec<(LogstoreId, u32, String, u64)>,
    /// Logstores with a tombstone.
    pub dropped: Vec<LogstoreId>,
}

/// One acknowledged PutLogs group, with the producer sequence id committed with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AppendEntry {
    /// The logstore written.
    pub logstore: LogstoreId,
    /// The logstore-wide offset of the group's first record.
    pub first_offset: u64,
    /// The shard written.
    pub shard: u32,
    /// The producer key and sequence id committed atomically with the data, if any.
    pub producer: Option<ProducerSequence>,
    /// The records.
    pub group: LogGroupData,
}

/// Why an entry cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum EncodeError {
    /// The payload would exceed [`MAX_PAYLOAD_BYTES`].
    #[error("the record would be {bytes} bytes, above the {limit} byte limit")]
    TooLarge { bytes: u64, limit: u64 },
    /// The producer key exceeds [`MAX_PRODUCER_KEY_BYTES`].
    #[error("the producer key is {bytes} bytes long, above the {limit} byte limit")]
    ProducerKeyTooLong { bytes: usize, limit: usize },
}

/// Why a payload does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DecodeError {
    /// The payload ends inside a value.
    #[error("payload ends at byte {position} where {needed} more bytes are needed")]
    Truncated { position: usize, needed: u64 },
    /// The version byte is not one this build reads.
    #[error("unsupported payload format version {0}")]
    UnsupportedVersion(u8),
    /// The kind byte names no known record kind.
    #[error("unknown record kind {0}")]
    UnknownKind(u8),
    /// A flag byte is neither 0 nor 1.
    #[error("invalid flag byte {value} at byte {position}")]
    InvalidFlag { position: usize, value: u8 },
    /// A list count cannot fit in the bytes that remain.
    #[error("list of {count} items at byte {position} cannot fit in the payload")]
    ImpossibleCount { position: usize, count: u32 },
    /// The producer key is longer than allowed or not UTF-8.
    #[error("invalid producer key at byte {position}")]
    InvalidProducerKey { position: usize },
    /// Bytes remain after the record.
    #[error("{0} unexpected bytes after the record")]
    TrailingBytes(usize),
}

fn byte_string_len(bytes: &[u8]) -> u64 {
    4 + bytes.len() as u64
}

fn fields_len(fields: &[Field]) -> u64 {
    4 + fields
        .iter()
        .map(|field| byte_string_len(&field.key) + byte_string_len(&field.value))
        .sum::<u64>()
}

/// The exact size of an append's payload, computed before allocating it.
fn append_encoded_len(append: &AppendEntry) -> u64 {
    let producer = append
        .producer
        .as_ref()
        .map_or(0, |producer| byte_string_len(producer.key.as_bytes()) + 8);
    let group = &append.group;
    let logs: u64 = group
        .logs
        .iter()
        .map(|log| 8 + fields_len(&log.contents))
        .sum();
    APPEND_FIXED_BYTES
        + producer
        + byte_string_len(&group.topic)
        + byte_string_len(&group.source)
        + fields_len(&group.tags)
        + 4
        + logs
}

/// The exact size of the entry's payload.
#[cfg(test)]
pub(crate) fn encoded_len(entry: &WalEntry) -> u64 {
    match entry {
        WalEntry::DropLogstore { .. } => DROP_FIXED_BYTES,
        WalEntry::Append(append) => append_encoded_len(append),
        WalEntry::Checkpoint(checkpoint) => {
            encode_checkpoint(0, checkpoint).map_or(0, |payload| payload.len() as u64)
        }
    }
}

fn put_bytes(buffer: &mut Vec<u8>, bytes: &[u8]) {
    // Lengths fit: the whole payload was checked against MAX_PAYLOAD_BYTES (< 4 GiB).
    buffer.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    buffer.extend_from_slice(bytes);
}

fn put_fields(buffer: &mut Vec<u8>, fields: &[Field]) {
    buffer.extend_from_slice(&(fields.len() as u32).to_le_bytes());
    for field in fields {
        put_bytes(buffer, &field.key);
        put_bytes(buffer, &field.value);
    }
}

/// Encodes a record's payload.
#[cfg(test)]
pub(crate) fn encode(record: &WalRecord) -> Result<Vec<u8>, EncodeError> {
    match &record.entry {
        WalEntry::Append(append) => encode_append(record.index, append),
        WalEntry::DropLogstore { logstore } => Ok(encode_drop_logstore(record.index, *logstore)),
        WalEntry::Checkpoint(checkpoint) => encode_checkpoint(record.index, checkpoint),
    }
}

/// Encodes an append's payload, refusing entries over the limits before allocating.
pub(crate) fn encode_append(index: u64, append: &AppendEntry) -> Result<Vec<u8>, EncodeError> {
    if let Some(producer) = &append.producer {
        if producer.key.len() > MAX_PRODUCER_KEY_BYTES {
            return Err(EncodeError::ProducerKeyTooLong {
                bytes: producer.key.len(),
                limit: MAX_PRODUCER_KEY_BYTES,
            });
        }
    }
    let length = append_encoded_len(append);
    if length > MAX_PAYLOAD_BYTES {
        return Err(EncodeError::TooLarge {
            bytes: length,
            limit: MAX_PAYLOAD_BYTES,
        });
    }
    let mut buffer = Vec::with_capacity(length as usize);
    buffer.push(FORMAT_VERSION);
    buffer.push(KIND_APPEND);
    buffer.extend_from_slice(&index.to_le_bytes());
    buffer.extend_from_slice(&append.logstore.0.to_le_bytes());
    buffer.extend_from_slice(&append.first_offset.to_le_bytes());
    buffer.extend_from_slice(&append.shard.to_le_bytes());
    match &append.producer {
        None => buffer.push(0),
        Some(producer) => {
            buffer.push(1);
            put_bytes(&mut buffer, producer.key.as_bytes());
            buffer.extend_from_slice(&producer.sequence_id.to_le_bytes());
        }
    }
    let group = &append.group;
    put_bytes(&mut buffer, &group.topic);
    put_bytes(&mut buffer, &group.source);
    put_fields(&mut buffer, &group.tags);
    buffer.extend_from_slice(&(group.logs.len() as u32).to_le_bytes());
    for log in &group.logs {
        buffer.extend_from_slice(&log.time.seconds.to_le_bytes());
        buffer.extend_from_slice(&log.time.nanos.to_le_bytes());
        put_fields(&mut buffer, &log.contents);
    }
    debug_assert_eq!(buffer.len() as u64, length);
    Ok(buffer)
}

/// Encodes a logstore tombstone's payload.
pub(crate) fn encode_drop_logstore(index: u64, logstore: LogstoreId) -> Vec<u8> {
    let mut buffer = Vec::with_capacity(DROP_FIXED_BYTES as usize);
    buffer.push(FORMAT_VERSION);
    buffer.push(KIND_DROP_LOGSTORE);
    buffer.extend_from_slice(&index.to_le_bytes());
    buffer.extend_from_slice(&logstore.0.to_le_bytes());
    buffer
}

/// Encodes a checkpoint's payload; refuses one above the payload limit.
pub(crate) fn encode_checkpoint(
    index: u64,
    checkpoint: &WalCheckpoint,
) -> Result<Vec<u8>, EncodeError> {
    let mut buffer = Vec::new();
    buffer.push(FORMAT_VERSION);
    buffer.push(KIND_CHECKPOINT);
    buffer.extend_from_slice(&index.to_le_bytes());
    buffer.extend_from_slice(&(checkpoint.producers.len() as u32).to_le_bytes());
    for (logstore, shard, key, sequence_id) in &checkpoint.producers {
        buffer.extend_from_slice(&logstore.0.to_le_bytes());
        buffer.extend_from_slice(&shard.to_le_bytes());
        put_bytes(&mut buffer, key.as_bytes());
        buffer.extend_from_slice(&sequence_id.to_le_bytes());
    }
    buffer.extend_from_slice(&(checkpoint.dropped.len() as u32).to_le_bytes());
    for logstore in &checkpoint.dropped {
        buffer.extend_from_slice(&logstore.0.to_le_bytes());
    }
    if buffer.len() as u64 > MAX_PAYLOAD_BYTES {
        return Err(EncodeError::TooLarge {
            bytes: buffer.len() as u64,
            limit: MAX_PAYLOAD_BYTES,
        });
    }
    Ok(buffer)
}

/// Sets the WAL index of an encoded payload in place.
pub(crate) fn set_index(payload: &mut [u8], index: u64) {
    payload[INDEX_POSITION..INDEX_POSITION + 8].copy_from_slice(&index.to_le_bytes());
}

/// Sets the first offset of an encoded append payload in place (no-op for other kinds).
pub(crate) fn set_first_offset(payload: &mut [u8], first_offset: u64) {
    if payload.get(1) == Some(&KIND_APPEND) {
        payload[FIRST_OFFSET_POSITION..FIRST_OFFSET_POSITION + 8]
            .copy_from_slice(&first_offset.to_le_bytes());
    }
}

/// A bounds-checked cursor over a payload. Byte strings come out as slices of the payload
/// (no copy), so a replayed record shares the payload's one buffer.
struct PayloadReader {
    bytes: Bytes,
    position: usize,
}

impl PayloadReader {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.position
    }

    /// The range of the next `count` bytes, consumed.
    fn take(&mut self, count: usize) -> Result<std::ops::Range<usize>, DecodeError> {
        if count > self.remaining() {
            return Err(DecodeError::Truncated {
                position: self.position,
                needed: (count - self.remaining()) as u64,
            });
        }
        let range = self.position..self.position + count;
        self.position += count;
        Ok(range)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let range = self.take(N)?;
        let mut array = [0; N];
        array.copy_from_slice(&self.bytes[range]);
        Ok(array)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    fn byte_string(&mut self) -> Result<Bytes, DecodeError> {
        let length = self.u32()? as usize;
        let range = self.take(length)?;
        Ok(self.bytes.slice(range))
    }

    /// A list count, refused unless `count` items of at least `min_item_bytes` each fit.
    fn count(&mut self, min_item_bytes: usize) -> Result<usize, DecodeError> {
        let position = self.position;
        let count = self.u32()?;
        if (count as usize).saturating_mul(min_item_bytes) > self.remaining() {
            return Err(DecodeError::ImpossibleCount { position, count });
        }
        Ok(count as usize)
    }

    fn fields(&mut self) -> Result<Vec<Field>, DecodeError> {
        let count = self.count(MIN_FIELD_BYTES)?;
        let mut fields = Vec::with_capacity(count);
        for _ in 0..count {
            let key = self.byte_string()?;
            let value = self.byte_string()?;
            fields.push(Field { key, value });
        }
        Ok(fields)
    }

    fn producer(&mut self) -> Result<Option<ProducerSequence>, DecodeError> {
        let position = self.position;
        match self.u8()? {
            0 => Ok(None),
            1 => {
                let key_position = self.position;
                let key = self.byte_string()?;
                if key.len() > MAX_PRODUCER_KEY_BYTES {
                    return Err(DecodeError::InvalidProducerKey {
                        position: key_position,
                    });
                }
                let key = String::from_utf8(key.to_vec()).map_err(|_| {
                    DecodeError::InvalidProducerKey {
                        position: key_position,
                    }
                })?;
                let sequence_id = self.u64()?;
                Ok(Some(ProducerSequence { key, sequence_id }))
            }
            value => Err(DecodeError::InvalidFlag { position, value }),
        }
    }
}

/// Decodes a payload written by [`encode`]; keys and values are slices of `payload`.
pub(crate) fn decode(payload: Bytes) -> Result<WalRecord, DecodeError> {
    let mut reader = PayloadReader {
        bytes: payload,
        position: 0,
    };
    let version = reader.u8()?;
    if version != FORMAT_VERSION {
        return Err(DecodeError::UnsupportedVersion(version));
    }
    let kind = reader.u8()?;
    let index = reader.u64()?;
    let entry = match kind {
        KIND_APPEND => {
            let logstore = LogstoreId(reader.i64()?);
            let first_offset = reader.u64()?;
            let shard = reader.u32()?;
            let producer = reader.producer()?;
            let topic = reader.byte_string()?;
            let source = reader.byte_string()?;
            let tags = reader.fields()?;
            let log_count = reader.count(MIN_LOG_BYTES)?;
            let mut logs = Vec::with_capacity(log_count);
            for _ in 0..log_count {
                let seconds = reader.u32()?;
                let nanos = reader.u32()?;
                let contents = reader.fields()?;
                logs.push(LogEntry {
                    // Kept exactly as written (no clamping), so the record round-trips.
                    time: LogTime { seconds, nanos },
                    contents,
                });
            }
            WalEntry::Append(AppendEntry {
                logstore,
                first_offset,
                shard,
                producer,
                group: LogGroupData {
                    topic,
                    source,
                    tags,
                    logs,
                },
            })
        }
        KIND_DROP_LOGSTORE => WalEntry::DropLogstore {
            logstore: LogstoreId(reader.i64()?),
        },
        KIND_CHECKPOINT => {
            let producer_count = reader.count(MIN_PRODUCER_ENTRY_BYTES)?;
            let mut producers = Vec::with_capacity(producer_count);
            for _ in 0..producer_count {
                let logstore = LogstoreId(reader.i64()?);
                let shard = reader.u32()?;
                let key_position = reader.position;
                let key = reader.byte_string()?;
                let key = String::from_utf8(key.to_vec()).map_err(|_| {
                    DecodeError::InvalidProducerKey {
                        position: key_position,
                    }
                })?;
                producers.push((logstore, shard, key, reader.u64()?));
            }
            let dropped_count = reader.count(8)?;
            let mut dropped = Vec::with_capacity(dropped_count);
            for _ in 0..dropped_count {
                dropped.push(LogstoreId(reader.i64()?));
            }
            WalEntry::Checkpoint(WalCheckpoint { producers, dropped })
        }
        other => return Err(DecodeError::UnknownKind(other)),
    };
    if reader.remaining() != 0 {
        return Err(DecodeError::TrailingBytes(reader.remaining()));
    }
    Ok(WalRecord { index, entry })
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
