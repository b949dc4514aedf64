//! A logstore's index config, in SLS's JSON shape.
//!
//! `line` is the full-text index (which delimiters split text into tokens, case sensitivity);
//! `keys` are field indexes, each typed `text`, `long`, `double` or `json`. Keys Cairn does not
//! use (`log_reduce`, `max_text_len`, ...) are kept in `extra` and returned as they were sent.
//! Parsing accepts any well-formed shape; [`IndexConfig::validate`] says whether it is usable.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ModelError;

/// SLS's default full-text delimiters (Go SDK `CreateDefaultIndex`).
pub const DEFAULT_TOKEN_DELIMITERS: &str = " \n\t\r,;[]{}()&^*#@~=<>/\\?:'\"";

/// A logstore's index config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct IndexConfig {
    /// The full-text index; absent means no full-text search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<FullTextIndex>,
    /// Field indexes by field name.
    #[serde(default)]
    pub keys: BTreeMap<String, FieldIndex>,
    /// Keys Cairn stores but does not interpret.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// The full-text index settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FullTextIndex {
    /// Delimiter characters, SLS sends them as a list of one-character strings.
    #[serde(default = "default_tokens")]
    pub token: Vec<String>,
    /// Whether search terms match case-sensitively.
    #[serde(default, rename = "caseSensitive")]
    pub case_sensitive: bool,
    /// Whether Chinese text is segmented (stored, not yet used).
    #[serde(default)]
    pub chn: bool,
    /// Only these keys are in the full-text index, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_keys: Option<Vec<String>>,
    /// These keys are left out of the full-text index, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_keys: Option<Vec<String>>,
}

/// The type of a field index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldIndexType {
    /// Tokenised text.
    Text,
    /// A 64-bit integer, comparable with `<`, `>`, `in [a b]`.
    Long,
    /// A double, comparable like `long`.
    Double,
    /// A JSON object whose leaves may be indexed through `json_keys`.
    Json,
}

/// One field index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldIndex {
    /// The field's type.
    #[serde(rename = "type")]
    pub field_type: FieldIndexType,
    /// Delimiters for `text` and `json` fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub token: Vec<String>,
    /// Whether terms match case-sensitively.
    #[serde(default, rename = "caseSensitive")]
    pub case_sensitive: bool,
    /// An alternative name for the field in queries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// Whether the field is kept as a column for SQL analysis.
    #[serde(default)]
    pub doc_value: bool,
    /// Whether Chinese text is segmented (stored, not yet used).
    #[serde(default)]
    pub chn: bool,
    /// Indexed leaves of a `json` field, by dotted path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_keys: Option<BTreeMap<String, FieldIndex>>,
    /// Keys Cairn stores but does not interpret (`index_all`, `max_depth`, ...).
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

fn default_tokens() -> Vec<String> {
    DEFAULT_TOKEN_DELIMITERS.chars().map(String::from).collect()
}

impl FullTextIndex {
    /// A full-text index with SLS's default delimiters, case-insensitive.
    pub fn with_default_tokens() -> Self {
        Self {
            token: default_tokens(),
            case_sensitive: false,
            chn: false,
            include_keys: None,
            exclude_keys: None,
        }
    }

    /// The delimiter characters as one set.
    pub fn delimiters(&self) -> Vec<char> {
        delimiter_chars(&self.token)
    }
}

impl FieldIndex {
    /// The delimiter characters of a text field; SLS's defaults when none are configured.
    pub fn delimiters(&self) -> Vec<char> {
        if self.token.is_empty() {
            DEFAULT_TOKEN_DELIMITERS.chars().collect()
        } else {
            delimiter_chars(&self.token)
        }
    }
}

fn delimiter_chars(tokens: &[String]) -> Vec<char> {
    let mut chars: Vec<char> = tokens.iter().flat_map(|t| t.chars()).collect();
    chars.sort_unstable();
    chars.dedup();
    chars
}

impl IndexConfig {
    /// Parses the JSON body of CreateIndex / UpdateIndex.
    pub fn from_json(body: &[u8]) -> Result<Self, ModelError> {
        serde_json::from_slice(body).map_err(|e| ModelError::InvalidIndexConfig(e.to_string()))
    }

    /// Checks that the config can be used: at least one index, field names and aliases unique
    /// and non-empty, delimiters not empty where full text is on.
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.line.is_none() && self.keys.is_empty() {
            return Err(ModelError::InvalidIndexConfig(
                "neither a full-text index (line) nor field indexes (keys) are given".to_owned(),
            ));
        }
        if let Some(line) = &self.line {
            if line.delimiters().is_empty() {
                return Err(ModelError::InvalidIndexConfig(
                    "the full-text index has no delimiters (line.token is empty)".to_owned(),
                ));
            }
        }
        let mut aliases = std::collections::BTreeSet::new();
        for (name, field) in &self.keys {
            if name.is_empty() || name.len() > 128 {
                return Err(ModelError::InvalidIndexConfig(format!(
                    "field name {name:?} must be 1 to 128 characters"
                )));
            }
            if let Some(alias) = &field.alias {
                if alias.is_empty() || self.keys.contains_key(alias) || !aliases.insert(alias) {
                    return Err(ModelError::InvalidIndexConfig(format!(
                        "alias {alias:?} of field {name:?} is empty or clashes with another field"
                    )));
                }
            }
        }
        Ok(())
    }

    /// The field index a query name refers to, by field name or alias, with the field's name.
    pub fn field(&self, name: &str) -> Option<(&str, &FieldIndex)> {
        if let Some((key, index)) = self.keys.get_key_value(name) {
            return Some((key.as_str(), index));
        }
        self.keys
            .iter()
            .find(|(_, index)| index.alias.as_deref() == Some(name))
            .map(|(key, index)| (key.as_str(), index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_sls_shape_and_keeps_unknown_keys() {
        let json = br#"{"line":{"token":[","," "],"caseSensitive":false,"chn":false},
            "keys":{"status":{"type":"long","doc_value":true},
                    "msg":{"type":"text","token":[" "],"caseSensitive":true,"alias":"m"}},
            "log_reduce":false,"max_text_len":2048}"#;
        let config = IndexConfig::from_json(json).unwrap();
        config.validate().unwrap();
        assert_eq!(config.line.as_ref().unwrap().delimiters(), vec![' ', ',']);
        assert_eq!(config.keys["status"].field_type, FieldIndexType::Long);
        assert_eq!(config.field("m").unwrap().0, "msg");
        assert_eq!(config.extra["max_text_len"], 2048);
        let back = serde_json::to_value(&config).unwrap();
        assert_eq!(back["log_reduce"], false);
        assert_eq!(back["keys"]["msg"]["alias"], "m");
    }

    #[test]
    fn rejects_unusable_configs() {
        assert!(IndexConfig::from_json(b"{}").unwrap().validate().is_err());
        assert!(IndexConfig::from_json(br#"{"keys":{"a":{"type":"nope"}}}"#).is_err());
        let clash = br#"{"keys":{"a":{"type":"text","alias":"b"},"b":{"type":"long"}}}"#;
        assert!(IndexConfig::from_json(clash).unwrap().validate().is_err());
    }
}
