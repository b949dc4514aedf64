//! Recursive-descent parser for SLS search statements.
//!
//! Grammar (keywords are case-insensitive; precedence `not` > `and` > `or`, as in SLS):
//!
//! ```text
//! query     := search [ "|" sql ]
//! search    := or_expr | <empty>
//! or_expr   := and_expr ( "or" and_expr )*
//! and_expr  := not_expr ( [ "and" ] not_expr )*      -- side by side means "and"
//! not_expr  := "not" not_expr | primary               -- so "a not b" is "a and not b"
//! primary   := "(" or_expr ")" | condition
//! condition := subject ":" value                      -- value "*" means the field exists
//!            | subject ( ">" | ">=" | "<" | "<=" | "=" ) number
//!            | subject "in" ( "[" | "(" ) number number ( "]" | ")" )
//!            | word | "quoted text" | #"phrase" | "*"
//! subject   := word | "quoted name" | "__tag__:" word
//! value     := word | "quoted text" | #"phrase"
//! ```
//!
//! Quotes only make text literal: `"a b"` and `key: "a b"` need the tokens `a` and `b` in any
//! order, like `a b` and `key: a/b` do. `#"a b"` and `key: #"a b"` (also `key:#"a b"`) are
//! phrases: `a` then `b`, consecutively. See [`ValueForm`](crate::ValueForm) and the SLS
//! documentation it cites.
//!
//! Invariants: the input is at most [`MAX_QUERY_BYTES`] long and parentheses plus `not`s nest
//! at most [`MAX_NESTING`] deep, so recursion is bounded; every error carries a character
//! position.

use crate::ast::{Number, SearchExpression, ValueForm};
use crate::lexer::{
    char_position, is_keyword, lex, lex_range, pattern_of, split_sql, syntax_error, unescape_name,
    Mode, Token, TokenKind,
};
use crate::QueryError;

/// The longest query text accepted, in bytes.
pub const MAX_QUERY_BYTES: usize = 64 * 1024;

/// The deepest nesting of parentheses and `not` accepted.
pub const MAX_NESTING: usize = 64;

/// A parsed query: the search statement and, if the text had a `|`, the SQL after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The search statement (before `|`); [`SearchExpression::MatchAll`] when empty or `*`.
    pub search: SearchExpression,
    /// The text after the first `|` outside quotes and parentheses, trimmed; `None` when the
    /// query has no such `|`.
    pub sql: Option<String>,
}

/// Parses a whole query: a search statement, optionally followed by `|` and SQL (returned,
/// not parsed).
pub fn parse_query(text: &str) -> Result<Query, QueryError> {
    if text.len() > MAX_QUERY_BYTES {
        return Err(QueryError::TooLarge {
            length: text.len(),
            limit: MAX_QUERY_BYTES,
        });
    }
    let (search, sql) = split_sql(text);
    Ok(Query {
        search: parse_search(search)?,
        sql: sql.map(str::to_owned),
    })
}

/// Parses a search statement alone (a `|` in it, outside quotes, is a syntax error).
pub fn parse_search(text: &str) -> Result<SearchExpression, QueryError> {
    if text.len() > MAX_QUERY_BYTES {
        return Err(QueryError::TooLarge {
            length: text.len(),
            limit: MAX_QUERY_BYTES,
        });
    }
    let mut parser = Parser {
        src: text,
        pos: 0,
        depth: 0,
    };
    if parser.peek(Mode::Normal)?.kind == TokenKind::End {
        return Ok(SearchExpression::MatchAll);
    }
    let expression = parser.parse_or()?;
    let rest = parser.peek(Mode::Normal)?;
    match rest.kind {
        TokenKind::End => Ok(expression),
        TokenKind::RightParen => Err(syntax_error(
            text,
            rest.start,
            "unexpected \")\": there is no \"(\" for it to close",
        )),
        _ => Err(syntax_error(text, rest.start, "unexpected text")),
    }
}

/// The operators written as words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keyword {
    And,
    Or,
    Not,
}

