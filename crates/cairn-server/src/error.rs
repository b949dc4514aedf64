//! The one place where errors become SLS error responses.
//!
//! Library crates speak their own error enums; this module maps each variant to an SLS error
//! code and HTTP status. The rule that keeps clients from losing data: only bad input gets a
//! 4xx; anything transient (a busy database, a full disk, a shutdown) gets a 5xx, which every
//! SLS client retries.

use axum::http::StatusCode;
use cairn_iam::{DirectoryError, IamError};
use cairn_jobs::JobError;
use cairn_meta::{ConsumerGroupStoreError, EntityKind, FleetStoreError, MetaError};
use cairn_model::ModelError;
use cairn_protocol::ProtocolError;
use cairn_query::QueryError;
use cairn_store::StoreError;

/// An error on its way to the client: SLS code, HTTP status and a message a user can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// SLS error code, e.g. `ProjectNotExist`.
    pub code: &'static str,
    /// Human-readable message.
    pub message: String,
}

impl ApiError {
    /// An error with the given status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// `ParameterInvalid` (400).
    pub fn parameter_invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "ParameterInvalid", message)
    }

    /// `ProjectNotExist` (404).
    pub fn project_not_exist(project: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ProjectNotExist",
            format!("Project {project} does not exist"),
        )
    }

    /// `LogStoreNotExist` (404).
    pub fn logstore_not_exist(logstore: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "LogStoreNotExist",
            format!("logstore {logstore} does not exist"),
        )
    }

    /// `ShardNotExist` (404): a logstore has the one shard 0 (ADR 0008).
    pub fn shard_not_exist(shard: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ShardNotExist",
            format!("shard {shard} does not exist; a Cairn logstore has the one shard 0"),
        )
    }

    /// `ConsumerGroupNotExist` (404).
    pub fn consumer_group_not_exist(group: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ConsumerGroupNotExist",
            format!("consumer group {group} does not exist"),
        )
    }

    /// `InvalidCursor` (400): a cursor Cairn did not hand out, or one past the shard's end.
    pub fn invalid_cursor(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidCursor", message)
    }

    /// `PostBodyInvalid` (400).
    pub fn post_body_invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "PostBodyInvalid", message)
    }

    /// `PostBodyTooLarge` (413).
    pub fn post_body_too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "PostBodyTooLarge", message)
    }

    /// `InternalServerError` (500): the message is logged, the client sees a generic one.
    pub fn internal(message: impl std::fmt::Display) -> Self {
        tracing::error!(error = %message, "internal server error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "internal server error, please retry",
        )
    }

    /// `ServerBusy` (503): transient, the client should retry.
    pub fn server_busy(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "ServerBusy", message)
    }

    /// `RouteNotFound`-style answer for a method and path Cairn does not serve.
    pub fn no_such_api(method: &str, path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "RequestNotSupported",
            format!("{method} {path} is not an API Cairn serves"),
        )
    }
}

impl From<ModelError> for ApiError {
    fn from(error: ModelError) -> Self {
        Self::parameter_invalid(error.to_string())
    }
}

impl From<ProtocolError> for ApiError {
    fn from(error: ProtocolError) -> Self {
        match error {
            ProtocolError::BodyTooLarge { .. } => Self::post_body_too_large(error.to_string()),
            ProtocolError::SignatureMismatch => Self::new(
                StatusCode::UNAUTHORIZED,
                "SignatureNotMatch",
                "the request signature does not match the one computed with your AccessKey secret",
            ),
            ProtocolError::InvalidCursor(_) => Self::invalid_cursor(error.to_string()),
            ProtocolError::InvalidAuthorization(_) | ProtocolError::InvalidDate(_) => {
                Self::new(StatusCode::UNAUTHORIZED, "Unauthorized", error.to_string())
            }
            _ => Self::post_body_invalid(error.to_string()),
        }
    }
}

impl From<QueryError> for ApiError {
    fn from(error: QueryError) -> Self {
        if error.is_transient() {
            tracing::warn!(error = %error, "a query could not read its data");
            return Self::server_busy("the query could not read its data, please retry");
        }
        match &error {
            QueryError::MemoryLimit { .. } | QueryError::SpillLimit { .. } => {
                Self::new(StatusCode::BAD_REQUEST, "ExceedQuota", error.to_string())
            }
            _ => Self::parameter_invalid(error.to_string()),
        }
    }
}

