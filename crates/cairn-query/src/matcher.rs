//! Evaluating a search expression against records, under a logstore's index config.
//!
//! [`SearchMatcher::new`] resolves every field name (aliases included) and compiles every
//! value into token patterns once; [`SearchMatcher::matches`] then only walks record bytes.
//!
//! Semantics, and where Cairn is deliberately more lenient than SLS:
//! - A value is split into tokens with the delimiters of the text it searches. Unquoted
//!   (`a/b`) and quoted (`"a b"`) values need every token, in any order and at any position;
//!   a phrase (`#"a b"`) needs its tokens consecutively and in order within one value (see
//!   [`ValueForm`] for the SLS documentation behind this). `*` / `?` are wildcards only in
//!   unquoted values.
//! - Full-text search matches the tokens of content keys and values (SLS indexes both),
//!   honouring `include_keys` / `exclude_keys`; `__topic__`, `__source__` and tags are reached
//!   with field syntax only. The tokens of a full-text term or quoted text may each be in a
//!   different key or value; a phrase stays within one value (or one key), never spanning from
//!   a key into its value. `key: value` looks in that field only, whatever the form.
//! - With no index config (or one with neither `line` nor `keys`), full text uses SLS's
//!   default delimiters, case-insensitively, and every field is searchable as text.
//! - With field indexes but no full-text index, a full-text search looks in every
//!   `text`/`json` field, with each field's delimiters; all of its tokens must then be in the
//!   same field.
//! - `key: value` on a field without a field index is searched as text (with the full-text
//!   delimiters and case mode, or SLS's defaults), where SLS would find nothing.
//! - `key > n`, `key in [a b]` and `key = n` on a field without a field index parse the
//!   value as a number (records whose value is not a number do not match); on a `text` or
//!   `json` field they are an error.
//! - On `long` fields values must be integers; on `double` fields any decimal number.
//! - `__time__` is the record's time in seconds, usable like a long field.
//! - `json` fields are searched as text over their raw value; paths into them (`a.b`) are
//!   looked up as plain keys.

use cairn_model::{FieldIndexType, IndexConfig, LogRecord, DEFAULT_TOKEN_DELIMITERS};

use crate::ast::{CompareOp, Number, SearchExpression, ValueForm};
use crate::pattern::TextSearch;
use crate::QueryError;
use cairn_model::tokenizer::Tokenizer;
use cairn_model::TokenQuery;

/// A search expression compiled against an index config, ready to test records.
#[derive(Debug, Clone)]
pub struct SearchMatcher {
    root: Node,
}

#[derive(Debug, Clone)]
enum Node {
    All,
    FullText(FullText),
    FieldText {
        field: String,
        search: TextSearch,
    },
    Exists {
        field: String,
    },
    Numeric {
        source: NumberSource,
        test: NumericTest,
    },
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
}

/// Full-text search over content keys and values.
#[derive(Debug, Clone)]
struct FullText {
    search: TextSearch,
    include_keys: Option<Vec<Vec<u8>>>,
    exclude_keys: Vec<Vec<u8>>,
}

/// Where a numeric condition reads its number from.
#[derive(Debug, Clone)]
enum NumberSource {
    /// The record's time in seconds.
    Time,
    /// A field's value, parsed as the field's type.
    Field { field: String, kind: NumericKind },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NumericKind {
    /// `long`: integers only.
    Long,
    /// `double`, or a field without an index: any decimal number.
    Any,
}

#[derive(Debug, Clone, Copy)]
enum NumericTest {
    Compare(CompareOp, Number),
    Range {
        low: Number,
        low_inclusive: bool,
        high: Number,
        high_inclusive: bool,
    },
}

/// How a field named in a query is indexed.
enum Resolved {
    /// Searched as text with these settings; `declared` says a `text`/`json` index exists.
    Text {
        field: String,
        tokenizer: Tokenizer,
        case_sensitive: bool,
        declared: bool,
    },
    /// A `long` or `double` field.
    Numeric {
        field: String,
        kind: NumericKind,
        type_name: &'static str,
    },
    /// `__time__`.
    Time,
}

impl SearchMatcher {
    /// Compiles `search` for a logstore whose index config is `index` (`None`: no index).
    ///
    /// Fails when a condition cannot apply to its field's index: a numeric comparison on a
    /// text field, a non-numeric value on a long/double field, or a full-text term when the
    /// logstore indexes no text at all.
    pub fn new(
        search: &SearchExpression,
        index: Option<&IndexConfig>,
    ) -> Result<SearchMatcher, QueryError> {
        let index = index.filter(|config| config.line.is_some() || !config.keys.is_empty());
        let default_text = match index.and_then(|config| config.line.as_ref()) {
            Some(line) => (Tokenizer::new(&line.delimiters()), line.case_sensitive),
            None => (default_tokenizer(), false),
        };
        let compiler = Compiler {
            index,
            default_text,
        };
        Ok(SearchMatcher {
            root: compiler.compile(search)?,
        })
    }

