//! The optional per-record transform of a job: filter, extract, rename, drop, add.
//!
//! It is written as JSON in `configuration.parameters.transform` of the SLS ETL shape (a
//! Cairn extension; SLS itself runs a DSL script there, which Cairn does not):
//!
//! ```json
//! {"filter": "status >= 500 and not path: health",
//!  "extract": [{"field": "msg", "regex": "(?P<user>\\w+) logged in"}],
//!  "rename": {"old": "new", "__tag__:host": "__tag__:hostname"},
//!  "drop": ["secret", "__tag__:pod"],
//!  "add": {"env": "prod", "__topic__": "copied"}}
//! ```
//!
//! Steps run in the order filter, extract, rename, drop, add:
//! - `filter`: an SLS search statement (the `cairn-query` syntax, without `| SQL`); records
//!   that do not match are not written. It is matched against the source record as read,
//!   with no index config (every field searchable as text, SLS's default delimiters).
//! - `extract`: for each entry in order, if the named field is present and the regex
//!   matches its value, every named group that took part in the match becomes a content
//!   field (replacing a field of that name). Every regex needs at least one named group.
//! - `rename`: a simultaneous mapping (`a→b, b→a` swaps); renames content fields to content
//!   fields and tags to tags. A renamed field replaces a field already called by its new name.
//! - `drop`: removes content fields and tags; `__topic__` / `__source__` become empty.
//! - `add`: sets content fields, tags, `__topic__` or `__source__` to a constant.
//!
//! Field names: `__topic__`, `__source__`, `__tag__:<key>`, anything else is a content key;
//! `__time__` is refused everywhere (a copy keeps each record's time).
//!
//! Invariants: a [`Transform`] is always compiled from a spec that passed validation (every
//! regex and filter compiles, no rename collides, sizes are bounded); applying it is
//! deterministic, which exactly-once resumption relies on (a re-sent batch is the same
//! batch).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use bytes::Bytes;
use cairn_model::{Field, LogRecord};
use cairn_query::SearchMatcher;
use regex::bytes::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

use crate::JobError;

/// The most entries in `rename`, `drop` or `add`, and the most `extract` steps.
pub const MAX_TRANSFORM_ENTRIES: usize = 256;
/// The longest regex accepted, in bytes.
pub const MAX_REGEX_BYTES: usize = 4096;
/// The most memory one compiled regex may take.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A transform as written in the job definition (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransformSpec {
    /// Old name → new name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rename: BTreeMap<String, String>,
    /// Names to remove.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drop: Vec<String>,
    /// Name → constant value to set.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub add: BTreeMap<String, String>,
    /// A search statement records must match to be written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Regex extractions, applied in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extract: Vec<ExtractSpec>,
}

/// One regex extraction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtractSpec {
    /// The field whose value the regex is matched against.
    pub field: String,
    /// The regex (Rust `regex` syntax); its named groups become fields.
    pub regex: String,
}

/// A field a transform step addresses.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum FieldRef {
    Topic,
    Source,
    Tag(Bytes),
    Content(Bytes),
}

impl FieldRef {
    fn parse(path: &str, name: &str) -> Result<Self, JobError> {
        match name {
            "" => Err(JobError::invalid(format!("{path}: a field name is empty"))),
            "__time__" => Err(JobError::invalid(format!(
                "{path}: __time__ cannot be changed by a transform (a copy keeps each \
                 record's time)"
            ))),
            "__topic__" => Ok(FieldRef::Topic),
            "__source__" => Ok(FieldRef::Source),
            _ => match name.strip_prefix("__tag__:") {
                Some("") => Err(JobError::invalid(format!(
                    "{path}: {name:?} names no tag; write __tag__:<key>"
                ))),
                Some(tag) => Ok(FieldRef::Tag(Bytes::copy_from_slice(tag.as_bytes()))),
                None => Ok(FieldRef::Content(Bytes::copy_from_slice(name.as_bytes()))),
            },
        }
    }

    fn read<'r>(&self, record: &'r LogRecord) -> Option<&'r [u8]> {
        match self {
            FieldRef::Topic => Some(&record.topic),
            FieldRef::Source => Some(&record.source),
            FieldRef::Tag(key) => find(&record.tags, key).map(|field| &field.value[..]),
            FieldRef::Content(key) => find(&record.contents, key).map(|field| &field.value[..]),
        }
    }

    fn remove(&self, record: &mut LogRecord) {
        match self {
            FieldRef::Topic => record.topic = Bytes::new(),
            FieldRef::Source => record.source = Bytes::new(),
            FieldRef::Tag(key) => record.tags.retain(|field| field.key != *key),
            FieldRef::Content(key) => record.contents.retain(|field| field.key != *key),
        }
    }

    fn set(&self, record: &mut LogRecord, value: Bytes) {
        match self {
            FieldRef::Topic => record.topic = value,
            FieldRef::Source => record.source = value,
            FieldRef::Tag(key) => set_field(&mut record.tags, key, value),
            FieldRef::Content(key) => set_field(&mut record.contents, key, value),
        }
    }
}