impl From<MetaError> for ApiError {
    fn from(error: MetaError) -> Self {
        if error.is_transient() {
            tracing::warn!(error = %error, "metastore is busy");
            return Self::server_busy("the metastore is busy, please retry");
        }
        match &error {
            MetaError::NotFound { kind, name } => match kind {
                EntityKind::Project => Self::project_not_exist(name),
                EntityKind::Logstore => Self::logstore_not_exist(name),
                EntityKind::Index => Self::new(
                    StatusCode::NOT_FOUND,
                    "IndexConfigNotExist",
                    format!("index config of logstore {name} does not exist"),
                ),
                EntityKind::User => {
                    Self::new(StatusCode::NOT_FOUND, "UserNotExist", error.to_string())
                }
                EntityKind::AccessKey => Self::new(
                    StatusCode::NOT_FOUND,
                    "AccessKeyNotExist",
                    error.to_string(),
                ),
                EntityKind::Account => {
                    Self::new(StatusCode::NOT_FOUND, "AccountNotExist", error.to_string())
                }
            },
            MetaError::AlreadyExists { kind, name } => match kind {
                EntityKind::Project => Self::new(
                    StatusCode::BAD_REQUEST,
                    "ProjectAlreadyExist",
                    format!("Project {name} already exist"),
                ),
                EntityKind::Logstore => Self::new(
                    StatusCode::BAD_REQUEST,
                    "LogStoreAlreadyExist",
                    format!("logstore {name} already exists"),
                ),
                EntityKind::Index => Self::new(
                    StatusCode::BAD_REQUEST,
                    "IndexAlreadyExist",
                    format!("index config of logstore {name} already exists"),
                ),
                _ => Self::new(
                    StatusCode::BAD_REQUEST,
                    "ResourceAlreadyExist",
                    error.to_string(),
                ),
            },
            _ => Self::internal(error),
        }
    }
}

