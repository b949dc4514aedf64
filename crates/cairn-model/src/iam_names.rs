//! Names of RAM entities other than users: roles and custom policies.
//!
//! Both follow RAM's rule: 1 to 64 characters from `[A-Za-z0-9._-]`. Names are case-sensitive
//! and unique per account (a role and a policy may share a name). A role is addressed across
//! accounts by its ARN `acs:ram::<account>:role/<name>` ([`ResourceArn::role`](crate::ResourceArn::role)).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ModelError;

const RULE: &str = "must be 1 to 64 letters, digits or . _ -";

fn check(kind: &'static str, text: &str) -> Result<(), ModelError> {
    let valid = (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(ModelError::InvalidName {
            kind,
            name: text.chars().take(80).collect(),
            rule: RULE,
        })
    }
}

/// A role's name inside its account.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RoleName(String);

impl RoleName {
    /// Validates a role name.
    pub fn parse(text: &str) -> Result<Self, ModelError> {
        check("role", text)?;
        Ok(Self(text.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A policy's name: a custom policy's name inside its account, or a system policy's name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PolicyName(String);

impl PolicyName {
    /// Validates a policy name.
    pub fn parse(text: &str) -> Result<Self, ModelError> {
        check("policy", text)?;
        Ok(Self(text.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! name_impls {
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

name_impls!(RoleName);
name_impls!(PolicyName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_and_policy_names_follow_ram_rules() {
        for good in ["a", "Auditor", "log-reader.v2", "x_y", &"a".repeat(64)] {
            assert!(RoleName::parse(good).is_ok(), "{good}");
            assert!(PolicyName::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "a b", "a/b", "a@b", "ü", &"a".repeat(65)] {
            assert!(RoleName::parse(bad).is_err(), "{bad}");
            assert!(PolicyName::parse(bad).is_err(), "{bad}");
        }
        let err = RoleName::parse("a/b").expect_err("invalid");
        assert_eq!(
            err.to_string(),
            "invalid role name \"a/b\": must be 1 to 64 letters, digits or . _ -"
        );
    }

    #[test]
    fn names_round_trip_through_serde() {
        let name: PolicyName = serde_json::from_str("\"ReadLogs\"").expect("valid");
        assert_eq!(name.as_str(), "ReadLogs");
        assert!(serde_json::from_str::<RoleName>("\"no/slash\"").is_err());
    }
}
