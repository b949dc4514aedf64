//! [`ResourceDirectory`]: organisations of accounts, as Alibaba Cloud's Resource Directory.
//!
//! The root of an account in no directory enables one and its account becomes the management
//! account (listed as a member, [`JoinMethod::Management`]). The management account's root
//! creates member accounts, invites existing accounts (whose root accepts or declines), removes
//! members, and names one delegated administrator account per [`DirectoryService`]. Services
//! that act for a whole directory (trails, log audit) follow its membership through
//! [`DirectoryEvent`]s.
//!
//! Invariants (the metastore enforces the data rules, see `cairn_meta::DirectoryStore`):
//! - every caller-facing write needs the root identity of the account that may make it;
//! - invitation ids are only answered to the invited account and the inviting management
//!   account; to anyone else they do not exist;
//! - every membership or delegation change is logged durably with its events in one
//!   transaction, then broadcast to [`ResourceDirectory::subscribe`]rs in sequence order
//!   (writes through one `ResourceDirectory` are serialised for that). The broadcast is a
//!   convenience of this process: a follower that starts late, lags
//!   ([`tokio::sync::broadcast::error::RecvError::Lagged`]) or runs on another server node
//!   catches up with [`ResourceDirectory::events_since`] from the last sequence it handled.
//!   Replaying a directory's log from sequence 0 rebuilds its members and delegations.
//! - the management account reaches members only through roles (wired by the server), never
//!   with their keys: creating a member creates no AccessKey.

mod error;
mod invitations;

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use cairn_meta::{
    DirectoryMembership, DirectoryRecord, DirectoryService, DirectoryStoreError, MemberRecord,
    Metastore, SequencedEvent,
};
use cairn_model::ids::random_alphanumeric;
use cairn_model::AccountId;
use tokio::sync::{broadcast, Mutex};

pub use error::DirectoryError;

use crate::{Iam, Principal, PrincipalIdentity};

/// How many live events a slow subscriber may fall behind before it sees `Lagged`.
const EVENT_CHANNEL_CAPACITY: usize = 1024;

/// How many fresh random ids are tried when a generated id is taken.
const ID_ATTEMPTS: usize = 8;

/// The caller's account's place in its directory, as [`ResourceDirectory::get`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectoryRole {
    /// The management account.
    Management,
    /// A member account without delegations.
    Member,
    /// A member account that is the delegated administrator of these services.
    DelegatedAdministrator(Vec<DirectoryService>),
}

/// The resource directory service. One per server process, shared as `Arc`.
pub struct ResourceDirectory {
    meta: Arc<dyn Metastore>,
    iam: Arc<Iam>,
    events: broadcast::Sender<SequencedEvent>,
    /// Held from a write's transaction to its broadcast, so that events go out in log order.
    write_lock: Mutex<()>,
}

impl fmt::Debug for ResourceDirectory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceDirectory")
            .field("subscribers", &self.events.receiver_count())
            .finish_non_exhaustive()
    }
}

/// `prefix` followed by `len` random lowercase letters and digits.
fn generate_id(prefix: &str, len: usize) -> String {
    format!("{prefix}{}", random_alphanumeric(len).to_ascii_lowercase())
}

fn require_root(caller: &Principal) -> Result<(), DirectoryError> {
    match caller.identity {
        PrincipalIdentity::Root => Ok(()),
        _ => Err(DirectoryError::NotRoot {
            account: caller.account,
        }),
    }
}

impl ResourceDirectory {
    /// The directory service over the same metastore (and `Iam`) the rest of the server uses.
    /// Times come from the `Iam`'s clock.
    pub fn new(meta: Arc<dyn Metastore>, iam: Arc<Iam>) -> Self {
        let (events, _) = broadcast::channel(EVENT_CHANNEL_CAPACITY);
        Self {
            meta,
            iam,
            events,
            write_lock: Mutex::new(()),
        }
    }

    /// Now, in unix seconds, from the same clock as [`Iam`].
    fn now(&self) -> i64 {
        self.iam.now()
    }

    /// Live events of every directory, as `(sequence, event)`, from now on. See the module
    /// documentation for catching up on missed events.
    pub fn subscribe(&self) -> broadcast::Receiver<SequencedEvent> {
        self.events.subscribe()
    }

