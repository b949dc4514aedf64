//! The error type for queries that cannot be parsed or cannot run against a logstore's index.
//!
//! Every message names the offending token (quoted) and, for syntax problems, its 0-based
//! character position in the query text, so that a user can fix the query without guessing.

/// Why a query was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// The search statement does not follow the SLS search syntax.
    #[error("syntax error at position {position}: {message}")]
    Syntax {
        /// 0-based character (not byte) position in the query text where the problem is.
        position: usize,
        /// What is wrong and, where possible, how to fix it.
        message: String,
    },
    /// The query text is longer than Cairn accepts.
    #[error("the query is {length} bytes long; at most {limit} bytes are accepted")]
    TooLarge {
        /// Length of the query text in bytes.
        length: usize,
        /// The largest accepted length in bytes.
        limit: usize,
    },
    /// Parentheses and `not` nest deeper than Cairn accepts.
    #[error(
        "the query nests parentheses or \"not\" more than {limit} levels deep \
         (at position {position}); flatten the expression"
    )]
    TooDeep {
        /// 0-based character position of the token that went one level too deep.
        position: usize,
        /// The deepest accepted nesting.
        limit: usize,
    },
    /// A condition does not fit the index of the field it names, e.g. `msg > 10` on a text
    /// field, or `status: abc` on a long field.
    #[error("cannot search field {field:?}: {message}")]
    InvalidField {
        /// The field as named in the query (possibly an alias).
        field: String,
        /// Why the condition does not fit, and what would.
        message: String,
    },
    /// A full-text term was used but the logstore indexes neither full text nor any text field.
    #[error(
        "cannot search for {term:?}: the logstore has no full-text index and no text field \
         index; search a field instead, e.g. key: value"
    )]
    FullTextUnavailable {
        /// The term as written in the query.
        term: String,
    },
}
