//! Cairn's domain vocabulary, shared by every other crate.
//!
//! This crate holds the small, validated value types that name things (accounts, projects,
//! logstores, AccessKeys, resource ARNs), the shape of a log record, and the index config a
//! logstore carries. It depends on nothing of ours and knows nothing of HTTP, storage or SQL.
//!
//! Invariant: a value of a name type (`ProjectName`, `LogstoreName`, `AccountId`, ...) is
//! always valid; the only way to get one from user input is through its `parse` function.

pub mod arn;
pub mod consumer_names;
pub mod error;
pub mod iam_names;
pub mod ids;
pub mod index;
pub mod names;
pub mod record;
pub mod token_query;
pub mod tokenizer;

pub use arn::ResourceArn;
pub use consumer_names::{ConsumerGroupName, ConsumerName};
pub use error::ModelError;
pub use iam_names::{PolicyName, RoleName};
pub use ids::{AccessKeyId, AccountId, LogstoreId, UserName};
pub use index::{FieldIndex, FieldIndexType, FullTextIndex, IndexConfig, DEFAULT_TOKEN_DELIMITERS};
pub use names::{LogstoreName, ProjectName};
pub use record::{Field, LogEntry, LogGroupData, LogRecord, LogTime};
pub use token_query::{fold_token_hash, RequiredToken, TokenQuery};
pub use tokenizer::{Tokenizer, Tokens};