    /// Whether `record` satisfies the search.
    pub fn matches(&self, record: &LogRecord) -> bool {
        self.root.matches(record)
    }

    /// The tokens a record must contain to match, for a token index built with
    /// `index_tokenizer` (see [`TokenQuery`]): a necessary condition, never a sufficient one.
    pub fn token_query(&self, index_tokenizer: &Tokenizer) -> TokenQuery {
        self.root.token_query(index_tokenizer)
    }

    /// Whether every record matches (the search is `*`, empty, or equivalent), so callers
    /// may skip matching.
    pub fn matches_all(&self) -> bool {
        matches!(self.root, Node::All)
    }
}

impl Node {
    fn token_query(&self, index_tokenizer: &Tokenizer) -> TokenQuery {
        match self {
            Node::FullText(full_text) => full_text.search.token_query(index_tokenizer),
            Node::FieldText { search, .. } => search.token_query(index_tokenizer),
            Node::And(children) => TokenQuery::All(
                children
                    .iter()
                    .map(|child| child.token_query(index_tokenizer))
                    .collect(),
            ),
            Node::Or(children) => TokenQuery::Any(
                children
                    .iter()
                    .map(|child| child.token_query(index_tokenizer))
                    .collect(),
            ),
            Node::All | Node::Exists { .. } | Node::Numeric { .. } | Node::Not(_) => {
                TokenQuery::Everything
            }
        }
    }

    fn matches(&self, record: &LogRecord) -> bool {
        match self {
            Node::All => true,
            Node::FullText(full_text) => full_text.matches(record),
            Node::FieldText { field, search } => record
                .field(field)
                .is_some_and(|value| search.matches(value)),
            Node::Exists { field } => record.field(field).is_some(),
            Node::Numeric { source, test } => source.read(record).is_some_and(|n| test.accepts(n)),
            Node::And(children) => children.iter().all(|child| child.matches(record)),
            Node::Or(children) => children.iter().any(|child| child.matches(record)),
            Node::Not(child) => !child.matches(record),
        }
    }
}

impl FullText {
    fn in_scope(&self, key: &[u8]) -> bool {
        let included = self
            .include_keys
            .as_ref()
            .is_none_or(|keys| keys.iter().any(|k| k == key));
        included && !self.exclude_keys.iter().any(|k| k == key)
    }

    fn matches(&self, record: &LogRecord) -> bool {
        let search = &self.search;
        if search.is_phrase() {
            // A phrase stays within one key or one value.
            return record.contents.iter().any(|field| {
                self.in_scope(&field.key)
                    && (search.matches(&field.value) || search.matches(&field.key))
            });
        }
        // Every token somewhere in the full text, each in any key or value.
        (0..search.token_count()).all(|index| {
            record.contents.iter().any(|field| {
                self.in_scope(&field.key)
                    && (search.has_token(index, &field.value)
                        || search.has_token(index, &field.key))
            })
        })
    }
}

impl NumberSource {
    fn read(&self, record: &LogRecord) -> Option<Number> {
        match self {
            NumberSource::Time => Some(Number::Integer(i64::from(record.time.seconds))),
            NumberSource::Field { field, kind } => {
                let text = std::str::from_utf8(record.field(field)?).ok()?;
                match kind {
                    NumericKind::Long => Number::parse_integer(text),
                    NumericKind::Any => Number::parse(text),
                }
            }
        }
    }
}

impl NumericTest {
    fn accepts(self, value: Number) -> bool {
        match self {
            NumericTest::Compare(op, bound) => value.compare(bound).is_some_and(|o| op.accepts(o)),
            NumericTest::Range {
                low,
                low_inclusive,
                high,
                high_inclusive,
            } => {
                let above = if low_inclusive {
                    CompareOp::GreaterOrEqual
                } else {
                    CompareOp::Greater
                };
                let below = if high_inclusive {
                    CompareOp::LessOrEqual
                } else {
                    CompareOp::Less
                };
                value.compare(low).is_some_and(|o| above.accepts(o))
                    && value.compare(high).is_some_and(|o| below.accepts(o))
            }
        }
    }
}

struct Compiler<'i> {
    /// The index config; `None` when the logstore has none (or an empty one).
    index: Option<&'i IndexConfig>,
    /// Tokenizer and case mode for text without a field index of its own: the full-text
    /// index's, or SLS's defaults (case-insensitive).
    default_text: (Tokenizer, bool),
}

