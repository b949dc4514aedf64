//! The error type for values that fail validation.

/// Why a value given by a user is not a valid Cairn value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// A name (project, logstore, user, ...) breaks its naming rule.
    #[error("invalid {kind} name {name:?}: {rule}")]
    InvalidName {
        /// What was being named, e.g. "project".
        kind: &'static str,
        /// The rejected input.
        name: String,
        /// The rule it breaks, in words a user can act on.
        rule: &'static str,
    },
    /// An identifier (account id, AccessKey id) has the wrong form.
    #[error("invalid {kind} {value:?}: {rule}")]
    InvalidId {
        /// What kind of identifier, e.g. "account id".
        kind: &'static str,
        /// The rejected input.
        value: String,
        /// The expected form.
        rule: &'static str,
    },
    /// A resource ARN could not be parsed.
    #[error("invalid resource ARN {0:?}")]
    InvalidArn(String),
    /// An index config is well-formed JSON but not a usable index.
    #[error("invalid index config: {0}")]
    InvalidIndexConfig(String),
}