fn find<'f>(fields: &'f [Field], key: &[u8]) -> Option<&'f Field> {
    fields.iter().find(|field| field.key == key)
}

/// Sets `key` to `value`: the first field of that key keeps its place, later ones go.
fn set_field(fields: &mut Vec<Field>, key: &Bytes, value: Bytes) {
    let mut seen = false;
    fields.retain_mut(|field| {
        if field.key != *key {
            return true;
        }
        if seen {
            return false;
        }
        seen = true;
        field.value = value.clone();
        true
    });
    if !seen {
        fields.push(Field {
            key: key.clone(),
            value,
        });
    }
}

#[derive(Debug)]
struct Extract {
    field: FieldRef,
    regex: Regex,
    /// Named groups: (group index, field name).
    groups: Vec<(usize, Bytes)>,
}

#[derive(Debug, Default)]
struct Compiled {
    filter: Option<SearchMatcher>,
    extract: Vec<Extract>,
    /// Renames of content keys and of tag keys (old → new).
    rename_contents: Vec<(Bytes, Bytes)>,
    rename_tags: Vec<(Bytes, Bytes)>,
    drop: Vec<FieldRef>,
    add: Vec<(FieldRef, Bytes)>,
}

/// A validated, compiled transform. The default transform copies records unchanged.
#[derive(Debug, Clone, Default)]
pub struct Transform {
    spec: TransformSpec,
    compiled: Arc<Compiled>,
}

impl PartialEq for Transform {
    fn eq(&self, other: &Self) -> bool {
        self.spec == other.spec
    }
}

const PATH: &str = "configuration.parameters.transform";

impl Transform {
    /// Parses the transform JSON (unknown fields refused) and validates it.
    pub fn from_json(value: &serde_json::Value) -> Result<Self, JobError> {
        let spec: TransformSpec = serde_json::from_value(value.clone())
            .map_err(|error| JobError::invalid(format!("{PATH}: {error}")))?;
        Self::compile(spec)
    }

    /// Validates a spec and compiles its filter and regexes.
    pub fn compile(spec: TransformSpec) -> Result<Self, JobError> {
        let too_many = |what: &str, count: usize| {
            (count > MAX_TRANSFORM_ENTRIES).then(|| {
                JobError::invalid(format!(
                    "{PATH}.{what}: {count} entries, at most {MAX_TRANSFORM_ENTRIES} are accepted"
                ))
            })
        };
        for (what, count) in [
            ("rename", spec.rename.len()),
            ("drop", spec.drop.len()),
            ("add", spec.add.len()),
            ("extract", spec.extract.len()),
        ] {
            if let Some(error) = too_many(what, count) {
                return Err(error);
            }
        }
        let filter = spec.filter.as_deref().map(compile_filter).transpose()?;
        let extract = spec
            .extract
            .iter()
            .enumerate()
            .map(|(index, step)| compile_extract(index, step))
            .collect::<Result<Vec<_>, _>>()?;
        let (rename_contents, rename_tags) = compile_renames(&spec.rename)?;
        let drop = spec
            .drop
            .iter()
            .enumerate()
            .map(|(index, name)| FieldRef::parse(&format!("{PATH}.drop[{index}]"), name))
            .collect::<Result<Vec<_>, _>>()?;
        let add = spec
            .add
            .iter()
            .map(|(name, value)| {
                let field = FieldRef::parse(&format!("{PATH}.add.{name}"), name)?;
                Ok((field, Bytes::copy_from_slice(value.as_bytes())))
            })
            .collect::<Result<Vec<_>, JobError>>()?;
        Ok(Self {
            spec,
            compiled: Arc::new(Compiled {
                filter,
                extract,
                rename_contents,
                rename_tags,
                drop,
                add,
            }),
        })
    }

    /// The spec this transform was compiled from.
    pub fn spec(&self) -> &TransformSpec {
        &self.spec
    }

    /// Whether the transform changes nothing and filters nothing.
    pub fn is_identity(&self) -> bool {
        self.spec == TransformSpec::default()
    }

    /// Whether `record` passes the filter (always, without one).
    pub fn keeps(&self, record: &LogRecord) -> bool {
        self.compiled
            .filter
            .as_ref()
            .is_none_or(|filter| filter.matches(record))
    }

