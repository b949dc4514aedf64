//! Field filters: `processor_filter_regex_native` and `processor_filter_regex`.
//!
//! A record is kept when every include (key, regex) pair matches and no exclude pair does. An
//! include whose key is missing fails; an exclude whose key is missing does not match. The
//! native plugin needs a regex to match the whole value (boost `regex_match`, `.` matching
//! newlines) and drops records with no fields; the Go plugin matches anywhere in the value.
//! With `DiscardingNonUTF8`, bytes of kept records that are not UTF-8 become spaces.

use bytes::Bytes;
use regex::bytes::{Regex, RegexBuilder};

use crate::config::{ConfigError, FilterConfig};

use super::event::{key_bytes, Event};
use super::DropReason;

/// A compiled filter.
#[derive(Debug, Clone)]
pub(crate) struct Filter {
    include: Vec<(Bytes, Regex)>,
    exclude: Vec<(Bytes, Regex)>,
    drop_empty: bool,
    discarding_non_utf8: bool,
}

fn compile(
    pairs: &[(String, String)],
    full: bool,
    at: &str,
    what: &str,
) -> Result<Vec<(Bytes, Regex)>, ConfigError> {
    pairs
        .iter()
        .map(|(key, pattern)| {
            let source = if full {
                format!(r"\A(?:{pattern})\z")
            } else {
                pattern.clone()
            };
            RegexBuilder::new(&source)
                .dot_matches_new_line(full)
                .size_limit(16 << 20)
                .build()
                .map(|regex| (key_bytes(key), regex))
                .map_err(|e| ConfigError::Invalid {
                    at: at.to_string(),
                    key: format!("{what}.{key}"),
                    message: format!("{pattern:?} is not a valid regex: {e}"),
                })
        })
        .collect()
}

/// Replaces every byte that is not part of valid UTF-8 with a space.
pub(crate) fn replace_non_utf8(value: &Bytes) -> Option<Bytes> {
    if std::str::from_utf8(value).is_ok() {
        return None;
    }
    let mut out = value.to_vec();
    let mut pos = 0;
    while pos < out.len() {
        match std::str::from_utf8(&out[pos..]) {
            Ok(_) => break,
            Err(e) => {
                let bad_start = pos + e.valid_up_to();
                let bad_len = e.error_len().unwrap_or(out.len() - bad_start);
                for b in &mut out[bad_start..bad_start + bad_len] {
                    *b = b' ';
                }
                pos = bad_start + bad_len;
            }
        }
    }
    Some(Bytes::from(out))
}

impl Filter {
    pub(crate) fn new(config: &FilterConfig, at: &str) -> Result<Self, ConfigError> {
        let include_name = if config.full_match {
            "FilterRegex"
        } else {
            "Include"
        };
        Ok(Self {
            include: compile(&config.include, config.full_match, at, include_name)?,
            exclude: compile(&config.exclude, config.full_match, at, "Exclude")?,
            drop_empty: config.full_match,
            discarding_non_utf8: config.discarding_non_utf8,
        })
    }

    pub(crate) fn apply(&self, event: &mut Event) -> Result<(), DropReason> {
        if self.drop_empty && event.contents.is_empty() {
            return Err(DropReason::Filtered);
        }
        for (key, regex) in &self.include {
            match event.get(key) {
                Some(value) if regex.is_match(value) => {}
                _ => return Err(DropReason::Filtered),
            }
        }
        for (key, regex) in &self.exclude {
            if event.get(key).is_some_and(|v| regex.is_match(v)) {
                return Err(DropReason::Filtered);
            }
        }
        if self.discarding_non_utf8 {
            // Rebuilt through `set`, so keys that become equal once cleaned stay unique.
            let contents = std::mem::take(&mut event.contents);
            for field in contents {
                let key = replace_non_utf8(&field.key).unwrap_or(field.key);
                let value = replace_non_utf8(&field.value).unwrap_or(field.value);
                event.set(key, value);
            }
        }
        Ok(())
    }
}
