//! DataFusion's errors as [`QueryError`]s a user can act on.
//!
//! The root cause is found first (DataFusion wraps errors in context, diagnostics, Arrow
//! errors and shared handles), then classified: memory and spill limits, unknown functions
//! and columns, planning problems (the SQL is wrong), execution problems (the data made the SQL
//! fail), storage problems (transient, the server's).
//!
//! Invariants: messages never carry DataFusion's internal prefixes ("Error during planning:")
//! or backtraces; every DataFusion error maps to exactly one variant.

use datafusion::common::{Column, SchemaError};
use datafusion::error::DataFusionError;

use crate::QueryError;

/// The limits an error may refer to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) memory_bytes: u64,
    pub(crate) spill_bytes: u64,
}

/// The column a "no field named" planning error is about, if that is what `error` is.
pub(crate) fn missing_column(error: &DataFusionError) -> Option<&Column> {
    match error.find_root() {
        DataFusionError::SchemaError(schema_error, _) => match schema_error.as_ref() {
            SchemaError::FieldNotFound { field, .. } => Some(field.as_ref()),
            _ => None,
        },
        _ => None,
    }
}

/// Classifies `error` (see the module docs).
pub(crate) fn query_error(error: &DataFusionError, limits: Limits) -> QueryError {
    let root = error.find_root();
    match root {
        DataFusionError::ResourcesExhausted(message) => {
            let detail = strip_backtrace(message);
            if message.contains("disk space") {
                QueryError::SpillLimit {
                    limit_bytes: limits.spill_bytes,
                    detail,
                }
            } else {
                QueryError::MemoryLimit {
                    limit_bytes: limits.memory_bytes,
                    detail,
                }
            }
        }
        DataFusionError::SchemaError(schema_error, _) => match schema_error.as_ref() {
            SchemaError::FieldNotFound { field, .. } => QueryError::UnknownColumn {
                name: field.flat_name(),
                hint: unknown_column_hint(field),
            },
            other => QueryError::SqlInvalid {
                message: other.to_string(),
            },
        },
        DataFusionError::Plan(message) => plan_error(message),
        DataFusionError::SQL(parser_error, _) => QueryError::SqlInvalid {
            message: parser_error.to_string(),
        },
        DataFusionError::NotImplemented(message) => QueryError::SqlUnsupported {
            message: message.clone(),
        },
        DataFusionError::Configuration(message) => QueryError::SqlInvalid {
            message: message.clone(),
        },
        DataFusionError::ObjectStore(error) => QueryError::Storage {
            message: error.to_string(),
        },
        DataFusionError::IoError(error) => QueryError::Storage {
            message: error.to_string(),
        },
        DataFusionError::ParquetError(error) => QueryError::Storage {
            message: error.to_string(),
        },
        DataFusionError::Execution(message) => QueryError::SqlExecution {
            message: message.clone(),
        },
        DataFusionError::ArrowError(error, _) => QueryError::SqlExecution {
            message: error.to_string(),
        },
        DataFusionError::External(error) if is_storage(error.as_ref()) => QueryError::Storage {
            message: error.to_string(),
        },
        other => QueryError::SqlExecution {
            message: strip_backtrace(&other.to_string()),
        },
    }
}

/// A planning message; DataFusion's "Invalid function" becomes [`QueryError::UnknownFunction`].
fn plan_error(message: &str) -> QueryError {
    if let Some(rest) = message.strip_prefix("Invalid function '") {
        let (name, rest) = rest.split_once('\'').unwrap_or((rest, ""));
        let suggestion = rest
            .split_once("Did you mean '")
            .and_then(|(_, tail)| tail.split_once('\''))
            .map(|(suggested, _)| suggested.to_owned());
        return QueryError::UnknownFunction {
            name: name.to_owned(),
            suggestion,
        };
    }
    QueryError::SqlInvalid {
        message: strip_backtrace(message),
    }
}

fn unknown_column_hint(field: &Column) -> String {
    match &field.relation {
        Some(relation) => format!(
            "there is no table or alias {relation:?} with this column here; a key with a dot in \
             its name needs double quotes: \"{}\"",
            field.flat_name()
        ),
        None => "it is not a column of the subquery or table it is read from".to_owned(),
    }
}

fn is_storage(error: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    error.is::<object_store::Error>() || error.is::<std::io::Error>()
}

fn strip_backtrace(message: &str) -> String {
    message
        .split(DataFusionError::BACK_TRACE_SEP)
        .next()
        .unwrap_or(message)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::error::ArrowError;

    use super::*;

    const LIMITS: Limits = Limits {
        memory_bytes: 1 << 20,
        spill_bytes: 1 << 30,
    };

    #[test]
    fn roots_are_found_through_wrappers() {
        let exhausted = DataFusionError::ResourcesExhausted("Failed to allocate".to_owned());
        let wrapped = DataFusionError::ArrowError(
            Box::new(ArrowError::ExternalError(Box::new(
                exhausted.context("sorting"),
            ))),
            None,
        );
        assert_eq!(
            query_error(&DataFusionError::Shared(Arc::new(wrapped)), LIMITS),
            QueryError::MemoryLimit {
                limit_bytes: 1 << 20,
                detail: "Failed to allocate".to_owned(),
            }
        );
        let disk = DataFusionError::ResourcesExhausted(
            "The used disk space during the spilling process has exceeded the allowable limit"
                .to_owned(),
        );
        assert!(matches!(
            query_error(&disk, LIMITS),
            QueryError::SpillLimit { .. }
        ));
    }

    #[test]
    fn unknown_functions_carry_suggestions() {
        let error =
            DataFusionError::Plan("Invalid function 'cout'.\nDid you mean 'count'?".to_owned());
        assert_eq!(
            query_error(&error, LIMITS),
            QueryError::UnknownFunction {
                name: "cout".to_owned(),
                suggestion: Some("count".to_owned())
            }
        );
        let io = DataFusionError::IoError(std::io::Error::other("gone"));
        assert!(query_error(&io, LIMITS).is_transient());
    }
}
