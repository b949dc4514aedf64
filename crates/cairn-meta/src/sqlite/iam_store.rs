//! SQL for policies, attachments, roles and STS sessions: the SQLite [`IamStore`].
//!
//! Every write that checks before it writes runs in one `BEGIN IMMEDIATE` transaction, so the
//! invariants of [`crate::iam_store`] (attachments name existing targets and policies, attached
//! policies are not deleted, sessions exist only for existing roles) hold under concurrent
//! writers. Row decoding lives in [`rows`].

mod rows;

use async_trait::async_trait;
use cairn_model::{AccessKeyId, AccountId, PolicyName, RoleName};
use sqlx::{Sqlite, Transaction};

use self::rows::{
    attached_from_row, policy_from_row, role_from_row, session_from_row, ROLE_COLUMNS,
    SESSION_COLUMNS,
};
use super::{account_param, SqliteMetastore};
use crate::{
    AttachedPolicy, CustomPolicyRecord, IamStore, IamStoreError, PolicyAttachment, PolicyKind,
    PolicyTarget, StoredRole, StsSessionRecord,
};

/// Whether a database error is a unique-constraint violation.
fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// Maps a unique violation to `clash`, anything else to a database error.
fn unique_or(err: sqlx::Error, clash: impl FnOnce() -> IamStoreError) -> IamStoreError {
    if is_unique_violation(&err) {
        clash()
    } else {
        err.into()
    }
}

async fn require_account(
    tx: &mut Transaction<'static, Sqlite>,
    account: AccountId,
) -> Result<(), IamStoreError> {
    sqlx::query("SELECT 1 FROM accounts WHERE id = ?")
        .bind(account_param(account))
        .fetch_optional(&mut **tx)
        .await?
        .map(|_| ())
        .ok_or(IamStoreError::AccountNotFound { account })
}

async fn require_role(
    tx: &mut Transaction<'static, Sqlite>,
    account: AccountId,
    name: &RoleName,
) -> Result<(), IamStoreError> {
    sqlx::query("SELECT 1 FROM roles WHERE account_id = ? AND name = ?")
        .bind(account_param(account))
        .bind(name.as_str())
        .fetch_optional(&mut **tx)
        .await?
        .map(|_| ())
        .ok_or_else(|| IamStoreError::RoleNotFound { name: name.clone() })
}

/// Fails with `UserNotFound` / `RoleNotFound` unless the target exists in the account.
async fn require_target(
    tx: &mut Transaction<'static, Sqlite>,
    account: AccountId,
    target: &PolicyTarget,
) -> Result<(), IamStoreError> {
    match target {
        PolicyTarget::Role(name) => require_role(tx, account, name).await,
        PolicyTarget::User(name) => {
            sqlx::query("SELECT 1 FROM users WHERE account_id = ? AND name = ?")
                .bind(account_param(account))
                .bind(name.as_str())
                .fetch_optional(&mut **tx)
                .await?
                .map(|_| ())
                .ok_or_else(|| IamStoreError::UserNotFound { name: name.clone() })
        }
    }
}

#[async_trait]
impl IamStore for SqliteMetastore {
    async fn create_policy(&self, policy: &CustomPolicyRecord) -> Result<(), IamStoreError> {
        let mut tx = self.begin_write().await?;
        require_account(&mut tx, policy.account).await?;
        sqlx::query(
            "INSERT INTO policies (account_id, name, document, description, created_at) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(account_param(policy.account))
        .bind(policy.name.as_str())
        .bind(&policy.document)
        .bind(&policy.description)
        .bind(policy.created_at)
        .execute(&mut *tx)
        .await
        .map_err(|err| {
            unique_or(err, || IamStoreError::PolicyAlreadyExists {
                name: policy.name.clone(),
            })
        })?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_policy(
        &self,
        account: AccountId,
        name: &PolicyName,
    ) -> Result<CustomPolicyRecord, IamStoreError> {
        let row = sqlx::query(
            "SELECT account_id, name, document, description, created_at FROM policies \
             WHERE account_id = ? AND name = ?",
        )
        .bind(account_param(account))
        .bind(name.as_str())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| IamStoreError::PolicyNotFound { name: name.clone() })?;
        Ok(policy_from_row(&row)?)
    }

    async fn list_policies(
        &self,
        account: AccountId,
    ) -> Result<Vec<CustomPolicyRecord>, IamStoreError> {
        let rows = sqlx::query(
            "SELECT account_id, name, document, description, created_at FROM policies \
             WHERE account_id = ? ORDER BY name",
        )
        .bind(account_param(account))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(policy_from_row).collect::<Result<_, _>>()?)
    }

