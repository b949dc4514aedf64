//! The direct `LogGroup` decoder: a PutLogs body parsed straight into the model.
//!
//! prost's derived decoder built a `proto::Log` per record and a `proto::LogContent` per
//! field, grew every record's vector by doubling, and then moved it all into the model; that
//! was ~6 % of the server's ingest CPU. This decoder writes the model directly: keys and
//! values are slices of the body, and a record's contents vector starts at the previous
//! record's length (records of one group mostly share their shape).
//!
//! ## Contract
//!
//! It accepts exactly the bodies prost's decoder for [`crate::proto::LogGroup`] accepts and
//! yields the same group, so [`super::decode_log_group_with_prost`] stays as its reference: a
//! property test and the `decode_log_group` fuzz target compare the two on valid and mutated
//! bodies. In particular, like prost:
//! * a repeated scalar field keeps its last value; unknown fields of any wire type are skipped,
//!   groups included, nested at most [`RECURSION_LIMIT`] deep counting the enclosing messages;
//! * a known field with the wrong wire type, a key of tag 0 or wire type 6/7, a varint longer
//!   than 10 bytes (or whose 10th byte is above 1), and anything running past its message are
//!   refused;
//! * `Time` keeps the low 32 bits of its varint, and `Time_ns` of one second or more is refused
//!   only once the whole body has decoded (a protobuf error elsewhere takes precedence).

use bytes::Bytes;
use cairn_model::{Field, LogEntry, LogGroupData, LogTime};

use crate::error::ProtocolError;

/// prost's default recursion limit: how deep messages and groups may nest.
const RECURSION_LIMIT: u32 = 100;

/// Protobuf wire types.
const VARINT: u64 = 0;
const FIXED64: u64 = 1;
const LEN: u64 = 2;
const START_GROUP: u64 = 3;
const END_GROUP: u64 = 4;
const FIXED32: u64 = 5;

/// Decodes an uncompressed PutLogs body (see the module doc).
pub(super) fn decode_log_group(body: &Bytes) -> Result<LogGroupData, ProtocolError> {
    let mut reader = Reader { body, at: 0 };
    let mut group = LogGroupData::default();
    let mut topic = None;
    let mut source = None;
    let mut too_many_nanos = None;
    let mut contents_capacity = 0;
    let depth = RECURSION_LIMIT;
    while reader.at < body.len() {
        let (tag, wire_type) = reader.key()?;
        match tag {
            1 => {
                let end = reader.message(wire_type, depth)?;
                let entry = reader.log(end, depth - 1, contents_capacity)?;
                if entry.time.nanos >= 1_000_000_000 && too_many_nanos.is_none() {
                    too_many_nanos = Some(entry.time.nanos);
                }
                contents_capacity = entry.contents.len();
                group.logs.push(entry);
            }
            2 | 5 => {
                reader.delimited(wire_type)?;
            }
            3 => topic = Some(reader.bytes(wire_type)?),
            4 => source = Some(reader.bytes(wire_type)?),
            6 => {
                let end = reader.message(wire_type, depth)?;
                group.tags.push(reader.pair(end, depth - 1)?);
            }
            _ => reader.skip(tag, wire_type, depth)?,
        }
    }
    if let Some(nanos) = too_many_nanos {
        return Err(ProtocolError::InvalidTimeNanos { nanos });
    }
    group.topic = topic.unwrap_or_default();
    group.source = source.unwrap_or_default();
    Ok(group)
}

fn invalid(what: &str) -> ProtocolError {
    ProtocolError::InvalidProtobuf(what.to_owned())
}

/// A position in the body.
struct Reader<'a> {
    body: &'a Bytes,
    at: usize,
}

