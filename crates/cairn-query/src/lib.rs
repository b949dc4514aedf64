//! SLS search syntax for Cairn: parse a query, match its search statement against records,
//! and count records per time bucket.
//!
//! A query is `search statement [| SQL]`. [`parse_query`] parses the search statement into a
//! [`SearchExpression`] and hands back the SQL text untouched (it is run elsewhere).
//! [`SearchMatcher::new`] compiles an expression against a logstore's
//! [`IndexConfig`](cairn_model::IndexConfig) (delimiters, case sensitivity, field types,
//! aliases) once; [`SearchMatcher::matches`] then tests records without re-reading the query.
//! [`histogram`] buckets record times for GetHistograms. The [`sql`] module runs the SQL half
//! on DataFusion over Parquet split files and in-memory Arrow batches ([`sql::SqlEngine`]).
//!
//! Supported syntax: terms (`error`), quoted text (`"connection reset"`: literal, both tokens
//! in any order), phrases (`#"connection reset"`: the tokens consecutively, in order),
//! wildcards (`err*`, `e?ror`), `*` (everything), `key: value`, `key: "a b"`, `key: #"a b"`,
//! `key: *` (field present), `__topic__: x`, `__source__: x`, `__tag__:host: web-1`,
//! `key > 10` (`>=`, `<`, `<=`, `=`), `key in [10 20]` (`(`/`)` for open ends), `and` / `or` /
//! `not` in any case (precedence `not` > `and` > `or`; side by side means `and`; `a not b`
//! means `a and not b`), and parentheses. Values with several tokens (`a/b`, `"a b"`) need
//! every token in any order; only `#"..."` needs them in sequence (see [`ValueForm`]). See the
//! [`matcher`] module for how conditions meet index configs.
//!
//! Invariants: parsing is bounded (at most [`MAX_QUERY_BYTES`] of text, [`MAX_NESTING`]
//! levels of parentheses and `not`) and never panics; matching allocates nothing for ASCII
//! text.

mod ast;
mod error;
mod histogram;
mod lexer;
pub mod matcher;
mod parser;
mod pattern;
pub mod sql;

pub use ast::{CompareOp, Number, SearchExpression, ValueForm};
pub use error::QueryError;
pub use histogram::{auto_interval, histogram, HistogramBucket, MAX_AUTO_BUCKETS, MAX_BUCKETS};
pub use matcher::SearchMatcher;
pub use parser::{parse_query, parse_search, Query, MAX_NESTING, MAX_QUERY_BYTES};