fn default_tokenizer() -> Tokenizer {
    Tokenizer::new(&DEFAULT_TOKEN_DELIMITERS.chars().collect::<Vec<_>>())
}

impl Compiler<'_> {
    fn compile(&self, search: &SearchExpression) -> Result<Node, QueryError> {
        match search {
            SearchExpression::MatchAll => Ok(Node::All),
            SearchExpression::Term { text } => self.full_text(text, ValueForm::Unquoted),
            SearchExpression::Quoted { text } => self.full_text(text, ValueForm::Quoted),
            SearchExpression::Phrase { text } => self.full_text(text, ValueForm::Phrase),
            SearchExpression::Field { field, text, form } => self.field_value(field, text, *form),
            SearchExpression::Exists { field } => Ok(match self.resolve(field) {
                Resolved::Time => Node::All,
                Resolved::Text { field, .. } | Resolved::Numeric { field, .. } => {
                    Node::Exists { field }
                }
            }),
            SearchExpression::Compare { field, op, value } => {
                self.numeric(field, NumericTest::Compare(*op, *value))
            }
            SearchExpression::Range {
                field,
                low,
                low_inclusive,
                high,
                high_inclusive,
            } => self.numeric(
                field,
                NumericTest::Range {
                    low: *low,
                    low_inclusive: *low_inclusive,
                    high: *high,
                    high_inclusive: *high_inclusive,
                },
            ),
            SearchExpression::And(children) => {
                let mut compiled = Vec::with_capacity(children.len());
                for child in children {
                    match self.compile(child)? {
                        Node::All => {}
                        node => compiled.push(node),
                    }
                }
                Ok(match compiled.len() {
                    0 => Node::All,
                    1 => compiled.pop().unwrap_or(Node::All),
                    _ => Node::And(compiled),
                })
            }
            SearchExpression::Or(children) => {
                let compiled = children
                    .iter()
                    .map(|child| self.compile(child))
                    .collect::<Result<Vec<_>, _>>()?;
                if compiled.iter().any(|node| matches!(node, Node::All)) {
                    return Ok(Node::All);
                }
                Ok(Node::Or(compiled))
            }
            SearchExpression::Not(child) => Ok(Node::Not(Box::new(self.compile(child)?))),
        }
    }

    fn resolve(&self, name: &str) -> Resolved {
        let declared = self.index.and_then(|config| config.field(name));
        match declared {
            Some((field, index)) => match index.field_type {
                FieldIndexType::Text | FieldIndexType::Json => Resolved::Text {
                    field: field.to_owned(),
                    tokenizer: Tokenizer::new(&index.delimiters()),
                    case_sensitive: index.case_sensitive,
                    declared: true,
                },
                FieldIndexType::Long => Resolved::Numeric {
                    field: field.to_owned(),
                    kind: NumericKind::Long,
                    type_name: "long",
                },
                FieldIndexType::Double => Resolved::Numeric {
                    field: field.to_owned(),
                    kind: NumericKind::Any,
                    type_name: "double",
                },
            },
            None if name == "__time__" => Resolved::Time,
            None => {
                let (tokenizer, case_sensitive) = self.default_text.clone();
                Resolved::Text {
                    field: name.to_owned(),
                    tokenizer,
                    case_sensitive,
                    declared: false,
                }
            }
        }
    }

    fn full_text(&self, text: &str, form: ValueForm) -> Result<Node, QueryError> {
        let (tokenizer, case_sensitive) = self.default_text.clone();
        let Some(config) = self.index else {
            let search = TextSearch::compile(text, form, tokenizer, case_sensitive);
            return Ok(full_text_node(search, None, Vec::new()));
        };
        if let Some(line) = &config.line {
            let search = TextSearch::compile(text, form, tokenizer, case_sensitive);
            let as_bytes = |keys: &Vec<String>| -> Vec<Vec<u8>> {
                keys.iter().map(|key| key.as_bytes().to_vec()).collect()
            };
            let include = line.include_keys.as_ref().map(as_bytes);
            let exclude = line.exclude_keys.as_ref().map(as_bytes).unwrap_or_default();
            return Ok(full_text_node(search, include, exclude));
        }
        // Field indexes only: search every text-like field.
        let mut fields = Vec::new();
        for (field, index) in &config.keys {
            if matches!(
                index.field_type,
                FieldIndexType::Text | FieldIndexType::Json
            ) {
                let tokenizer = Tokenizer::new(&index.delimiters());
                let search = TextSearch::compile(text, form, tokenizer, index.case_sensitive);
                if search.is_empty() {
                    return Ok(Node::All);
                }
                fields.push(Node::FieldText {
                    field: field.clone(),
                    search,
                });
            }
        }
        match fields.len() {
            0 => Err(QueryError::FullTextUnavailable {
                term: text.to_owned(),
            }),
            1 => Ok(fields.pop().unwrap_or(Node::All)),
            _ => Ok(Node::Or(fields)),
        }
    }

    fn field_value(&self, name: &str, text: &str, form: ValueForm) -> Result<Node, QueryError> {
        match self.resolve(name) {
            Resolved::Text {
                field,
                tokenizer,
                case_sensitive,
                ..
            } => Ok(Node::FieldText {
                field,
                search: TextSearch::compile(text, form, tokenizer, case_sensitive),
            }),
            resolved @ (Resolved::Numeric { .. } | Resolved::Time) => {
                let type_name = match &resolved {
                    Resolved::Numeric { type_name, .. } => *type_name,
                    _ => "long",
                };
                let literal = if !form.has_wildcards() {
                    text.to_owned()
                } else {
                    if text.contains(['*', '?']) {
                        return Err(QueryError::InvalidField {
                            field: name.to_owned(),
                            message: format!(
                                "it is indexed as {type_name}, so the wildcard in {text:?} \
                                 cannot match; use a range such as {name} in [100 199]"
                            ),
                        });
                    }
                    text.replace('\\', "")
                };
                let Some(number) = Number::parse(&literal) else {
                    return Err(QueryError::InvalidField {
                        field: name.to_owned(),
                        message: format!(
                            "it is indexed as {type_name} and {literal:?} is not a number; \
                             search it with a number, e.g. {name}: 200 or {name} > 100"
                        ),
                    });
                };
                Ok(Node::Numeric {
                    source: number_source(resolved),
                    test: NumericTest::Compare(CompareOp::Equal, number),
                })
            }
        }
    }

    fn numeric(&self, name: &str, test: NumericTest) -> Result<Node, QueryError> {
        let resolved = self.resolve(name);
        if let Resolved::Text { declared: true, .. } = resolved {
            return Err(QueryError::InvalidField {
                field: name.to_owned(),
                message: "its index type is text, and numeric comparisons (>, >=, <, <=, =, \
                          in) need a long or double field index; change the field's index \
                          type, or search text with key: value"
                    .to_owned(),
            });
        }
        Ok(Node::Numeric {
            source: number_source(resolved),
            test,
        })
    }
}

fn full_text_node(
    search: TextSearch,
    include_keys: Option<Vec<Vec<u8>>>,
    exclude_keys: Vec<Vec<u8>>,
) -> Node {
    if search.is_empty() {
        // A term made only of delimiters (e.g. `""`, `#""`) constrains nothing.
        return Node::All;
    }
    Node::FullText(FullText {
        search,
        include_keys,
        exclude_keys,
    })
}

fn number_source(resolved: Resolved) -> NumberSource {
    match resolved {
        Resolved::Time => NumberSource::Time,
        Resolved::Numeric { field, kind, .. } => NumberSource::Field { field, kind },
        Resolved::Text { field, .. } => NumberSource::Field {
            field,
            kind: NumericKind::Any,
        },
    }
}
