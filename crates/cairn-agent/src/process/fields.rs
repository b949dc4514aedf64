//! `processor_drop` (remove `DropKeys`) and `processor_rename` (`SourceKeys[i]` becomes
//! `DestKeys[i]`).
//!
//! Missing keys are skipped. A renamed field keeps its position; if the new name is already
//! taken, that other field is removed, so keys stay unique.

use bytes::Bytes;

use crate::config::{DropConfig, RenameConfig};

use super::event::{key_bytes, Event};

/// Removes fields.
#[derive(Debug, Clone)]
pub(crate) struct DropKeys {
    keys: Vec<Bytes>,
}

impl DropKeys {
    pub(crate) fn new(config: &DropConfig) -> Self {
        Self {
            keys: config.drop_keys.iter().map(|k| key_bytes(k)).collect(),
        }
    }

    pub(crate) fn apply(&self, event: &mut Event) {
        event.contents.retain(|f| !self.keys.contains(&f.key));
    }
}

/// Renames fields.
#[derive(Debug, Clone)]
pub(crate) struct Rename {
    pairs: Vec<(Bytes, Bytes)>,
}

impl Rename {
    pub(crate) fn new(config: &RenameConfig) -> Self {
        Self {
            pairs: config
                .source_keys
                .iter()
                .zip(&config.dest_keys)
                .map(|(s, d)| (key_bytes(s), key_bytes(d)))
                .collect(),
        }
    }

    pub(crate) fn apply(&self, event: &mut Event) {
        for (from, to) in &self.pairs {
            if from == to {
                continue;
            }
            let Some(index) = event.contents.iter().position(|f| f.key == from) else {
                continue;
            };
            event.contents[index].key = to.clone();
            let mut i = 0;
            event.contents.retain(|f| {
                let keep = i == index || f.key != to;
                i += 1;
                keep
            });
        }
    }
}