    async fn delete_policy(
        &self,
        account: AccountId,
        name: &PolicyName,
    ) -> Result<(), IamStoreError> {
        let mut tx = self.begin_write().await?;
        let attachments: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM policy_attachments \
             WHERE account_id = ? AND policy_kind = 'Custom' AND policy_name = ?",
        )
        .bind(account_param(account))
        .bind(name.as_str())
        .fetch_one(&mut *tx)
        .await?;
        if attachments > 0 {
            return Err(IamStoreError::PolicyInUse {
                name: name.clone(),
                attachments: attachments.unsigned_abs(),
            });
        }
        let deleted = sqlx::query("DELETE FROM policies WHERE account_id = ? AND name = ?")
            .bind(account_param(account))
            .bind(name.as_str())
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(IamStoreError::PolicyNotFound { name: name.clone() });
        }
        tx.commit().await?;
        Ok(())
    }

    async fn attach_policy(&self, attachment: &PolicyAttachment) -> Result<(), IamStoreError> {
        let account = attachment.account;
        let mut tx = self.begin_write().await?;
        require_target(&mut tx, account, &attachment.target).await?;
        if attachment.kind == PolicyKind::Custom {
            sqlx::query("SELECT 1 FROM policies WHERE account_id = ? AND name = ?")
                .bind(account_param(account))
                .bind(attachment.policy.as_str())
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| IamStoreError::PolicyNotFound {
                    name: attachment.policy.clone(),
                })?;
        }
        sqlx::query(
            "INSERT INTO policy_attachments (account_id, policy_kind, policy_name, target_kind, \
             target_name, attached_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(account_param(account))
        .bind(attachment.kind.as_str())
        .bind(attachment.policy.as_str())
        .bind(attachment.target.kind_str())
        .bind(attachment.target.name_str())
        .bind(attachment.attached_at)
        .execute(&mut *tx)
        .await
        .map_err(|err| {
            unique_or(err, || IamStoreError::AlreadyAttached {
                policy: attachment.policy.clone(),
                target: attachment.target.clone(),
            })
        })?;
        tx.commit().await?;
        Ok(())
    }

    async fn detach_policy(
        &self,
        account: AccountId,
        kind: PolicyKind,
        policy: &PolicyName,
        target: &PolicyTarget,
    ) -> Result<(), IamStoreError> {
        let deleted = sqlx::query(
            "DELETE FROM policy_attachments WHERE account_id = ? AND policy_kind = ? \
             AND policy_name = ? AND target_kind = ? AND target_name = ?",
        )
        .bind(account_param(account))
        .bind(kind.as_str())
        .bind(policy.as_str())
        .bind(target.kind_str())
        .bind(target.name_str())
        .execute(&self.pool)
        .await?;
        if deleted.rows_affected() == 0 {
            return Err(IamStoreError::NotAttached {
                policy: policy.clone(),
                target: target.clone(),
            });
        }
        Ok(())
    }

    async fn list_attached_policies(
        &self,
        account: AccountId,
        target: &PolicyTarget,
    ) -> Result<Vec<AttachedPolicy>, IamStoreError> {
        let mut tx = self.begin_read().await?;
        require_target(&mut tx, account, target).await?;
        let rows = sqlx::query(
            "SELECT a.account_id, a.policy_kind, a.policy_name, a.attached_at, \
             p.name AS custom_name, p.document, p.description, p.created_at \
             FROM policy_attachments a LEFT JOIN policies p \
             ON a.policy_kind = 'Custom' AND p.account_id = a.account_id \
             AND p.name = a.policy_name \
             WHERE a.account_id = ? AND a.target_kind = ? AND a.target_name = ? \
             ORDER BY a.policy_name, a.policy_kind",
        )
        .bind(account_param(account))
        .bind(target.kind_str())
        .bind(target.name_str())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(rows
            .iter()
            .map(attached_from_row)
            .collect::<Result<_, _>>()?)
    }

    async fn create_role(&self, role: &StoredRole) -> Result<(), IamStoreError> {
        let mut tx = self.begin_write().await?;
        require_account(&mut tx, role.account).await?;
        sqlx::query(
            "INSERT INTO roles (account_id, name, trust_policy, description, \
             max_session_seconds, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(account_param(role.account))
        .bind(role.name.as_str())
        .bind(&role.trust_policy)
        .bind(&role.description)
        .bind(i64::from(role.max_session_seconds))
        .bind(role.created_at)
        .bind(role.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(|err| {
            unique_or(err, || IamStoreError::RoleAlreadyExists {
                name: role.name.clone(),
            })
        })?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_role(
        &self,
        account: AccountId,
        name: &RoleName,
    ) -> Result<StoredRole, IamStoreError> {
        let row = sqlx::query(&format!(
            "SELECT {ROLE_COLUMNS} FROM roles WHERE account_id = ? AND name = ?"
        ))
        .bind(account_param(account))
        .bind(name.as_str())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| IamStoreError::RoleNotFound { name: name.clone() })?;
        Ok(role_from_row(&row)?)
    }

    async fn list_roles(&self, account: AccountId) -> Result<Vec<StoredRole>, IamStoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ROLE_COLUMNS} FROM roles WHERE account_id = ? ORDER BY name"
        ))
        .bind(account_param(account))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(role_from_row).collect::<Result<_, _>>()?)
    }

    async fn update_role_trust_policy(
        &self,
        account: AccountId,
        name: &RoleName,
        trust_policy: &str,
        updated_at: i64,
    ) -> Result<StoredRole, IamStoreError> {
        let row = sqlx::query(&format!(
            "UPDATE roles SET trust_policy = ?, updated_at = ? \
             WHERE account_id = ? AND name = ? RETURNING {ROLE_COLUMNS}"
        ))
        .bind(trust_policy)
        .bind(updated_at)
        .bind(account_param(account))
        .bind(name.as_str())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| IamStoreError::RoleNotFound { name: name.clone() })?;
        Ok(role_from_row(&row)?)
    }

    async fn delete_role(&self, account: AccountId, name: &RoleName) -> Result<u64, IamStoreError> {
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query("DELETE FROM roles WHERE account_id = ? AND name = ?")
            .bind(account_param(account))
            .bind(name.as_str())
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(IamStoreError::RoleNotFound { name: name.clone() });
        }
        sqlx::query(
            "DELETE FROM policy_attachments \
             WHERE account_id = ? AND target_kind = 'Role' AND target_name = ?",
        )
        .bind(account_param(account))
        .bind(name.as_str())
        .execute(&mut *tx)
        .await?;
        let revoked = sqlx::query(
            "UPDATE sts_sessions SET revoked = 1 \
             WHERE account_id = ? AND role_name = ? AND revoked = 0",
        )
        .bind(account_param(account))
        .bind(name.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(revoked.rows_affected())
    }

    async fn create_sts_session(&self, session: &StsSessionRecord) -> Result<(), IamStoreError> {
        let mut tx = self.begin_write().await?;
        require_role(&mut tx, session.account, &session.role).await?;
        sqlx::query(&format!(
            "INSERT INTO sts_sessions ({SESSION_COLUMNS}) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(session.access_key_id.as_str())
        .bind(account_param(session.account))
        .bind(session.role.as_str())
        .bind(&session.session_name)
        .bind(account_param(session.assumed_by))
        .bind(&session.secret_ciphertext)
        .bind(&session.secret_nonce)
        .bind(&session.token_sha256)
        .bind(session.expiration)
        .bind(i64::from(session.revoked))
        .bind(session.created_at)
        .bind(&session.session_policy)
        .execute(&mut *tx)
        .await
        .map_err(|err| {
            unique_or(err, || IamStoreError::SessionAlreadyExists {
                id: session.access_key_id.clone(),
            })
        })?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_sts_session(&self, id: &AccessKeyId) -> Result<StsSessionRecord, IamStoreError> {
        let row = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM sts_sessions WHERE access_key_id = ?"
        ))
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| IamStoreError::SessionNotFound { id: id.clone() })?;
        Ok(session_from_row(&row)?)
    }

    async fn revoke_sts_session(
        &self,
        account: AccountId,
        id: &AccessKeyId,
    ) -> Result<(), IamStoreError> {
        let updated = sqlx::query(
            "UPDATE sts_sessions SET revoked = 1 WHERE access_key_id = ? AND account_id = ?",
        )
        .bind(id.as_str())
        .bind(account_param(account))
        .execute(&self.pool)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(IamStoreError::SessionNotFound { id: id.clone() });
        }
        Ok(())
    }

    async fn purge_expired_sts_sessions(&self, before: i64) -> Result<u64, IamStoreError> {
        let deleted = sqlx::query("DELETE FROM sts_sessions WHERE expiration < ?")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected())
    }
}