/// What a condition is about: a field name if an operator follows, else a term or phrase.
struct Subject {
    /// The field name this subject would be (unescaped).
    name: String,
    /// What the subject means on its own.
    alone: SearchExpression,
}

struct Parser<'a> {
    src: &'a str,
    /// Byte offset of the next unread character.
    pos: usize,
    /// Current nesting of parentheses and `not`.
    depth: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self, mode: Mode) -> Result<Token, QueryError> {
        lex(self.src, self.pos, mode)
    }

    fn advance(&mut self, token: &Token) {
        self.pos = token.end;
    }

    fn text(&self, token: &Token) -> &'a str {
        &self.src[token.start..token.end]
    }

    fn keyword(&self, token: &Token) -> Option<Keyword> {
        if token.kind != TokenKind::Word {
            return None;
        }
        let word = self.text(token);
        [
            ("and", Keyword::And),
            ("or", Keyword::Or),
            ("not", Keyword::Not),
        ]
        .into_iter()
        .find(|(text, _)| word.eq_ignore_ascii_case(text))
        .map(|(_, keyword)| keyword)
    }

    fn error(&self, byte: usize, message: impl Into<String>) -> QueryError {
        syntax_error(self.src, byte, message)
    }

    /// Goes one nesting level deeper, failing past [`MAX_NESTING`].
    fn enter(&mut self, at: usize) -> Result<(), QueryError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(QueryError::TooDeep {
                position: char_position(self.src, at),
                limit: MAX_NESTING,
            });
        }
        Ok(())
    }

    /// After the operator `operator`, checks that a condition follows.
    fn expect_operand(&self, operator: &Token) -> Result<(), QueryError> {
        let next = self.peek(Mode::Normal)?;
        let missing = match next.kind {
            TokenKind::End | TokenKind::RightParen => true,
            TokenKind::Word => matches!(self.keyword(&next), Some(Keyword::And | Keyword::Or)),
            _ => false,
        };
        if missing {
            let word = self.text(operator);
            return Err(self.error(
                operator.start,
                format!("{word:?} must be followed by a search condition"),
            ));
        }
        Ok(())
    }

    fn parse_or(&mut self) -> Result<SearchExpression, QueryError> {
        let mut children = vec![self.parse_and()?];
        loop {
            let next = self.peek(Mode::Normal)?;
            if self.keyword(&next) != Some(Keyword::Or) {
                break;
            }
            self.advance(&next);
            self.expect_operand(&next)?;
            children.push(self.parse_and()?);
        }
        Ok(collapse(children, SearchExpression::Or))
    }

    fn parse_and(&mut self) -> Result<SearchExpression, QueryError> {
        let mut children = vec![self.parse_not()?];
        loop {
            let next = self.peek(Mode::Normal)?;
            match (&next.kind, self.keyword(&next)) {
                (TokenKind::End | TokenKind::RightParen, _) | (_, Some(Keyword::Or)) => break,
                (_, Some(Keyword::And)) => {
                    self.advance(&next);
                    self.expect_operand(&next)?;
                }
                _ => {}
            }
            children.push(self.parse_not()?);
        }
        Ok(collapse(children, SearchExpression::And))
    }

    fn parse_not(&mut self) -> Result<SearchExpression, QueryError> {
        let next = self.peek(Mode::Normal)?;
        if self.keyword(&next) != Some(Keyword::Not) {
            return self.parse_primary();
        }
        self.enter(next.start)?;
        self.advance(&next);
        self.expect_operand(&next)?;
        let inner = self.parse_not()?;
        self.depth -= 1;
        Ok(SearchExpression::Not(Box::new(inner)))
    }

    fn parse_primary(&mut self) -> Result<SearchExpression, QueryError> {
        let token = self.peek(Mode::Normal)?;
        match &token.kind {
            TokenKind::LeftParen => {
                self.enter(token.start)?;
                self.advance(&token);
                let inner = self.parse_or()?;
                let close = self.peek(Mode::Normal)?;
                if close.kind != TokenKind::RightParen {
                    return Err(self.error(
                        token.start,
                        "the \"(\" opened here is never closed; add a \")\"",
                    ));
                }
                self.advance(&close);
                self.depth -= 1;
                Ok(inner)
            }
            TokenKind::RightParen => {
                Err(self.error(token.start, "expected a search condition before \")\""))
            }
            TokenKind::Colon => Err(self.error(
                token.start,
                "\":\" needs a field name before it, e.g. status: 200",
            )),
            TokenKind::Compare(op) => Err(self.error(
                token.start,
                format!(
                    "{:?} needs a field name before it, e.g. status {} 200",
                    op.symbol(),
                    op.symbol()
                ),
            )),
            TokenKind::End => Err(self.error(
                token.start,
                "expected a search condition, found the end of the query",
            )),
            TokenKind::Quoted(text) => {
                self.advance(&token);
                let subject = Subject {
                    name: text.clone(),
                    alone: SearchExpression::Quoted { text: text.clone() },
                };
                self.parse_condition(subject)
            }
            TokenKind::Phrase(text) => {
                self.advance(&token);
                self.reject_phrase_as_field_name(&token)?;
                Ok(SearchExpression::Phrase { text: text.clone() })
            }
            TokenKind::Word => {
                let word = self.text(&token);
                if self.keyword(&token).is_some() {
                    return Err(self.error(
                        token.start,
                        format!("{word:?} needs a search condition on its left"),
                    ));
                }
                self.advance(&token);
                let subject = self.word_subject(word);
                self.parse_condition(subject)
            }
        }
    }

    /// After the full-text phrase `phrase`, fails if an operator follows that would make it a
    /// field name (`#"a": x`, `#"a" > 1`, `#"a" in [1 2]`): only `"..."` can name a field.
    fn reject_phrase_as_field_name(&self, phrase: &Token) -> Result<(), QueryError> {
        let next = self.peek(Mode::Normal)?;
        let operator = match next.kind {
            TokenKind::Colon | TokenKind::Compare(_) => true,
            TokenKind::Word => {
                self.text(&next).eq_ignore_ascii_case("in")
                    && self.src[next.end..].trim_start().starts_with('[')
            }
            _ => false,
        };
        if operator {
            let name = &self.text(phrase)[1..];
            return Err(self.error(
                phrase.start,
                format!(
                    "a phrase (#\"...\") cannot be a field name; write the name without #, \
                     e.g. {name}: value"
                ),
            ));
        }
        Ok(())
    }

    /// The subject for an unquoted word just consumed, gluing `__tag__:key` when the tag's key
    /// follows with no space and an operator comes after it.
    fn word_subject(&mut self, word: &str) -> Subject {
        if word == "__tag__" && self.src[self.pos..].starts_with(':') {
            let key_at = self.pos + 1;
            if let Ok(key) = lex(self.src, key_at, Mode::Normal) {
                let adjacent_word = key.kind == TokenKind::Word && key.start == key_at;
                if adjacent_word && !is_keyword(self.text(&key)) {
                    let after = lex(self.src, key.end, Mode::Normal);
                    let operator_follows = after.is_ok_and(|after| match after.kind {
                        TokenKind::Colon | TokenKind::Compare(_) => true,
                        TokenKind::Word => self.text(&after).eq_ignore_ascii_case("in"),
                        _ => false,
                    });
                    if operator_follows {
                        self.pos = key.end;
                        let key_text = self.text(&key);
                        let pattern = pattern_of(key_text);
                        // Only used for `__tag__:k in (...)` that is not a range; `__tag__:*`
                        // is the same existence test `__tag__: *` parses to.
                        let alone = if pattern.chars().all(|c| c == '*') {
                            SearchExpression::Exists {
                                field: "__tag__".to_owned(),
                            }
                        } else {
                            SearchExpression::Field {
                                field: "__tag__".to_owned(),
                                text: pattern,
                                form: ValueForm::Unquoted,
                            }
                        };
                        return Subject {
                            name: format!("__tag__:{}", unescape_name(key_text)),
                            alone,
                        };
                    }
                }
            }
        }
        let pattern = pattern_of(word);
        let alone = if pattern.chars().all(|c| c == '*') {
            SearchExpression::MatchAll
        } else {
            SearchExpression::Term { text: pattern }
        };
        Subject {
            name: unescape_name(word),
            alone,
        }
    }

    fn parse_condition(&mut self, subject: Subject) -> Result<SearchExpression, QueryError> {
        let next = self.peek(Mode::Normal)?;
        match next.kind {
            TokenKind::Colon => {
                self.advance(&next);
                self.parse_field_value(subject.name, &next)
            }
            TokenKind::Compare(op) => {
                self.advance(&next);
                let value = self.parse_number(&subject.name, op.symbol(), &next)?;
                Ok(SearchExpression::Compare {
                    field: subject.name,
                    op,
                    value,
                })
            }
            TokenKind::Word if self.text(&next).eq_ignore_ascii_case("in") => {
                let opens_with_bracket = self.src[next.end..].trim_start().starts_with('[');
                match lex_range(self.src, next.end) {
                    Ok(range) => {
                        self.pos = range.end;
                        Ok(SearchExpression::Range {
                            field: subject.name,
                            low: range.low,
                            low_inclusive: range.low_inclusive,
                            high: range.high,
                            high_inclusive: range.high_inclusive,
                        })
                    }
                    // `key in [..` can only be a range; `key in (a or b)` is plain words.
                    Err(error) if opens_with_bracket => Err(error),
                    Err(_) => Ok(subject.alone),
                }
            }
            _ => Ok(subject.alone),
        }
    }

    fn parse_field_value(
        &mut self,
        field: String,
        colon: &Token,
    ) -> Result<SearchExpression, QueryError> {
        let value = self.peek(Mode::Value)?;
        match value.kind {
            TokenKind::Word => {
                self.advance(&value);
                let text = pattern_of(self.text(&value));
                if text.chars().all(|c| c == '*') {
                    Ok(SearchExpression::Exists { field })
                } else {
                    Ok(SearchExpression::Field {
                        field,
                        text,
                        form: ValueForm::Unquoted,
                    })
                }
            }
            TokenKind::Quoted(text) => {
                self.pos = value.end;
                Ok(SearchExpression::Field {
                    field,
                    text,
                    form: ValueForm::Quoted,
                })
            }
            TokenKind::Phrase(text) => {
                self.pos = value.end;
                Ok(SearchExpression::Field {
                    field,
                    text,
                    form: ValueForm::Phrase,
                })
            }
            _ => Err(self.error(
                colon.start,
                format!(
                    "\"{field}:\" needs a value after it, e.g. {field}: value, \
                     {field}: \"two words\" or the phrase {field}: #\"two words\""
                ),
            )),
        }
    }

    fn parse_number(
        &mut self,
        field: &str,
        symbol: &str,
        operator: &Token,
    ) -> Result<Number, QueryError> {
        let value = self.peek(Mode::Normal)?;
        let text = match &value.kind {
            TokenKind::Word => unescape_name(self.text(&value)),
            TokenKind::Quoted(text) => text.clone(),
            _ => {
                return Err(self.error(
                    operator.start,
                    format!("{symbol:?} needs a number after it, e.g. {field} {symbol} 200"),
                ))
            }
        };
        let number = Number::parse(&text).ok_or_else(|| {
            self.error(
                value.start,
                format!(
                    "{text:?} is not a number, so \"{field} {symbol} {text}\" cannot compare; \
                     to search for the text itself, quote it: \"{field}{symbol}{text}\""
                ),
            )
        })?;
        self.advance(&value);
        Ok(number)
    }
}

/// One child stays itself; several become `combine(children)`.
fn collapse(
    mut children: Vec<SearchExpression>,
    combine: fn(Vec<SearchExpression>) -> SearchExpression,
) -> SearchExpression {
    if children.len() == 1 {
        children.pop().unwrap_or(SearchExpression::MatchAll)
    } else {
        combine(children)
    }
}
