//! Raw JSON shapes shared by permission policies and trust policies: a value that may be one
//! string or a list of strings, and a `Statement` that may be one object or a list of them.
//! Both deserialise with error messages that name what was expected.

use std::fmt;

use serde::de::{self, DeserializeOwned, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `"x"` or `["x", "y"]`; serialises back as it came (one string stays one string).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StringList(pub Vec<String>, bool);

impl Serialize for StringList {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match (self.1, self.0.as_slice()) {
            (true, [single]) => serializer.serialize_str(single),
            _ => self.0.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for StringList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor;
        impl<'de> Visitor<'de> for ListVisitor {
            type Value = StringList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<StringList, E> {
                Ok(StringList(vec![value.to_owned()], true))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StringList, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<String>()? {
                    items.push(item);
                }
                Ok(StringList(items, false))
            }
        }
        deserializer.deserialize_any(ListVisitor)
    }
}

/// `{statement}` or `[{statement}, ...]`; serialises as an array. Each statement's own error
/// (an unknown field, a wrong type) is reported with its position in the list.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Statements<T>(pub Vec<T>);

impl<T: Serialize> Serialize for Statements<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Statements<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        let items = match value {
            serde_json::Value::Array(items) => items,
            object @ serde_json::Value::Object(_) => vec![object],
            other => {
                return Err(de::Error::custom(format!(
                    "Statement must be an object or an array of objects, not {other}"
                )))
            }
        };
        items
            .into_iter()
            .enumerate()
            .map(|(index, item)| {
                serde_json::from_value(item)
                    .map_err(|err| de::Error::custom(format!("statement {}: {err}", index + 1)))
            })
            .collect::<Result<Vec<T>, D::Error>>()
            .map(Statements)
    }
}
