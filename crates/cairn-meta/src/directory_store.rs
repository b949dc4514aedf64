//! The [`DirectoryStore`] trait: the durable state of resource directories (organisations of
//! accounts), with its records, events and error type.
//!
//! A resource directory has one management account, member accounts (the management account is
//! a member too, with [`JoinMethod::Management`]), invitations, and at most one delegated
//! administrator account per [`DirectoryService`].
//!
//! Invariants every backend keeps, each write checking them inside one transaction:
//! - an account is in at most one directory, as its management account or as a member;
//! - the management account stays a member for as long as the directory exists and can be
//!   neither removed nor made a delegated administrator;
//! - a delegated administrator is a member of the directory that delegates to it, and is
//!   dropped (with its own event) when it leaves;
//! - a directory has at most one pending invitation per account; only a pending invitation can
//!   be accepted, declined or cancelled, and accepting it makes the account a member;
//! - every membership or delegation change appends its [`DirectoryEvent`]s to the directory's
//!   event log in the same transaction as the change, under a sequence number that only grows
//!   and is never reused, so replaying a directory's log from the start rebuilds its current
//!   members and delegations.
//!
//! Times are unix seconds given by the caller; backends never read a clock. Rule violations are
//! reported as typed [`DirectoryStoreError`] variants, never as raw database errors.

use async_trait::async_trait;
use cairn_model::AccountId;
use serde::{Deserialize, Serialize};

use crate::MetaError;

/// A service that a directory can hand to a delegated administrator account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DirectoryService {
    /// Multi-account trails.
    Trail,
    /// Log Audit.
    LogAudit,
}

impl DirectoryService {
    /// Every service, in a stable order.
    pub const ALL: [DirectoryService; 2] = [DirectoryService::Trail, DirectoryService::LogAudit];

    /// The service's name as stored and as it appears in APIs: `trail`, `logaudit`.
    pub fn as_str(self) -> &'static str {
        match self {
            DirectoryService::Trail => "trail",
            DirectoryService::LogAudit => "logaudit",
        }
    }

    /// Parses [`as_str`](Self::as_str)'s form; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|service| service.as_str() == text)
    }
}

impl std::fmt::Display for DirectoryService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an account came to be a member of its directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JoinMethod {
    /// It is the management account: it enabled the directory and is listed as a member, as
    /// Alibaba Cloud's Resource Directory lists it.
    Management,
    /// The management account created it as a new member account.
    Created,
    /// It accepted an invitation.
    Invited,
}

impl JoinMethod {
    /// The method as stored: `Management`, `Created`, `Invited`.
    pub fn as_str(self) -> &'static str {
        match self {
            JoinMethod::Management => "Management",
            JoinMethod::Created => "Created",
            JoinMethod::Invited => "Invited",
        }
    }

    /// Parses the stored form; `None` for anything else.
    pub fn from_stored(text: &str) -> Option<Self> {
        [
            JoinMethod::Management,
            JoinMethod::Created,
            JoinMethod::Invited,
        ]
        .into_iter()
        .find(|method| method.as_str() == text)
    }
}

/// Where an invitation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum InvitationStatus {
    /// Waiting for the invited account's answer.
    Pending,
    /// The invited account accepted and joined.
    Accepted,
    /// The invited account declined.
    Declined,
    /// The management account withdrew it.
    Cancelled,
}

impl InvitationStatus {
    /// The status as stored: `Pending`, `Accepted`, `Declined`, `Cancelled`.
    pub fn as_str(self) -> &'static str {
        match self {
            InvitationStatus::Pending => "Pending",
            InvitationStatus::Accepted => "Accepted",
            InvitationStatus::Declined => "Declined",
            InvitationStatus::Cancelled => "Cancelled",
        }
    }

    /// Parses the stored form; `None` for anything else.
    pub fn from_stored(text: &str) -> Option<Self> {
        [
            InvitationStatus::Pending,
            InvitationStatus::Accepted,
            InvitationStatus::Declined,
            InvitationStatus::Cancelled,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }
}

impl std::fmt::Display for InvitationStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A resource directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryRecord {
    /// `rd-` followed by 10 lowercase letters and digits, chosen by the caller.
    pub directory_id: String,
    /// The account that enabled the directory and manages it.
    pub management_account: AccountId,
    /// When it was enabled, unix seconds.
    pub enabled_at: i64,
}

/// A member account of a directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRecord {
    /// The member account.
    pub account: AccountId,
    /// The account's name, read from the account itself.
    pub account_name: String,
    /// When it joined, unix seconds.
    pub joined_at: i64,
    /// How it joined.
    pub join_method: JoinMethod,
}

/// An invitation for an existing account to join a directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationRecord {
    /// `inv-` followed by 16 lowercase letters and digits, chosen by the caller.
    pub invitation_id: String,
    /// The inviting directory.
    pub directory_id: String,
    /// The invited account.
    pub account: AccountId,
    /// Where it stands.
    pub status: InvitationStatus,
    /// When it was sent, unix seconds.
    pub created_at: i64,
}

