//! SQL for accounts, users and AccessKeys.
//!
//! Invariants kept here: a user belongs to an existing account; an AccessKey belongs to an
//! existing account and, if it names a user, to an existing user of that account; deleting a
//! user deletes its keys and its policy attachments in the same transaction.

use cairn_model::{AccessKeyId, AccountId, UserName};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};

use super::{
    account_param, decode_account, decode_status, decode_text, unique_violation_as, SqliteMetastore,
};
use crate::{AccessKeyRecord, AccessKeyStatus, Account, EntityKind, MetaError, User};

const ACCESS_KEY_COLUMNS: &str = "id, account_id, user_name, secret_ciphertext, secret_nonce, \
     status, created_at, last_used_at";

fn account_from_row(row: &SqliteRow) -> Result<Account, MetaError> {
    Ok(Account {
        id: decode_account(row.try_get("id")?)?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
    })
}

fn user_from_row(row: &SqliteRow) -> Result<User, MetaError> {
    Ok(User {
        account: decode_account(row.try_get("account_id")?)?,
        name: decode_text(row.try_get("name")?, UserName::parse)?,
        display_name: row.try_get("display_name")?,
        created_at: row.try_get("created_at")?,
    })
}

fn access_key_from_row(row: &SqliteRow) -> Result<AccessKeyRecord, MetaError> {
    let user: Option<String> = row.try_get("user_name")?;
    let status: String = row.try_get("status")?;
    Ok(AccessKeyRecord {
        id: decode_text(row.try_get("id")?, AccessKeyId::parse)?,
        account: decode_account(row.try_get("account_id")?)?,
        user: user
            .map(|name| decode_text(name, UserName::parse))
            .transpose()?,
        secret_ciphertext: row.try_get("secret_ciphertext")?,
        secret_nonce: row.try_get("secret_nonce")?,
        status: decode_status(&status)?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
    })
}

/// Fails with `NotFound(Account)` unless the account exists.
pub(super) async fn require_account(
    tx: &mut Transaction<'static, Sqlite>,
    account: AccountId,
) -> Result<(), MetaError> {
    sqlx::query("SELECT 1 FROM accounts WHERE id = ?")
        .bind(account_param(account))
        .fetch_optional(&mut **tx)
        .await?
        .map(|_| ())
        .ok_or_else(|| MetaError::not_found(EntityKind::Account, account))
}

/// Fails with `NotFound(User)` unless the account has this user.
async fn require_user(
    tx: &mut Transaction<'static, Sqlite>,
    account: AccountId,
    name: &UserName,
) -> Result<(), MetaError> {
    sqlx::query("SELECT 1 FROM users WHERE account_id = ? AND name = ?")
        .bind(account_param(account))
        .bind(name.as_str())
        .fetch_optional(&mut **tx)
        .await?
        .map(|_| ())
        .ok_or_else(|| MetaError::not_found(EntityKind::User, name))
}

impl SqliteMetastore {
    pub(super) async fn insert_account(&self, account: &Account) -> Result<(), MetaError> {
        sqlx::query("INSERT INTO accounts (id, name, created_at) VALUES (?, ?, ?)")
            .bind(account_param(account.id))
            .bind(&account.name)
            .bind(account.created_at)
            .execute(&self.pool)
            .await
            .map_err(|err| unique_violation_as(err, EntityKind::Account, account.id))?;
        Ok(())
    }

