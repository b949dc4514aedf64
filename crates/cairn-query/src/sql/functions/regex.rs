//! `regexp_extract(s, pattern[, group])`, as in SLS (Presto): the first match of `pattern` in
//! `s`, or its capture group `group` (0, the default, is the whole match); NULL when nothing
//! matches or the group did not take part in the match.
//!
//! Patterns are Rust `regex` syntax (RE2-like, as SLS's). A pattern that does not compile, or
//! a group the pattern does not have, is an error naming it.
//!
//! Invariants: a compiled pattern is at most [`MAX_COMPILED_REGEX_BYTES`] (so a hostile pattern
//! cannot take the server's memory), matching is linear in the input (the `regex` crate
//! guarantees it), a constant pattern is compiled once per batch and per-row patterns are
//! cached (at most [`PATTERN_CACHE_SIZE`] at a time).

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{exec_err, ScalarValue};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use regex::{Regex, RegexBuilder};

use super::{check_arity, constant_text, text_argument, Strings};

/// The most memory one compiled pattern may take.
pub const MAX_COMPILED_REGEX_BYTES: usize = 1024 * 1024;

/// How many distinct per-row patterns are kept compiled at once.
pub const PATTERN_CACHE_SIZE: usize = 64;

/// Compiles `pattern` within the size limit.
pub(crate) fn compile(pattern: &str) -> Result<Regex> {
    match RegexBuilder::new(pattern)
        .size_limit(MAX_COMPILED_REGEX_BYTES)
        .build()
    {
        Ok(regex) => Ok(regex),
        Err(error) => exec_err!("invalid regular expression {pattern:?}: {error}"),
    }
}

/// The text of capture `group` of the first match, checking that the pattern has the group.
fn extract<'t>(regex: &Regex, text: &'t str, group: usize) -> Result<Option<&'t str>> {
    if group >= regex.captures_len() {
        return exec_err!(
            "regexp_extract: the pattern {:?} has no group {group} (it has {})",
            regex.as_str(),
            regex.captures_len() - 1
        );
    }
    Ok(regex
        .captures(text)
        .and_then(|captures| captures.get(group))
        .map(|found| found.as_str()))
}

/// `regexp_extract(s, pattern[, group])`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct RegexpExtract {
    signature: Signature,
}

impl RegexpExtract {
    pub(crate) fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for RegexpExtract {
    fn name(&self) -> &str {
        "regexp_extract"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        check_arity(self.name(), arg_types, 2, 3)?;
        let mut types: Vec<DataType> = arg_types[..2].iter().map(text_argument).collect();
        if arg_types.len() == 3 {
            types.push(DataType::Int64);
        }
        Ok(types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let texts = args.args[0].to_array(rows)?;
        let texts = Strings::of(&texts)?;
        let groups: Vec<Option<i64>> = match args.args.get(2) {
            None => vec![Some(0); rows],
            Some(ColumnarValue::Scalar(ScalarValue::Int64(group))) => vec![*group; rows],
            Some(other) => other
                .to_array(rows)?
                .as_primitive::<Int64Type>()
                .iter()
                .collect(),
        };
        let mut out = StringBuilder::with_capacity(rows, rows * 8);
        let mut cache: HashMap<String, Regex> = HashMap::new();
        let constant = match constant_text(&args.args[1]) {
            Some(Some(pattern)) => Some(Some(compile(pattern)?)),
            Some(None) => Some(None),
            None => None,
        };
        let patterns = match constant {
            Some(_) => None,
            None => Some(args.args[1].to_array(rows)?),
        };
        let patterns = patterns.as_ref().map(Strings::of).transpose()?;
        for (row, group) in groups.into_iter().enumerate() {
            let (Some(text), Some(group)) = (texts.get(row), group) else {
                out.append_null();
                continue;
            };
            let Ok(group) = usize::try_from(group) else {
                return exec_err!("regexp_extract: group {group} is negative");
            };
            let regex = match (&constant, &patterns) {
                (Some(constant), _) => constant.as_ref(),
                (None, Some(patterns)) => match patterns.get(row) {
                    Some(pattern) => Some(cached(&mut cache, pattern)?),
                    None => None,
                },
                (None, None) => None,
            };
            match regex {
                Some(regex) => out.append_option(extract(regex, text, group)?),
                None => out.append_null(),
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
    }
}

/// `pattern` compiled, from `cache` when it was seen before.
fn cached<'c>(cache: &'c mut HashMap<String, Regex>, pattern: &str) -> Result<&'c Regex> {
    if !cache.contains_key(pattern) {
        if cache.len() >= PATTERN_CACHE_SIZE {
            cache.clear();
        }
        cache.insert(pattern.to_owned(), compile(pattern)?);
    }
    match cache.get(pattern) {
        Some(regex) => Ok(regex),
        None => exec_err!("regexp_extract: pattern cache lost {pattern:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_extracted() {
        let regex = compile(r"(\d+)\.(\d+)").expect("compiles");
        assert_eq!(extract(&regex, "v 10.25 x", 0).expect("ok"), Some("10.25"));
        assert_eq!(extract(&regex, "v 10.25 x", 2).expect("ok"), Some("25"));
        assert_eq!(extract(&regex, "none", 1).expect("ok"), None);
        assert!(extract(&regex, "v 1.2", 3).is_err());
        assert!(compile("(unclosed").is_err());
        assert!(compile(r"\w{1000}{1000}").is_err(), "too big to compile");
    }
}
