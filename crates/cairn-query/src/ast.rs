//! The parsed form of an SLS search statement, and its canonical text.
//!
//! How a value is written decides how its tokens must appear (see [`ValueForm`]): unquoted
//! (`error`, `a/b`) and quoted (`"a b"`) values need every token somewhere, in any order;
//! only a phrase (`#"a b"`) needs its tokens consecutively, in order, within one value.
//!
//! Invariants of a [`SearchExpression`] built by the parser:
//! - `And` and `Or` hold at least two children; chains are n-ary (`a and b and c` is one `And`
//!   of three), so the tree is only as deep as the query's parentheses and `not`s (at most 64).
//! - Unquoted text (`Term::text`, `Field::text` with [`ValueForm::Unquoted`]) is in *pattern
//!   form*: `*` and `?` are wildcards, and `\*`, `\?`, `\\` stand for the literal characters. No
//!   other backslash appears in pattern form. Quoted and phrase text is literal.
//! - Field names are unescaped: `__tag__:host` is the name of the tag `host`.
//!
//! [`Display`](std::fmt::Display) prints canonical query text that parses back to an equal
//! expression (phrases print as `#"..."`).

use std::cmp::Ordering;
use std::fmt;

use crate::lexer::{is_keyword, is_special};

/// A search statement, the part of a query before `|`.
#[derive(Debug, Clone, PartialEq)]
pub enum SearchExpression {
    /// `*` or an empty statement: every record matches.
    MatchAll,
    /// An unquoted full-text keyword, in pattern form (may hold `*` / `?` wildcards). Text with
    /// delimiters in it is split into tokens that must all appear, in any order
    /// ([`ValueForm::Unquoted`]).
    Term {
        /// The keyword in pattern form.
        text: String,
    },
    /// Quoted full text (`"a b"`): literal (no wildcards, keywords and delimiters are plain
    /// text), and its tokens must all appear, in any order ([`ValueForm::Quoted`]).
    Quoted {
        /// The text, unescaped.
        text: String,
    },
    /// A full-text phrase (`#"a b"`): literal, and its tokens must appear consecutively, in
    /// order, within one value ([`ValueForm::Phrase`]).
    Phrase {
        /// The phrase, unescaped.
        text: String,
    },
    /// `key: value`, `key: "value"` or `key: #"value"`: on a text field the value's tokens must
    /// appear in the field as [`ValueForm`] says; on a long/double field the value must equal
    /// the field numerically.
    Field {
        /// The field name or alias.
        field: String,
        /// The value: pattern form when unquoted, literal otherwise.
        text: String,
        /// How the value was written.
        form: ValueForm,
    },
    /// `key: *`: the record has the field, whatever its value.
    Exists {
        /// The field name or alias.
        field: String,
    },
    /// `key > n`, `key >= n`, `key < n`, `key <= n`, `key = n`.
    Compare {
        /// The field name or alias.
        field: String,
        /// The comparison.
        op: CompareOp,
        /// The number compared with.
        value: Number,
    },
    /// `key in [low high]`; `(` / `)` instead of `[` / `]` make that end exclusive.
    Range {
        /// The field name or alias.
        field: String,
        /// Lower bound.
        low: Number,
        /// Whether a value equal to `low` matches (`[`).
        low_inclusive: bool,
        /// Upper bound.
        high: Number,
        /// Whether a value equal to `high` matches (`]`).
        high_inclusive: bool,
    },
    /// Every child matches (`and`, or conditions side by side).
    And(Vec<SearchExpression>),
    /// At least one child matches.
    Or(Vec<SearchExpression>),
    /// The child does not match.
    Not(Box<SearchExpression>),
}

