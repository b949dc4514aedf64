//! The host's identity: which accounts may collect from it, its custom identifiers, its name
//! and IP.
//!
//! Files, in the config dir (default `/etc/cairn`), as Logtail's `/etc/ilogtail`:
//! * `users/<account-id>`: one file per account (16 digits) allowed to collect from this host;
//!   its content is ignored (an empty file is the convention). Entries whose name is not an
//!   account id are ignored with a warning; dot files (editor leftovers) silently.
//! * `user_defined_id`: custom identifiers, one per line, trimmed, empty lines skipped,
//!   duplicates dropped (first kept); matched by `userdefined` machine groups. The environment
//!   variable `CAIRN_USER_DEFINED_ID` (comma or newline separated), when set and non-empty,
//!   replaces the file (containers).
//!
//! Both are re-read by every call of [`HostIdentity::read`], which the runtime makes before
//! each heartbeat: adding, editing or deleting a file takes effect within one heartbeat
//! interval, without a restart and without a file watcher. A missing file or directory means
//! "none"; an unreadable one is an error (the caller keeps its previous identity), so a
//! permission slip never silently de-authorises an account nor leaves a group.
//!
//! The IP is, in order: the `ip` setting; the non-loopback IPv4 that `/etc/hosts` binds to
//! the host name (Logtail's rule); the first non-loopback local IPv4 of `/proc/net/fib_trie`;
//! else `127.0.0.1`. The host name is the `hostname` setting, else the kernel's.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::Path;

use cairn_model::AccountId;

use super::{AgentSettings, ControlError};

/// The environment variable that overrides `user_defined_id`.
pub const USER_DEFINED_ID_ENV: &str = "CAIRN_USER_DEFINED_ID";
/// The sub-directory of account files.
pub const USERS_DIR: &str = "users";
/// The custom-identifier file.
pub const USER_DEFINED_ID_FILE: &str = "user_defined_id";
/// The longest identifier kept (longer lines are ignored with a warning).
const MAX_USER_DEFINED_ID: usize = 256;
/// At most this many identifiers are kept.
const MAX_USER_DEFINED_IDS: usize = 256;

/// Who this host is, as the heartbeat reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostIdentity {
    /// Account ids (16 digits) with a `users/<id>` file, sorted, without duplicates.
    pub authorized_accounts: Vec<String>,
    /// The custom identifiers, in file order, without duplicates.
    pub user_defined_ids: Vec<String>,
    /// The host name.
    pub hostname: String,
    /// The host's IP (see the module doc for how it is chosen).
    pub ip: String,
    /// Entries of `users/` that were ignored because their name is not an account id.
    pub ignored_users: Vec<String>,
}

impl HostIdentity {
    /// Reads the identity files in `config_dir` (normally `settings.config_dir`), with the
    /// `CAIRN_USER_DEFINED_ID` override from the process environment.
    pub fn read(config_dir: &Path, settings: &AgentSettings) -> Result<Self, ControlError> {
        let env = std::env::var(USER_DEFINED_ID_ENV).ok();
        Self::read_with_env(config_dir, settings, env.as_deref())
    }

    /// [`HostIdentity::read`] with the value of `CAIRN_USER_DEFINED_ID` passed in (tests).
    pub fn read_with_env(
        config_dir: &Path,
        settings: &AgentSettings,
        user_defined_id_env: Option<&str>,
    ) -> Result<Self, ControlError> {
        let (authorized_accounts, ignored_users) = read_users(&config_dir.join(USERS_DIR))?;
        let user_defined_ids = match user_defined_id_env.filter(|v| !v.trim().is_empty()) {
            Some(value) => parse_user_defined_ids(value, ','),
            None => read_user_defined_ids(&config_dir.join(USER_DEFINED_ID_FILE))?,
        };
        let hostname = settings
            .hostname_override
            .clone()
            .unwrap_or_else(detect_hostname);
        let ip = settings
            .ip_override
            .clone()
            .unwrap_or_else(|| detect_ip(&hostname));
        for name in &ignored_users {
            tracing::debug!(entry = %name, "ignoring users entry: not a 16-digit account id");
        }
        Ok(Self {
            authorized_accounts,
            user_defined_ids,
            hostname,
            ip,
            ignored_users,
        })
    }
}

