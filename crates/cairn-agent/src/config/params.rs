//! Reading the parameters of one LoongCollector plugin object (`{"Type": ..., "Key": ...}`).
//!
//! LoongCollector's schema is not ours: configs written for it may carry keys Cairn does not
//! implement (container discovery, routing, encodings...). [`Params`] reads the keys a plugin
//! supports with strict types, remembers which keys were read, and [`Params::finish`] turns
//! every key left over into a warning instead of failing or silently dropping it.
//!
//! Invariants: a wrong type or value is always a [`ConfigError`] naming the plugin and the
//! key; an unknown key is always a warning naming them; nothing here panics on any input.

use serde_json::{Map, Value};

use super::ConfigError;

/// The keys of one plugin object, consumed one by one.
pub(crate) struct Params<'a> {
    at: String,
    obj: &'a Map<String, Value>,
    seen: Vec<String>,
}

impl<'a> Params<'a> {
    /// Wraps `value`, which must be a JSON object; `at` names it in errors and warnings
    /// (`inputs[0] (input_file)`).
    pub(crate) fn new(at: String, value: &'a Value) -> Result<Self, ConfigError> {
        match value {
            Value::Object(obj) => Ok(Self {
                at,
                obj,
                seen: vec!["Type".to_string()],
            }),
            _ => Err(ConfigError::Invalid {
                at,
                key: String::new(),
                message: "must be a JSON object".to_string(),
            }),
        }
    }

    /// Where this object sits in the config, for messages.
    pub(crate) fn at(&self) -> &str {
        &self.at
    }

    /// An error about `key` of this object.
    pub(crate) fn invalid(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            at: self.at.clone(),
            key: key.to_string(),
            message: message.into(),
        }
    }

    fn take(&mut self, key: &str) -> Option<&'a Value> {
        self.seen.push(key.to_string());
        match self.obj.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    /// Marks `key` as understood without reading it (accepted and meaningless for Cairn).
    pub(crate) fn accept(&mut self, key: &str) {
        self.seen.push(key.to_string());
    }

    /// Whether the object has `key` (with a non-null value), without consuming it.
    pub(crate) fn has(&self, key: &str) -> bool {
        !matches!(self.obj.get(key), None | Some(Value::Null))
    }

    /// An optional string.
    pub(crate) fn string(&mut self, key: &str) -> Result<Option<String>, ConfigError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.invalid(key, format!("must be a string, not {other}"))),
        }
    }

    /// A mandatory, non-empty string.
    pub(crate) fn required_string(&mut self, key: &str) -> Result<String, ConfigError> {
        match self.string(key)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(ConfigError::Missing {
                at: self.at.clone(),
                key: key.to_string(),
            }),
        }
    }

    /// An optional boolean.
    pub(crate) fn boolean(&mut self, key: &str) -> Result<Option<bool>, ConfigError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(self.invalid(key, format!("must be true or false, not {other}"))),
        }
    }

    /// An optional integer (an integral float such as `1024.0` is accepted).
    pub(crate) fn integer(&mut self, key: &str) -> Result<Option<i64>, ConfigError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Number(n)) => {
                if let Some(i) = n.as_i64() {
                    return Ok(Some(i));
                }
                match n.as_f64() {
                    Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(f as i64)),
                    _ => Err(self.invalid(key, format!("must be an integer, not {n}"))),
                }
            }
            Some(other) => Err(self.invalid(key, format!("must be an integer, not {other}"))),
        }
    }

    /// An optional integer within `min..=max`.
    pub(crate) fn integer_in(
        &mut self,
        key: &str,
        min: i64,
        max: i64,
    ) -> Result<Option<i64>, ConfigError> {
        match self.integer(key)? {
            Some(i) if i < min || i > max => {
                Err(self.invalid(key, format!("{i} is outside {min}..={max}")))
            }
            other => Ok(other),
        }
    }

    /// An optional list of strings.
    pub(crate) fn string_list(&mut self, key: &str) -> Result<Option<Vec<String>>, ConfigError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) => out.push(s.clone()),
                        other => {
                            return Err(self.invalid(
                                &format!("{key}[{i}]"),
                                format!("must be a string, not {other}"),
                            ))
                        }
                    }
                }
                Ok(Some(out))
            }
            Some(other) => {
                Err(self.invalid(key, format!("must be a list of strings, not {other}")))
            }
        }
    }

    /// An optional object of string values, in document order where JSON keeps it.
    pub(crate) fn string_map(
        &mut self,
        key: &str,
    ) -> Result<Option<Vec<(String, String)>>, ConfigError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Object(map)) => {
                let mut out = Vec::with_capacity(map.len());
                for (k, v) in map {
                    match v {
                        Value::String(s) => out.push((k.clone(), s.clone())),
                        other => {
                            return Err(self.invalid(
                                &format!("{key}.{k}"),
                                format!("must be a string, not {other}"),
                            ))
                        }
                    }
                }
                Ok(Some(out))
            }
            Some(other) => Err(self.invalid(key, format!("must be an object, not {other}"))),
        }
    }

    /// An optional nested object, read with its own [`Params`] named `<at>.<key>`.
    pub(crate) fn object(&mut self, key: &str) -> Result<Option<Params<'a>>, ConfigError> {
        let at = format!("{}.{key}", self.at);
        match self.take(key) {
            None => Ok(None),
            Some(v @ Value::Object(_)) => {
                let mut nested = Params::new(at, v)?;
                nested.seen.clear();
                Ok(Some(nested))
            }
            Some(other) => Err(self.invalid(key, format!("must be an object, not {other}"))),
        }
    }

    /// Reads `key` and, when present with a value other than `harmless`, records that Cairn
    /// ignores it and why.
    pub(crate) fn ignore_unless(
        &mut self,
        key: &str,
        harmless: &Value,
        why: &str,
        warnings: &mut Vec<String>,
    ) {
        if let Some(v) = self.take(key) {
            if v != harmless {
                warnings.push(format!("{}: {key} = {v} is ignored: {why}", self.at));
            }
        }
    }

    /// Records a warning about this object.
    pub(crate) fn warn(&self, warnings: &mut Vec<String>, message: impl std::fmt::Display) {
        warnings.push(format!("{}: {message}", self.at));
    }

    /// Turns every key not read into a warning.
    pub(crate) fn finish(self, warnings: &mut Vec<String>) {
        for key in self.obj.keys() {
            if !self.seen.iter().any(|s| s == key) {
                warnings.push(format!("{}: unsupported key {key:?} is ignored", self.at));
            }
        }
    }
}
