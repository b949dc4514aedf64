//! The steps the SQLite [`DirectoryStore`](crate::DirectoryStore) builds its transactions
//! from, and the codecs of directory rows.
//!
//! Each step runs inside the caller's transaction and checks or changes one thing; the rules
//! that combine them live in the parent module.

use cairn_model::AccountId;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};

use super::super::{account_param, decode_account};
use crate::directory_store::SequencedEvent;
use crate::{
    DirectoryEvent, DirectoryRecord, DirectoryService, DirectoryStoreError, InvitationRecord,
    InvitationStatus, JoinMethod, MemberRecord, MetaError,
};

pub(super) type Tx = Transaction<'static, Sqlite>;

/// Member rows with the account's name; `directory_id` is selected too, for [`select_member`].
pub(super) const MEMBER_SELECT: &str = "SELECT m.directory_id, m.account_id, a.name, m.joined_at, \
     m.join_method FROM directory_members m JOIN accounts a ON a.id = m.account_id";

pub(super) const INVITATION_COLUMNS: &str = "id, directory_id, account_id, status, created_at";

pub(super) fn directory_from_row(row: &SqliteRow) -> Result<DirectoryRecord, DirectoryStoreError> {
    Ok(DirectoryRecord {
        directory_id: row.try_get("id")?,
        management_account: decode_account(row.try_get("management_account")?)?,
        enabled_at: row.try_get("enabled_at")?,
    })
}

pub(super) fn member_from_row(row: &SqliteRow) -> Result<MemberRecord, DirectoryStoreError> {
    let method: String = row.try_get("join_method")?;
    Ok(MemberRecord {
        account: decode_account(row.try_get("account_id")?)?,
        account_name: row.try_get("name")?,
        joined_at: row.try_get("joined_at")?,
        join_method: JoinMethod::from_stored(&method)
            .ok_or_else(|| MetaError::Corrupt(format!("stored join method {method:?}")))?,
    })
}

pub(super) fn invitation_from_row(
    row: &SqliteRow,
) -> Result<InvitationRecord, DirectoryStoreError> {
    let status: String = row.try_get("status")?;
    Ok(InvitationRecord {
        invitation_id: row.try_get("id")?,
        directory_id: row.try_get("directory_id")?,
        account: decode_account(row.try_get("account_id")?)?,
        status: InvitationStatus::from_stored(&status)
            .ok_or_else(|| MetaError::Corrupt(format!("stored invitation status {status:?}")))?,
        created_at: row.try_get("created_at")?,
    })
}

pub(super) fn decode_service(text: &str) -> Result<DirectoryService, DirectoryStoreError> {
    DirectoryService::parse(text)
        .ok_or_else(|| MetaError::Corrupt(format!("stored directory service {text:?}")).into())
}

pub(super) fn decode_sequence(raw: i64) -> Result<u64, DirectoryStoreError> {
    u64::try_from(raw)
        .map_err(|_| MetaError::Corrupt(format!("negative event sequence {raw}")).into())
}

/// Maps a unique-constraint violation on a caller-chosen id to `IdTaken`.
pub(super) fn id_taken_or(err: sqlx::Error, id: &str) -> DirectoryStoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            DirectoryStoreError::IdTaken { id: id.to_owned() }
        }
        _ => err.into(),
    }
}

pub(super) async fn require_account(
    tx: &mut Tx,
    account: AccountId,
) -> Result<(), DirectoryStoreError> {
    sqlx::query("SELECT 1 FROM accounts WHERE id = ?")
        .bind(account_param(account))
        .fetch_optional(&mut **tx)
        .await?
        .map(|_| ())
        .ok_or(DirectoryStoreError::AccountNotFound { account })
}

pub(super) async fn require_directory(
    tx: &mut Tx,
    directory_id: &str,
) -> Result<DirectoryRecord, DirectoryStoreError> {
    let row =
        sqlx::query("SELECT id, management_account, enabled_at FROM directories WHERE id = ?")
            .bind(directory_id)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or_else(|| DirectoryStoreError::DirectoryNotFound {
                directory_id: directory_id.to_owned(),
            })?;
    directory_from_row(&row)
}

/// Fails with `AlreadyInDirectory` if the account is in any directory.
pub(super) async fn require_no_directory(
    tx: &mut Tx,
    account: AccountId,
) -> Result<(), DirectoryStoreError> {
    let current: Option<String> =
        sqlx::query_scalar("SELECT directory_id FROM directory_members WHERE account_id = ?")
            .bind(account_param(account))
            .fetch_optional(&mut **tx)
            .await?;
    match current {
        None => Ok(()),
        Some(directory_id) => Err(DirectoryStoreError::AlreadyInDirectory {
            account,
            directory_id,
        }),
    }
}

