//! The record a pipeline works on: ordered key/value contents and an optional parsed time.
//!
//! Invariant: keys are unique; setting an existing key replaces its value in place, so field
//! order is the order keys first appeared.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock, PoisonError};

use bytes::Bytes;
use cairn_model::{Field, LogTime};

use crate::config::SourceOptions;

use super::DropReason;

/// The key raw text starts under.
pub const CONTENT_KEY: &str = "content";
/// Where a failed parser copies the raw text when `CopingRawLog` is on.
pub const RAW_LOG_KEY: &str = "__raw_log__";

/// A record being processed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Event {
    pub(crate) contents: Vec<Field>,
    pub(crate) time: Option<LogTime>,
}

impl Event {
    /// A record holding `text` as `content`, with room for `fields` fields, in `contents`
    /// (an empty list, maybe recycled: see [`super::FieldLists`]).
    pub(crate) fn from_text(text: Bytes, fields: usize, mut contents: Vec<Field>) -> Self {
        contents.clear();
        // Exactly: `reserve` would round a fresh list up to 4 fields (256 bytes for the one
        // field of an unparsed line, 192 of them never used, for every record in flight).
        contents.reserve_exact(fields.max(1));
        contents.push(Field {
            key: Bytes::from_static(CONTENT_KEY.as_bytes()),
            value: text,
        });
        Self {
            contents,
            time: None,
        }
    }

    pub(crate) fn get(&self, key: &[u8]) -> Option<&Bytes> {
        self.contents
            .iter()
            .find(|f| f.key == key)
            .map(|f| &f.value)
    }

    /// Sets `key` to `value`, replacing an existing value in place.
    pub(crate) fn set(&mut self, key: Bytes, value: Bytes) {
        match self.contents.iter_mut().find(|f| f.key == key) {
            Some(field) => field.value = value,
            None => self.contents.push(Field { key, value }),
        }
    }

    /// Sets `key` only when it is absent.
    pub(crate) fn set_if_absent(&mut self, key: Bytes, value: Bytes) {
        if self.get(&key).is_none() {
            self.contents.push(Field { key, value });
        }
    }

    pub(crate) fn remove(&mut self, key: &[u8]) -> Option<Bytes> {
        let index = self.contents.iter().position(|f| f.key == key)?;
        Some(self.contents.remove(index).value)
    }
}

/// How many distinct config keys are interned at most (see [`key_bytes`]).
const MAX_INTERNED_KEYS: usize = 4096;
/// ... and how many bytes they may hold together.
const MAX_INTERNED_BYTES: usize = 256 * 1024;

/// A key given in a config, as bytes shared by every record.
///
/// Keys are interned: each distinct key is allocated once for the life of the process and
/// handed out as static bytes, so giving it to a record costs no reference count. (A
/// shared count is bumped for every field of every record on the processing thread and
/// dropped on the delivery threads: with a regex of 15 keys, that cache line bouncing
/// between threads cost a tenth of the agent's CPU.) The interned set only grows with new
/// key names, and is capped ([`MAX_INTERNED_KEYS`], [`MAX_INTERNED_BYTES`]) so configs
/// from the server cannot grow it without bound; past the cap keys are plain copies.
pub(crate) fn key_bytes(key: &str) -> Bytes {
    static INTERNED: OnceLock<Mutex<(HashSet<&'static str>, usize)>> = OnceLock::new();
    let mut guard = INTERNED
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let (keys, bytes) = &mut *guard;
    if let Some(interned) = keys.get(key) {
        return Bytes::from_static(interned.as_bytes());
    }
    if keys.len() >= MAX_INTERNED_KEYS || *bytes + key.len() > MAX_INTERNED_BYTES {
        return Bytes::copy_from_slice(key.as_bytes());
    }
    let interned: &'static str = Box::leak(key.to_owned().into_boxed_str());
    keys.insert(interned);
    *bytes += key.len();
    Bytes::from_static(interned.as_bytes())
}

/// A parser's source options with their keys ready to use.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    pub(crate) key: Bytes,
    renamed: Bytes,
    keep_on_fail: bool,
    keep_on_success: bool,
    copy_raw: bool,
}

impl Source {
    pub(crate) fn new(options: &SourceOptions) -> Self {
        let key = key_bytes(&options.source_key);
        Self {
            renamed: options
                .renamed_source_key
                .as_deref()
                .map_or_else(|| key.clone(), key_bytes),
            key,
            keep_on_fail: options.keeping_source_when_parse_fail,
            keep_on_success: options.keeping_source_when_parse_succeed,
            copy_raw: options.coping_raw_log,
        }
    }

    /// What every LoongCollector parser does after parsing `raw` (the source value):
    /// drops the source field unless a parsed key replaced it, puts it back (renamed) when
    /// asked to keep it, copies it to `__raw_log__` on a kept failure, and drops the record
    /// when a failed parse leaves it empty.
    pub(crate) fn finish(
        &self,
        event: &mut Event,
        raw: Bytes,
        success: bool,
        source_overwritten: bool,
    ) -> Result<(), DropReason> {
        if !success || !source_overwritten {
            event.remove(&self.key);
        }
        if (success && self.keep_on_success) || (!success && self.keep_on_fail) {
            event.set_if_absent(self.renamed.clone(), raw.clone());
        }
        if !success && self.keep_on_fail && self.copy_raw {
            event.set_if_absent(Bytes::from_static(RAW_LOG_KEY.as_bytes()), raw);
        }
        if !success && !self.keep_on_fail && event.contents.is_empty() {
            return Err(DropReason::ParseFailed);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh list gets exactly the fields the pipeline expects (one per record in flight,
    /// so rounding up costs memory); a recycled list keeps the capacity it has.
    #[test]
    fn a_fresh_field_list_is_sized_exactly() {
        let text = Bytes::from_static(b"a line");
        assert_eq!(
            Event::from_text(text.clone(), 1, Vec::new())
                .contents
                .capacity(),
            1
        );
        assert_eq!(
            Event::from_text(text.clone(), 16, Vec::new())
                .contents
                .capacity(),
            16
        );
        let recycled = Vec::with_capacity(8);
        let event = Event::from_text(text, 1, recycled);
        assert_eq!(event.contents.capacity(), 8);
        assert_eq!(event.contents.len(), 1);
    }
}
