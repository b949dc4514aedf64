//! [`Iam`]: accounts, users and AccessKeys, on top of the metastore and the master key.
//! Policies, roles and STS are further `impl Iam` blocks in [`crate::policies`],
//! [`crate::roles`], [`crate::sts`] and [`crate::authn`].
//!
//! Invariants:
//! - an AccessKey secret exists in plain text only in the [`NewAccessKey`] returned by
//!   [`Iam::create_access_key`] and in the [`KeyCredential`] returned by
//!   [`Iam::authenticate_key`]; it is stored sealed under the master key with the key id as
//!   associated data, and never logged;
//! - only active keys authenticate.
//!
//! Decrypted credentials are not cached: a lookup is one primary-key read, and without a cache
//! a disabled or deleted key is refused at once by every server sharing the metastore.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex};

use cairn_meta::{
    AccessKeyRecord, AccessKeyStatus, Account, EntityKind, MetaError, Metastore, User,
};
use cairn_model::ids::random_alphanumeric;
use cairn_model::{AccessKeyId, AccountId, ModelError, UserName};
use serde::Serialize;
use zeroize::Zeroize;

use crate::clock::{Clock, SystemClock};
use crate::{IamError, KeyCredential, MasterKey, SecretString};

/// How many fresh random ids are tried when a generated id is already taken.
const ID_ATTEMPTS: usize = 8;

/// Length of a generated AccessKey secret.
pub const SECRET_LEN: usize = 30;

/// Longest account name or user display name, in characters.
pub const MAX_FREE_TEXT_NAME_LEN: usize = 128;

/// `last_used_at` is written at most this often per key, in seconds.
const KEY_USE_WRITE_INTERVAL: i64 = 60;

/// A freshly created AccessKey, with its secret: the only time the secret is handed out.
#[derive(Debug, Clone)]
pub struct NewAccessKey {
    /// The key id.
    pub id: AccessKeyId,
    /// The account the key acts for.
    pub account: AccountId,
    /// The user it belongs to; `None` for root.
    pub user: Option<UserName>,
    /// The secret, to give to the caller once.
    pub secret: SecretString,
    /// Creation time, unix seconds.
    pub created_at: i64,
}

/// An AccessKey as listed: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessKeySummary {
    /// The key id.
    pub id: AccessKeyId,
    /// The account the key acts for.
    pub account: AccountId,
    /// The user it belongs to; `None` for root.
    pub user: Option<UserName>,
    /// Whether the key may be used.
    pub status: AccessKeyStatus,
    /// Creation time, unix seconds.
    pub created_at: i64,
    /// Last accepted use, unix seconds, accurate to about a minute.
    pub last_used_at: Option<i64>,
}

impl From<AccessKeyRecord> for AccessKeySummary {
    fn from(record: AccessKeyRecord) -> Self {
        Self {
            id: record.id,
            account: record.account,
            user: record.user,
            status: record.status,
            created_at: record.created_at,
            last_used_at: record.last_used_at,
        }
    }
}

/// Identity management and authentication.
pub struct Iam {
    pub(crate) metastore: Arc<dyn Metastore>,
    pub(crate) master_key: MasterKey,
    pub(crate) clock: Arc<dyn Clock>,
    /// When each key's use was last written, to throttle `touch_access_key`.
    key_use_written: Mutex<HashMap<AccessKeyId, i64>>,
    /// When expired STS sessions were last purged (unix seconds).
    pub(crate) sessions_purged_at: AtomicI64,
}

impl fmt::Debug for Iam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iam")
            .field("master_key", &self.master_key)
            .finish_non_exhaustive()
    }
}

/// Checks a free-text name (account name, display name): `min_len` to
/// [`MAX_FREE_TEXT_NAME_LEN`] characters, no control characters.
fn check_free_text(
    kind: &'static str,
    text: &str,
    min_len: usize,
    rule: &'static str,
) -> Result<(), ModelError> {
    let length = text.chars().count();
    if (min_len..=MAX_FREE_TEXT_NAME_LEN).contains(&length) && !text.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(ModelError::InvalidName {
            kind,
            name: text.chars().take(80).collect(),
            rule,
        })
    }
}

impl Iam {
    /// IAM over `metastore`, sealing secrets with `master_key`, on the system clock.
    pub fn new(metastore: Arc<dyn Metastore>, master_key: MasterKey) -> Self {
        Self::with_clock(metastore, master_key, Arc::new(SystemClock))
    }

