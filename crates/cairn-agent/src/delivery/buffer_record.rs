//! The disk buffer's record format.
//!
//! ```text
//! frame   := len: u32 LE (of payload) | crc: u32 LE (CRC-32C of payload) | payload
//! payload := version: u8 = 1
//!            created_unix_ms: u64 | sequence: u64 | start_offset: u64 | end_offset: u64
//!            records: u32 | raw_size: u32 (protobuf bytes before compression)
//!            device: u64 | inode: u64 | fingerprint: u64
//!            config | project | logstore | producer_key     (each: len u16 LE | UTF-8 bytes)
//!            body: the rest — the LogGroup protobuf as one raw LZ4 block
//! ```
//! All integers little-endian. Decoding never trusts a length: every read is bounds-checked
//! and the body's declared size is capped, so a corrupt record is an error, not a panic.

use bytes::Bytes;
use cairn_model::LogGroupData;
use cairn_protocol::compression::{compress, decompress, CompressionType};

use super::sink::WriteTarget;
use crate::source::FileKey;

/// Bytes before the payload in a frame.
pub(crate) const FRAME_HEADER: usize = 8;
const VERSION: u8 = 1;
/// The largest payload accepted when reading (a LogGroup is at most 10 MB; keep slack).
pub(crate) const MAX_PAYLOAD: usize = 64 * 1024 * 1024;

/// One batch held by the disk buffer.
#[derive(Debug, Clone, PartialEq)]
pub struct BufferedBatch {
    /// Where it goes.
    pub target: WriteTarget,
    /// Its producer key.
    pub producer_key: String,
    /// Its sequence id under that key.
    pub sequence: u64,
    /// The file it was read from.
    pub file: FileKey,
    /// The file offsets it covers.
    pub start_offset: u64,
    /// See `start_offset`.
    pub end_offset: u64,
    /// When it entered the buffer (ms since the epoch).
    pub created_unix_ms: u64,
    /// The records to send.
    pub group: LogGroupData,
}

/// What the buffer keeps in memory about a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecordMeta {
    pub created_unix_ms: u64,
    pub records: u64,
    pub raw_bytes: u64,
    pub producer_key: String,
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    // Names are far below 64 KiB; longer text is cut rather than corrupting the frame.
    let bytes = &text.as_bytes()[..text.len().min(u16::MAX as usize)];
    out.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Encodes a batch as a complete frame (header and payload); also returns the size of the
/// uncompressed protobuf.
pub(crate) fn encode_frame(batch: &BufferedBatch) -> (Vec<u8>, u64) {
    let raw = cairn_protocol::encode_log_group(&batch.group);
    let body = compress(CompressionType::Lz4, &raw);
    let mut payload = Vec::with_capacity(body.len() + 128);
    payload.push(VERSION);
    for value in [
        batch.created_unix_ms,
        batch.sequence,
        batch.start_offset,
        batch.end_offset,
    ] {
        payload.extend_from_slice(&value.to_le_bytes());
    }
    let records = u32::try_from(batch.group.logs.len()).unwrap_or(u32::MAX);
    payload.extend_from_slice(&records.to_le_bytes());
    payload.extend_from_slice(&u32::try_from(raw.len()).unwrap_or(u32::MAX).to_le_bytes());
    for value in [batch.file.device, batch.file.inode, batch.file.fingerprint] {
        payload.extend_from_slice(&value.to_le_bytes());
    }
    for text in [
        &batch.file.config,
        &batch.target.project,
        &batch.target.logstore,
        &batch.producer_key,
    ] {
        put_str(&mut payload, text);
    }
    payload.extend_from_slice(&body);
    let mut frame = Vec::with_capacity(FRAME_HEADER + payload.len());
    frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    frame.extend_from_slice(&crc32c::crc32c(&payload).to_le_bytes());
    frame.extend_from_slice(&payload);
    (frame, raw.len() as u64)
}

/// Splits a frame header into (payload length, checksum).
pub(crate) fn parse_header(header: [u8; FRAME_HEADER]) -> (usize, u32) {
    let [a, b, c, d, e, f, g, h] = header;
    (
        u32::from_le_bytes([a, b, c, d]) as usize,
        u32::from_le_bytes([e, f, g, h]),
    )
}

