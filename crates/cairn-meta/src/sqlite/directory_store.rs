//! SQL for resource directories: the SQLite [`DirectoryStore`].
//!
//! Every write runs in one `BEGIN IMMEDIATE` transaction that checks the directory rules
//! (see [`crate::directory_store`]), makes the change and appends its events to
//! `directory_events`, so a change and its events commit together or not at all. The schema
//! backs the rules up: an account is the primary key of `directory_members`, a delegated
//! administrator row references its member row, a directory has one pending invitation per
//! account.

mod steps;

use async_trait::async_trait;
use cairn_model::AccountId;
use sqlx::Row;

use self::steps::{
    decode_sequence, delegations, delete_delegation, directory_from_row, id_taken_or,
    insert_member, invitation_for_update, invitation_from_row, log_event, member_from_row,
    require_account, require_directory, require_no_directory, select_member, set_invitation_status,
    INVITATION_COLUMNS, MEMBER_SELECT,
};
use super::{account_param, decode_json, SqliteMetastore};
use crate::directory_store::SequencedEvent;
use crate::{
    DirectoryEvent, DirectoryMembership, DirectoryRecord, DirectoryService, DirectoryStore,
    DirectoryStoreError, InvitationRecord, InvitationStatus, JoinMethod, MemberRecord,
};

#[async_trait]
impl DirectoryStore for SqliteMetastore {
    async fn create_directory(
        &self,
        directory: &DirectoryRecord,
    ) -> Result<(MemberRecord, Vec<SequencedEvent>), DirectoryStoreError> {
        let account = directory.management_account;
        let mut tx = self.begin_write().await?;
        require_account(&mut tx, account).await?;
        require_no_directory(&mut tx, account).await?;
        sqlx::query(
            "INSERT INTO directories (id, management_account, enabled_at) VALUES (?, ?, ?)",
        )
        .bind(&directory.directory_id)
        .bind(account_param(account))
        .bind(directory.enabled_at)
        .execute(&mut *tx)
        .await
        .map_err(|err| id_taken_or(err, &directory.directory_id))?;
        let (member, event) = insert_member(
            &mut tx,
            &directory.directory_id,
            account,
            directory.enabled_at,
            JoinMethod::Management,
        )
        .await?;
        tx.commit().await?;
        Ok((member, vec![event]))
    }

