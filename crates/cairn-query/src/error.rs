//! The error type for queries that cannot be parsed, cannot run against a logstore's index, or
//! fail while their SQL runs.
//!
//! Every message names the offending token (quoted) and, for syntax problems, its 0-based
//! character position in the query text, so that a user can fix the query without guessing.
//! Only [`QueryError::Storage`] is the server's fault (and worth a retry, see
//! [`QueryError::is_transient`]); every other variant describes a query the user can fix.

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
    /// The SQL after `|` does not parse.
    #[error("SQL syntax error at position {position}: {message}")]
    SqlSyntax {
        /// 0-based character position in the SQL text (the part after `|`, trimmed).
        position: usize,
        /// What the parser expected and what it found.
        message: String,
    },
    /// The SQL is not a single `SELECT` query (e.g. `INSERT`, `CREATE`, two statements), or
    /// uses a construct Cairn does not run (table functions).
    #[error("unsupported SQL: {message}")]
    SqlUnsupported {
        /// What is not supported.
        message: String,
    },
    /// The SQL calls a function that does not exist.
    #[error("unknown function {name:?}{}", suggestion_text(.suggestion.as_deref()))]
    UnknownFunction {
        /// The function as written.
        name: String,
        /// The closest known function name, if any.
        suggestion: Option<String>,
    },
    /// The SQL names a column that cannot be resolved. Plain field names never cause this (a
    /// field absent from the data is NULL, as in SLS); qualified names with an unknown
    /// qualifier and SELECT aliases used where SQL does not allow them do.
    #[error("unknown column {name:?}: {hint}")]
    UnknownColumn {
        /// The column as written (with its qualifier, if any).
        name: String,
        /// Why it cannot be resolved and what would work.
        hint: String,
    },
    /// The SQL reads a table other than the logstore (`log`) or its own `WITH` queries.
    #[error("unknown table {name:?}: query the logstore as `log` (or leave FROM out)")]
    UnknownTable {
        /// The table as written.
        name: String,
    },
    /// The SQL parses but is not valid: wrong argument types, a column neither grouped nor
    /// aggregated, a type mismatch, ...
    #[error("invalid SQL: {message}")]
    SqlInvalid {
        /// What is wrong, as the planner reports it.
        message: String,
    },
    /// Running the query needs more memory than one query may use.
    #[error(
        "the query needs more than {} MB of memory; narrow the time range or the search, or \
         aggregate more coarsely",
        .limit_bytes.div_ceil(1024 * 1024)
    )]
    MemoryLimit {
        /// The per-query memory limit in bytes.
        limit_bytes: u64,
        /// What ran out, as DataFusion reports it (for the server's logs, not for users).
        detail: String,
    },
    /// Running the query needs more temporary disk space (for spilling) than is allowed.
    #[error(
        "the query needs more than {} MB of temporary disk space; narrow the time range or the \
         search",
        .limit_bytes.div_ceil(1024 * 1024)
    )]
    SpillLimit {
        /// The limit on spill files, in bytes, shared by all running queries.
        limit_bytes: u64,
        /// What ran out, as DataFusion reports it (for the server's logs, not for users).
        detail: String,
    },
    /// The SQL failed while running over the data, e.g. `CAST` of a value that is not a
    /// number, or a division by zero.
    #[error("the query failed: {message}")]
    SqlExecution {
        /// What failed.
        message: String,
    },
    /// The logstore's data could not be read (object store or file error). Transient: the
    /// same query may succeed when retried.
    #[error("cannot read the logstore's data: {message}")]
    Storage {
        /// What failed.
        message: String,
    },
}

impl QueryError {
    /// Whether the failure is the server's (storage unreachable, a split unreadable) rather
    /// than the query's: such errors map to 5xx so that clients retry.
    pub fn is_transient(&self) -> bool {
        matches!(self, QueryError::Storage { .. })
    }
}

fn suggestion_text(suggestion: Option<&str>) -> String {
    match suggestion {
        Some(name) => format!("; did you mean {name:?}?"),
        None => String::new(),
    }
}