/// Reads the identity every heartbeat and logs what changed: warnings for newly seen
/// invalid `users/` entries (once each, not every heartbeat), info for account and
/// identifier changes.
#[derive(Debug, Default)]
pub struct IdentityReader {
    last: Option<HostIdentity>,
    warned: BTreeSet<String>,
}

impl IdentityReader {
    /// A reader that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the identity (as [`HostIdentity::read`]) and logs the differences from the
    /// previous read. On error the previous identity, if any, is returned with the error
    /// logged, so a transient read failure does not change what the host reports.
    pub fn read(
        &mut self,
        config_dir: &Path,
        settings: &AgentSettings,
    ) -> Result<HostIdentity, ControlError> {
        match HostIdentity::read(config_dir, settings) {
            Ok(identity) => {
                self.observe(&identity);
                Ok(identity)
            }
            Err(error) => match &self.last {
                Some(last) => {
                    tracing::warn!(%error, "cannot re-read the identity files; keeping the previous identity");
                    Ok(last.clone())
                }
                None => Err(error),
            },
        }
    }

    /// Logs what differs between `identity` and the previous one, and remembers it.
    pub fn observe(&mut self, identity: &HostIdentity) {
        for name in &identity.ignored_users {
            if self.warned.insert(name.clone()) {
                tracing::warn!(entry = %name, "ignoring users entry: not a 16-digit account id");
            }
        }
        let previous = self.last.replace(identity.clone());
        let changed_accounts = previous
            .as_ref()
            .is_none_or(|p| p.authorized_accounts != identity.authorized_accounts);
        let changed_ids = previous
            .as_ref()
            .is_none_or(|p| p.user_defined_ids != identity.user_defined_ids);
        if changed_accounts || changed_ids {
            tracing::info!(
                accounts = ?identity.authorized_accounts,
                user_defined_ids = ?identity.user_defined_ids,
                hostname = %identity.hostname,
                ip = %identity.ip,
                "host identity"
            );
        }
    }
}

/// The valid account ids among the names in `dir` (sorted) and the invalid names.
fn read_users(dir: &Path) -> Result<(Vec<String>, Vec<String>), ControlError> {
    let read_error = |source| ControlError::Read {
        path: dir.to_owned(),
        source,
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Default::default()),
        Err(e) => return Err(read_error(e)),
    };
    let mut accounts = BTreeSet::new();
    let mut ignored = BTreeSet::new();
    for entry in entries {
        let entry = entry.map_err(read_error)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        // Follows symbolic links: a link to a file counts, a directory does not.
        let is_file = std::fs::metadata(entry.path()).is_ok_and(|m| m.is_file());
        if is_file && AccountId::parse(&name).is_ok() {
            accounts.insert(name);
        } else {
            ignored.insert(name);
        }
    }
    Ok((
        accounts.into_iter().collect(),
        ignored.into_iter().collect(),
    ))
}

/// The identifiers in `path`; none when it does not exist.
fn read_user_defined_ids(path: &Path) -> Result<Vec<String>, ControlError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(parse_user_defined_ids(
            &String::from_utf8_lossy(&bytes),
            '\n',
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(ControlError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Splits `text` at newlines and at `separator`, trims, drops empty, overlong and duplicate
/// items (first occurrence kept) and items with control characters.
pub fn parse_user_defined_ids(text: &str, separator: char) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut ids = Vec::new();
    for item in text.split(['\n', separator]).map(str::trim) {
        if item.is_empty() || seen.contains(item) {
            continue;
        }
        if item.len() > MAX_USER_DEFINED_ID || item.chars().any(char::is_control) {
            tracing::warn!(
                length = item.len(),
                "ignoring user-defined id: longer than 256 bytes or with control characters"
            );
            continue;
        }
        if ids.len() == MAX_USER_DEFINED_IDS {
            tracing::warn!(
                kept = ids.len(),
                "too many user-defined ids; ignoring the rest"
            );
            break;
        }
        seen.insert(item.to_owned());
        ids.push(item.to_owned());
    }
    ids
}

/// The kernel's host name, else `localhost`.
fn detect_hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .map(|text| text.trim().to_owned())
        .find(|name| !name.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|n| !n.is_empty()))
        .unwrap_or_else(|| "localhost".to_owned())
}