    async fn get_directory(
        &self,
        directory_id: &str,
    ) -> Result<Option<DirectoryRecord>, DirectoryStoreError> {
        sqlx::query("SELECT id, management_account, enabled_at FROM directories WHERE id = ?")
            .bind(directory_id)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| directory_from_row(&row))
            .transpose()
    }

    async fn directory_membership(
        &self,
        account: AccountId,
    ) -> Result<Option<DirectoryMembership>, DirectoryStoreError> {
        let mut tx = self.begin_read().await?;
        let Some((directory_id, member)) = select_member(&mut tx, account).await? else {
            return Ok(None);
        };
        let directory = require_directory(&mut tx, &directory_id).await?;
        let delegated_services = delegations(&mut tx, &directory_id)
            .await?
            .into_iter()
            .filter(|(_, delegate)| *delegate == account)
            .map(|(service, _)| service)
            .collect();
        tx.commit().await?;
        Ok(Some(DirectoryMembership {
            directory,
            member,
            delegated_services,
        }))
    }

    async fn add_created_member(
        &self,
        directory_id: &str,
        account: AccountId,
        joined_at: i64,
    ) -> Result<(MemberRecord, Vec<SequencedEvent>), DirectoryStoreError> {
        let mut tx = self.begin_write().await?;
        require_directory(&mut tx, directory_id).await?;
        require_account(&mut tx, account).await?;
        require_no_directory(&mut tx, account).await?;
        let (member, event) = insert_member(
            &mut tx,
            directory_id,
            account,
            joined_at,
            JoinMethod::Created,
        )
        .await?;
        tx.commit().await?;
        Ok((member, vec![event]))
    }

    async fn list_directory_members(
        &self,
        directory_id: &str,
    ) -> Result<Vec<MemberRecord>, DirectoryStoreError> {
        let mut tx = self.begin_read().await?;
        require_directory(&mut tx, directory_id).await?;
        let rows = sqlx::query(&format!(
            "{MEMBER_SELECT} WHERE m.directory_id = ? ORDER BY m.account_id"
        ))
        .bind(directory_id)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter().map(member_from_row).collect()
    }

    async fn remove_member(
        &self,
        directory_id: &str,
        account: AccountId,
        at: i64,
    ) -> Result<Vec<SequencedEvent>, DirectoryStoreError> {
        let mut tx = self.begin_write().await?;
        let directory = require_directory(&mut tx, directory_id).await?;
        match select_member(&mut tx, account).await? {
            Some((current, _)) if current == directory_id => {}
            _ => {
                return Err(DirectoryStoreError::NotAMember {
                    account,
                    directory_id: directory_id.to_owned(),
                })
            }
        }
        if account == directory.management_account {
            return Err(DirectoryStoreError::CannotRemoveManagementAccount { account });
        }
        let mut events = Vec::new();
        for (service, delegate) in delegations(&mut tx, directory_id).await? {
            if delegate == account {
                events.extend(delete_delegation(&mut tx, directory_id, service, at).await?);
            }
        }
        sqlx::query("DELETE FROM directory_members WHERE account_id = ?")
            .bind(account_param(account))
            .execute(&mut *tx)
            .await?;
        let event = DirectoryEvent::MemberRemoved {
            directory_id: directory_id.to_owned(),
            account,
        };
        events.push(log_event(&mut tx, event, at).await?);
        tx.commit().await?;
        Ok(events)
    }

    async fn create_invitation(
        &self,
        invitation: &InvitationRecord,
    ) -> Result<InvitationRecord, DirectoryStoreError> {
        let mut tx = self.begin_write().await?;
        require_directory(&mut tx, &invitation.directory_id).await?;
        require_account(&mut tx, invitation.account).await?;
        require_no_directory(&mut tx, invitation.account).await?;
        let pending = sqlx::query(&format!(
            "SELECT {INVITATION_COLUMNS} FROM directory_invitations \
             WHERE directory_id = ? AND account_id = ? AND status = 'Pending'"
        ))
        .bind(&invitation.directory_id)
        .bind(account_param(invitation.account))
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = pending {
            return invitation_from_row(&row);
        }
        sqlx::query(
            "INSERT INTO directory_invitations \
             (id, directory_id, account_id, status, created_at, updated_at) \
             VALUES (?, ?, ?, 'Pending', ?, ?)",
        )
        .bind(&invitation.invitation_id)
        .bind(&invitation.directory_id)
        .bind(account_param(invitation.account))
        .bind(invitation.created_at)
        .bind(invitation.created_at)
        .execute(&mut *tx)
        .await
        .map_err(|err| id_taken_or(err, &invitation.invitation_id))?;
        tx.commit().await?;
        Ok(InvitationRecord {
            status: InvitationStatus::Pending,
            ..invitation.clone()
        })
    }

    async fn get_invitation(&self, id: &str) -> Result<InvitationRecord, DirectoryStoreError> {
        let row = sqlx::query(&format!(
            "SELECT {INVITATION_COLUMNS} FROM directory_invitations WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| DirectoryStoreError::InvitationNotFound { id: id.to_owned() })?;
        invitation_from_row(&row)
    }

    async fn list_directory_invitations(
        &self,
        directory_id: &str,
    ) -> Result<Vec<InvitationRecord>, DirectoryStoreError> {
        sqlx::query(&format!(
            "SELECT {INVITATION_COLUMNS} FROM directory_invitations \
             WHERE directory_id = ? ORDER BY created_at, id"
        ))
        .bind(directory_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(invitation_from_row)
        .collect()
    }

    async fn list_account_invitations(
        &self,
        account: AccountId,
    ) -> Result<Vec<InvitationRecord>, DirectoryStoreError> {
        sqlx::query(&format!(
            "SELECT {INVITATION_COLUMNS} FROM directory_invitations \
             WHERE account_id = ? ORDER BY created_at, id"
        ))
        .bind(account_param(account))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(invitation_from_row)
        .collect()
    }

    async fn accept_invitation(
        &self,
        id: &str,
        at: i64,
    ) -> Result<(InvitationRecord, MemberRecord, Vec<SequencedEvent>), DirectoryStoreError> {
        let mut tx = self.begin_write().await?;
        let invitation = invitation_for_update(&mut tx, id).await?;
        require_directory(&mut tx, &invitation.directory_id).await?;
        require_no_directory(&mut tx, invitation.account).await?;
        set_invitation_status(&mut tx, id, InvitationStatus::Accepted, at).await?;
        let (member, event) = insert_member(
            &mut tx,
            &invitation.directory_id,
            invitation.account,
            at,
            JoinMethod::Invited,
        )
        .await?;
        tx.commit().await?;
        let invitation = InvitationRecord {
            status: InvitationStatus::Accepted,
            ..invitation
        };
        Ok((invitation, member, vec![event]))
    }

    async fn close_invitation(
        &self,
        id: &str,
        status: InvitationStatus,
        at: i64,
    ) -> Result<InvitationRecord, DirectoryStoreError> {
        let mut tx = self.begin_write().await?;
        let invitation = invitation_for_update(&mut tx, id).await?;
        if !matches!(
            status,
            InvitationStatus::Declined | InvitationStatus::Cancelled
        ) {
            return Err(DirectoryStoreError::InvitationNotPending {
                id: id.to_owned(),
                status: invitation.status,
            });
        }
        set_invitation_status(&mut tx, id, status, at).await?;
        tx.commit().await?;
        Ok(InvitationRecord {
            status,
            ..invitation
        })
    }

    async fn set_delegated_administrator(
        &self,
        directory_id: &str,
        service: DirectoryService,
        account: AccountId,
        at: i64,
    ) -> Result<Vec<SequencedEvent>, DirectoryStoreError> {
        let mut tx = self.begin_write().await?;
        let directory = require_directory(&mut tx, directory_id).await?;
        match select_member(&mut tx, account).await? {
            Some((current, _)) if current == directory_id => {}
            _ => {
                return Err(DirectoryStoreError::NotAMember {
                    account,
                    directory_id: directory_id.to_owned(),
                })
            }
        }
        if account == directory.management_account {
            return Err(DirectoryStoreError::CannotDelegateToManagementAccount { account });
        }
        let current = delegations(&mut tx, directory_id).await?;
        if current.contains(&(service, account)) {
            return Ok(Vec::new());
        }
        let mut events = Vec::new();
        events.extend(delete_delegation(&mut tx, directory_id, service, at).await?);
        sqlx::query(
            "INSERT INTO delegated_administrators (directory_id, service, account_id, assigned_at) \
             VALUES (?, ?, ?, ?)",
        )
        .bind(directory_id)
        .bind(service.as_str())
        .bind(account_param(account))
        .bind(at)
        .execute(&mut *tx)
        .await?;
        let event = DirectoryEvent::DelegatedAdministratorSet {
            directory_id: directory_id.to_owned(),
            service,
            account,
        };
        events.push(log_event(&mut tx, event, at).await?);
        tx.commit().await?;
        Ok(events)
    }

    async fn remove_delegated_administrator(
        &self,
        directory_id: &str,
        service: DirectoryService,
        at: i64,
    ) -> Result<Vec<SequencedEvent>, DirectoryStoreError> {
        let mut tx = self.begin_write().await?;
        require_directory(&mut tx, directory_id).await?;
        let event = delete_delegation(&mut tx, directory_id, service, at)
            .await?
            .ok_or_else(|| DirectoryStoreError::NoDelegatedAdministrator {
                directory_id: directory_id.to_owned(),
                service,
            })?;
        tx.commit().await?;
        Ok(vec![event])
    }

    async fn list_delegated_administrators(
        &self,
        directory_id: &str,
    ) -> Result<Vec<(DirectoryService, AccountId)>, DirectoryStoreError> {
        let mut tx = self.begin_read().await?;
        require_directory(&mut tx, directory_id).await?;
        let delegations = delegations(&mut tx, directory_id).await?;
        tx.commit().await?;
        Ok(delegations)
    }

    async fn directory_events_since(
        &self,
        directory_id: &str,
        after_sequence: u64,
    ) -> Result<Vec<SequencedEvent>, DirectoryStoreError> {
        let mut tx = self.begin_read().await?;
        require_directory(&mut tx, directory_id).await?;
        let after = i64::try_from(after_sequence).unwrap_or(i64::MAX);
        let rows = sqlx::query(
            "SELECT sequence, event FROM directory_events \
             WHERE directory_id = ? AND sequence > ? ORDER BY sequence",
        )
        .bind(directory_id)
        .bind(after)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter()
            .map(|row| {
                let event: String = row.try_get("event")?;
                Ok((
                    decode_sequence(row.try_get("sequence")?)?,
                    decode_json("directory event", &event)?,
                ))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