    /// The record to write for `record`, or `None` when the filter drops it.
    pub fn apply(&self, record: &LogRecord) -> Option<LogRecord> {
        if !self.keeps(record) {
            return None;
        }
        let compiled = &*self.compiled;
        let mut out = record.clone();
        for step in &compiled.extract {
            let captured: Vec<(Bytes, Bytes)> = match step.field.read(&out) {
                Some(value) => match step.regex.captures(value) {
                    Some(captures) => step
                        .groups
                        .iter()
                        .filter_map(|(index, name)| {
                            captures
                                .get(*index)
                                .map(|m| (name.clone(), Bytes::copy_from_slice(m.as_bytes())))
                        })
                        .collect(),
                    None => Vec::new(),
                },
                None => Vec::new(),
            };
            for (name, value) in captured {
                set_field(&mut out.contents, &name, value);
            }
        }
        rename(&mut out.contents, &compiled.rename_contents);
        rename(&mut out.tags, &compiled.rename_tags);
        for field in &compiled.drop {
            field.remove(&mut out);
        }
        for (field, value) in &compiled.add {
            field.set(&mut out, value.clone());
        }
        Some(out)
    }
}

/// Applies a simultaneous rename: renamed fields replace fields already named by their target.
fn rename(fields: &mut Vec<Field>, renames: &[(Bytes, Bytes)]) {
    if renames.is_empty() {
        return;
    }
    let lookup = |key: &Bytes| {
        renames
            .iter()
            .find(|(old, _)| old == key)
            .map(|(_, new)| new)
    };
    // The names that renames of this record's fields produce.
    let produced: HashSet<&Bytes> = fields
        .iter()
        .filter_map(|field| lookup(&field.key))
        .collect();
    // A field already called by a produced name goes, unless it is itself renamed away.
    fields.retain(|field| lookup(&field.key).is_some() || !produced.contains(&field.key));
    for field in fields.iter_mut() {
        if let Some(new) = lookup(&field.key) {
            field.key = new.clone();
        }
    }
}

fn compile_filter(text: &str) -> Result<SearchMatcher, JobError> {
    let search = cairn_query::parse_search(text)
        .map_err(|error| JobError::invalid(format!("{PATH}.filter: {error}")))?;
    SearchMatcher::new(&search, None)
        .map_err(|error| JobError::invalid(format!("{PATH}.filter: {error}")))
}

fn compile_extract(index: usize, step: &ExtractSpec) -> Result<Extract, JobError> {
    let path = format!("{PATH}.extract[{index}]");
    let field = FieldRef::parse(&format!("{path}.field"), &step.field)?;
    if step.regex.len() > MAX_REGEX_BYTES {
        return Err(JobError::invalid(format!(
            "{path}.regex: {} bytes long, at most {MAX_REGEX_BYTES} are accepted",
            step.regex.len()
        )));
    }
    let regex = RegexBuilder::new(&step.regex)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|error| JobError::invalid(format!("{path}.regex: {error}")))?;
    let mut groups = Vec::new();
    for (group, name) in regex.capture_names().enumerate() {
        if let Some(name) = name {
            FieldRef::parse(&format!("{path}.regex group"), name).and_then(
                |target| match target {
                    FieldRef::Content(_) => Ok(()),
                    _ => Err(JobError::invalid(format!(
                        "{path}.regex: group {name:?} must name a content field"
                    ))),
                },
            )?;
            groups.push((group, Bytes::copy_from_slice(name.as_bytes())));
        }
    }
    if groups.is_empty() {
        return Err(JobError::invalid(format!(
            "{path}.regex: it has no named group, so it would extract nothing; name the parts \
             to keep, e.g. (?P<user>\\w+)"
        )));
    }
    Ok(Extract {
        field,
        regex,
        groups,
    })
}

type Renames = (Vec<(Bytes, Bytes)>, Vec<(Bytes, Bytes)>);

fn compile_renames(renames: &BTreeMap<String, String>) -> Result<Renames, JobError> {
    let mut contents = Vec::new();
    let mut tags = Vec::new();
    let mut targets = HashSet::new();
    for (old, new) in renames {
        let path = format!("{PATH}.rename.{old}");
        let from = FieldRef::parse(&path, old)?;
        let to = FieldRef::parse(&path, new)?;
        if !targets.insert(new.clone()) {
            return Err(JobError::invalid(format!(
                "{PATH}.rename: two fields are renamed to {new:?}"
            )));
        }
        match (from, to) {
            (FieldRef::Content(from), FieldRef::Content(to)) => contents.push((from, to)),
            (FieldRef::Tag(from), FieldRef::Tag(to)) => tags.push((from, to)),
            _ => {
                return Err(JobError::invalid(format!(
                    "{path}: rename maps content fields to content fields and tags to tags; \
                     use drop and add for __topic__ and __source__"
                )))
            }
        }
    }
    Ok((contents, tags))
}

#[cfg(test)]
mod tests;
