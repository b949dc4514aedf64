//! `json_extract`, `json_extract_scalar` and `json_array_length`, as in SLS (Presto).
//!
//! Paths are JSONPath as SLS accepts it: `$`, then `.key`, `["key"]` / `['key']` and `[index]`
//! steps, e.g. `$.request.headers["user-agent"]` or `$.items[0].id`.
//! `json_extract` returns the JSON text of the value found (strings keep their quotes);
//! `json_extract_scalar` returns a string, number or boolean as plain text, and NULL for
//! objects, arrays and `null`. Text that is not JSON, a missing key and a document longer than
//! [`MAX_JSON_BYTES`] give NULL (as Presto's `json_extract` does for invalid JSON); a malformed
//! path is an error.
//!
//! Invariants: one document is parsed at most once per call, nesting is bounded by
//! serde_json's recursion limit (128), and a constant path is parsed once per batch.

use datafusion::arrow::array::{ArrayRef, Int64Builder, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::exec_err;
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use serde_json::Value;
use std::sync::Arc;

use super::{check_arity, constant_text, text_argument, Strings};

/// The longest JSON document the functions read; longer ones give NULL.
pub const MAX_JSON_BYTES: usize = 1024 * 1024;

/// One step of a JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// Parses a JSON path (see the module docs).
fn parse_path(path: &str) -> Result<Vec<Step>> {
    let bad = |why: &str| exec_err!("invalid JSON path {path:?}: {why}");
    let Some(mut rest) = path.trim().strip_prefix('$') else {
        return bad("it must start with $");
    };
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            if end == 0 {
                return bad("a key is missing after '.'");
            }
            steps.push(Step::Key(after[..end].to_owned()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let Some(close) = after.find(']') else {
                return bad("'[' is not closed");
            };
            let inside = after[..close].trim();
            let quoted = inside
                .strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .or_else(|| inside.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')));
            match (quoted, inside.parse::<usize>()) {
                (Some(key), _) => steps.push(Step::Key(key.to_owned())),
                (None, Ok(index)) => steps.push(Step::Index(index)),
                (None, Err(_)) => return bad("use [\"key\"] or [index] between brackets"),
            }
            rest = &after[close + 1..];
        } else {
            return bad("expected '.' or '[' after a step");
        }
    }
    Ok(steps)
}

/// The value at `steps` in `document`, if the document is JSON and has it.
fn find(document: &str, steps: &[Step]) -> Option<Value> {
    if document.len() > MAX_JSON_BYTES {
        return None;
    }
    let mut value: Value = serde_json::from_str(document).ok()?;
    for step in steps {
        value = match (step, value) {
            (Step::Key(key), Value::Object(mut object)) => object.remove(key)?,
            (Step::Index(index), Value::Array(mut array)) if *index < array.len() => {
                array.swap_remove(*index)
            }
            _ => return None,
        };
    }
    Some(value)
}

/// `json_extract` (JSON text out) or `json_extract_scalar` (scalars as plain text).
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct JsonExtract {
    name: &'static str,
    scalar: bool,
    signature: Signature,
}

impl JsonExtract {
    pub(crate) fn json() -> Self {
        Self::with("json_extract", false)
    }

    pub(crate) fn scalar() -> Self {
        Self::with("json_extract_scalar", true)
    }

    fn with(name: &'static str, scalar: bool) -> Self {
        Self {
            name,
            scalar,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }

    fn render(&self, value: Value) -> Option<String> {
        match value {
            Value::String(text) if self.scalar => Some(text),
            Value::Number(number) if self.scalar => Some(number.to_string()),
            Value::Bool(flag) if self.scalar => Some(flag.to_string()),
            _ if self.scalar => None,
            other => Some(other.to_string()),
        }
    }
}

impl ScalarUDFImpl for JsonExtract {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        check_arity(self.name, arg_types, 2, 2)?;
        Ok(arg_types.iter().map(text_argument).collect())
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let documents = args.args[0].to_array(rows)?;
        let documents = Strings::of(&documents)?;
        let mut out = StringBuilder::with_capacity(rows, rows * 8);
        match constant_text(&args.args[1]) {
            Some(None) => (0..rows).for_each(|_| out.append_null()),
            Some(Some(path)) => {
                let steps = parse_path(path)?;
                for row in 0..rows {
                    let value = documents.get(row).and_then(|doc| find(doc, &steps));
                    out.append_option(value.and_then(|v| self.render(v)));
                }
            }
            None => {
                let paths = args.args[1].to_array(rows)?;
                let paths = Strings::of(&paths)?;
                for row in 0..rows {
                    let value = match (documents.get(row), paths.get(row)) {
                        (Some(doc), Some(path)) => find(doc, &parse_path(path)?),
                        _ => None,
                    };
                    out.append_option(value.and_then(|v| self.render(v)));
                }
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
    }
}

/// `json_array_length(json)`: the length of a JSON array, NULL for anything else.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct JsonArrayLength {
    signature: Signature,
}

impl JsonArrayLength {
    pub(crate) fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for JsonArrayLength {
    fn name(&self) -> &str {
        "json_array_length"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        check_arity(self.name(), arg_types, 1, 1)?;
        Ok(arg_types.iter().map(text_argument).collect())
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let documents = args.args[0].to_array(rows)?;
        let documents = Strings::of(&documents)?;
        let mut out = Int64Builder::with_capacity(rows);
        for row in 0..rows {
            let length = match documents.get(row).and_then(|doc| find(doc, &[])) {
                Some(Value::Array(items)) => i64::try_from(items.len()).ok(),
                _ => None,
            };
            out.append_option(length);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse() {
        assert_eq!(
            parse_path(r#"$.a["b.c"][2]['d']"#).expect("valid"),
            vec![
                Step::Key("a".to_owned()),
                Step::Key("b.c".to_owned()),
                Step::Index(2),
                Step::Key("d".to_owned()),
            ]
        );
        assert_eq!(parse_path("$").expect("root"), vec![]);
        for bad in ["a.b", "$.", "$[", "$[x]", "$a"] {
            assert!(parse_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn values_are_found_and_rendered() {
        let doc = r#"{"a":{"b":[10,{"c":"x"}],"t":true,"n":null}}"#;
        let json = JsonExtract::json();
        let scalar = JsonExtract::scalar();
        let at = |path: &str| find(doc, &parse_path(path).expect("path"));
        assert_eq!(
            json.render(at("$.a.b").expect("b")),
            Some("[10,{\"c\":\"x\"}]".to_owned())
        );
        assert_eq!(
            json.render(at("$.a.b[1].c").expect("c")),
            Some("\"x\"".to_owned())
        );
        assert_eq!(
            scalar.render(at("$.a.b[1].c").expect("c")),
            Some("x".to_owned())
        );
        assert_eq!(
            scalar.render(at("$.a.b[0]").expect("0")),
            Some("10".to_owned())
        );
        assert_eq!(
            scalar.render(at("$.a.t").expect("t")),
            Some("true".to_owned())
        );
        assert_eq!(scalar.render(at("$.a.n").expect("n")), None);
        assert_eq!(scalar.render(at("$.a").expect("a")), None);
        assert!(at("$.a.missing").is_none());
        assert!(at("$.a.b[5]").is_none());
        assert!(find("not json", &[]).is_none());
        let huge = format!("[{}0]", "0,".repeat(MAX_JSON_BYTES));
        assert!(find(&huge, &[]).is_none());
    }
}
