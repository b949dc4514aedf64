//! The processor plugins Cairn runs, with LoongCollector's parameter names
//! (`docs/cn/plugins/processor/native/*.md` and the `extended/` Go plugins `processor_drop`,
//! `processor_rename`, `processor_filter_regex`, `processor_desensitize`).
//!
//! This module only reads shapes and types; regexes, time formats and zones are checked when
//! [`crate::process::Pipeline::new`] compiles them, so a config is valid exactly when a
//! pipeline can be built from it.
//!
//! Invariant: a processor list never holds an unknown `Type`; unknown keys of a known `Type`
//! become warnings.

use serde_json::Value;

use super::params::Params;
use super::ConfigError;

/// One processor, in config order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessorConfig {
    /// `processor_parse_regex_native`.
    ParseRegex(ParseRegexConfig),
    /// `processor_parse_json_native`.
    ParseJson(ParseJsonConfig),
    /// `processor_parse_delimiter_native`.
    ParseDelimiter(ParseDelimiterConfig),
    /// `processor_parse_timestamp_native`.
    ParseTimestamp(ParseTimestampConfig),
    /// `processor_filter_regex_native` or `processor_filter_regex`.
    Filter(FilterConfig),
    /// `processor_drop`.
    Drop(DropConfig),
    /// `processor_rename`.
    Rename(RenameConfig),
    /// `processor_desensitize_native` or `processor_desensitize`.
    Desensitize(DesensitizeConfig),
}

impl ProcessorConfig {
    /// The plugin `Type` this processor was read from (the native name for shared kinds).
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::ParseRegex(_) => "processor_parse_regex_native",
            Self::ParseJson(_) => "processor_parse_json_native",
            Self::ParseDelimiter(_) => "processor_parse_delimiter_native",
            Self::ParseTimestamp(_) => "processor_parse_timestamp_native",
            Self::Filter(f) if f.full_match => "processor_filter_regex_native",
            Self::Filter(_) => "processor_filter_regex",
            Self::Drop(_) => "processor_drop",
            Self::Rename(_) => "processor_rename",
            Self::Desensitize(d) if d.md5_uppercase => "processor_desensitize_native",
            Self::Desensitize(_) => "processor_desensitize",
        }
    }
}

/// What a parser does with its source field (LoongCollector `CommonParserOptions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceOptions {
    /// `SourceKey` (default `content`).
    pub source_key: String,
    /// `KeepingSourceWhenParseFail` (default false: a record whose only field fails to parse
    /// is dropped).
    pub keeping_source_when_parse_fail: bool,
    /// `KeepingSourceWhenParseSucceed` (default false).
    pub keeping_source_when_parse_succeed: bool,
    /// `RenamedSourceKey`: the key a kept source is stored under (default: `SourceKey`).
    pub renamed_source_key: Option<String>,
    /// `CopingRawLog`: on a kept failure, also copy the source to `__raw_log__`.
    pub coping_raw_log: bool,
}

/// `processor_parse_regex_native`: a full match of `Regex` against the source; capture groups
/// become `Keys` in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseRegexConfig {
    /// Source handling.
    pub source: SourceOptions,
    /// `Regex`.
    pub regex: String,
    /// `Keys` (a single `"a,b,c"` entry is split on commas, as LoongCollector does).
    pub keys: Vec<String>,
}

/// `processor_parse_json_native`: top-level members of a JSON object become fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseJsonConfig {
    /// Source handling.
    pub source: SourceOptions,
}

/// `OverflowedFieldsTreatment` of the delimiter parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OverflowedFieldsTreatment {
    /// Every extra column becomes `__column<i>__` (`i` = its 0-based column index).
    #[default]
    Extend,
    /// The extra columns, joined by the separator, become one `__column<n>__` (`n` = number of
    /// keys).
    Keep,
    /// Extra columns are dropped, and so are columns whose key is `_`.
    Discard,
}