/// The host's IP: `/etc/hosts` binding, else the first local IPv4, else loopback.
fn detect_ip(hostname: &str) -> String {
    let from_hosts = std::fs::read_to_string("/etc/hosts")
        .ok()
        .and_then(|text| ip_from_hosts(&text, hostname));
    let from_interfaces = || {
        std::fs::read_to_string("/proc/net/fib_trie")
            .ok()
            .and_then(|text| first_local_ipv4(&text))
    };
    from_hosts
        .or_else(from_interfaces)
        .unwrap_or(Ipv4Addr::LOCALHOST)
        .to_string()
}

/// The first non-loopback IPv4 that an `/etc/hosts` text binds to `hostname`.
pub fn ip_from_hosts(text: &str, hostname: &str) -> Option<Ipv4Addr> {
    text.lines()
        .map(|line| line.split('#').next().unwrap_or_default())
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let ip: Ipv4Addr = fields.next()?.parse().ok()?;
            let names_host = fields.any(|name| name.eq_ignore_ascii_case(hostname));
            (names_host && usable(ip)).then_some(ip)
        })
        .next()
}

/// The first non-loopback `/32 host LOCAL` address of a `/proc/net/fib_trie` text.
pub fn first_local_ipv4(text: &str) -> Option<Ipv4Addr> {
    let mut last_leaf: Option<Ipv4Addr> = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(address) = line.strip_prefix("|-- ") {
            last_leaf = address.trim().parse().ok();
        } else if line.starts_with("/32 host LOCAL") {
            if let Some(ip) = last_leaf.filter(|ip| usable(*ip)) {
                return Some(ip);
            }
        }
    }
    None
}

/// Neither loopback nor unspecified.
fn usable(ip: Ipv4Addr) -> bool {
    !ip.is_loopback() && !ip.is_unspecified()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_binding_skips_loopback_and_comments() {
        let text = "127.0.0.1 localhost web-1\n# 10.9.9.9 web-1\n::1 web-1\n\
                    10.0.0.5\tweb-1.example web-1 # primary\n10.0.0.6 web-1\n";
        assert_eq!(
            ip_from_hosts(text, "WEB-1"),
            Some(Ipv4Addr::new(10, 0, 0, 5))
        );
        assert_eq!(ip_from_hosts(text, "db"), None);
    }

    #[test]
    fn fib_trie_gives_the_first_non_loopback_local_address() {
        let text = "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 0.0.0.0\n        /0 universe UNICAST\n\
                    \x20    +-- 127.0.0.0/8 2 0 2\n        |-- 127.0.0.1\n           /32 host LOCAL\n\
                    \x20    |-- 172.17.0.0\n        /16 link UNICAST\n\
                    \x20    |-- 172.17.0.2\n        /32 host LOCAL\n";
        assert_eq!(first_local_ipv4(text), Some(Ipv4Addr::new(172, 17, 0, 2)));
        assert_eq!(first_local_ipv4("garbage\n/32 host LOCAL\n"), None);
    }

    #[test]
    fn user_defined_ids_are_trimmed_and_deduplicated() {
        let ids = parse_user_defined_ids(" a \n\nb,c\na\n", ',');
        assert_eq!(ids, ["a", "b", "c"]);
        let long = "x".repeat(MAX_USER_DEFINED_ID + 1);
        assert!(parse_user_defined_ids(&long, '\n').is_empty());
    }
}
