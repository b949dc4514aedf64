//! First-start bootstrap: the operator account, its first AccessKey and `credentials.json`,
//! and a check that the object store answers.
//!
//! Invariant: `server.json` names the operator account; it is written once, after the account
//! and its key exist, so a crash during bootstrap leaves either nothing (the next start
//! bootstraps again) or a complete operator.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};
use bytes::Bytes;
use cairn_iam::Iam;
use cairn_meta::Metastore;
use cairn_model::AccountId;
use object_store::local::LocalFileSystem;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};

use super::config::ServeConfig;

#[derive(Serialize, Deserialize)]
struct ServerIdentity {
    #[serde(rename = "operatorAccountId")]
    operator_account_id: AccountId,
}

#[derive(Serialize)]
struct Credentials<'a> {
    #[serde(rename = "accountId")]
    account_id: String,
    #[serde(rename = "accessKeyId")]
    access_key_id: &'a str,
    #[serde(rename = "accessKeySecret")]
    access_key_secret: &'a str,
}

/// The operator account: read from `server.json`, or created on first start together with
/// its first AccessKey, which is written to `credentials.json` (mode 0600) and announced.
pub async fn operator_account(
    data_dir: &Path,
    meta: &Arc<dyn Metastore>,
    iam: &Iam,
    config: &ServeConfig,
) -> anyhow::Result<AccountId> {
    let identity_path = data_dir.join("server.json");
    if identity_path.exists() {
        let text = std::fs::read_to_string(&identity_path)
            .with_context(|| format!("cannot read {}", identity_path.display()))?;
        let identity: ServerIdentity = serde_json::from_str(&text)
            .with_context(|| format!("{} is corrupt", identity_path.display()))?;
        meta.get_account(identity.operator_account_id)
            .await
            .with_context(|| {
                format!(
                    "the operator account named in {} is missing from the metastore",
                    identity_path.display()
                )
            })?;
        return Ok(identity.operator_account_id);
    }
    if !meta.list_accounts().await?.is_empty() {
        bail!(
            "{} is missing but the metastore already has accounts; restore it from a backup",
            identity_path.display()
        );
    }
    let account = iam.create_account("operator").await?;
    let key = iam.create_access_key(account.id, None).await?;
    let credentials_path = data_dir.join("credentials.json");
    let credentials = serde_json::to_vec_pretty(&Credentials {
        account_id: account.id.to_string(),
        access_key_id: key.id.as_str(),
        access_key_secret: key.secret.expose(),
    })?;
    write_private_file(&credentials_path, &credentials)?;
    let identity = serde_json::to_vec_pretty(&ServerIdentity {
        operator_account_id: account.id,
    })?;
    write_private_file(&identity_path, &identity)?;
    println!(
        "Cairn created the operator account {} and its first AccessKey {}.\n\
         The secret is in {} (readable only by you). Use it with any SLS SDK, endpoint {}, or:\n  \
         cairn project create my-project --credentials {}",
        account.id,
        key.id,
        credentials_path.display(),
        config.listen,
        credentials_path.display(),
    );
    tracing::info!(account = %account.id, access_key_id = %key.id, "operator account created");
    Ok(account.id)
}

/// Writes a file readable only by its owner, atomically (temp file, fsync, rename).
fn write_private_file(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let temporary = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)
        .with_context(|| format!("cannot create {}", temporary.display()))?;
    file.write_all(contents)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Opens the local object store and proves it can write and read, so a broken objects
/// directory fails the start, not the first flush.
pub async fn check_object_store(data_dir: &Path) -> anyhow::Result<Arc<dyn ObjectStore>> {
    let root = data_dir.join("objects");
    std::fs::create_dir_all(&root).with_context(|| format!("cannot create {}", root.display()))?;
    let store = LocalFileSystem::new_with_prefix(&root)
        .with_context(|| format!("cannot open the object store at {}", root.display()))?;
    let marker = object_store::path::Path::from("cairn/instance.json");
    let body = serde_json::json!({"version": env!("CARGO_PKG_VERSION")}).to_string();
    store
        .put(&marker, PutPayload::from(Bytes::from(body.clone())))
        .await
        .context("the object store refused a write")?;
    let read = store
        .get(&marker)
        .await
        .context("the object store refused a read")?
        .bytes()
        .await?;
    if read != body.as_bytes() {
        bail!("the object store returned different bytes than were written");
    }
    Ok(Arc::new(store))
}
