//! Turns search-statement text into tokens, one at a time, on demand of the parser.
//!
//! The lexer is stateless: [`lex`] reads the token that starts at (or after whitespace
//! following) a byte offset. The parser chooses a [`Mode`] per call because SLS syntax is
//! context-dependent: after `key:` a value may contain `:`, `=`, `<`, `>` (`url: http://a/b`,
//! `time: 12:30:01`), elsewhere those characters are operators.
//!
//! Offsets in [`Token`] are byte offsets; errors report 0-based *character* positions.
//! A backslash escapes the next character outside quotes; inside quotes only `\"` and `\\`
//! are escapes, any other backslash is literal (so `"C:\logs"` needs no doubling).
//!
//! `#` directly followed by `"` at the start of a token marks a phrase (`#"a b"`, also after
//! `key:`). Anywhere else `#` is an ordinary character of a word (`#refused`, `a#"b"` is the
//! word `a#` then the quoted `"b"`); `\#"b"` is the word `#` then the quoted `"b"`.

use crate::ast::{CompareOp, Number};
use crate::QueryError;

/// Which characters end an unquoted word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Terms and field names: whitespace, `( ) " | : < > =` end a word.
    Normal,
    /// Values after `key:`: only whitespace, `( ) " |` end a word.
    Value,
}

/// What a token is; unquoted words are kept as source slices (see [`Token::start`]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TokenKind {
    /// An unquoted word, `src[start..end]`, escapes still in it.
    Word,
    /// A double-quoted string, unescaped.
    Quoted(String),
    /// `#` and a double-quoted string: a phrase, unescaped.
    Phrase(String),
    /// `(`
    LeftParen,
    /// `)`
    RightParen,
    /// `:`
    Colon,
    /// `>`, `>=`, `<`, `<=`, `=`
    Compare(CompareOp),
    /// The end of the search statement.
    End,
}

/// One token and where it is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    /// What it is.
    pub kind: TokenKind,
    /// Byte offset of its first character.
    pub start: usize,
    /// Byte offset just past it.
    pub end: usize,
}

/// A numeric range as written after `in`: `[10 20]`, `(1.5 3)`, ...
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RangeToken {
    pub low: Number,
    pub low_inclusive: bool,
    pub high: Number,
    pub high_inclusive: bool,
    /// Byte offset just past the closing bracket.
    pub end: usize,
}

/// Whether `c` has a meaning in the search syntax outside quotes (so must be escaped to be
/// part of a word).
pub(crate) fn is_special(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '"' | ':' | '<' | '>' | '=' | '|' | '\\')
}

/// Whether `word` is one of the operators `and`, `or`, `not` (any case).
pub(crate) fn is_keyword(word: &str) -> bool {
    ["and", "or", "not"]
        .iter()
        .any(|keyword| word.eq_ignore_ascii_case(keyword))
}

/// The 0-based character position of byte offset `byte` in `src`.
pub(crate) fn char_position(src: &str, byte: usize) -> usize {
    src.get(..byte)
        .map_or_else(|| src.chars().count(), |prefix| prefix.chars().count())
}

/// A syntax error at byte offset `byte` of `src`.
pub(crate) fn syntax_error(src: &str, byte: usize, message: impl Into<String>) -> QueryError {
    QueryError::Syntax {
        position: char_position(src, byte),
        message: message.into(),
    }
}

/// Splits a query into its search statement and the SQL after the first `|` that is outside
/// double quotes and parentheses and not escaped.
pub(crate) fn split_sql(text: &str) -> (&str, Option<&str>) {
    let mut in_quotes = false;
    let mut depth: usize = 0;
    let mut chars = text.char_indices();
    while let Some((offset, c)) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '"' => in_quotes = !in_quotes,
            '(' if !in_quotes => depth += 1,
            ')' if !in_quotes => depth = depth.saturating_sub(1),
            '|' if !in_quotes && depth == 0 => {
                return (&text[..offset], Some(text[offset + 1..].trim()));
            }
            _ => {}
        }
    }
    (text, None)
}

fn skip_whitespace(src: &str, mut pos: usize) -> usize {
    while let Some(c) = src[pos..].chars().next() {
        if !c.is_whitespace() {
            break;
        }
        pos += c.len_utf8();
    }
    pos
}

fn ends_word(c: char, mode: Mode) -> bool {
    match mode {
        Mode::Normal => is_special(c) && c != '\\',
        Mode::Value => c.is_whitespace() || matches!(c, '(' | ')' | '"' | '|'),
    }
}

