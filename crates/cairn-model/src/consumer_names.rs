//! Names in consumer groups: the group's name (SLS's naming rule) and a consumer's name.
//!
//! Invariants: a [`ConsumerGroupName`] is 2 to 128 lowercase letters, digits, hyphens or
//! underscores, starting and ending with a letter or digit; a [`ConsumerName`] is 1 to 256
//! bytes of UTF-8 without control characters. SLS's consumer libraries name consumers freely
//! (`<group>-<pid>`, host names, UUIDs), so the consumer rule only keeps names printable and
//! bounded.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ModelError;

/// The longest consumer group name (SLS: 128).
const MAX_GROUP_NAME_LEN: usize = 128;
/// The longest consumer name, in bytes.
const MAX_CONSUMER_NAME_LEN: usize = 256;

/// A consumer group's name, unique inside its logstore.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ConsumerGroupName(String);

impl ConsumerGroupName {
    /// Validates a consumer group name.
    pub fn parse(text: &str) -> Result<Self, ModelError> {
        let bytes = text.as_bytes();
        let edge_ok = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        let valid = (2..=MAX_GROUP_NAME_LEN).contains(&bytes.len())
            && bytes
                .iter()
                .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            && bytes.first().is_some_and(edge_ok)
            && bytes.last().is_some_and(edge_ok);
        if !valid {
            return Err(ModelError::InvalidName {
                kind: "consumer group",
                name: text.chars().take(80).collect(),
                rule: "must be 2 to 128 lowercase letters, digits, hyphens or underscores, \
                       starting and ending with a letter or digit",
            });
        }
        Ok(Self(text.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The name a consumer of a consumer group identifies itself with in heartbeats and
/// checkpoints.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ConsumerName(String);

impl ConsumerName {
    /// Validates a consumer name.
    pub fn parse(text: &str) -> Result<Self, ModelError> {
        let valid = !text.is_empty()
            && text.len() <= MAX_CONSUMER_NAME_LEN
            && !text.chars().any(char::is_control);
        if !valid {
            return Err(ModelError::InvalidName {
                kind: "consumer",
                name: text.chars().take(80).collect(),
                rule: "must be 1 to 256 bytes without control characters",
            });
        }
        Ok(Self(text.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! consumer_name_impls {
    ($name:ident) => {
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl TryFrom<String> for $name {
            type Error = ModelError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }
        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }
    };
}

consumer_name_impls!(ConsumerGroupName);
consumer_name_impls!(ConsumerName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumer_group_names_follow_sls_rules() {
        for good in ["ab", "etl-reader", "group_1", &"a".repeat(128)] {
            assert!(ConsumerGroupName::parse(good).is_ok(), "{good}");
        }
        for bad in ["a", "Ab", "-ab", "ab_", "a.b", "", &"a".repeat(129)] {
            assert!(ConsumerGroupName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn consumer_names_are_printable_and_bounded() {
        for good in ["c", "reader-4711", "host.example.com:1", "Verbraucher ü"] {
            assert!(ConsumerName::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "tab\there", "line\n", &"x".repeat(257)] {
            assert!(ConsumerName::parse(bad).is_err(), "{bad:?}");
        }
    }
}