/// A change of a directory's membership or delegations, as logged and as broadcast to the
/// services that follow directories (trails, log audit).
///
/// Non-exhaustive: more kinds of change may be logged later, and followers must ignore kinds
/// they do not know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
#[non_exhaustive]
pub enum DirectoryEvent {
    /// An account became a member (the management account too, when the directory is enabled).
    MemberJoined {
        /// The directory.
        directory_id: String,
        /// The new member.
        account: AccountId,
    },
    /// A member account left the directory.
    MemberRemoved {
        /// The directory.
        directory_id: String,
        /// The former member.
        account: AccountId,
    },
    /// An account became the delegated administrator of a service.
    DelegatedAdministratorSet {
        /// The directory.
        directory_id: String,
        /// The service delegated.
        service: DirectoryService,
        /// The delegated administrator.
        account: AccountId,
    },
    /// An account stopped being the delegated administrator of a service.
    DelegatedAdministratorRemoved {
        /// The directory.
        directory_id: String,
        /// The service.
        service: DirectoryService,
        /// The former delegated administrator.
        account: AccountId,
    },
}

impl DirectoryEvent {
    /// The directory the event belongs to.
    pub fn directory_id(&self) -> &str {
        match self {
            DirectoryEvent::MemberJoined { directory_id, .. }
            | DirectoryEvent::MemberRemoved { directory_id, .. }
            | DirectoryEvent::DelegatedAdministratorSet { directory_id, .. }
            | DirectoryEvent::DelegatedAdministratorRemoved { directory_id, .. } => directory_id,
        }
    }
}

/// A logged event with its sequence number (increasing across all directories, never reused).
pub type SequencedEvent = (u64, DirectoryEvent);

/// An account's place in its directory, read in one snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryMembership {
    /// The directory the account is in.
    pub directory: DirectoryRecord,
    /// The account's own member record.
    pub member: MemberRecord,
    /// The services delegated to the account, in [`DirectoryService`] order.
    pub delegated_services: Vec<DirectoryService>,
}

/// Why a directory operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryStoreError {
    /// The account does not exist.
    #[error("account {account} does not exist")]
    AccountNotFound {
        /// The account looked for.
        account: AccountId,
    },
    /// No directory has this id.
    #[error("resource directory {directory_id} does not exist")]
    DirectoryNotFound {
        /// The id looked for.
        directory_id: String,
    },
    /// The account is already in a directory (as its management account or as a member).
    #[error("account {account} is already in resource directory {directory_id}")]
    AlreadyInDirectory {
        /// The account.
        account: AccountId,
        /// The directory it is in.
        directory_id: String,
    },
    /// The account is not a member of this directory.
    #[error("account {account} is not a member of resource directory {directory_id}")]
    NotAMember {
        /// The account.
        account: AccountId,
        /// The directory.
        directory_id: String,
    },
    /// The management account cannot leave its own directory.
    #[error("account {account} is the management account and cannot be removed")]
    CannotRemoveManagementAccount {
        /// The management account.
        account: AccountId,
    },
    /// The management account cannot be a delegated administrator: it already manages every
    /// service of its directory.
    #[error("account {account} is the management account and cannot be a delegated administrator")]
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
    /// No invitation has this id.
    #[error("invitation {id} does not exist")]
    InvitationNotFound {
        /// The id looked for.
        id: String,
    },
    /// The invitation was already accepted, declined or cancelled.
    #[error("invitation {id} is {status}, not pending")]
    InvitationNotPending {
        /// The invitation.
        id: String,
        /// Its status.
        status: InvitationStatus,
    },
    /// A caller-chosen directory or invitation id is taken (ids are random: pick another).
    #[error("id {id} is already taken")]
    IdTaken {
        /// The id.
        id: String,
    },
    /// The metastore failed; see [`MetaError::is_transient`].
    #[error(transparent)]
    Meta(#[from] MetaError),
}

impl DirectoryStoreError {
    /// Whether retrying the same call may succeed: only transient metastore faults.
    pub fn is_transient(&self) -> bool {
        matches!(self, DirectoryStoreError::Meta(meta) if meta.is_transient())
    }
}

impl From<sqlx::Error> for DirectoryStoreError {
    fn from(err: sqlx::Error) -> Self {
        DirectoryStoreError::Meta(MetaError::Database(err))
    }
}

/// The durable state of resource directories. A supertrait of [`Metastore`](crate::Metastore).
///
/// Every write returns the events it logged, with their sequence numbers, in log order.
#[async_trait]
pub trait DirectoryStore: Send + Sync {
    /// Creates a directory managed by `directory.management_account`, which becomes its first
    /// member ([`JoinMethod::Management`], joined at `enabled_at`). `AccountNotFound`,
    /// `AlreadyInDirectory` if the account is in any directory, `IdTaken` if the id is.
    async fn create_directory(
        &self,
        directory: &DirectoryRecord,
    ) -> Result<(MemberRecord, Vec<SequencedEvent>), DirectoryStoreError>;