    pub(super) async fn select_account(&self, id: AccountId) -> Result<Account, MetaError> {
        let row = sqlx::query("SELECT id, name, created_at FROM accounts WHERE id = ?")
            .bind(account_param(id))
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| MetaError::not_found(EntityKind::Account, id))?;
        account_from_row(&row)
    }

    pub(super) async fn select_accounts(&self) -> Result<Vec<Account>, MetaError> {
        sqlx::query("SELECT id, name, created_at FROM accounts ORDER BY name, id")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(account_from_row)
            .collect()
    }

    pub(super) async fn insert_user(&self, user: &User) -> Result<(), MetaError> {
        let mut tx = self.begin_write().await?;
        require_account(&mut tx, user.account).await?;
        sqlx::query(
            "INSERT INTO users (account_id, name, display_name, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(account_param(user.account))
        .bind(user.name.as_str())
        .bind(&user.display_name)
        .bind(user.created_at)
        .execute(&mut *tx)
        .await
        .map_err(|err| unique_violation_as(err, EntityKind::User, &user.name))?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn select_user(
        &self,
        account: AccountId,
        name: &UserName,
    ) -> Result<User, MetaError> {
        let row = sqlx::query(
            "SELECT account_id, name, display_name, created_at FROM users \
             WHERE account_id = ? AND name = ?",
        )
        .bind(account_param(account))
        .bind(name.as_str())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| MetaError::not_found(EntityKind::User, name))?;
        user_from_row(&row)
    }

    pub(super) async fn select_users(&self, account: AccountId) -> Result<Vec<User>, MetaError> {
        sqlx::query(
            "SELECT account_id, name, display_name, created_at FROM users \
             WHERE account_id = ? ORDER BY name",
        )
        .bind(account_param(account))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(user_from_row)
        .collect()
    }

    pub(super) async fn remove_user(
        &self,
        account: AccountId,
        name: &UserName,
    ) -> Result<Vec<AccessKeyId>, MetaError> {
        let mut tx = self.begin_write().await?;
        let key_rows = sqlx::query(
            "DELETE FROM access_keys WHERE account_id = ? AND user_name = ? RETURNING id",
        )
        .bind(account_param(account))
        .bind(name.as_str())
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM policy_attachments \
             WHERE account_id = ? AND target_kind = 'User' AND target_name = ?",
        )
        .bind(account_param(account))
        .bind(name.as_str())
        .execute(&mut *tx)
        .await?;
        let deleted = sqlx::query("DELETE FROM users WHERE account_id = ? AND name = ?")
            .bind(account_param(account))
            .bind(name.as_str())
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(MetaError::not_found(EntityKind::User, name));
        }
        let mut key_ids = key_rows
            .iter()
            .map(|row| decode_text(row.try_get("id")?, AccessKeyId::parse))
            .collect::<Result<Vec<_>, MetaError>>()?;
        tx.commit().await?;
        key_ids.sort();
        Ok(key_ids)
    }

    pub(super) async fn insert_access_key(&self, key: &AccessKeyRecord) -> Result<(), MetaError> {
        let mut tx = self.begin_write().await?;
        require_account(&mut tx, key.account).await?;
        if let Some(user) = &key.user {
            require_user(&mut tx, key.account, user).await?;
        }
        sqlx::query(
            "INSERT INTO access_keys (id, account_id, user_name, secret_ciphertext, \
             secret_nonce, status, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(key.id.as_str())
        .bind(account_param(key.account))
        .bind(key.user.as_ref().map(UserName::as_str))
        .bind(&key.secret_ciphertext)
        .bind(&key.secret_nonce)
        .bind(key.status.as_str())
        .bind(key.created_at)
        .bind(key.last_used_at)
        .execute(&mut *tx)
        .await
        .map_err(|err| unique_violation_as(err, EntityKind::AccessKey, &key.id))?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn select_access_key(
        &self,
        id: &AccessKeyId,
    ) -> Result<AccessKeyRecord, MetaError> {
        let row = sqlx::query(&format!(
            "SELECT {ACCESS_KEY_COLUMNS} FROM access_keys WHERE id = ?"
        ))
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| MetaError::not_found(EntityKind::AccessKey, id))?;
        access_key_from_row(&row)
    }

    pub(super) async fn select_access_keys(
        &self,
        account: AccountId,
    ) -> Result<Vec<AccessKeyRecord>, MetaError> {
        sqlx::query(&format!(
            "SELECT {ACCESS_KEY_COLUMNS} FROM access_keys WHERE account_id = ? ORDER BY id"
        ))
        .bind(account_param(account))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(access_key_from_row)
        .collect()
    }

    pub(super) async fn update_access_key_status(
        &self,
        account: AccountId,
        id: &AccessKeyId,
        status: AccessKeyStatus,
    ) -> Result<(), MetaError> {
        let updated =
            sqlx::query("UPDATE access_keys SET status = ? WHERE id = ? AND account_id = ?")
                .bind(status.as_str())
                .bind(id.as_str())
                .bind(account_param(account))
                .execute(&self.pool)
                .await?;
        if updated.rows_affected() == 0 {
            return Err(MetaError::not_found(EntityKind::AccessKey, id));
        }
        Ok(())
    }

    pub(super) async fn remove_access_key(
        &self,
        account: AccountId,
        id: &AccessKeyId,
    ) -> Result<(), MetaError> {
        let deleted = sqlx::query("DELETE FROM access_keys WHERE id = ? AND account_id = ?")
            .bind(id.as_str())
            .bind(account_param(account))
            .execute(&self.pool)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(MetaError::not_found(EntityKind::AccessKey, id));
        }
        Ok(())
    }

    /// Moves `last_used_at` forward only: a late, older touch never hides a newer one.
    pub(super) async fn update_access_key_last_used(
        &self,
        id: &AccessKeyId,
        used_at: i64,
    ) -> Result<(), MetaError> {
        let updated = sqlx::query(
            "UPDATE access_keys SET last_used_at = max(coalesce(last_used_at, ?1), ?1) \
             WHERE id = ?2",
        )
        .bind(used_at)
        .bind(id.as_str())
        .execute(&self.pool)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(MetaError::not_found(EntityKind::AccessKey, id));
        }
        Ok(())
    }
}