impl Reader<'_> {
    fn varint(&mut self) -> Result<u64, ProtocolError> {
        let mut value = 0u64;
        for index in 0..10 {
            let byte = *self
                .body
                .get(self.at)
                .ok_or_else(|| invalid("invalid varint"))?;
            self.at += 1;
            value |= u64::from(byte & 0x7f) << (7 * index);
            if byte < 0x80 {
                return if index == 9 && byte > 1 {
                    Err(invalid("invalid varint"))
                } else {
                    Ok(value)
                };
            }
        }
        Err(invalid("invalid varint"))
    }

    /// A field key: its tag and wire type.
    fn key(&mut self) -> Result<(u32, u64), ProtocolError> {
        let key = self.varint()?;
        let key = u32::try_from(key).map_err(|_| invalid("invalid key value"))?;
        let wire_type = u64::from(key & 7);
        if wire_type > FIXED32 {
            return Err(invalid("invalid wire type value"));
        }
        let tag = key >> 3;
        if tag == 0 {
            return Err(invalid("invalid tag value: 0"));
        }
        Ok((tag, wire_type))
    }

    /// Moves past `len` bytes, which must be there.
    fn advance(&mut self, len: u64) -> Result<usize, ProtocolError> {
        let left = (self.body.len() - self.at) as u64;
        if len > left {
            return Err(invalid("buffer underflow"));
        }
        self.at += len as usize;
        Ok(self.at)
    }

    /// A length-delimited field's bytes, as a slice of the body.
    fn bytes(&mut self, wire_type: u64) -> Result<Bytes, ProtocolError> {
        let (start, end) = self.delimited(wire_type)?;
        Ok(self.body.slice(start..end))
    }

    /// A length-delimited field's range.
    fn delimited(&mut self, wire_type: u64) -> Result<(usize, usize), ProtocolError> {
        if wire_type != LEN {
            return Err(invalid("invalid wire type"));
        }
        let len = self.varint()?;
        let start = self.at;
        Ok((start, self.advance(len)?))
    }

    /// The start of an embedded message at `depth` (its fields are one level deeper);
    /// returns where it ends.
    fn message(&mut self, wire_type: u64, depth: u32) -> Result<usize, ProtocolError> {
        if wire_type != LEN {
            return Err(invalid("invalid wire type"));
        }
        if depth == 0 {
            return Err(invalid("recursion limit reached"));
        }
        let len = self.varint()?;
        let end = self
            .at
            .saturating_add(usize::try_from(len).unwrap_or(usize::MAX));
        if end > self.body.len() {
            return Err(invalid("buffer underflow"));
        }
        Ok(end)
    }

    /// Ends a message that was to end at `end`.
    fn close(&self, end: usize) -> Result<(), ProtocolError> {
        if self.at == end {
            Ok(())
        } else {
            Err(invalid("delimited length exceeded"))
        }
    }

    /// A `Log` message ending at `end`.
    fn log(
        &mut self,
        end: usize,
        depth: u32,
        contents_capacity: usize,
    ) -> Result<LogEntry, ProtocolError> {
        let mut entry = LogEntry {
            time: LogTime::default(),
            contents: Vec::with_capacity(contents_capacity),
        };
        while self.at < end {
            let (tag, wire_type) = self.key()?;
            match tag {
                1 => {
                    if wire_type != VARINT {
                        return Err(invalid("invalid wire type"));
                    }
                    entry.time.seconds = self.varint()? as u32;
                }
                2 => {
                    let content_end = self.message(wire_type, depth)?;
                    entry.contents.push(self.pair(content_end, depth - 1)?);
                }
                4 => {
                    if wire_type != FIXED32 {
                        return Err(invalid("invalid wire type"));
                    }
                    let at = self.at;
                    self.advance(4)?;
                    let mut nanos = [0u8; 4];
                    nanos.copy_from_slice(&self.body[at..at + 4]);
                    entry.time.nanos = u32::from_le_bytes(nanos);
                }
                _ => self.skip(tag, wire_type, depth)?,
            }
        }
        self.close(end)?;
        Ok(entry)
    }

    /// A `LogContent` or `LogTag` message (key = 1, value = 2) ending at `end`.
    fn pair(&mut self, end: usize, depth: u32) -> Result<Field, ProtocolError> {
        let mut field = Field::default();
        while self.at < end {
            let (tag, wire_type) = self.key()?;
            match tag {
                1 => field.key = self.bytes(wire_type)?,
                2 => field.value = self.bytes(wire_type)?,
                _ => self.skip(tag, wire_type, depth)?,
            }
        }
        self.close(end)?;
        Ok(field)
    }

    /// Skips an unknown field, as prost's `skip_field` does.
    fn skip(&mut self, tag: u32, wire_type: u64, depth: u32) -> Result<(), ProtocolError> {
        if depth == 0 {
            return Err(invalid("recursion limit reached"));
        }
        match wire_type {
            VARINT => {
                self.varint()?;
            }
            FIXED64 => {
                self.advance(8)?;
            }
            LEN => {
                let len = self.varint()?;
                self.advance(len)?;
            }
            START_GROUP => loop {
                let (inner_tag, inner_wire_type) = self.key()?;
                if inner_wire_type == END_GROUP {
                    if inner_tag != tag {
                        return Err(invalid("unexpected end group tag"));
                    }
                    break;
                }
                self.skip(inner_tag, inner_wire_type, depth - 1)?;
            },
            END_GROUP => return Err(invalid("unexpected end group tag")),
            _ => {
                self.advance(4)?;
            }
        }
        Ok(())
    }
}