pub(super) async fn select_member(
    tx: &mut Tx,
    account: AccountId,
) -> Result<Option<(String, MemberRecord)>, DirectoryStoreError> {
    let row = sqlx::query(&format!("{MEMBER_SELECT} WHERE m.account_id = ?"))
        .bind(account_param(account))
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|row| Ok((row.try_get("directory_id")?, member_from_row(&row)?)))
        .transpose()
}

/// Inserts a member row and logs `MemberJoined`. The caller has checked the rules.
pub(super) async fn insert_member(
    tx: &mut Tx,
    directory_id: &str,
    account: AccountId,
    joined_at: i64,
    method: JoinMethod,
) -> Result<(MemberRecord, SequencedEvent), DirectoryStoreError> {
    sqlx::query(
        "INSERT INTO directory_members (account_id, directory_id, joined_at, join_method) \
         VALUES (?, ?, ?, ?)",
    )
    .bind(account_param(account))
    .bind(directory_id)
    .bind(joined_at)
    .bind(method.as_str())
    .execute(&mut **tx)
    .await?;
    let (_, member) = select_member(tx, account).await?.ok_or_else(|| {
        MetaError::Corrupt(format!("member {account} vanished inside its transaction"))
    })?;
    let event = DirectoryEvent::MemberJoined {
        directory_id: directory_id.to_owned(),
        account,
    };
    let logged = log_event(tx, event, joined_at).await?;
    Ok((member, logged))
}

/// Appends an event to the log inside the caller's transaction.
pub(super) async fn log_event(
    tx: &mut Tx,
    event: DirectoryEvent,
    at: i64,
) -> Result<SequencedEvent, DirectoryStoreError> {
    let json = serde_json::to_string(&event)
        .map_err(|err| MetaError::Corrupt(format!("directory event does not serialise: {err}")))?;
    let sequence: i64 = sqlx::query_scalar(
        "INSERT INTO directory_events (directory_id, event, created_at) VALUES (?, ?, ?) \
         RETURNING sequence",
    )
    .bind(event.directory_id())
    .bind(json)
    .bind(at)
    .fetch_one(&mut **tx)
    .await?;
    Ok((decode_sequence(sequence)?, event))
}

/// Deletes the delegation of `service` and logs its removal, if there is one.
pub(super) async fn delete_delegation(
    tx: &mut Tx,
    directory_id: &str,
    service: DirectoryService,
    at: i64,
) -> Result<Option<SequencedEvent>, DirectoryStoreError> {
    let removed: Option<i64> = sqlx::query_scalar(
        "DELETE FROM delegated_administrators WHERE directory_id = ? AND service = ? \
         RETURNING account_id",
    )
    .bind(directory_id)
    .bind(service.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    let Some(raw) = removed else {
        return Ok(None);
    };
    let event = DirectoryEvent::DelegatedAdministratorRemoved {
        directory_id: directory_id.to_owned(),
        service,
        account: decode_account(raw)?,
    };
    Ok(Some(log_event(tx, event, at).await?))
}

pub(super) async fn delegations(
    tx: &mut Tx,
    directory_id: &str,
) -> Result<Vec<(DirectoryService, AccountId)>, DirectoryStoreError> {
    let rows = sqlx::query(
        "SELECT service, account_id FROM delegated_administrators WHERE directory_id = ?",
    )
    .bind(directory_id)
    .fetch_all(&mut **tx)
    .await?;
    let mut delegations = rows
        .iter()
        .map(|row| {
            let service: String = row.try_get("service")?;
            Ok((
                decode_service(&service)?,
                decode_account(row.try_get("account_id")?)?,
            ))
        })
        .collect::<Result<Vec<_>, DirectoryStoreError>>()?;
    delegations.sort();
    Ok(delegations)
}

pub(super) async fn invitation_for_update(
    tx: &mut Tx,
    id: &str,
) -> Result<InvitationRecord, DirectoryStoreError> {
    let row = sqlx::query(&format!(
        "SELECT {INVITATION_COLUMNS} FROM directory_invitations WHERE id = ?"
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| DirectoryStoreError::InvitationNotFound { id: id.to_owned() })?;
    let invitation = invitation_from_row(&row)?;
    if invitation.status != InvitationStatus::Pending {
        return Err(DirectoryStoreError::InvitationNotPending {
            id: id.to_owned(),
            status: invitation.status,
        });
    }
    Ok(invitation)
}

pub(super) async fn set_invitation_status(
    tx: &mut Tx,
    id: &str,
    status: InvitationStatus,
    at: i64,
) -> Result<(), DirectoryStoreError> {
    sqlx::query("UPDATE directory_invitations SET status = ?, updated_at = ? WHERE id = ?")
        .bind(status.as_str())
        .bind(at)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
