//! The metastore's error type.
//!
//! Invariant: "not found" and "already exists" are always reported as [`MetaError::NotFound`] and
//! [`MetaError::AlreadyExists`] with the [`EntityKind`] the caller asked about, never as a raw
//! database error, so the server can map them to SLS error codes (`ProjectNotExist`,
//! `LogStoreAlreadyExist`, ...) without looking inside SQL errors.

use std::fmt;

/// The kinds of things the metastore keeps, named in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntityKind {
    /// An account (tenant).
    Account,
    /// A user inside an account.
    User,
    /// An AccessKey.
    AccessKey,
    /// A project.
    Project,
    /// A logstore inside a project.
    Logstore,
    /// The index config of a logstore.
    Index,
}

impl EntityKind {
    /// The kind in words, as it appears in error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Account => "account",
            EntityKind::User => "user",
            EntityKind::AccessKey => "access key",
            EntityKind::Project => "project",
            EntityKind::Logstore => "logstore",
            EntityKind::Index => "index",
        }
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a metastore operation failed.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    /// The addressed entity does not exist (or, for a create, the parent it hangs off does not:
    /// creating a logstore in a missing project reports the *project* as not found).
    #[error("{kind} {name} does not exist")]
    NotFound {
        /// What was looked for.
        kind: EntityKind,
        /// Its own name or id as the caller gave it (a logstore's name without its project; for
        /// an index config, the logstore's name).
        name: String,
    },
    /// A create hit an entity that already exists under the same key.
    #[error("{kind} {name} already exists")]
    AlreadyExists {
        /// What was being created.
        kind: EntityKind,
        /// Its own name or id, as for `NotFound`.
        name: String,
    },
    /// The database failed (I/O, lock timeout, pool exhausted, connection lost). Nothing about
    /// the request was wrong: the server answers 5xx and the client may retry.
    #[error("metastore database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The schema migrations could not be applied when opening the metastore.
    #[error("metastore migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// A stored value failed validation when read back (a name breaking its rule, an id out of
    /// range, unparsable JSON). The database was altered outside Cairn or by a bug.
    #[error("corrupt metastore value: {0}")]
    Corrupt(String),
}

impl MetaError {
    /// Whether retrying the same call may succeed: true only for database faults. The server
    /// maps transient errors to a 5xx answer (`ServerBusy` / `InternalServerError`).
    pub fn is_transient(&self) -> bool {
        matches!(self, MetaError::Database(_))
    }

    /// Whether this is a [`MetaError::NotFound`] for `kind`.
    pub fn is_not_found(&self, kind: EntityKind) -> bool {
        matches!(self, MetaError::NotFound { kind: found, .. } if *found == kind)
    }

    /// Whether this is a [`MetaError::AlreadyExists`] for `kind`.
    pub fn is_already_exists(&self, kind: EntityKind) -> bool {
        matches!(self, MetaError::AlreadyExists { kind: found, .. } if *found == kind)
    }

    pub(crate) fn not_found(kind: EntityKind, name: impl fmt::Display) -> Self {
        MetaError::NotFound {
            kind,
            name: name.to_string(),
        }
    }

    pub(crate) fn already_exists(kind: EntityKind, name: impl fmt::Display) -> Self {
        MetaError::AlreadyExists {
            kind,
            name: name.to_string(),
        }
    }
}