/// `processor_parse_delimiter_native`: separated (CSV-like) columns become `Keys`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseDelimiterConfig {
    /// Source handling.
    pub source: SourceOptions,
    /// `Separator`: 1 to 4 bytes (`\t` written as the two characters `\t` means a tab).
    pub separator: Vec<u8>,
    /// `Quote` (default `"`); only used with a one-byte separator.
    pub quote: Option<u8>,
    /// `Keys`.
    pub keys: Vec<String>,
    /// `AllowingShortenedFields` (default true).
    pub allowing_shortened_fields: bool,
    /// `OverflowedFieldsTreatment` (default extend).
    pub overflowed_fields_treatment: OverflowedFieldsTreatment,
}

/// `processor_parse_timestamp_native`: sets the record time from a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseTimestampConfig {
    /// `SourceKey`.
    pub source_key: String,
    /// `SourceFormat`: strptime-like (`%Y-%m-%d %H:%M:%S`, `%s`, `%f`, ...).
    pub source_format: String,
    /// `SourceTimezone`: `GMT+08:00` (also `UTC`, `+08:00`, `+0800`); none = the host's zone.
    pub source_timezone: Option<String>,
    /// `SourceYear`: the year for formats without one (none = the current year).
    pub source_year: Option<i32>,
}

/// A field filter: `include` pairs must all match, any matching `exclude` pair drops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterConfig {
    /// (key, regex) pairs that must all match; a missing key fails.
    pub include: Vec<(String, String)>,
    /// (key, regex) pairs of which none may match.
    pub exclude: Vec<(String, String)>,
    /// Whether a regex must match the whole value (native plugin) or any part (Go plugin).
    pub full_match: bool,
    /// `DiscardingNonUTF8`: replace bytes that are not UTF-8 with spaces.
    pub discarding_non_utf8: bool,
}

/// `processor_drop`: removes `DropKeys`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropConfig {
    /// `DropKeys`.
    pub drop_keys: Vec<String>,
}

/// `processor_rename`: renames `SourceKeys[i]` to `DestKeys[i]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenameConfig {
    /// `SourceKeys`.
    pub source_keys: Vec<String>,
    /// `DestKeys`, as long as `source_keys`.
    pub dest_keys: Vec<String>,
}

/// How sensitive content is replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DesensitizeMethod {
    /// `const`: by a fixed string.
    Const(String),
    /// `md5`: by the hex MD5 of the content.
    Md5,
}

/// Which content is sensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DesensitizeMatch {
    /// The whole value (`Match: full`, Go plugin).
    Full,
    /// `ReplacedContentPattern` (`RegexContent`) right after `ContentPatternBeforeReplacedString`
    /// (`RegexBegin`); the prefix is kept.
    Regex {
        /// The prefix regex.
        before: String,
        /// The content regex.
        content: String,
    },
}

/// `processor_desensitize_native` / `processor_desensitize`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesensitizeConfig {
    /// `SourceKey`.
    pub source_key: String,
    /// `Method`.
    pub method: DesensitizeMethod,
    /// `Match` / the patterns.
    pub target: DesensitizeMatch,
    /// `ReplacingAll` (default true): every occurrence, or only the first.
    pub replacing_all: bool,
    /// The native plugin writes MD5 in upper-case hex, the Go plugin in lower case.
    pub md5_uppercase: bool,
}

fn source_options(p: &mut Params<'_>) -> Result<SourceOptions, ConfigError> {
    Ok(SourceOptions {
        source_key: p
            .string("SourceKey")?
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "content".to_string()),
        keeping_source_when_parse_fail: p.boolean("KeepingSourceWhenParseFail")?.unwrap_or(false),
        keeping_source_when_parse_succeed: p
            .boolean("KeepingSourceWhenParseSucceed")?
            .unwrap_or(false),
        renamed_source_key: p.string("RenamedSourceKey")?.filter(|s| !s.is_empty()),
        coping_raw_log: p.boolean("CopingRawLog")?.unwrap_or(false),
    })
}

fn keys(p: &mut Params<'_>) -> Result<Vec<String>, ConfigError> {
    let mut keys = p.string_list("Keys")?.unwrap_or_default();
    if keys.len() == 1 && keys[0].contains(',') {
        keys = keys[0].split(',').map(str::to_string).collect();
    }
    if keys.is_empty() {
        return Err(ConfigError::Missing {
            at: p.at().to_string(),
            key: "Keys".to_string(),
        });
    }
    Ok(keys)
}

