//! Query text compiled against a tokenizer: token patterns, matched per record.
//!
//! A search value is split with the same delimiters as the text it is matched against, so
//! `a/b` searches for the tokens `a` and `b` wherever `/` is a delimiter: each anywhere, in
//! any order, unless the value is a phrase (`#"a/b"`), whose tokens must appear consecutively
//! and in order (see [`ValueForm`]).
//! Wildcards (`*`, `?`) in unquoted text are never delimiters, even though SLS's default
//! delimiter set contains both; escaped (`\*`) they are literal and split like any delimiter.
//!
//! Invariants: a compiled phrase is lowercased already when the search is case-insensitive,
//! and record tokens are folded on the fly (ASCII without allocating; other text through
//! `char::to_lowercase`), so matching never re-tokenises the query.

use crate::ast::ValueForm;
use cairn_model::tokenizer::{Tokenizer, Tokens};
use cairn_model::TokenQuery;

/// One element of a wildcard pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GlobItem {
    /// This character.
    Char(char),
    /// `?`: any one character.
    AnyOne,
    /// `*`: any run of characters, possibly empty.
    AnyMany,
}

/// What one token of the query matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenPattern {
    /// The token equals this text.
    Exact(String),
    /// The token starts with this text (`abc*`; `*` alone is the empty prefix).
    Prefix(String),
    /// The token matches this wildcard pattern.
    Glob(Vec<GlobItem>),
}

/// A query value compiled for one tokenizer and case mode: token patterns that must all
/// appear, consecutively and in order for a phrase, else anywhere in any order. An empty
/// search means the value had no token (e.g. `""`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TextSearch {
    tokenizer: Tokenizer,
    case_sensitive: bool,
    patterns: Vec<TokenPattern>,
    /// Whether the tokens must be consecutive and in order (`#"..."`).
    phrase: bool,
}

impl TextSearch {
    /// Compiles `text`, written as `form`: pattern form (see the `ast` module) when unquoted,
    /// else literal.
    pub(crate) fn compile(
        text: &str,
        form: ValueForm,
        tokenizer: Tokenizer,
        case_sensitive: bool,
    ) -> Self {
        let wildcards = form.has_wildcards();
        let mut patterns = Vec::new();
        let mut current: Vec<GlobItem> = Vec::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            let item = match c {
                '\\' if wildcards => GlobItem::Char(chars.next().unwrap_or('\\')),
                '*' if wildcards => GlobItem::AnyMany,
                '?' if wildcards => GlobItem::AnyOne,
                _ => GlobItem::Char(c),
            };
            match item {
                GlobItem::Char(c) if tokenizer.is_delimiter(c) => {
                    if !current.is_empty() {
                        patterns.push(classify(std::mem::take(&mut current)));
                    }
                }
                GlobItem::Char(c) if !case_sensitive => {
                    current.extend(c.to_lowercase().map(GlobItem::Char));
                }
                GlobItem::AnyMany if current.last() == Some(&GlobItem::AnyMany) => {}
                _ => current.push(item),
            }
        }
        if !current.is_empty() {
            patterns.push(classify(current));
        }
        Self {
            tokenizer,
            case_sensitive,
            patterns,
            phrase: form.is_phrase(),
        }
    }

    /// The tokens a record must contain to match, for an index built with
    /// `index_tokenizer`: the exact (wildcard-free) token patterns when the value was split
    /// by that same tokenizer, else no condition.
    pub(crate) fn token_query(&self, index_tokenizer: &Tokenizer) -> TokenQuery {
        if self.patterns.is_empty() || &self.tokenizer != index_tokenizer {
            return TokenQuery::Everything;
        }
        TokenQuery::all_tokens(self.patterns.iter().filter_map(|pattern| match pattern {
            TokenPattern::Exact(token) => Some(token.as_bytes()),
            TokenPattern::Prefix(_) | TokenPattern::Glob(_) => None,
        }))
    }

    /// Whether the value had no token, so it can only match text without tokens.
    pub(crate) fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether the tokens must appear consecutively and in order in one text.
    pub(crate) fn is_phrase(&self) -> bool {
        self.phrase
    }

    /// How many token patterns the value has.
    pub(crate) fn token_count(&self) -> usize {
        self.patterns.len()
    }

    /// Whether some token of `text` matches the value's token pattern number `index`.
    pub(crate) fn has_token(&self, index: usize, text: &[u8]) -> bool {
        self.patterns.get(index).is_some_and(|pattern| {
            self.tokenizer
                .tokens(text)
                .any(|token| pattern.matches(token, self.case_sensitive))
        })
    }

    /// Whether `text` alone satisfies the value: a phrase's tokens appear consecutively in
    /// it, other values' tokens each appear somewhere in it. An empty value matches text that
    /// has no token.
    pub(crate) fn matches(&self, text: &[u8]) -> bool {
        if self.patterns.is_empty() {
            return self.tokenizer.has_no_tokens(text);
        }
        if self.phrase {
            self.matches_consecutively(text)
        } else {
            (0..self.patterns.len()).all(|index| self.has_token(index, text))
        }
    }

    fn matches_consecutively(&self, text: &[u8]) -> bool {
        let Some((first, rest)) = self.patterns.split_first() else {
            return self.tokenizer.has_no_tokens(text);
        };
        let mut tokens: Tokens<'_> = self.tokenizer.tokens(text);
        while let Some(token) = tokens.next() {
            if first.matches(token, self.case_sensitive) {
                let mut following = tokens.clone();
                let rest_matches = rest.iter().all(|pattern| {
                    following
                        .next()
                        .is_some_and(|token| pattern.matches(token, self.case_sensitive))
                });
                if rest_matches {
                    return true;
                }
            }
        }
        false
    }
}