    /// IAM reading the time from `clock` (tests move it to expire credentials).
    pub fn with_clock(
        metastore: Arc<dyn Metastore>,
        master_key: MasterKey,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            metastore,
            master_key,
            clock,
            key_use_written: Mutex::new(HashMap::new()),
            sessions_purged_at: AtomicI64::new(i64::MIN),
        }
    }

    /// Now, in unix seconds, from the clock.
    pub(crate) fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Creates an account with a fresh random 16-digit id. The name is 1 to 128 characters
    /// without control characters, and need not be unique.
    pub async fn create_account(&self, name: impl Into<String>) -> Result<Account, IamError> {
        let name = name.into();
        check_free_text(
            "account",
            &name,
            1,
            "must be 1 to 128 characters, without control characters",
        )?;
        let mut last_clash = None;
        for _ in 0..ID_ATTEMPTS {
            let account = Account {
                id: AccountId::generate(),
                name: name.clone(),
                created_at: self.now(),
            };
            match self.metastore.create_account(&account).await {
                Ok(()) => {
                    tracing::info!(account = %account.id, "account created");
                    return Ok(account);
                }
                Err(err) if err.is_already_exists(EntityKind::Account) => last_clash = Some(err),
                Err(err) => return Err(err.into()),
            }
        }
        Err(exhausted(last_clash, EntityKind::Account))
    }

    /// The account with this id.
    pub async fn get_account(&self, id: AccountId) -> Result<Account, IamError> {
        Ok(self.metastore.get_account(id).await?)
    }

    /// Creates a user in an existing account. The display name is up to 128 characters without
    /// control characters.
    pub async fn create_user(
        &self,
        account: AccountId,
        name: UserName,
        display_name: impl Into<String>,
    ) -> Result<User, IamError> {
        let display_name = display_name.into();
        check_free_text(
            "display",
            &display_name,
            0,
            "must be at most 128 characters, without control characters",
        )?;
        let user = User {
            account,
            name,
            display_name,
            created_at: self.now(),
        };
        self.metastore.create_user(&user).await?;
        tracing::info!(%account, user = %user.name, "user created");
        Ok(user)
    }

    /// The users of an account, by name.
    pub async fn list_users(&self, account: AccountId) -> Result<Vec<User>, IamError> {
        Ok(self.metastore.list_users(account).await?)
    }

    /// Deletes a user and its AccessKeys; returns the deleted key ids.
    pub async fn delete_user(
        &self,
        account: AccountId,
        name: &UserName,
    ) -> Result<Vec<AccessKeyId>, IamError> {
        let deleted = self.metastore.delete_user(account, name).await?;
        self.forget_key_use(&deleted);
        tracing::info!(%account, user = %name, deleted_keys = deleted.len(), "user deleted");
        Ok(deleted)
    }

    /// Creates an active AccessKey for the account's root (`user: None`) or one of its users.
    /// The secret is in the result and nowhere else in clear.
    pub async fn create_access_key(
        &self,
        account: AccountId,
        user: Option<UserName>,
    ) -> Result<NewAccessKey, IamError> {
        let secret = SecretString::new(random_alphanumeric(SECRET_LEN));
        let mut last_clash = None;
        for _ in 0..ID_ATTEMPTS {
            let id = AccessKeyId::generate();
            let (nonce, ciphertext) = self.seal_secret(&id, &secret)?;
            let record = AccessKeyRecord {
                id: id.clone(),
                account,
                user: user.clone(),
                secret_ciphertext: ciphertext,
                secret_nonce: nonce,
                status: AccessKeyStatus::Active,
                created_at: self.now(),
                last_used_at: None,
            };
            match self.metastore.create_access_key(&record).await {
                Ok(()) => {
                    tracing::info!(%account, user = ?user, access_key_id = %id, "AccessKey created");
                    return Ok(NewAccessKey {
                        id,
                        account,
                        user,
                        secret,
                        created_at: record.created_at,
                    });
                }
                Err(err) if err.is_already_exists(EntityKind::AccessKey) => last_clash = Some(err),
                Err(err) => return Err(err.into()),
            }
        }
        Err(exhausted(last_clash, EntityKind::AccessKey))
    }

    /// Enables or disables a key of `account`; takes effect for the next request.
    pub async fn set_access_key_status(
        &self,
        account: AccountId,
        id: &AccessKeyId,
        status: AccessKeyStatus,
    ) -> Result<(), IamError> {
        self.metastore
            .set_access_key_status(account, id, status)
            .await
            .map_err(|err| key_error(err, id))?;
        tracing::info!(%account, access_key_id = %id, status = status.as_str(), "AccessKey status set");
        Ok(())
    }

    /// Deletes a key of `account`; takes effect for the next request.
    pub async fn delete_access_key(
        &self,
        account: AccountId,
        id: &AccessKeyId,
    ) -> Result<(), IamError> {
        self.metastore
            .delete_access_key(account, id)
            .await
            .map_err(|err| key_error(err, id))?;
        self.forget_key_use(std::slice::from_ref(id));
        tracing::info!(%account, access_key_id = %id, "AccessKey deleted");
        Ok(())
    }

    /// The keys of an account, by id, without secrets.
    pub async fn list_access_keys(
        &self,
        account: AccountId,
    ) -> Result<Vec<AccessKeySummary>, IamError> {
        let records = self.metastore.list_access_keys(account).await?;
        Ok(records.into_iter().map(AccessKeySummary::from).collect())
    }

    /// Looks up an AccessKey presented by a request and returns what is needed to verify the
    /// request's signature. Unknown keys are [`IamError::AccessKeyNotFound`], disabled ones
    /// [`IamError::AccessKeyDisabled`].
    pub async fn authenticate_key(&self, id: &AccessKeyId) -> Result<KeyCredential, IamError> {
        let record = self
            .metastore
            .get_access_key(id)
            .await
            .map_err(|err| key_error(err, id))?;
        if record.status != AccessKeyStatus::Active {
            return Err(IamError::AccessKeyDisabled { id: id.clone() });
        }
        let secret = self.open_secret(id, &record.secret_nonce, &record.secret_ciphertext)?;
        Ok(KeyCredential {
            access_key_id: record.id,
            account: record.account,
            user: record.user,
            secret,
        })
    }

    /// Seals a secret for the key `id` (the id is the associated data); `(nonce, ciphertext)`.
    pub(crate) fn seal_secret(
        &self,
        id: &AccessKeyId,
        secret: &SecretString,
    ) -> Result<(Vec<u8>, Vec<u8>), IamError> {
        self.master_key
            .encrypt(secret.expose().as_bytes(), id.as_str().as_bytes())
    }

    /// Opens the sealed secret of the key `id`.
    pub(crate) fn open_secret(
        &self,
        id: &AccessKeyId,
        nonce: &[u8],
        ciphertext: &[u8],
    ) -> Result<SecretString, IamError> {
        let plaintext = self
            .master_key
            .decrypt(nonce, ciphertext, id.as_str().as_bytes())
            .inspect_err(|_| {
                tracing::error!(
                    access_key_id = %id,
                    "stored AccessKey secret does not decrypt under this master key"
                );
            })?;
        let secret = String::from_utf8(plaintext.to_vec()).map_err(|err| {
            err.into_bytes().zeroize();
            IamError::Crypto("decrypted secret is not UTF-8")
        })?;
        Ok(SecretString::new(secret))
    }

    /// Records that a key signed an accepted request (call after the signature verified).
    /// Writes at most once a minute per key, so a busy key costs no write per request.
    pub async fn record_key_use(&self, id: &AccessKeyId) -> Result<(), IamError> {
        let used_at = self.now();
        {
            let mut written = self
                .key_use_written
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            match written.get(id) {
                Some(&last) if used_at - last < KEY_USE_WRITE_INTERVAL => return Ok(()),
                _ => {
                    written.insert(id.clone(), used_at);
                }
            }
        }
        self.metastore
            .touch_access_key(id, used_at)
            .await
            .map_err(|err| key_error(err, id))
    }

    fn forget_key_use(&self, ids: &[AccessKeyId]) {
        let mut written = self
            .key_use_written
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for id in ids {
            written.remove(id);
        }
    }
}

/// Maps the metastore's "no such key" to IAM's, keeping other errors.
fn key_error(err: MetaError, id: &AccessKeyId) -> IamError {
    if err.is_not_found(EntityKind::AccessKey) {
        IamError::AccessKeyNotFound { id: id.clone() }
    } else {
        IamError::Meta(err)
    }
}

/// The error after every generated id clashed (practically impossible: ids are random).
fn exhausted(last_clash: Option<MetaError>, kind: EntityKind) -> IamError {
    IamError::Meta(last_clash.unwrap_or_else(|| MetaError::AlreadyExists {
        kind,
        name: "generated id".to_owned(),
    }))
}
