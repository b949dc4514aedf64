//! Project and logstore names, with SLS's naming rules.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ModelError;

/// A project name: 3 to 63 characters of lowercase letters, digits and hyphens, starting and
/// ending with a letter or digit. Project names are unique across the whole server, because
/// clients address a project by the first label of the Host header.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProjectName(String);

impl ProjectName {
    /// Validates a project name.
    pub fn parse(text: &str) -> Result<Self, ModelError> {
        check_name(
            "project",
            text,
            |b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-',
            "must be 3 to 63 lowercase letters, digits or hyphens, starting and ending with a letter or digit",
        )?;
        Ok(Self(text.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A logstore name: 3 to 63 characters of lowercase letters, digits, hyphens and underscores,
/// starting and ending with a letter or digit; unique inside its project.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LogstoreName(String);

impl LogstoreName {
    /// Validates a logstore name.
    pub fn parse(text: &str) -> Result<Self, ModelError> {
        check_name(
            "logstore",
            text,
            |b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_',
            "must be 3 to 63 lowercase letters, digits, hyphens or underscores, starting and ending with a letter or digit",
        )?;
        Ok(Self(text.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn check_name(
    kind: &'static str,
    text: &str,
    allowed: impl Fn(u8) -> bool,
    rule: &'static str,
) -> Result<(), ModelError> {
    let bytes = text.as_bytes();
    let edge_ok = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let valid = (3..=63).contains(&bytes.len())
        && bytes.iter().all(|&b| allowed(b))
        && bytes.first().is_some_and(edge_ok)
        && bytes.last().is_some_and(edge_ok);
    if valid {
        Ok(())
    } else {
        Err(ModelError::InvalidName {
            kind,
            name: text.chars().take(80).collect(),
            rule,
        })
    }
}

macro_rules! string_name_impls {
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

string_name_impls!(ProjectName);
string_name_impls!(LogstoreName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_follow_sls_rules() {
        for good in ["abc", "my-project-1", "a1b", &"a".repeat(63)] {
            assert!(ProjectName::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "ab",
            "Abc",
            "-abc",
            "abc-",
            "a_bc",
            "a.bc",
            "",
            &"a".repeat(64),
        ] {
            assert!(ProjectName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn logstore_names_allow_underscores_inside() {
        assert!(LogstoreName::parse("access_log").is_ok());
        assert!(LogstoreName::parse("_access").is_err());
        assert!(LogstoreName::parse("access_").is_err());
        assert!(LogstoreName::parse("Access").is_err());
    }
}