    /// The directory with this id, if any.
    async fn get_directory(
        &self,
        directory_id: &str,
    ) -> Result<Option<DirectoryRecord>, DirectoryStoreError>;

    /// The directory `account` is in, its member record and its delegations; `None` if it is
    /// in no directory.
    async fn directory_membership(
        &self,
        account: AccountId,
    ) -> Result<Option<DirectoryMembership>, DirectoryStoreError>;

    /// Adds an existing account, just created for the directory, as a member
    /// ([`JoinMethod::Created`]). `DirectoryNotFound`, `AccountNotFound`, `AlreadyInDirectory`.
    async fn add_created_member(
        &self,
        directory_id: &str,
        account: AccountId,
        joined_at: i64,
    ) -> Result<(MemberRecord, Vec<SequencedEvent>), DirectoryStoreError>;

    /// The members of a directory, the management account included, ordered by account id.
    /// `DirectoryNotFound` for an unknown id.
    async fn list_directory_members(
        &self,
        directory_id: &str,
    ) -> Result<Vec<MemberRecord>, DirectoryStoreError>;

    /// Removes a member and its delegations. Logs one `DelegatedAdministratorRemoved` per
    /// delegation, then `MemberRemoved`. `DirectoryNotFound`, `NotAMember`,
    /// `CannotRemoveManagementAccount`.
    async fn remove_member(
        &self,
        directory_id: &str,
        account: AccountId,
        at: i64,
    ) -> Result<Vec<SequencedEvent>, DirectoryStoreError>;

    /// Stores a pending invitation. If the directory already has a pending invitation for the
    /// account, returns that one instead and stores nothing (inviting is idempotent).
    /// `DirectoryNotFound`, `AccountNotFound`, `AlreadyInDirectory`, `IdTaken`.
    async fn create_invitation(
        &self,
        invitation: &InvitationRecord,
    ) -> Result<InvitationRecord, DirectoryStoreError>;

    /// The invitation with this id. `InvitationNotFound`.
    async fn get_invitation(&self, id: &str) -> Result<InvitationRecord, DirectoryStoreError>;

    /// A directory's invitations, every status, oldest first.
    async fn list_directory_invitations(
        &self,
        directory_id: &str,
    ) -> Result<Vec<InvitationRecord>, DirectoryStoreError>;

    /// The invitations sent to an account by any directory, every status, oldest first.
    async fn list_account_invitations(
        &self,
        account: AccountId,
    ) -> Result<Vec<InvitationRecord>, DirectoryStoreError>;

    /// Accepts a pending invitation: the account joins ([`JoinMethod::Invited`]) at `at`.
    /// `InvitationNotFound`, `InvitationNotPending`, `AlreadyInDirectory` if the account
    /// joined a directory since it was invited (the invitation then stays pending).
    async fn accept_invitation(
        &self,
        id: &str,
        at: i64,
    ) -> Result<(InvitationRecord, MemberRecord, Vec<SequencedEvent>), DirectoryStoreError>;

    /// Ends a pending invitation as [`InvitationStatus::Declined`] or
    /// [`InvitationStatus::Cancelled`] (any other status is refused as `InvitationNotPending`
    /// carrying the invitation's current status). `InvitationNotFound`, `InvitationNotPending`.
    async fn close_invitation(
        &self,
        id: &str,
        status: InvitationStatus,
        at: i64,
    ) -> Result<InvitationRecord, DirectoryStoreError>;

    /// Makes a member the delegated administrator of `service`, replacing the previous one
    /// (logging `DelegatedAdministratorRemoved` for it, then `DelegatedAdministratorSet`).
    /// Setting the current delegate again logs nothing. `DirectoryNotFound`, `NotAMember`,
    /// `CannotDelegateToManagementAccount`.
    async fn set_delegated_administrator(
        &self,
        directory_id: &str,
        service: DirectoryService,
        account: AccountId,
        at: i64,
    ) -> Result<Vec<SequencedEvent>, DirectoryStoreError>;

    /// Removes the delegated administrator of `service`. `DirectoryNotFound`,
    /// `NoDelegatedAdministrator`.
    async fn remove_delegated_administrator(
        &self,
        directory_id: &str,
        service: DirectoryService,
        at: i64,
    ) -> Result<Vec<SequencedEvent>, DirectoryStoreError>;

    /// A directory's delegated administrators, in [`DirectoryService`] order.
    /// `DirectoryNotFound`.
    async fn list_delegated_administrators(
        &self,
        directory_id: &str,
    ) -> Result<Vec<(DirectoryService, AccountId)>, DirectoryStoreError>;

    /// A directory's logged events with a sequence number above `after_sequence`, in order.
    /// `DirectoryNotFound`.
    async fn directory_events_since(
        &self,
        directory_id: &str,
        after_sequence: u64,
    ) -> Result<Vec<SequencedEvent>, DirectoryStoreError>;
}