/// How a search value was written, which decides how its tokens must appear.
///
/// SLS splits every value into tokens with the index's delimiters. Double quotes only make a
/// value literal; they do not make it a phrase. SLS's "Phrase search" doc
/// (<https://www.alibabacloud.com/help/en/doc-detail/416724.html>) says `#"abc def"` first runs
/// the non-phrase search `"abc def"` (which "matches all logs containing abc and def,
/// regardless of order"), then keeps the logs holding the exact phrase; its examples contrast
/// the non-phrase searches `"redo_index/1"` and `time_local: 02/Mar` (which "match some of the
/// keywords") with `#"redo_index/1"` and `time_local: #"02/Mar"` (which match the whole
/// phrase). So unquoted text with delimiters in it is not a phrase either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueForm {
    /// `value`: pattern form (`*` / `?` are wildcards); every token must appear, in any order.
    Unquoted,
    /// `"value"`: literal; every token must appear, in any order.
    Quoted,
    /// `#"value"`: literal; the tokens must appear consecutively and in order in one value.
    Phrase,
}

impl ValueForm {
    /// Whether `*` and `?` in the value are wildcards.
    pub fn has_wildcards(self) -> bool {
        self == Self::Unquoted
    }

    /// Whether the tokens must appear consecutively and in order in one value (else each
    /// token may appear anywhere).
    pub fn is_phrase(self) -> bool {
        self == Self::Phrase
    }
}

/// A numeric comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `>`
    Greater,
    /// `>=`
    GreaterOrEqual,
    /// `<`
    Less,
    /// `<=`
    LessOrEqual,
    /// `=`
    Equal,
}

impl CompareOp {
    /// The operator as written in a query.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Greater => ">",
            Self::GreaterOrEqual => ">=",
            Self::Less => "<",
            Self::LessOrEqual => "<=",
            Self::Equal => "=",
        }
    }

    /// Whether `ordering` (the field value compared with the query's number) satisfies the
    /// operator.
    pub fn accepts(self, ordering: Ordering) -> bool {
        match self {
            Self::Greater => ordering == Ordering::Greater,
            Self::GreaterOrEqual => ordering != Ordering::Less,
            Self::Less => ordering == Ordering::Less,
            Self::LessOrEqual => ordering != Ordering::Greater,
            Self::Equal => ordering == Ordering::Equal,
        }
    }
}

/// A number in a query or a field value: an integer when it fits `i64`, else a finite double.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// A whole number that fits in 64 bits.
    Integer(i64),
    /// Any other finite number.
    Float(f64),
}

impl Number {
    /// Parses decimal text (`200`, `-3`, `1.5`, `2e3`); surrounding ASCII whitespace is
    /// ignored. Returns `None` for anything else, including NaN and infinities.
    pub fn parse(text: &str) -> Option<Number> {
        let text = text.trim_ascii();
        if let Ok(integer) = text.parse::<i64>() {
            return Some(Number::Integer(integer));
        }
        Self::parse_float(text)
    }

    /// Parses `text` as an integer only (a `long` field value).
    pub fn parse_integer(text: &str) -> Option<Number> {
        text.trim_ascii().parse::<i64>().ok().map(Number::Integer)
    }

    fn parse_float(text: &str) -> Option<Number> {
        // Rust accepts "inf" and "nan"; SLS numbers are plain decimals.
        if !text.bytes().any(|b| b.is_ascii_digit())
            || text
                .bytes()
                .any(|b| b.is_ascii_alphabetic() && b != b'e' && b != b'E')
        {
            return None;
        }
        text.parse::<f64>()
            .ok()
            .filter(|value| value.is_finite())
            .map(Number::Float)
    }

    /// Compares two numbers; integers compare exactly, anything with a float as doubles.
    pub fn compare(self, other: Number) -> Option<Ordering> {
        match (self, other) {
            (Number::Integer(a), Number::Integer(b)) => Some(a.cmp(&b)),
            (a, b) => a.as_f64().partial_cmp(&b.as_f64()),
        }
    }

    /// The number as a double (large integers lose precision).
    pub fn as_f64(self) -> f64 {
        match self {
            // Precision loss above 2^53 is accepted: SLS compares doubles the same way.
            #[allow(clippy::cast_precision_loss)]
            Number::Integer(value) => value as f64,
            Number::Float(value) => value,
        }
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Number::Integer(value) => write!(f, "{value}"),
            // Debug keeps a fractional part or exponent, so the text parses back as a float.
            Number::Float(value) => write!(f, "{value:?}"),
        }
    }
}