/// Reads the token at or after byte offset `pos` (which must be a char boundary).
pub(crate) fn lex(src: &str, pos: usize, mode: Mode) -> Result<Token, QueryError> {
    let start = skip_whitespace(src, pos);
    let mut rest = src[start..].chars();
    let Some(first) = rest.next() else {
        return Ok(Token {
            kind: TokenKind::End,
            start,
            end: start,
        });
    };
    let single = |kind| {
        Ok(Token {
            kind,
            start,
            end: start + 1,
        })
    };
    match first {
        '(' => single(TokenKind::LeftParen),
        ')' => single(TokenKind::RightParen),
        '"' => {
            let (text, end) = lex_quoted(src, start)?;
            Ok(Token {
                kind: TokenKind::Quoted(text),
                start,
                end,
            })
        }
        '#' if src[start + 1..].starts_with('"') => {
            let (text, end) = lex_quoted(src, start + 1)?;
            Ok(Token {
                kind: TokenKind::Phrase(text),
                start,
                end,
            })
        }
        '|' => Err(syntax_error(
            src,
            start,
            "unexpected \"|\": the separator between search and SQL must not be inside \
             parentheses",
        )),
        ':' if mode == Mode::Normal => single(TokenKind::Colon),
        '<' | '>' | '=' if mode == Mode::Normal => {
            let with_equal = first != '=' && rest.next() == Some('=');
            let op = match (first, with_equal) {
                ('>', true) => CompareOp::GreaterOrEqual,
                ('>', false) => CompareOp::Greater,
                ('<', true) => CompareOp::LessOrEqual,
                ('<', false) => CompareOp::Less,
                _ => CompareOp::Equal,
            };
            Ok(Token {
                kind: TokenKind::Compare(op),
                start,
                end: start + 1 + usize::from(with_equal),
            })
        }
        _ => lex_word(src, start, mode),
    }
}

fn lex_word(src: &str, start: usize, mode: Mode) -> Result<Token, QueryError> {
    let mut chars = src[start..].char_indices();
    let mut end = src.len();
    while let Some((offset, c)) = chars.next() {
        if c == '\\' {
            if chars.next().is_none() {
                return Err(syntax_error(
                    src,
                    start + offset,
                    "a backslash at the end of the query escapes nothing; write \\\\ for a \
                     literal backslash",
                ));
            }
        } else if ends_word(c, mode) {
            end = start + offset;
            break;
        }
    }
    Ok(Token {
        kind: TokenKind::Word,
        start,
        end,
    })
}

/// Reads the double-quoted string whose opening quote is at byte `start`: its unescaped text
/// and the byte offset just past its closing quote.
fn lex_quoted(src: &str, start: usize) -> Result<(String, usize), QueryError> {
    let mut text = String::new();
    let mut chars = src[start + 1..].char_indices();
    while let Some((offset, c)) = chars.next() {
        match c {
            '"' => return Ok((text, start + 1 + offset + 1)),
            '\\' => match chars.next() {
                Some((_, escaped @ ('"' | '\\'))) => text.push(escaped),
                Some((_, other)) => {
                    text.push('\\');
                    text.push(other);
                }
                None => text.push('\\'),
            },
            _ => text.push(c),
        }
    }
    Err(syntax_error(
        src,
        start,
        "the quote opened here is never closed; add a closing \" (write \\\" for a quote \
         inside quotes)",
    ))
}

/// The unescaped text of a word used as a field name: every `\x` becomes `x`.
pub(crate) fn unescape_name(raw: &str) -> String {
    let mut name = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(escaped) = chars.next() {
                name.push(escaped);
            }
        } else {
            name.push(c);
        }
    }
    name
}

/// The pattern form of a word used as a value: `\*`, `\?`, `\\` stay escaped (they are
/// literal, not wildcards), every other `\x` becomes `x`.
pub(crate) fn pattern_of(raw: &str) -> String {
    let mut pattern = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(escaped) = chars.next() {
                if matches!(escaped, '*' | '?' | '\\') {
                    pattern.push('\\');
                }
                pattern.push(escaped);
            }
        } else {
            pattern.push(c);
        }
    }
    pattern
}

