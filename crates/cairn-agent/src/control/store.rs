//! The held pipeline configs, persisted so a restarted agent collects before its first
//! heartbeat succeeds (the server may be down exactly when the host reboots).
//!
//! Layout: `data_dir/configs/<file name>.json`, one file per config:
//! ```json
//! {"name": "1234567890123456/web/nginx", "version": 3,
//!  "detail": "{\"inputs\":[...],...}", "extra": {"project": "web", "logstore": "nginx"}}
//! ```
//! `detail` is the config exactly as the server sent it, as a JSON string (byte-exact; a
//! detail that is not UTF-8, hence not a JSON pipeline config, is kept in memory only). The
//! file name is the config name when it is made of `[A-Za-z0-9_.-]`, does not start with a
//! dot and has at most 128 bytes; otherwise its sanitised first 64 characters, `-`, and a
//! 64-bit FNV-1a hash of the name in hex. The name inside the file is authoritative.
//!
//! Invariants: a file is written to `.<file>.tmp`, synced and renamed over the old one (then
//! the directory is synced), so a crash leaves either the old or the new version, never a
//! torn one; leftover `.tmp` files are removed at open. Files that do not parse are skipped
//! with a warning, never fatal. Persistence failures in [`ConfigStore::apply`] are logged and
//! do not stop collection: the in-memory copy is always current.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{ControlError, ControlUpdate, HeldConfig, HeldStatus};

/// The sub-directory of `data_dir` holding the configs.
pub const CONFIGS_DIR: &str = "configs";
/// Names longer than this are hashed.
const MAX_PLAIN_NAME: usize = 128;
/// How much of a sanitised name is kept before the hash.
const SANITISED_PREFIX: usize = 64;

/// One held config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredConfig {
    /// The config's name.
    pub name: String,
    /// Its version.
    pub version: i64,
    /// The config as the server sent it (JSON pipeline config).
    pub detail: Vec<u8>,
    /// The detail's `extra` map (`project`, `logstore` from a Cairn server).
    pub extra: BTreeMap<String, String>,
}

impl StoredConfig {
    /// What the heartbeat reports about this config, in `status` (with `message`, typically
    /// why it failed).
    pub fn held(&self, status: HeldStatus, message: &str) -> HeldConfig {
        HeldConfig {
            name: self.name.clone(),
            version: self.version,
            status,
            message: message.to_owned(),
        }
    }
}

/// What [`ConfigStore::apply`] changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChange {
    /// A config was added or got a new version: (re)start its pipeline.
    Upserted(StoredConfig),
    /// A config was removed: stop its pipeline.
    Removed {
        /// The config's name.
        name: String,
    },
}

/// The on-disk shape of one config.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    name: String,
    version: i64,
    detail: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    extra: BTreeMap<String, String>,
}

/// The held configs, in memory and under `data_dir/configs/`.
#[derive(Debug)]
pub struct ConfigStore {
    dir: PathBuf,
    held: BTreeMap<String, StoredConfig>,
}

impl ConfigStore {
    /// Opens (creating it if needed) `data_dir/configs/` and loads every config in it.
    pub fn open(data_dir: &Path) -> Result<Self, ControlError> {
        let dir = data_dir.join(CONFIGS_DIR);
        std::fs::create_dir_all(&dir).map_err(|source| ControlError::Write {
            path: dir.clone(),
            source,
        })?;
        let entries = std::fs::read_dir(&dir).map_err(|source| ControlError::Read {
            path: dir.clone(),
            source,
        })?;
        let mut held = BTreeMap::new();
        for entry in entries {
            let entry = entry.map_err(|source| ControlError::Read {
                path: dir.clone(),
                source,
            })?;
            let path = entry.path();
            let file_name = entry.file_name().to_string_lossy().into_owned();
            if file_name.starts_with('.') && file_name.ends_with(".tmp") {
                if let Err(error) = std::fs::remove_file(&path) {
                    tracing::warn!(path = %path.display(), %error, "cannot remove a leftover temporary file");
                }
                continue;
            }
            if !file_name.ends_with(".json") {
                continue;
            }
            match read_config(&path) {
                Ok(config) => {
                    let newer = held
                        .get(&config.name)
                        .is_none_or(|old: &StoredConfig| old.version < config.version);
                    if newer {
                        held.insert(config.name.clone(), config);
                    }
                }
                Err(error) => {
                    tracing::warn!(path = %path.display(), %error, "skipping an unreadable stored config");
                }
            }
        }
        tracing::debug!(dir = %dir.display(), configs = held.len(), "loaded stored configs");
        Ok(Self { dir, held })
    }

    /// Every held config, sorted by name.
    pub fn load_all(&self) -> Vec<StoredConfig> {
        self.held.values().cloned().collect()
    }

