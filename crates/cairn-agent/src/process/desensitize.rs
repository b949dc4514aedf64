//! `processor_desensitize_native` and `processor_desensitize`: masks sensitive content of one
//! field.
//!
//! The sensitive part is the text matching `ReplacedContentPattern` right after text matching
//! `ContentPatternBeforeReplacedString` (compiled as `(<before>)<content>`, searched anywhere,
//! RE2 syntax as in LoongCollector); the prefix is kept. It is replaced by `ReplacingString`
//! taken literally (`const`) or by the hex MD5 of the sensitive part (`md5`: upper case for the
//! native plugin, lower case for the Go one). `ReplacingAll: false` masks only the first match.
//! `Match: full` masks the whole value. Empty values are left alone.

use bytes::Bytes;
use md5::{Digest, Md5};
use regex::bytes::{Captures, Regex, RegexBuilder};

use crate::config::{ConfigError, DesensitizeConfig, DesensitizeMatch, DesensitizeMethod};

use super::event::{key_bytes, Event};

/// A compiled desensitizer.
#[derive(Debug, Clone)]
pub(crate) struct Desensitize {
    key: Bytes,
    replacement: Option<Vec<u8>>,
    regex: Option<Regex>,
    limit: usize,
    uppercase: bool,
}

impl Desensitize {
    pub(crate) fn new(config: &DesensitizeConfig, at: &str) -> Result<Self, ConfigError> {
        let regex = match &config.target {
            DesensitizeMatch::Full => None,
            DesensitizeMatch::Regex { before, content } => Some(
                RegexBuilder::new(&format!("({before}){content}"))
                    .size_limit(16 << 20)
                    .build()
                    .map_err(|e| ConfigError::Invalid {
                        at: at.to_string(),
                        key: "ReplacedContentPattern".to_string(),
                        message: format!("({before}){content} is not a valid regex: {e}"),
                    })?,
            ),
        };
        Ok(Self {
            key: key_bytes(&config.source_key),
            replacement: match &config.method {
                DesensitizeMethod::Const(s) => Some(s.as_bytes().to_vec()),
                DesensitizeMethod::Md5 => None,
            },
            regex,
            limit: if config.replacing_all { 0 } else { 1 },
            uppercase: config.md5_uppercase,
        })
    }

    fn mask(&self, sensitive: &[u8]) -> Vec<u8> {
        match &self.replacement {
            Some(r) => r.clone(),
            None => {
                let digest = Md5::digest(sensitive);
                let hex = if self.uppercase {
                    hex::encode_upper(digest)
                } else {
                    hex::encode(digest)
                };
                hex.into_bytes()
            }
        }
    }

    pub(crate) fn apply(&self, event: &mut Event) {
        let Some(field) = event.contents.iter_mut().find(|f| f.key == self.key) else {
            return;
        };
        if field.value.is_empty() {
            return;
        }
        let masked = match &self.regex {
            None => self.mask(&field.value),
            Some(regex) => {
                let replaced = regex.replacen(&field.value, self.limit, |caps: &Captures<'_>| {
                    let whole = caps.get(0).map_or(&b""[..], |m| m.as_bytes());
                    let prefix = caps.get(1).map_or(&b""[..], |m| m.as_bytes());
                    let mut out = prefix.to_vec();
                    out.extend_from_slice(&self.mask(&whole[prefix.len()..]));
                    out
                });
                replaced.into_owned()
            }
        };
        field.value = Bytes::from(masked);
    }
}