impl fmt::Display for SearchExpression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MatchAll => f.write_str("*"),
            Self::Term { text } => write_pattern(f, text),
            Self::Quoted { text } => write_quoted(f, text),
            Self::Phrase { text } => {
                f.write_str("#")?;
                write_quoted(f, text)
            }
            Self::Field { field, text, form } => {
                write_field_name(f, field)?;
                f.write_str(": ")?;
                match form {
                    ValueForm::Unquoted => write_pattern(f, text),
                    ValueForm::Quoted => write_quoted(f, text),
                    ValueForm::Phrase => {
                        f.write_str("#")?;
                        write_quoted(f, text)
                    }
                }
            }
            Self::Exists { field } => {
                write_field_name(f, field)?;
                f.write_str(": *")
            }
            Self::Compare { field, op, value } => {
                write_field_name(f, field)?;
                write!(f, " {} {value}", op.symbol())
            }
            Self::Range {
                field,
                low,
                low_inclusive,
                high,
                high_inclusive,
            } => {
                write_field_name(f, field)?;
                let open = if *low_inclusive { '[' } else { '(' };
                let close = if *high_inclusive { ']' } else { ')' };
                write!(f, " in {open}{low} {high}{close}")
            }
            Self::And(children) => write_chain(f, children, " and ", |child| {
                matches!(child, Self::And(_) | Self::Or(_))
            }),
            Self::Or(children) => {
                write_chain(f, children, " or ", |child| matches!(child, Self::Or(_)))
            }
            Self::Not(child) => {
                f.write_str("not ")?;
                write_child(f, child, matches!(**child, Self::And(_) | Self::Or(_)))
            }
        }
    }
}

fn write_chain(
    f: &mut fmt::Formatter<'_>,
    children: &[SearchExpression],
    separator: &str,
    needs_parentheses: impl Fn(&SearchExpression) -> bool,
) -> fmt::Result {
    for (index, child) in children.iter().enumerate() {
        if index > 0 {
            f.write_str(separator)?;
        }
        write_child(f, child, needs_parentheses(child))?;
    }
    Ok(())
}

fn write_child(
    f: &mut fmt::Formatter<'_>,
    child: &SearchExpression,
    parenthesize: bool,
) -> fmt::Result {
    if parenthesize {
        write!(f, "({child})")
    } else {
        write!(f, "{child}")
    }
}

/// Writes pattern-form text as an unquoted word: its escapes are kept, and characters the
/// lexer would read as syntax are escaped. Keywords get a leading backslash.
fn write_pattern(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    if is_keyword(text) {
        f.write_str("\\")?;
    }
    for c in text.chars() {
        if is_special(c) && c != '\\' {
            f.write_str("\\")?;
        }
        write!(f, "{c}")?;
    }
    Ok(())
}

/// Writes a field name as an unquoted word, escaping everything that is not literal text.
fn write_field_name(f: &mut fmt::Formatter<'_>, name: &str) -> fmt::Result {
    if name.is_empty() {
        return f.write_str("\"\"");
    }
    let (prefix, rest) = match name.strip_prefix("__tag__:") {
        Some(rest) if !rest.is_empty() => ("__tag__:", rest),
        _ => ("", name),
    };
    f.write_str(prefix)?;
    if is_keyword(rest) {
        f.write_str("\\")?;
    }
    for c in rest.chars() {
        if is_special(c) || c == '*' || c == '?' {
            f.write_str("\\")?;
        }
        write!(f, "{c}")?;
    }
    Ok(())
}

fn write_quoted(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in text.chars() {
        if c == '"' || c == '\\' {
            f.write_str("\\")?;
        }
        write!(f, "{c}")?;
    }
    f.write_str("\"")
}