impl From<IamError> for ApiError {
    fn from(error: IamError) -> Self {
        let message = error.to_string();
        match error {
            IamError::Unauthorized { .. } => {
                Self::new(StatusCode::UNAUTHORIZED, "Unauthorized", message)
            }
            IamError::AssumeRoleDenied { .. } => {
                Self::new(StatusCode::FORBIDDEN, "Unauthorized", message)
            }
            IamError::AccessKeyNotFound { .. } => Self::new(
                StatusCode::UNAUTHORIZED,
                "InvalidAccessKeyId",
                "the AccessKey id does not exist",
            ),
            IamError::AccessKeyDisabled { .. } => Self::new(
                StatusCode::UNAUTHORIZED,
                "InvalidAccessKeyId",
                "the AccessKey is disabled",
            ),
            IamError::CredentialsExpired { .. } => Self::new(
                StatusCode::UNAUTHORIZED,
                "SecurityTokenExpired",
                "the temporary credentials have expired; assume the role again",
            ),
            IamError::InvalidSecurityToken { .. } => Self::new(
                StatusCode::UNAUTHORIZED,
                "InvalidSecurityToken",
                "the security token is missing or does not belong to this AccessKey",
            ),
            IamError::InvalidPolicy { .. } => {
                Self::new(StatusCode::BAD_REQUEST, "MalformedPolicyDocument", message)
            }
            IamError::InvalidParameter { .. } => Self::parameter_invalid(message),
            IamError::PolicyNotFound { .. } => {
                Self::new(StatusCode::NOT_FOUND, "EntityNotExist.Policy", message)
            }
            IamError::PolicyAlreadyExists { .. } => {
                Self::new(StatusCode::CONFLICT, "EntityAlreadyExists.Policy", message)
            }
            IamError::PolicyInUse { .. } => {
                Self::new(StatusCode::CONFLICT, "DeleteConflict.Policy", message)
            }
            IamError::PolicyAlreadyAttached { .. } => Self::new(
                StatusCode::CONFLICT,
                "EntityAlreadyExists.Policy.Attachment",
                message,
            ),
            IamError::PolicyNotAttached { .. } => Self::new(
                StatusCode::NOT_FOUND,
                "EntityNotExist.Policy.Attachment",
                message,
            ),
            IamError::RoleNotFound { .. } => {
                Self::new(StatusCode::NOT_FOUND, "EntityNotExist.Role", message)
            }
            IamError::RoleAlreadyExists { .. } => {
                Self::new(StatusCode::CONFLICT, "EntityAlreadyExists.Role", message)
            }
            IamError::Meta(meta) => meta.into(),
            IamError::Model(model) => model.into(),
            other if other.is_transient() => {
                Self::server_busy("identity service is busy, please retry")
            }
            other => Self::internal(other),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match &error {
            StoreError::InvalidSequenceId { .. } => Self::new(
                StatusCode::BAD_REQUEST,
                "InvalidSequenceId",
                error.to_string(),
            ),
            StoreError::RecordTooLarge { .. } => Self::post_body_too_large(error.to_string()),
            StoreError::InvalidAppend { .. } => Self::post_body_invalid(error.to_string()),
            StoreError::LogstoreDropped { .. } => Self::new(
                StatusCode::NOT_FOUND,
                "LogStoreNotExist",
                "the logstore was deleted while the write was in flight",
            ),
            StoreError::DiskFull { .. } => {
                tracing::warn!(error = %error, "write refused: the wal disk is low on free space");
                Self::server_busy(
                    "the server is low on free disk space; writes are paused until space is freed, please retry",
                )
            }
            _ if error.is_retryable() => {
                tracing::warn!(error = %error, "write refused, client will retry");
                Self::server_busy("the server is busy, please retry")
            }
            _ => Self::internal(error),
        }
    }
}

impl From<DirectoryError> for ApiError {
    fn from(error: DirectoryError) -> Self {
        let message = error.to_string();
        match error {
            DirectoryError::NotRoot { .. }
            | DirectoryError::NotManagementAccount { .. }
            | DirectoryError::NotManagementOrDelegatedAdministrator { .. } => {
                Self::new(StatusCode::FORBIDDEN, "NoPermission", message)
            }
            DirectoryError::NoDirectory { .. } | DirectoryError::DirectoryNotFound { .. } => {
                Self::new(StatusCode::NOT_FOUND, "ResourceDirectoryNotExist", message)
            }
            DirectoryError::AccountNotFound { .. } => {
                Self::new(StatusCode::NOT_FOUND, "AccountNotExist", message)
            }
            DirectoryError::InvitationNotFound { .. } => {
                Self::new(StatusCode::NOT_FOUND, "InvitationNotExist", message)
            }
            DirectoryError::NoDelegatedAdministrator { .. } => Self::new(
                StatusCode::NOT_FOUND,
                "DelegatedAdministratorNotExist",
                message,
            ),
            DirectoryError::AlreadyInDirectory { .. } => {
                Self::new(StatusCode::CONFLICT, "AccountAlreadyInDirectory", message)
            }
            DirectoryError::InvitationNotPending { .. } => {
                Self::new(StatusCode::CONFLICT, "InvitationNotPending", message)
            }
            DirectoryError::NotAMember { .. } => {
                Self::new(StatusCode::BAD_REQUEST, "AccountNotMember", message)
            }
            DirectoryError::CannotRemoveManagementAccount { .. }
            | DirectoryError::CannotDelegateToManagementAccount { .. } => {
                Self::parameter_invalid(message)
            }
            DirectoryError::Iam(iam) => iam.into(),
            DirectoryError::Meta(meta) => meta.into(),
            other if other.is_transient() => {
                Self::server_busy("the directory is busy, please retry")
            }
            other => Self::internal(other),
        }
    }
}

impl From<JobError> for ApiError {
    fn from(error: JobError) -> Self {
        let message = error.to_string();
        match error {
            JobError::Invalid { .. } => Self::parameter_invalid(message),
            JobError::NotFound { .. } => Self::new(StatusCode::NOT_FOUND, "JobNotExist", message),
            JobError::AlreadyExists { .. } => {
                Self::new(StatusCode::BAD_REQUEST, "JobAlreadyExist", message)
            }
            other if other.is_transient() => {
                Self::server_busy("the job service is busy, please retry")
            }
            other => Self::internal(other),
        }
    }
}

impl From<FleetStoreError> for ApiError {
    fn from(error: FleetStoreError) -> Self {
        let message = error.to_string();
        match error {
            FleetStoreError::ProjectNotFound { project } => {
                Self::project_not_exist(project.as_str())
            }
            FleetStoreError::MachineGroupNotFound { .. } => {
                Self::new(StatusCode::NOT_FOUND, "MachineGroupNotExist", message)
            }
            FleetStoreError::MachineGroupAlreadyExists { .. } => {
                Self::new(StatusCode::BAD_REQUEST, "MachineGroupAlreadyExist", message)
            }
            FleetStoreError::ConfigNotFound { .. } => {
                Self::new(StatusCode::NOT_FOUND, "ConfigNotExist", message)
            }
            FleetStoreError::ConfigAlreadyExists { .. } => {
                Self::new(StatusCode::BAD_REQUEST, "ConfigAlreadyExist", message)
            }
            FleetStoreError::Meta(meta) => meta.into(),
        }
    }
}

impl From<ConsumerGroupStoreError> for ApiError {
    fn from(error: ConsumerGroupStoreError) -> Self {
        let message = error.to_string();
        match error {
            ConsumerGroupStoreError::LogstoreNotFound { .. } => Self::new(
                StatusCode::NOT_FOUND,
                "LogStoreNotExist",
                "the logstore was deleted while the request was in flight",
            ),
            ConsumerGroupStoreError::GroupNotFound { group } => {
                Self::consumer_group_not_exist(group.as_str())
            }
            ConsumerGroupStoreError::GroupAlreadyExists { .. } => Self::new(
                StatusCode::BAD_REQUEST,
                "ConsumerGroupAlreadyExist",
                message,
            ),
            // SLS's own spelling: the consumer libraries match this code.
            ConsumerGroupStoreError::ConsumerNotFound { .. } => {
                Self::new(StatusCode::NOT_FOUND, "ConsumerNotExsit", message)
            }
            ConsumerGroupStoreError::ShardNotHeld { .. } => {
                Self::new(StatusCode::BAD_REQUEST, "ConsumerNotMatch", message)
            }
            ConsumerGroupStoreError::Meta(meta) => meta.into(),
        }
    }
}