    /// The held config named `name`.
    pub fn get(&self, name: &str) -> Option<&StoredConfig> {
        self.held.get(name)
    }

    /// The directory the configs live in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Applies the config changes of a heartbeat and returns those that changed something:
    /// a new config or version is stored, a deletion removes the config; a change to the
    /// version already held, or a deletion of an unknown config, is a no-op.
    pub fn apply(&mut self, update: &ControlUpdate) -> Vec<StoreChange> {
        let mut changes = Vec::new();
        for change in &update.configs {
            match &change.detail {
                None => {
                    if self.held.remove(&change.name).is_some() {
                        self.unpersist(&change.name);
                        changes.push(StoreChange::Removed {
                            name: change.name.clone(),
                        });
                    }
                }
                Some(detail) => {
                    let same = self.held.get(&change.name).is_some_and(|held| {
                        held.version == change.version
                            && held.detail == *detail
                            && held.extra == change.extra
                    });
                    if same {
                        continue;
                    }
                    let config = StoredConfig {
                        name: change.name.clone(),
                        version: change.version,
                        detail: detail.clone(),
                        extra: change.extra.clone(),
                    };
                    self.persist(&config);
                    self.held.insert(config.name.clone(), config.clone());
                    changes.push(StoreChange::Upserted(config));
                }
            }
        }
        changes
    }

    /// Writes `config` atomically; logs a failure.
    fn persist(&self, config: &StoredConfig) {
        let Ok(detail) = String::from_utf8(config.detail.clone()) else {
            tracing::warn!(config = %config.name, "config detail is not UTF-8; kept in memory only");
            self.unpersist(&config.name);
            return;
        };
        let file = ConfigFile {
            name: config.name.clone(),
            version: config.version,
            detail,
            extra: config.extra.clone(),
        };
        let path = self.dir.join(file_name(&config.name));
        let result = serde_json::to_vec_pretty(&file)
            .map_err(std::io::Error::other)
            .and_then(|bytes| write_atomically(&self.dir, &path, &bytes));
        if let Err(error) = result {
            tracing::error!(config = %config.name, path = %path.display(), %error, "cannot persist config; kept in memory only");
        }
    }

    /// Removes the file of config `name`; logs a failure.
    fn unpersist(&self, name: &str) {
        let path = self.dir.join(file_name(name));
        match std::fs::remove_file(&path) {
            Ok(()) => sync_dir(&self.dir),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                tracing::error!(config = %name, path = %path.display(), %error, "cannot remove stored config")
            }
        }
    }
}

/// Reads and parses one stored config.
fn read_config(path: &Path) -> Result<StoredConfig, ControlError> {
    let bytes = std::fs::read(path).map_err(|source| ControlError::Read {
        path: path.to_owned(),
        source,
    })?;
    let file: ConfigFile = serde_json::from_slice(&bytes).map_err(|e| ControlError::Parse {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    if file.name.is_empty() || file.version == 0 || file.version == super::DELETED_VERSION {
        return Err(ControlError::Parse {
            path: path.to_owned(),
            message: "empty name or reserved version".to_owned(),
        });
    }
    Ok(StoredConfig {
        name: file.name,
        version: file.version,
        detail: file.detail.into_bytes(),
        extra: file.extra,
    })
}

/// The file name (with `.json`) of config `name`; see the module doc.
pub fn file_name(name: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    if !name.is_empty()
        && name.len() <= MAX_PLAIN_NAME
        && !name.starts_with('.')
        && name.chars().all(safe)
    {
        return format!("{name}.json");
    }
    let prefix: String = name
        .chars()
        .take(SANITISED_PREFIX)
        .map(|c| if safe(c) { c } else { '_' })
        .collect();
    let prefix = prefix.trim_start_matches('.');
    format!("{prefix}-{:016x}.json", fnv1a(name.as_bytes()))
}

/// 64-bit FNV-1a.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Writes `bytes` to `path` through a synced temporary file and a rename.
fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)?;
    sync_dir(dir);
    Ok(())
}

/// Syncs a directory so a rename or removal in it survives a crash (best effort).
fn sync_dir(dir: &Path) {
    if let Err(error) = std::fs::File::open(dir).and_then(|d| d.sync_all()) {
        tracing::debug!(dir = %dir.display(), %error, "cannot sync directory");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_safe_and_distinct() {
        assert_eq!(file_name("nginx-access_1.v2"), "nginx-access_1.v2.json");
        let odd = file_name("../etc/passwd");
        assert!(!odd.contains('/') && !odd.starts_with('.'), "{odd}");
        assert_ne!(file_name("a/b"), file_name("a?b"));
        assert_ne!(file_name(""), ".json");
        assert!(file_name(&"x".repeat(500)).len() < 100);
    }
}