/// Whether `payload` has checksum `crc`.
pub(crate) fn checksum_ok(payload: &[u8], crc: u32) -> bool {
    crc32c::crc32c(payload) == crc
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.data.len());
        let end = end.ok_or_else(|| format!("record ends early at byte {}", self.pos))?;
        let slice = &self.data[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn u64(&mut self) -> Result<u64, String> {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(bytes))
    }

    fn u32(&mut self) -> Result<u32, String> {
        let mut bytes = [0u8; 4];
        bytes.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(bytes))
    }

    fn string(&mut self) -> Result<String, String> {
        let mut len = [0u8; 2];
        len.copy_from_slice(self.take(2)?);
        let bytes = self.take(u16::from_le_bytes(len) as usize)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| "a name is not UTF-8".to_owned())
    }
}

struct Parsed<'a> {
    batch: BufferedBatch,
    records: u32,
    raw_size: u32,
    body: &'a [u8],
}

fn parse(payload: &[u8]) -> Result<Parsed<'_>, String> {
    let mut cursor = Cursor {
        data: payload,
        pos: 0,
    };
    let version = cursor.take(1)?[0];
    if version != VERSION {
        return Err(format!("unknown record version {version}"));
    }
    let created_unix_ms = cursor.u64()?;
    let sequence = cursor.u64()?;
    let start_offset = cursor.u64()?;
    let end_offset = cursor.u64()?;
    let records = cursor.u32()?;
    let raw_size = cursor.u32()?;
    let (device, inode, fingerprint) = (cursor.u64()?, cursor.u64()?, cursor.u64()?);
    let config = cursor.string()?;
    let project = cursor.string()?;
    let logstore = cursor.string()?;
    let producer_key = cursor.string()?;
    let body = &payload[cursor.pos..];
    Ok(Parsed {
        batch: BufferedBatch {
            target: WriteTarget { project, logstore },
            producer_key,
            sequence,
            file: FileKey {
                config,
                device,
                inode,
                fingerprint,
            },
            start_offset,
            end_offset,
            created_unix_ms,
            group: LogGroupData::default(),
        },
        records,
        raw_size,
        body,
    })
}

/// The in-memory summary of a payload.
pub(crate) fn decode_meta(payload: &[u8]) -> Result<RecordMeta, String> {
    let parsed = parse(payload)?;
    Ok(RecordMeta {
        created_unix_ms: parsed.batch.created_unix_ms,
        records: u64::from(parsed.records),
        raw_bytes: u64::from(parsed.raw_size),
        producer_key: parsed.batch.producer_key,
    })
}

/// The whole batch of a payload.
pub(crate) fn decode_batch(payload: &[u8]) -> Result<BufferedBatch, String> {
    let parsed = parse(payload)?;
    let raw = decompress(
        CompressionType::Lz4,
        parsed.body,
        Some(parsed.raw_size as usize),
        MAX_PAYLOAD,
    )
    .map_err(|e| e.to_string())?;
    let group = cairn_protocol::decode_log_group(Bytes::from(raw)).map_err(|e| e.to_string())?;
    Ok(BufferedBatch {
        group,
        ..parsed.batch
    })
}

#[cfg(test)]
mod tests {
    use cairn_model::{Field, LogEntry, LogTime};

    use super::*;

    #[test]
    fn frames_round_trip_and_corruption_is_an_error() {
        let batch = BufferedBatch {
            target: WriteTarget {
                project: "p".into(),
                logstore: "l".into(),
            },
            producer_key: "h:c:1:2:abc".into(),
            sequence: 7,
            file: FileKey {
                config: "c".into(),
                device: 1,
                inode: 2,
                fingerprint: 3,
            },
            start_offset: 10,
            end_offset: 20,
            created_unix_ms: 99,
            group: LogGroupData {
                topic: Bytes::from_static(b"t"),
                logs: vec![LogEntry {
                    time: LogTime::new(5, 0),
                    contents: vec![Field::new("content", "hello")],
                }],
                ..LogGroupData::default()
            },
        };
        let (frame, _) = encode_frame(&batch);
        let mut header = [0u8; FRAME_HEADER];
        header.copy_from_slice(&frame[..FRAME_HEADER]);
        let (len, crc) = parse_header(header);
        let payload = &frame[FRAME_HEADER..];
        assert_eq!(len, payload.len());
        assert!(checksum_ok(payload, crc));
        assert_eq!(decode_batch(payload), Ok(batch));
        assert_eq!(decode_meta(payload).map(|m| m.records), Ok(1));
        assert!(decode_batch(&payload[..20]).is_err());
        assert!(decode_batch(&payload[..payload.len() - 2]).is_err());
    }
}