/// Reads one processor object whose `Type` is `type_name`.
pub(crate) fn parse_processor(
    at: String,
    type_name: &str,
    value: &Value,
    warnings: &mut Vec<String>,
) -> Result<ProcessorConfig, ConfigError> {
    let mut p = Params::new(at, value)?;
    let config = match type_name {
        "processor_parse_regex_native" => ProcessorConfig::ParseRegex(ParseRegexConfig {
            source: source_options(&mut p)?,
            regex: p.required_string("Regex")?,
            keys: keys(&mut p)?,
        }),
        "processor_parse_json_native" => ProcessorConfig::ParseJson(ParseJsonConfig {
            source: source_options(&mut p)?,
        }),
        "processor_parse_delimiter_native" => parse_delimiter(&mut p, warnings)?,
        "processor_parse_timestamp_native" => {
            ProcessorConfig::ParseTimestamp(ParseTimestampConfig {
                source_key: p.required_string("SourceKey")?,
                source_format: p.required_string("SourceFormat")?,
                source_timezone: p.string("SourceTimezone")?.filter(|s| !s.is_empty()),
                source_year: p
                    .integer_in("SourceYear", -1, 9999)?
                    .filter(|y| *y > 0)
                    .map(|y| y as i32),
            })
        }
        "processor_filter_regex_native" => parse_native_filter(&mut p)?,
        "processor_filter_regex" => ProcessorConfig::Filter(FilterConfig {
            include: p.string_map("Include")?.unwrap_or_default(),
            exclude: p.string_map("Exclude")?.unwrap_or_default(),
            full_match: false,
            discarding_non_utf8: false,
        }),
        "processor_drop" => ProcessorConfig::Drop(DropConfig {
            drop_keys: p.string_list("DropKeys")?.unwrap_or_default(),
        }),
        "processor_rename" => {
            let source_keys = p.string_list("SourceKeys")?.unwrap_or_default();
            let dest_keys = p.string_list("DestKeys")?.unwrap_or_default();
            if source_keys.len() != dest_keys.len() {
                return Err(p.invalid(
                    "DestKeys",
                    format!(
                        "has {} keys but SourceKeys has {}",
                        dest_keys.len(),
                        source_keys.len()
                    ),
                ));
            }
            if let Some(empty) = dest_keys.iter().position(String::is_empty) {
                return Err(p.invalid(&format!("DestKeys[{empty}]"), "is empty"));
            }
            // NoKeyError only raises an alarm in LoongCollector; Cairn has none to raise.
            p.accept("NoKeyError");
            ProcessorConfig::Rename(RenameConfig {
                source_keys,
                dest_keys,
            })
        }
        "processor_desensitize_native" => parse_desensitize(&mut p, true)?,
        "processor_desensitize" => parse_desensitize(&mut p, false)?,
        other => {
            return Err(ConfigError::UnknownType {
                at: p.at().to_string(),
                type_name: other.to_string(),
            })
        }
    };
    p.finish(warnings);
    Ok(config)
}

fn parse_delimiter(
    p: &mut Params<'_>,
    warnings: &mut Vec<String>,
) -> Result<ProcessorConfig, ConfigError> {
    let source = source_options(p)?;
    let raw_separator = p.string("Separator")?.unwrap_or_default();
    let separator = if raw_separator == "\\t" {
        b"\t".to_vec()
    } else {
        raw_separator.clone().into_bytes()
    };
    if separator.is_empty() || separator.len() > 4 {
        return Err(p.invalid(
            "Separator",
            format!("{raw_separator:?} must be 1 to 4 bytes long"),
        ));
    }
    let quote = match p.string("Quote")? {
        None => (separator.len() == 1).then_some(b'"'),
        Some(q) if separator.len() > 1 => {
            if !q.is_empty() {
                p.warn(
                    warnings,
                    format!("Quote {q:?} is ignored with a multi-byte Separator"),
                );
            }
            None
        }
        Some(q) if q.is_empty() => Some(b'"'),
        Some(q) if q.len() == 1 => Some(q.as_bytes()[0]),
        Some(q) => return Err(p.invalid("Quote", format!("{q:?} is not a single byte"))),
    };
    let keys = keys(p)?;
    let allowing_shortened_fields = p.boolean("AllowingShortenedFields")?.unwrap_or(true);
    let overflowed_fields_treatment = match p
        .string("OverflowedFieldsTreatment")?
        .unwrap_or_default()
        .as_str()
    {
        "" | "extend" => OverflowedFieldsTreatment::Extend,
        "keep" => OverflowedFieldsTreatment::Keep,
        "discard" => OverflowedFieldsTreatment::Discard,
        other => {
            return Err(p.invalid(
                "OverflowedFieldsTreatment",
                format!("{other:?} is not extend, keep or discard"),
            ))
        }
    };
    Ok(ProcessorConfig::ParseDelimiter(ParseDelimiterConfig {
        source,
        separator,
        quote,
        keys,
        allowing_shortened_fields,
        overflowed_fields_treatment,
    }))
}

