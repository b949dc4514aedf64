//! Log records as Cairn stores and serves them.
//!
//! Keys and values are bytes, not strings: SLS clients may send values that are not UTF-8
//! (the Python SDK's raw mode sends `bytes`), and Cairn stores them losslessly. Rendering to
//! JSON replaces invalid sequences only at the edge, never in storage.
//!
//! They are [`Bytes`]: reference-counted slices. A decoded PutLogs body is one buffer, and
//! every key and value of its records is a slice of it, so ingesting a record costs no copy
//! and no allocation per field.

use std::borrow::Cow;

use bytes::Bytes;

/// A record's time: seconds since the Unix epoch and a nanosecond part (0..1e9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct LogTime {
    /// Whole seconds since the epoch (SLS `__time__`).
    pub seconds: u32,
    /// Nanoseconds past `seconds`, below one billion.
    pub nanos: u32,
}

impl LogTime {
    /// A time from seconds and nanoseconds; nanoseconds over a second are clamped.
    pub fn new(seconds: u32, nanos: u32) -> Self {
        Self {
            seconds,
            nanos: nanos.min(999_999_999),
        }
    }

    /// Nanoseconds since the epoch.
    pub fn as_nanos(self) -> u64 {
        u64::from(self.seconds) * 1_000_000_000 + u64::from(self.nanos)
    }
}

/// One key/value pair of a record's contents or tags.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Field {
    /// The key, as sent.
    pub key: Bytes,
    /// The value, as sent.
    pub value: Bytes,
}

impl Field {
    /// A field holding copies of `key` and `value`. Decoders that already own a buffer build
    /// `Field { key, value }` from slices of it instead, without copying.
    pub fn new(key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Self {
        Self {
            key: Bytes::copy_from_slice(key.as_ref()),
            value: Bytes::copy_from_slice(value.as_ref()),
        }
    }

    /// The key as text, with invalid UTF-8 replaced.
    pub fn key_text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.key)
    }

    /// The value as text, with invalid UTF-8 replaced.
    pub fn value_text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.value)
    }
}

/// What one PutLogs call carries: records sharing a topic, a source and tags.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogGroupData {
    /// `__topic__`; empty when not sent.
    pub topic: Bytes,
    /// `__source__`; empty when not sent (the server may fill in the client IP).
    pub source: Bytes,
    /// `__tag__:<key>` pairs.
    pub tags: Vec<Field>,
    /// The records, each with its own time and contents.
    pub logs: Vec<LogEntry>,
}

/// One record inside a [`LogGroupData`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogEntry {
    /// When the record happened.
    pub time: LogTime,
    /// Its key/value contents, in the order sent.
    pub contents: Vec<Field>,
}

/// One stored record, with its group's topic, source and tags.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogRecord {
    /// When the record happened.
    pub time: LogTime,
    /// `__topic__`.
    pub topic: Bytes,
    /// `__source__`.
    pub source: Bytes,
    /// `__tag__:<key>` pairs.
    pub tags: Vec<Field>,
    /// Key/value contents, in the order sent.
    pub contents: Vec<Field>,
}

impl LogRecord {
    /// The value a query addresses by `name`: `__topic__`, `__source__`, `__tag__:<k>`,
    /// `__time__` is not included (it is numeric, see [`LogRecord::time`]); otherwise the first
    /// content whose key is `name`.
    pub fn field(&self, name: &str) -> Option<&[u8]> {
        match name {
            "__topic__" => Some(&self.topic),
            "__source__" => Some(&self.source),
            _ => {
                if let Some(tag) = name.strip_prefix("__tag__:") {
                    return self
                        .tags
                        .iter()
                        .find(|t| t.key == tag.as_bytes())
                        .map(|t| &t.value[..]);
                }
                self.contents
                    .iter()
                    .find(|c| c.key == name.as_bytes())
                    .map(|c| &c.value[..])
            }
        }
    }

    /// The raw size of the record: the bytes of its keys and values, as SLS meters it.
    pub fn raw_size(&self) -> usize {
        let pairs = |fields: &[Field]| -> usize {
            fields.iter().map(|f| f.key.len() + f.value.len()).sum()
        };
        pairs(&self.contents) + pairs(&self.tags) + self.topic.len() + self.source.len() + 8
    }
}

impl LogGroupData {
    /// Splits the group into self-contained records.
    pub fn into_records(self) -> Vec<LogRecord> {
        let LogGroupData {
            topic,
            source,
            tags,
            logs,
        } = self;
        logs.into_iter()
            .map(|entry| LogRecord {
                time: entry.time,
                topic: topic.clone(),
                source: source.clone(),
                tags: tags.clone(),
                contents: entry.contents,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_addressed_by_name() {
        let group = LogGroupData {
            topic: Bytes::from_static(b"t"),
            source: Bytes::from_static(b"10.0.0.1"),
            tags: vec![Field::new("host", "web-1")],
            logs: vec![LogEntry {
                time: LogTime::new(1, 2),
                contents: vec![
                    Field::new("status", "200"),
                    Field::new("bin", vec![0xff, 0]),
                ],
            }],
        };
        let records = group.into_records();
        let record = &records[0];
        assert_eq!(record.field("__topic__"), Some(&b"t"[..]));
        assert_eq!(record.field("__source__"), Some(&b"10.0.0.1"[..]));
        assert_eq!(record.field("__tag__:host"), Some(&b"web-1"[..]));
        assert_eq!(record.field("status"), Some(&b"200"[..]));
        assert_eq!(record.field("bin"), Some(&[0xff, 0][..]));
        assert_eq!(record.field("missing"), None);
        assert_eq!(record.time.as_nanos(), 1_000_000_002);
    }
}