/// Reads a numeric range starting at or after byte offset `pos`: `[` or `(`, two numbers
/// separated by whitespace (or a comma), `]` or `)`.
pub(crate) fn lex_range(src: &str, pos: usize) -> Result<RangeToken, QueryError> {
    let open_at = skip_whitespace(src, pos);
    let low_inclusive = match src[open_at..].chars().next() {
        Some('[') => true,
        Some('(') => false,
        _ => {
            return Err(syntax_error(
                src,
                open_at,
                "expected a range like [10 20] after \"in\"",
            ))
        }
    };
    let (low, after_low) = lex_range_number(src, open_at + 1, "lower bound")?;
    let mut next = skip_whitespace(src, after_low);
    if src[next..].starts_with(',') {
        next += 1;
    }
    let (high, after_high) = lex_range_number(src, next, "upper bound")?;
    let close_at = skip_whitespace(src, after_high);
    let high_inclusive = match src[close_at..].chars().next() {
        Some(']') => true,
        Some(')') => false,
        _ => {
            return Err(syntax_error(
                src,
                close_at,
                "expected \"]\" or \")\" to close the range, e.g. key in [10 20]",
            ))
        }
    };
    Ok(RangeToken {
        low,
        low_inclusive,
        high,
        high_inclusive,
        end: close_at + 1,
    })
}

fn lex_range_number(src: &str, pos: usize, what: &str) -> Result<(Number, usize), QueryError> {
    let start = skip_whitespace(src, pos);
    let end = src[start..]
        .char_indices()
        .find(|&(_, c)| c.is_whitespace() || matches!(c, ']' | ')' | ',' | '[' | '('))
        .map_or(src.len(), |(offset, _)| start + offset);
    let text = &src[start..end];
    match Number::parse(text) {
        Some(number) => Ok((number, end)),
        None if text.is_empty() => Err(syntax_error(
            src,
            start,
            format!("expected a number as the range's {what}, e.g. key in [10 20]"),
        )),
        None => Err(syntax_error(
            src,
            start,
            format!("the range's {what} {text:?} is not a number"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_sql_outside_quotes_and_parentheses() {
        assert_eq!(split_sql("a | select 1"), ("a ", Some("select 1")));
        assert_eq!(split_sql("\"a|b\" c"), ("\"a|b\" c", None));
        assert_eq!(split_sql("(a|b) | x"), ("(a|b) ", Some("x")));
        assert_eq!(split_sql("a\\|b"), ("a\\|b", None));
        assert_eq!(split_sql("*|"), ("*", Some("")));
    }

    #[test]
    fn words_end_at_operators_only_in_normal_mode() {
        let src = "a:b=c";
        let word = lex(src, 0, Mode::Normal).unwrap();
        assert_eq!((word.kind, word.end), (TokenKind::Word, 1));
        let value = lex(src, 2, Mode::Value).unwrap();
        assert_eq!((value.kind, value.end), (TokenKind::Word, 5));
    }

    #[test]
    fn escapes_are_resolved_per_use() {
        assert_eq!(unescape_name(r"__tag__\:path"), "__tag__:path");
        assert_eq!(pattern_of(r"a\*b\:c\\"), r"a\*b:c\\");
        let quoted = lex(r#""say \"hi\" C:\x""#, 0, Mode::Normal).unwrap();
        assert_eq!(
            quoted.kind,
            TokenKind::Quoted(r#"say "hi" C:\x"#.to_owned())
        );
    }

    #[test]
    fn hash_before_a_quote_marks_a_phrase_in_both_modes() {
        for mode in [Mode::Normal, Mode::Value] {
            let phrase = lex(r#" #"a \"b\" c" x"#, 0, mode).unwrap();
            assert_eq!(
                (phrase.kind, phrase.start, phrase.end),
                (TokenKind::Phrase(r#"a "b" c"#.to_owned()), 1, 13)
            );
        }
        // `#` not followed by a quote is part of a word, as is a `#` inside a word.
        let word = lex("#refused", 0, Mode::Value).unwrap();
        assert_eq!((word.kind, word.end), (TokenKind::Word, 8));
        let word = lex(r#"a#"b""#, 0, Mode::Normal).unwrap();
        assert_eq!((word.kind, word.end), (TokenKind::Word, 2));
        let word = lex(r#"\#"b""#, 0, Mode::Normal).unwrap();
        assert_eq!((word.kind, word.end), (TokenKind::Word, 2));
        let word = lex(r#"# "b""#, 0, Mode::Normal).unwrap();
        assert_eq!((word.kind, word.end), (TokenKind::Word, 1));
        // An unclosed phrase points at its quote.
        let error = lex(r#"x #"ab"#, 2, Mode::Normal).unwrap_err();
        assert!(
            matches!(&error, QueryError::Syntax { position: 3, message } if message.contains("never closed")),
            "{error:?}"
        );
        // SQL splitting still sees the quotes of a phrase.
        assert_eq!(split_sql(r#"#"a|b" | x"#), (r#"#"a|b" "#, Some("x")));
    }

    #[test]
    fn positions_are_in_characters() {
        assert_eq!(char_position("héllo", 3), 2);
    }
}