    /// A directory's durable event log after `after_sequence` (0: from the start), in order.
    pub async fn events_since(
        &self,
        directory_id: &str,
        after_sequence: u64,
    ) -> Result<Vec<SequencedEvent>, DirectoryError> {
        Ok(self
            .meta
            .directory_events_since(directory_id, after_sequence)
            .await?)
    }

    /// Runs one store write under the write lock and broadcasts the events it logged.
    async fn write<T>(
        &self,
        change: impl Future<Output = Result<(T, Vec<SequencedEvent>), DirectoryStoreError>>,
    ) -> Result<T, DirectoryError> {
        let _serialised = self.write_lock.lock().await;
        let (value, events) = change.await?;
        for event in events {
            tracing::debug!(sequence = event.0, event = ?event.1, "directory event");
            // An error only means nobody is subscribed right now; the log has the event.
            let _ = self.events.send(event);
        }
        Ok(value)
    }

    /// Enables a directory managed by the caller's account. The caller must be the root of an
    /// account in no directory.
    pub async fn enable(&self, caller: &Principal) -> Result<DirectoryRecord, DirectoryError> {
        require_root(caller)?;
        let mut last_id = String::new();
        for _ in 0..ID_ATTEMPTS {
            let record = DirectoryRecord {
                directory_id: generate_id("rd-", 10),
                management_account: caller.account,
                enabled_at: self.now(),
            };
            let created = self
                .write(self.meta.create_directory(&record))
                .await
                .map(|_member| ());
            match created {
                Ok(()) => {
                    tracing::info!(
                        directory_id = %record.directory_id,
                        management_account = %record.management_account,
                        "resource directory enabled"
                    );
                    return Ok(record);
                }
                Err(DirectoryError::IdTaken { id }) => last_id = id,
                Err(err) => return Err(err),
            }
        }
        Err(DirectoryError::IdTaken { id: last_id })
    }

    /// The directory of the caller's account and the account's role in it; `None` if it is in
    /// no directory. Any identity of the account may ask.
    pub async fn get(
        &self,
        caller: &Principal,
    ) -> Result<Option<(DirectoryRecord, DirectoryRole)>, DirectoryError> {
        let Some(membership) = self.meta.directory_membership(caller.account).await? else {
            return Ok(None);
        };
        let role = if membership.directory.management_account == caller.account {
            DirectoryRole::Management
        } else if membership.delegated_services.is_empty() {
            DirectoryRole::Member
        } else {
            DirectoryRole::DelegatedAdministrator(membership.delegated_services)
        };
        Ok(Some((membership.directory, role)))
    }

    /// The caller's directory, if the caller is the root of its management account.
    async fn managed_by(&self, caller: &Principal) -> Result<DirectoryRecord, DirectoryError> {
        require_root(caller)?;
        let membership = self.membership(caller.account).await?;
        if membership.directory.management_account != caller.account {
            return Err(DirectoryError::NotManagementAccount {
                account: caller.account,
                directory_id: membership.directory.directory_id,
            });
        }
        Ok(membership.directory)
    }

    /// The caller's directory, if the caller is the root of its management account or of a
    /// delegated administrator.
    async fn administered_by(&self, caller: &Principal) -> Result<DirectoryRecord, DirectoryError> {
        require_root(caller)?;
        let membership = self.membership(caller.account).await?;
        if membership.directory.management_account != caller.account
            && membership.delegated_services.is_empty()
        {
            return Err(DirectoryError::NotManagementOrDelegatedAdministrator {
                account: caller.account,
                directory_id: membership.directory.directory_id,
            });
        }
        Ok(membership.directory)
    }

    async fn membership(&self, account: AccountId) -> Result<DirectoryMembership, DirectoryError> {
        self.meta
            .directory_membership(account)
            .await?
            .ok_or(DirectoryError::NoDirectory { account })
    }

