//! The resource directory's error type.
//!
//! Every refusal names the accounts, directory or invitation involved and says what would be
//! allowed instead, so that the message can go to the caller as it is. Only
//! [`DirectoryError::Meta`] (and a transient [`DirectoryError::Iam`]) is the server's fault.

use cairn_meta::{DirectoryService, DirectoryStoreError, InvitationStatus, MetaError};
use cairn_model::AccountId;

use crate::IamError;

/// Why a resource directory operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The operation needs the account's root identity and was signed by a user or a role
    /// session. (Users will be admitted by policy once RAM policies cover the directory.)
    #[error(
        "this resource directory operation needs the root identity of account {account}; \
         sign it with the account's root AccessKey"
    )]
    NotRoot {
        /// The caller's account.
        account: AccountId,
    },
    /// The caller's account is in no resource directory.
    #[error(
        "account {account} is in no resource directory; enable one as the root of the \
         management account, or accept an invitation"
    )]
    NoDirectory {
        /// The caller's account.
        account: AccountId,
    },
    /// Only the management account may do this, and the caller's account is a member.
    #[error(
        "account {account} is not the management account of resource directory \
         {directory_id}; only the management account may do this"
    )]
    NotManagementAccount {
        /// The caller's account.
        account: AccountId,
        /// The directory the caller's account is in.
        directory_id: String,
    },
    /// Only the management account or a delegated administrator may do this, and the caller's
    /// account is a plain member.
    #[error(
        "account {account} is neither the management account nor a delegated administrator \
         of resource directory {directory_id}"
    )]
    NotManagementOrDelegatedAdministrator {
        /// The caller's account.
        account: AccountId,
        /// The directory the caller's account is in.
        directory_id: String,
    },
    /// The account is already in a resource directory (as management account or member), and
    /// an account can be in only one. It must be removed from that directory first.
    #[error(
        "account {account} is already in resource directory {directory_id}; an account can be \
         in only one directory"
    )]
    AlreadyInDirectory {
        /// The account.
        account: AccountId,
        /// The directory it is in.
        directory_id: String,
    },
    /// The account is not a member of the caller's directory.
    #[error("account {account} is not a member of resource directory {directory_id}")]
    NotAMember {
        /// The account.
        account: AccountId,
        /// The directory.
        directory_id: String,
    },
    /// No account has this id.
    #[error("account {account} does not exist")]
    AccountNotFound {
        /// The account.
        account: AccountId,
    },
    /// No directory has this id.
    #[error("resource directory {directory_id} does not exist")]
    DirectoryNotFound {
        /// The id asked about.
        directory_id: String,
    },
    /// No invitation has this id, or it was sent to (or by) another account than the caller's:
    /// the two are not told apart, so that invitation ids reveal nothing across accounts.
    #[error("invitation {id} does not exist")]
    InvitationNotFound {
        /// The id asked about.
        id: String,
    },
    /// The invitation was already accepted, declined or cancelled.
    #[error("invitation {id} is already {status}; only a pending invitation can be answered")]
    InvitationNotPending {
        /// The invitation.
        id: String,
        /// Its status.
        status: InvitationStatus,
    },
    /// The management account cannot leave its own directory.
    #[error("account {account} is the management account of its resource directory and cannot be removed")]
    CannotRemoveManagementAccount {
        /// The management account.
        account: AccountId,
    },
    /// The management account cannot be a delegated administrator: it already administers
    /// every service of its directory.
    #[error(
        "account {account} is the management account and already administers every service; \
         choose a member account as delegated administrator"
    )]
    CannotDelegateToManagementAccount {
        /// The management account.
        account: AccountId,
    },
    /// The service has no delegated administrator to remove.
    #[error("resource directory {directory_id} has no delegated administrator for {service}")]
    NoDelegatedAdministrator {
        /// The directory.
        directory_id: String,
        /// The service.
        service: DirectoryService,
    },
    /// Every freshly generated random id was taken (practically impossible); retry.
    #[error("generated id {id} is already taken; retry")]
    IdTaken {
        /// The last id tried.
        id: String,
    },
    /// Creating a member account failed (an invalid account name, or the metastore).
    #[error(transparent)]
    Iam(#[from] IamError),
    /// The metastore failed; see [`MetaError::is_transient`].
    #[error(transparent)]
    Meta(#[from] MetaError),
}

impl DirectoryError {
    /// Whether retrying may succeed: transient metastore faults and id clashes.
    pub fn is_transient(&self) -> bool {
        match self {
            DirectoryError::Meta(meta) => meta.is_transient(),
            DirectoryError::Iam(iam) => iam.is_transient(),
            DirectoryError::IdTaken { .. } => true,
            _ => false,
        }
    }
}

impl From<DirectoryStoreError> for DirectoryError {
    fn from(err: DirectoryStoreError) -> Self {
        use DirectoryStoreError as S;
        match err {
            S::AccountNotFound { account } => DirectoryError::AccountNotFound { account },
            S::DirectoryNotFound { directory_id } => {
                DirectoryError::DirectoryNotFound { directory_id }
            }
            S::AlreadyInDirectory {
                account,
                directory_id,
            } => DirectoryError::AlreadyInDirectory {
                account,
                directory_id,
            },
            S::NotAMember {
                account,
                directory_id,
            } => DirectoryError::NotAMember {
                account,
                directory_id,
            },
            S::CannotRemoveManagementAccount { account } => {
                DirectoryError::CannotRemoveManagementAccount { account }
            }
            S::CannotDelegateToManagementAccount { account } => {
                DirectoryError::CannotDelegateToManagementAccount { account }
            }
            S::NoDelegatedAdministrator {
                directory_id,
                service,
            } => DirectoryError::NoDelegatedAdministrator {
                directory_id,
                service,
            },
            S::InvitationNotFound { id } => DirectoryError::InvitationNotFound { id },
            S::InvitationNotPending { id, status } => {
                DirectoryError::InvitationNotPending { id, status }
            }
            S::IdTaken { id } => DirectoryError::IdTaken { id },
            S::Meta(meta) => DirectoryError::Meta(meta),
        }
    }
}
