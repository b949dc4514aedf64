//! Identifiers: accounts, AccessKeys, users and the internal logstore id.

use std::fmt;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::ModelError;

/// A tenant's id: exactly 16 decimal digits, the first not zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountId(u64);

impl AccountId {
    const LOWEST: u64 = 1_000_000_000_000_000;
    const HIGHEST: u64 = 9_999_999_999_999_999;

    /// Parses a 16-digit account id.
    pub fn parse(text: &str) -> Result<Self, ModelError> {
        let invalid = || ModelError::InvalidId {
            kind: "account id",
            value: text.to_owned(),
            rule: "must be 16 decimal digits, not starting with 0",
        };
        if text.len() != 16 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        let value: u64 = text.parse().map_err(|_| invalid())?;
        if value < Self::LOWEST {
            return Err(invalid());
        }
        Ok(Self(value))
    }

    /// A fresh random account id.
    pub fn generate() -> Self {
        Self(rand::thread_rng().gen_range(Self::LOWEST..=Self::HIGHEST))
    }

    /// The id as a number, for storage.
    pub fn as_u64(self) -> u64 {
        self.0
    }

    /// Rebuilds an id from storage; fails if the number is not 16 digits.
    pub fn from_u64(value: u64) -> Result<Self, ModelError> {
        Self::parse(&value.to_string())
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl TryFrom<String> for AccountId {
    type Error = ModelError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<AccountId> for String {
    fn from(value: AccountId) -> Self {
        value.to_string()
    }
}

/// The public half of an AccessKey: `LTAI` followed by 20 alphanumerics for long-term keys,
/// `STS.` followed by alphanumerics for temporary ones.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccessKeyId(String);

impl AccessKeyId {
    /// Accepts any id of 8 to 128 characters from `[A-Za-z0-9.]`: the form every SLS client
    /// sends. The id is looked up, never interpreted, so the check only keeps junk out of logs.
    pub fn parse(text: &str) -> Result<Self, ModelError> {
        let valid = (8..=128).contains(&text.len())
            && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.');
        if !valid {
            return Err(ModelError::InvalidId {
                kind: "AccessKey id",
                value: text.chars().take(64).collect(),
                rule: "must be 8 to 128 letters, digits or dots",
            });
        }
        Ok(Self(text.to_owned()))
    }

    /// A fresh long-term AccessKey id (`LTAI` + 20 random alphanumerics).
    pub fn generate() -> Self {
        Self(format!("LTAI{}", random_alphanumeric(20)))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccessKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for AccessKeyId {
    type Error = ModelError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<AccessKeyId> for String {
    fn from(value: AccessKeyId) -> Self {
        value.0
    }
}

/// A user's name inside its account: 1 to 64 characters from `[A-Za-z0-9._@-]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserName(String);

impl UserName {
    /// Validates a user name.
    pub fn parse(text: &str) -> Result<Self, ModelError> {
        let valid = (1..=64).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-'));
        if !valid {
            return Err(ModelError::InvalidName {
                kind: "user",
                name: text.chars().take(80).collect(),
                rule: "must be 1 to 64 letters, digits or . _ @ -",
            });
        }
        Ok(Self(text.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for UserName {
    type Error = ModelError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<UserName> for String {
    fn from(value: UserName) -> Self {
        value.0
    }
}

/// The metastore's internal id of one logstore incarnation.
///
/// A logstore that is deleted and created again under the same name gets a new id, so data
/// of the old one can never surface in the new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LogstoreId(pub i64);

impl fmt::Display for LogstoreId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// `len` random characters from `[A-Za-z0-9]`, from the thread's CSPRNG.
pub fn random_alphanumeric(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_are_sixteen_digits() {
        assert!(AccountId::parse("1234567890123456").is_ok());
        assert!(AccountId::parse("0234567890123456").is_err());
        assert!(AccountId::parse("123456789012345").is_err());
        assert!(AccountId::parse("12345678901234567").is_err());
        assert!(AccountId::parse("12345678901234a6").is_err());
        for _ in 0..100 {
            let id = AccountId::generate();
            assert_eq!(AccountId::parse(&id.to_string()), Ok(id));
        }
    }

    #[test]
    fn access_key_ids_are_checked() {
        let id = AccessKeyId::generate();
        assert_eq!(id.as_str().len(), 24);
        assert!(AccessKeyId::parse(id.as_str()).is_ok());
        assert!(AccessKeyId::parse("STS.NUgYrLnoC37mZZCNnAbez2nNA").is_ok());
        assert!(AccessKeyId::parse("short").is_err());
        assert!(AccessKeyId::parse("has space in it").is_err());
    }

    #[test]
    fn user_names_are_checked() {
        assert!(UserName::parse("alice@example").is_ok());
        assert!(UserName::parse("").is_err());
        assert!(UserName::parse("a/b").is_err());
    }
}
