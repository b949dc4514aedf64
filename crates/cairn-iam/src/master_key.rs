//! The server's master key, and sealing secrets under it with AES-256-GCM.
//!
//! The key is 32 random bytes, given either as base64 in `CAIRN_MASTER_KEY` or kept in a key file
//! (base64 text, one line) that only its owner may read. Invariants:
//! - the key bytes never print (`Debug` is redacted) and are wiped from memory on drop;
//! - a key file is created atomically with mode 0600 and never overwritten; an existing file
//!   that group or others may access is refused, not repaired;
//! - every seal uses a fresh random 96-bit nonce, and binds the caller's associated data (the
//!   AccessKey id), so a ciphertext copied onto another row does not decrypt.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;
use zeroize::Zeroizing;

use crate::IamError;

/// Length of the master key in bytes (AES-256).
pub const MASTER_KEY_LEN: usize = 32;

/// Length of an AES-GCM nonce in bytes.
pub const NONCE_LEN: usize = 12;

/// The server's master key.
#[derive(Clone)]
pub struct MasterKey {
    bytes: Zeroizing<[u8; MASTER_KEY_LEN]>,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

impl MasterKey {
    /// A fresh key from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; MASTER_KEY_LEN]);
        OsRng.fill_bytes(bytes.as_mut());
        Self { bytes }
    }

    /// Parses the base64 form used by `CAIRN_MASTER_KEY` and by key files.
    pub fn from_env_value(value: &str) -> Result<Self, IamError> {
        let decoded = Zeroizing::new(BASE64.decode(value.trim()).map_err(|_| {
            IamError::InvalidMasterKey {
                reason: "not valid base64".to_owned(),
            }
        })?);
        if decoded.len() != MASTER_KEY_LEN {
            return Err(IamError::InvalidMasterKey {
                reason: format!(
                    "decodes to {} bytes, expected {MASTER_KEY_LEN}",
                    decoded.len()
                ),
            });
        }
        let mut bytes = Zeroizing::new([0u8; MASTER_KEY_LEN]);
        bytes.copy_from_slice(&decoded);
        Ok(Self { bytes })
    }

    /// Loads the key file at `path`, or creates it with a fresh key if it does not exist.
    ///
    /// An existing file must be a regular file with no permission bits for group or others,
    /// otherwise [`IamError::InsecureMasterKeyFile`]. A new file is written to a temporary file
    /// of mode 0600 in the same directory, flushed, then linked into place: linking (unlike a
    /// plain rename) never replaces a key file another process created meanwhile; that file is
    /// loaded instead.
    pub fn load_or_create(path: &Path) -> Result<Self, IamError> {
        match fs::metadata(path) {
            Ok(_) => Self::load(path),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Self::create(path),
            Err(err) => Err(file_error(path, err)),
        }
    }

    fn load(path: &Path) -> Result<Self, IamError> {
        check_private(path)?;
        let text = Zeroizing::new(fs::read_to_string(path).map_err(|err| file_error(path, err))?);
        Self::from_env_value(&text).map_err(|err| match err {
            IamError::InvalidMasterKey { reason } => IamError::InvalidMasterKey {
                reason: format!("key file {}: {reason}", path.display()),
            },
            other => other,
        })
    }

    fn create(path: &Path) -> Result<Self, IamError> {
        let key = Self::generate();
        let encoded = Zeroizing::new(format!("{}\n", BASE64.encode(key.bytes.as_ref())));
        let temp = temp_path(path);
        let written = write_private_file(&temp, encoded.as_bytes());
        if let Err(err) = written {
            let _ = fs::remove_file(&temp);
            return Err(file_error(&temp, err));
        }
        let linked = fs::hard_link(&temp, path);
        let placed = match linked {
            Ok(()) => fs::remove_file(&temp),
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
                // Another process created the key first: use theirs.
                let _ = fs::remove_file(&temp);
                return Self::load(path);
            }
            // A filesystem without hard links: fall back to an atomic rename.
            Err(_) => fs::rename(&temp, path),
        };
        if let Err(err) = placed {
            let _ = fs::remove_file(&temp);
            return Err(file_error(path, err));
        }
        sync_parent_dir(path).map_err(|err| file_error(path, err))?;
        tracing::info!(path = %path.display(), "created a new master key file");
        Ok(key)
    }

    /// Seals `plaintext`, binding `associated_data`; returns `(nonce, ciphertext)`.
    pub fn encrypt(
        &self,
        plaintext: &[u8],
        associated_data: &[u8],
    ) -> Result<(Vec<u8>, Vec<u8>), IamError> {
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plaintext,
            aad: associated_data,
        };
        let ciphertext = self
            .cipher()
            .encrypt(Nonce::from_slice(&nonce), payload)
            .map_err(|_| IamError::Crypto("plaintext too long to seal"))?;
        Ok((nonce.to_vec(), ciphertext))
    }

    /// Opens a ciphertext sealed by [`MasterKey::encrypt`] with the same associated data.
    /// Fails if anything was altered, the associated data differs, or the key is another.
    pub fn decrypt(
        &self,
        nonce: &[u8],
        ciphertext: &[u8],
        associated_data: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, IamError> {
        if nonce.len() != NONCE_LEN {
            return Err(IamError::Crypto("stored nonce has the wrong length"));
        }
        let payload = Payload {
            msg: ciphertext,
            aad: associated_data,
        };
        self.cipher()
            .decrypt(Nonce::from_slice(nonce), payload)
            .map(Zeroizing::new)
            .map_err(|_| {
                IamError::Crypto(
                    "ciphertext does not authenticate (altered, moved, or sealed under another master key)",
                )
            })
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(self.bytes.as_ref()))
    }
}

fn file_error(path: &Path, source: io::Error) -> IamError {
    IamError::MasterKeyFile {
        path: path.to_owned(),
        source,
    }
}

/// `.<name>.<random>.tmp` beside `path`.
fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "master-key".to_owned());
    path.with_file_name(format!(".{name}.{:016x}.tmp", OsRng.next_u64()))
}

/// Creates `path` (which must not exist) readable and writable by its owner only, writes
/// `contents` and flushes them to disk.
fn write_private_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Makes the new directory entry durable.
#[cfg(unix)]
fn sync_parent_dir(path: &Path) -> io::Result<()> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    fs::File::open(parent)?.sync_all()
}

/// Directories cannot be synced here; the rename is still atomic.
#[cfg(not(unix))]
fn sync_parent_dir(_path: &Path) -> io::Result<()> {
    Ok(())
}

/// Refuses a key file that is not a regular file or that group or others may access.
fn check_private(path: &Path) -> Result<(), IamError> {
    let metadata = fs::metadata(path).map_err(|err| file_error(path, err))?;
    if !metadata.is_file() {
        return Err(IamError::InvalidMasterKey {
            reason: format!("{} is not a regular file", path.display()),
        });
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(IamError::InsecureMasterKeyFile {
                path: path.to_owned(),
                mode,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