fn classify(items: Vec<GlobItem>) -> TokenPattern {
    let literal_len = items
        .iter()
        .position(|item| !matches!(item, GlobItem::Char(_)))
        .unwrap_or(items.len());
    let literal = || {
        items[..literal_len]
            .iter()
            .filter_map(|item| match item {
                GlobItem::Char(c) => Some(*c),
                _ => None,
            })
            .collect::<String>()
    };
    if literal_len == items.len() {
        TokenPattern::Exact(literal())
    } else if literal_len + 1 == items.len() && items[literal_len] == GlobItem::AnyMany {
        TokenPattern::Prefix(literal())
    } else {
        TokenPattern::Glob(items)
    }
}

impl TokenPattern {
    /// Whether the record token `token` matches; when not `case_sensitive` the pattern is
    /// lowercase and the token is folded.
    pub(crate) fn matches(&self, token: &[u8], case_sensitive: bool) -> bool {
        match self {
            Self::Exact(text) => {
                if case_sensitive {
                    return token == text.as_bytes();
                }
                match std::str::from_utf8(token) {
                    Ok(_) if token.is_ascii() => token.eq_ignore_ascii_case(text.as_bytes()),
                    Ok(valid) => valid.chars().flat_map(char::to_lowercase).eq(text.chars()),
                    Err(_) => token.eq_ignore_ascii_case(text.as_bytes()),
                }
            }
            Self::Prefix(prefix) => {
                if case_sensitive {
                    return token.starts_with(prefix.as_bytes());
                }
                match std::str::from_utf8(token) {
                    Ok(valid) if !token.is_ascii() => {
                        let mut folded = valid.chars().flat_map(char::to_lowercase);
                        prefix.chars().all(|c| folded.next() == Some(c))
                    }
                    _ => {
                        token.len() >= prefix.len()
                            && token[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
                    }
                }
            }
            Self::Glob(items) => {
                if token.is_ascii() {
                    let at = |index: usize| {
                        let byte = token[index];
                        char::from(if case_sensitive {
                            byte
                        } else {
                            byte.to_ascii_lowercase()
                        })
                    };
                    return glob_matches(items, token.len(), at);
                }
                let text = String::from_utf8_lossy(token);
                let chars: Vec<char> = if case_sensitive {
                    text.chars().collect()
                } else {
                    text.chars().flat_map(char::to_lowercase).collect()
                };
                glob_matches(items, chars.len(), |index| chars[index])
            }
        }
    }
}

/// Wildcard matching of `items` against a text of `len` characters read through `at`, with
/// single-star backtracking (linear space, at worst `items.len() * len` steps).
fn glob_matches(items: &[GlobItem], len: usize, at: impl Fn(usize) -> char) -> bool {
    let (mut item, mut index) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while index < len {
        match items.get(item) {
            Some(GlobItem::AnyMany) => {
                backtrack = Some((item, index));
                item += 1;
                continue;
            }
            Some(GlobItem::AnyOne) => {
                item += 1;
                index += 1;
                continue;
            }
            Some(GlobItem::Char(c)) if *c == at(index) => {
                item += 1;
                index += 1;
                continue;
            }
            _ => {}
        }
        match backtrack {
            Some((star, consumed)) => {
                item = star + 1;
                index = consumed + 1;
                backtrack = Some((star, consumed + 1));
            }
            None => return false,
        }
    }
    items[item.min(items.len())..]
        .iter()
        .all(|item| *item == GlobItem::AnyMany)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search(text: &str, form: ValueForm, case_sensitive: bool) -> TextSearch {
        let tokenizer = Tokenizer::new(
            &cairn_model::DEFAULT_TOKEN_DELIMITERS
                .chars()
                .collect::<Vec<_>>(),
        );
        TextSearch::compile(text, form, tokenizer, case_sensitive)
    }

    /// An unquoted value (wildcards) when `wildcards`, else a quoted one (literal); tokens in
    /// any order either way.
    fn value(text: &str, wildcards: bool, case_sensitive: bool) -> TextSearch {
        let form = if wildcards {
            ValueForm::Unquoted
        } else {
            ValueForm::Quoted
        };
        search(text, form, case_sensitive)
    }

    #[test]
    fn compiles_tokens_by_kind() {
        let compiled = value(r"Foo/ba*r ab* x?y \*", true, false);
        assert_eq!(
            compiled.patterns,
            vec![
                TokenPattern::Exact("foo".into()),
                TokenPattern::Glob(vec![
                    GlobItem::Char('b'),
                    GlobItem::Char('a'),
                    GlobItem::AnyMany,
                    GlobItem::Char('r')
                ]),
                TokenPattern::Prefix("ab".into()),
                TokenPattern::Glob(vec![
                    GlobItem::Char('x'),
                    GlobItem::AnyOne,
                    GlobItem::Char('y')
                ]),
            ]
        );
        assert_eq!(value("a*b", false, true).patterns.len(), 2);
    }

    #[test]
    fn matches_case_insensitively_including_non_ascii() {
        let compiled = value("ÉTÉ*", true, false);
        assert!(compiled.matches("l'été dernier".as_bytes()));
        assert!(compiled.matches("ÉTÉS".as_bytes()));
        assert!(!value("été", false, true).matches("ÉTÉ".as_bytes()));
        assert!(value("x?z", true, false).matches(b"XYZ"));
        assert!(value("x*z", true, false).matches("xéz".as_bytes()));
    }

    #[test]
    fn phrases_need_consecutive_tokens() {
        let compiled = search("quick brown", ValueForm::Phrase, false);
        assert!(compiled.is_phrase());
        assert!(compiled.matches(b"the quick, brown fox"));
        assert!(!compiled.matches(b"the quick red brown fox"));
        assert!(!compiled.matches(b"brown quick"));
        assert!(search("a a b", ValueForm::Phrase, false).matches(b"a a a b"));
        assert!(
            !search("a*", ValueForm::Phrase, false).matches(b"abc"),
            "phrases are literal"
        );
    }

    #[test]
    fn other_values_need_every_token_in_any_order() {
        for form in [ValueForm::Unquoted, ValueForm::Quoted] {
            let compiled = search("connection refused", form, false);
            assert!(!compiled.is_phrase());
            assert!(compiled.matches(b"upstream connection refused by backend"));
            assert!(compiled.matches(b"refused connection was retried"));
            assert!(compiled.matches(b"connection was, in the end, REFUSED"));
            assert!(!compiled.matches(b"connection reset"));
            assert_eq!(compiled.token_count(), 2);
            assert!(compiled.has_token(1, b"refused"));
            assert!(!compiled.has_token(0, b"refused"));
            assert!(!compiled.has_token(2, b"refused"), "no third token");
        }
        let unquoted = search("/api/us*", ValueForm::Unquoted, false);
        assert!(unquoted.matches(b"/api/v1/Users"));
        assert!(unquoted.matches(b"/users/api"));
        assert!(!unquoted.matches(b"/api/v1"));
        assert!(search("a a", ValueForm::Quoted, false).matches(b"a"));
    }

    #[test]
    fn glob_backtracks() {
        let items = [
            GlobItem::AnyMany,
            GlobItem::Char('a'),
            GlobItem::AnyMany,
            GlobItem::Char('b'),
        ];
        let text: Vec<char> = "xxaxxaxb".chars().collect();
        assert!(glob_matches(&items, text.len(), |i| text[i]));
        let text: Vec<char> = "xxaxxaxc".chars().collect();
        assert!(!glob_matches(&items, text.len(), |i| text[i]));
    }
}
