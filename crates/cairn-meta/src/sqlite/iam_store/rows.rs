//! Decoding of IAM rows: every name is re-validated, every enum and number range-checked, and
//! anything off is [`MetaError::Corrupt`], never trusted.

use cairn_model::{AccessKeyId, PolicyName, RoleName};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use super::super::{decode_account, decode_text, decode_u32};
use crate::{
    AttachedPolicy, CustomPolicyRecord, MetaError, PolicyKind, StoredRole, StsSessionRecord,
};

/// The columns of `roles`, in the order [`role_from_row`] reads them by name.
pub(super) const ROLE_COLUMNS: &str = "account_id, name, trust_policy, description, \
     max_session_seconds, created_at, updated_at";

/// The columns of `sts_sessions`, in insertion order.
pub(super) const SESSION_COLUMNS: &str = "access_key_id, account_id, role_name, session_name, \
     assumed_by, secret_ciphertext, secret_nonce, token_sha256, expiration, revoked, created_at, \
     session_policy";

pub(super) fn policy_from_row(row: &SqliteRow) -> Result<CustomPolicyRecord, MetaError> {
    Ok(CustomPolicyRecord {
        account: decode_account(row.try_get("account_id")?)?,
        name: decode_text(row.try_get("name")?, PolicyName::parse)?,
        document: row.try_get("document")?,
        description: row.try_get("description")?,
        created_at: row.try_get("created_at")?,
    })
}

fn decode_kind(text: &str) -> Result<PolicyKind, MetaError> {
    PolicyKind::from_stored(text)
        .ok_or_else(|| MetaError::Corrupt(format!("stored policy kind {text:?}")))
}

/// A row of the attachment list query: the attachment, joined with its custom policy.
pub(super) fn attached_from_row(row: &SqliteRow) -> Result<AttachedPolicy, MetaError> {
    let kind_text: String = row.try_get("policy_kind")?;
    let kind = decode_kind(&kind_text)?;
    let name = decode_text(row.try_get("policy_name")?, PolicyName::parse)?;
    let custom = match kind {
        PolicyKind::System => None,
        PolicyKind::Custom => {
            let joined: Option<String> = row.try_get("custom_name")?;
            if joined.is_none() {
                return Err(MetaError::Corrupt(format!(
                    "attachment of custom policy {name} names no stored policy"
                )));
            }
            Some(CustomPolicyRecord {
                account: decode_account(row.try_get("account_id")?)?,
                name: name.clone(),
                document: row.try_get("document")?,
                description: row.try_get("description")?,
                created_at: row.try_get("created_at")?,
            })
        }
    };
    Ok(AttachedPolicy {
        kind,
        name,
        attached_at: row.try_get("attached_at")?,
        custom,
    })
}

pub(super) fn role_from_row(row: &SqliteRow) -> Result<StoredRole, MetaError> {
    Ok(StoredRole {
        account: decode_account(row.try_get("account_id")?)?,
        name: decode_text(row.try_get("name")?, RoleName::parse)?,
        trust_policy: row.try_get("trust_policy")?,
        description: row.try_get("description")?,
        max_session_seconds: decode_u32(
            "max_session_seconds",
            row.try_get("max_session_seconds")?,
        )?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub(super) fn session_from_row(row: &SqliteRow) -> Result<StsSessionRecord, MetaError> {
    let revoked: i64 = row.try_get("revoked")?;
    Ok(StsSessionRecord {
        access_key_id: decode_text(row.try_get("access_key_id")?, AccessKeyId::parse)?,
        account: decode_account(row.try_get("account_id")?)?,
        role: decode_text(row.try_get("role_name")?, RoleName::parse)?,
        session_name: row.try_get("session_name")?,
        assumed_by: decode_account(row.try_get("assumed_by")?)?,
        secret_ciphertext: row.try_get("secret_ciphertext")?,
        secret_nonce: row.try_get("secret_nonce")?,
        token_sha256: row.try_get("token_sha256")?,
        expiration: row.try_get("expiration")?,
        revoked: match revoked {
            0 => false,
            1 => true,
            other => {
                return Err(MetaError::Corrupt(format!(
                    "stored session revoked flag {other}"
                )))
            }
        },
        created_at: row.try_get("created_at")?,
        session_policy: row.try_get("session_policy")?,
    })
}