fn parse_native_filter(p: &mut Params<'_>) -> Result<ProcessorConfig, ConfigError> {
    let filter_keys = p.string_list("FilterKey")?;
    let filter_regexes = p.string_list("FilterRegex")?;
    let include = match (filter_keys, filter_regexes) {
        (Some(keys), Some(regexes)) => {
            if keys.len() != regexes.len() {
                return Err(p.invalid(
                    "FilterRegex",
                    format!(
                        "has {} entries but FilterKey has {}",
                        regexes.len(),
                        keys.len()
                    ),
                ));
            }
            // LoongCollector reads the deprecated Include map only without FilterKey.
            p.accept("Include");
            keys.into_iter().zip(regexes).collect()
        }
        (None, None) => p.string_map("Include")?.unwrap_or_default(),
        (Some(_), None) => {
            return Err(ConfigError::Missing {
                at: p.at().to_string(),
                key: "FilterRegex".to_string(),
            })
        }
        (None, Some(_)) => {
            return Err(ConfigError::Missing {
                at: p.at().to_string(),
                key: "FilterKey".to_string(),
            })
        }
    };
    if p.has("ConditionExp") {
        return Err(p.invalid(
            "ConditionExp",
            "condition expressions are not supported; use FilterKey and FilterRegex",
        ));
    }
    Ok(ProcessorConfig::Filter(FilterConfig {
        include,
        // Cairn extension: LoongCollector's native filter has no Exclude.
        exclude: p.string_map("Exclude")?.unwrap_or_default(),
        full_match: true,
        discarding_non_utf8: p.boolean("DiscardingNonUTF8")?.unwrap_or(false),
    }))
}

fn parse_desensitize(p: &mut Params<'_>, native: bool) -> Result<ProcessorConfig, ConfigError> {
    let source_key = p.required_string("SourceKey")?;
    let (replace_key, before_key, content_key) = if native {
        (
            "ReplacingString",
            "ContentPatternBeforeReplacedString",
            "ReplacedContentPattern",
        )
    } else {
        ("ReplaceString", "RegexBegin", "RegexContent")
    };
    let method = match p.required_string("Method")?.as_str() {
        "const" => match p.string(replace_key)? {
            Some(s) => DesensitizeMethod::Const(s),
            None => {
                return Err(ConfigError::Missing {
                    at: p.at().to_string(),
                    key: replace_key.to_string(),
                })
            }
        },
        "md5" => {
            p.accept(replace_key);
            DesensitizeMethod::Md5
        }
        other => return Err(p.invalid("Method", format!("{other:?} is neither const nor md5"))),
    };
    let full = match p.string("Match")?.as_deref() {
        Some("full") => true,
        Some("regex") => false,
        None => false,
        Some(other) => {
            return Err(p.invalid("Match", format!("{other:?} is neither full nor regex")))
        }
    };
    let target = if full {
        p.accept(before_key);
        p.accept(content_key);
        DesensitizeMatch::Full
    } else {
        let Some(before) = p.string(before_key)? else {
            return Err(ConfigError::Missing {
                at: p.at().to_string(),
                key: before_key.to_string(),
            });
        };
        DesensitizeMatch::Regex {
            before,
            content: p.required_string(content_key)?,
        }
    };
    Ok(ProcessorConfig::Desensitize(DesensitizeConfig {
        source_key,
        method,
        target,
        replacing_all: p.boolean("ReplacingAll")?.unwrap_or(true),
        md5_uppercase: native,
    }))
}
