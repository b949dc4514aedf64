//! `processor_parse_regex_native`: the whole source value must match `Regex`; capture group
//! `i` becomes `Keys[i]`.
//!
//! As in LoongCollector (boost, perl syntax) `.` also matches a newline, so a multiline record
//! parses as one text. A group that did not take part in the match yields an empty value.
//! Values are slices of the record's text: parsing copies no bytes.
//!
//! Invariant: the regex has at least as many capture groups as there are keys (checked when
//! the processor is built, where LoongCollector would fail every record instead).

use bytes::Bytes;
use regex::bytes::{Regex, RegexBuilder};

use crate::config::{ConfigError, ParseRegexConfig};

use super::event::{key_bytes, Event, Source};
use super::DropReason;

/// A compiled regex parser.
#[derive(Debug, Clone)]
pub(crate) struct RegexParser {
    source: Source,
    regex: Regex,
    keys: Vec<Bytes>,
    source_overwritten: bool,
}

impl RegexParser {
    pub(crate) fn new(config: &ParseRegexConfig, at: &str) -> Result<Self, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            at: at.to_string(),
            key: "Regex".to_string(),
            message,
        };
        let regex = RegexBuilder::new(&format!(r"\A(?:{})\z", config.regex))
            .dot_matches_new_line(true)
            .size_limit(16 << 20)
            .build()
            .map_err(|e| invalid(format!("{:?} is not a valid regex: {e}", config.regex)))?;
        let groups = regex.captures_len() - 1;
        if groups < config.keys.len() {
            return Err(invalid(format!(
                "{:?} has {groups} capture groups but Keys names {}",
                config.regex,
                config.keys.len()
            )));
        }
        Ok(Self {
            source: Source::new(&config.source),
            regex,
            keys: config.keys.iter().map(|k| key_bytes(k)).collect(),
            source_overwritten: config.keys.contains(&config.source.source_key),
        })
    }

    pub(crate) fn apply(&self, event: &mut Event) -> Result<(), DropReason> {
        let Some(raw) = event.get(&self.source.key).cloned() else {
            return Ok(());
        };
        let success = match self.regex.captures(&raw) {
            Some(caps) => {
                for (i, key) in self.keys.iter().enumerate() {
                    let value = caps
                        .get(i + 1)
                        .map_or_else(Bytes::new, |m| raw.slice(m.start()..m.end()));
                    event.set(key.clone(), value);
                }
                true
            }
            None => false,
        };
        self.source
            .finish(event, raw, success, self.source_overwritten)
    }
}
