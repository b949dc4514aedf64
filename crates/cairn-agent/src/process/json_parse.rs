//! `processor_parse_json_native`: the source value must be a JSON object; each top-level member
//! becomes a field, in document order.
//!
//! Values are rendered as LoongCollector renders them: strings as they are, `true`/`false`,
//! numbers in their shortest form, `null` as the empty string, and nested objects and arrays as
//! compact JSON text. A later duplicate member replaces an earlier one.

use std::fmt;

use bytes::Bytes;
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use crate::config::ParseJsonConfig;

use super::event::{Event, Source};
use super::DropReason;

/// A JSON object's members in document order.
struct OrderedObject(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for OrderedObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = OrderedObject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedObject, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(8).min(256));
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    members.push((k, v));
                }
                Ok(OrderedObject(members))
            }
        }
        deserializer
            .deserialize_map(ObjectVisitor)
            .map_err(de::Error::custom)
    }
}

/// The text a JSON value becomes as a field value.
pub(crate) fn value_text(value: Value) -> Bytes {
    match value {
        Value::String(s) => Bytes::from(s),
        Value::Null => Bytes::new(),
        Value::Bool(b) => Bytes::from_static(if b { b"true" } else { b"false" }),
        Value::Number(n) => Bytes::from(n.to_string()),
        nested => Bytes::from(nested.to_string()),
    }
}

/// A JSON parser.
#[derive(Debug, Clone)]
pub(crate) struct JsonParser {
    source: Source,
}

impl JsonParser {
    pub(crate) fn new(config: &ParseJsonConfig) -> Self {
        Self {
            source: Source::new(&config.source),
        }
    }

    pub(crate) fn apply(&self, event: &mut Event) -> Result<(), DropReason> {
        let Some(raw) = event.get(&self.source.key).cloned() else {
            return Ok(());
        };
        let parsed = if raw.is_empty() {
            None
        } else {
            serde_json::from_slice::<OrderedObject>(&raw).ok()
        };
        let mut overwritten = false;
        let success = match parsed {
            Some(OrderedObject(members)) => {
                for (key, value) in members {
                    overwritten |= key.as_bytes() == &self.source.key[..];
                    event.set(Bytes::from(key), value_text(value));
                }
                true
            }
            None => false,
        };
        self.source.finish(event, raw, success, overwritten)
    }
}