    /// Creates a new account named `account_name` that joins the caller's directory at once.
    /// Management root only. No AccessKey is created for it.
    pub async fn create_member(
        &self,
        caller: &Principal,
        account_name: &str,
    ) -> Result<MemberRecord, DirectoryError> {
        let directory = self.managed_by(caller).await?;
        let account = self.iam.create_account(account_name).await?;
        let joined = self
            .write(
                self.meta
                    .add_created_member(&directory.directory_id, account.id, self.now()),
            )
            .await;
        match &joined {
            Ok(_) => tracing::info!(
                directory_id = %directory.directory_id,
                account = %account.id,
                "member account created"
            ),
            Err(err) => tracing::warn!(
                directory_id = %directory.directory_id,
                account = %account.id,
                error = %err,
                "created account could not join the directory and stays standalone"
            ),
        }
        joined
    }

    /// Removes a member account (and its delegations). Management root only; the management
    /// account itself cannot be removed.
    pub async fn remove_member(
        &self,
        caller: &Principal,
        account: AccountId,
    ) -> Result<(), DirectoryError> {
        let directory = self.managed_by(caller).await?;
        let at = self.now();
        self.write(async {
            let events = self
                .meta
                .remove_member(&directory.directory_id, account, at)
                .await?;
            Ok(((), events))
        })
        .await?;
        tracing::info!(directory_id = %directory.directory_id, %account, "member removed");
        Ok(())
    }

    /// The members of the caller's directory, the management account included, by account
    /// id. Root of the management account or of a delegated administrator.
    pub async fn list_members(
        &self,
        caller: &Principal,
    ) -> Result<Vec<MemberRecord>, DirectoryError> {
        let directory = self.administered_by(caller).await?;
        self.members_of(&directory.directory_id).await
    }

    /// Makes a member the delegated administrator of `service`, replacing any previous one.
    /// Management root only.
    pub async fn set_delegated_administrator(
        &self,
        caller: &Principal,
        service: DirectoryService,
        account: AccountId,
    ) -> Result<(), DirectoryError> {
        let directory = self.managed_by(caller).await?;
        let at = self.now();
        self.write(async {
            let events = self
                .meta
                .set_delegated_administrator(&directory.directory_id, service, account, at)
                .await?;
            Ok(((), events))
        })
        .await?;
        tracing::info!(
            directory_id = %directory.directory_id,
            service = service.as_str(),
            %account,
            "delegated administrator set"
        );
        Ok(())
    }

    /// Removes the delegated administrator of `service`. Management root only.
    pub async fn remove_delegated_administrator(
        &self,
        caller: &Principal,
        service: DirectoryService,
    ) -> Result<(), DirectoryError> {
        let directory = self.managed_by(caller).await?;
        let at = self.now();
        self.write(async {
            let events = self
                .meta
                .remove_delegated_administrator(&directory.directory_id, service, at)
                .await?;
            Ok(((), events))
        })
        .await?;
        tracing::info!(
            directory_id = %directory.directory_id,
            service = service.as_str(),
            "delegated administrator removed"
        );
        Ok(())
    }

    /// The delegated administrators of the caller's directory, in service order. Root of the
    /// management account or of a delegated administrator.
    pub async fn delegated_administrators(
        &self,
        caller: &Principal,
    ) -> Result<Vec<(DirectoryService, AccountId)>, DirectoryError> {
        let directory = self.administered_by(caller).await?;
        self.delegated_administrators_of(&directory.directory_id)
            .await
    }

    // ---- for services acting for a directory (no caller check) ----

    /// The directory `account` is in, if any.
    pub async fn directory_of(
        &self,
        account: AccountId,
    ) -> Result<Option<DirectoryRecord>, DirectoryError> {
        Ok(self
            .meta
            .directory_membership(account)
            .await?
            .map(|membership| membership.directory))
    }

    /// The members of a directory, the management account included, by account id.
    pub async fn members_of(
        &self,
        directory_id: &str,
    ) -> Result<Vec<MemberRecord>, DirectoryError> {
        Ok(self.meta.list_directory_members(directory_id).await?)
    }

    /// The delegated administrators of a directory, in service order.
    pub async fn delegated_administrators_of(
        &self,
        directory_id: &str,
    ) -> Result<Vec<(DirectoryService, AccountId)>, DirectoryError> {
        Ok(self
            .meta
            .list_delegated_administrators(directory_id)
            .await?)
    }
}

#[cfg(test)]
mod tests;
