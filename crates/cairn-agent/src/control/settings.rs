//! The agent config file (default `/etc/cairn/agent.toml`) and its environment overrides.
//!
//! ```toml
//! endpoint = "http://cairn.internal:7480"   # the Cairn server, plain HTTP
//! access_key_id = "LTAI..."                 # the agent credential: an AccessKey of the
//! access_key_secret = "..."                 #   account that owns the agent
//! config_dir = "/etc/cairn"                 # identity files: users/<account-id>, user_defined_id
//! data_dir = "/var/lib/cairn-agent"         # checkpoints, disk buffer, host id, held configs
//! heartbeat_interval_secs = 10
//! buffer_max_bytes = 1073741824             # disk buffer bound while the server is away
//! buffer_max_age_secs = 86400               # buffered data older than this is dropped
//! # ip = "10.0.0.5"                         # override the detected IP (tests, NAT)
//! # hostname = "web-1"                      # override the detected host name
//! [tags]                                    # heartbeat tags, matched by machine groups
//! env = "prod"
//! ```
//!
//! Every key but the endpoint and the credential has a default. The environment variables
//! `CAIRN_AGENT_ENDPOINT`, `CAIRN_AGENT_ACCESS_KEY_ID`, `CAIRN_AGENT_ACCESS_KEY_SECRET`,
//! `CAIRN_AGENT_CONFIG_DIR` and `CAIRN_AGENT_DATA_DIR` override the file when set and
//! non-empty (containers, tests).
//!
//! Parsing ([`AgentSettings::parse`]: serde, unknown keys refused, env merged) is separate
//! from validation ([`AgentSettings::validate`]), so a typo in a key and a bad value get
//! different, precise errors. [`AgentSettings::load`] does both; [`AgentSettings::from_env`]
//! does both from the environment alone (no file). The settings are read once
//! at start; the identity files they point at are re-read every heartbeat.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::ControlError;

/// Where the agent looks for its config file when told nothing else.
pub const DEFAULT_SETTINGS_PATH: &str = "/etc/cairn/agent.toml";
/// The default directory of the identity files.
pub const DEFAULT_CONFIG_DIR: &str = "/etc/cairn";
/// The default directory of the agent's state.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/cairn-agent";
/// The default heartbeat period, as LoongCollector's.
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(10);
/// The default bound of the disk buffer: 1 GiB.
pub const DEFAULT_BUFFER_MAX_BYTES: u64 = 1 << 30;
/// The default age after which buffered data is dropped: 24 h, as LoongCollector's
/// `log_expire_time`.
pub const DEFAULT_BUFFER_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

const ENV_ENDPOINT: &str = "CAIRN_AGENT_ENDPOINT";
const ENV_ACCESS_KEY_ID: &str = "CAIRN_AGENT_ACCESS_KEY_ID";
const ENV_ACCESS_KEY_SECRET: &str = "CAIRN_AGENT_ACCESS_KEY_SECRET";
const ENV_CONFIG_DIR: &str = "CAIRN_AGENT_CONFIG_DIR";
const ENV_DATA_DIR: &str = "CAIRN_AGENT_DATA_DIR";

/// The heartbeat period's bounds.
const MIN_HEARTBEAT: Duration = Duration::from_secs(1);
const MAX_HEARTBEAT: Duration = Duration::from_secs(3600);
/// Bounds of a tag, as the server stores them.
const MAX_TAG_NAME: usize = 128;
const MAX_TAG_VALUE: usize = 256;

/// The config file's shape.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsFile {
    endpoint: Option<String>,
    access_key_id: Option<String>,
    access_key_secret: Option<String>,
    config_dir: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    heartbeat_interval_secs: Option<u64>,
    buffer_max_bytes: Option<u64>,
    buffer_max_age_secs: Option<u64>,
    ip: Option<String>,
    hostname: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

/// The agent's settings, resolved from the config file and the environment.
#[derive(Clone, PartialEq, Eq)]
pub struct AgentSettings {
    /// The server, `http://host:port`, without a trailing slash.
    pub endpoint: String,
    /// The agent credential's AccessKey id (an AccessKey of the owning account).
    pub access_key_id: String,
    /// The agent credential's secret.
    pub access_key_secret: String,
    /// The identity files' directory (default `/etc/cairn`).
    pub config_dir: PathBuf,
    /// The agent's state directory (default `/var/lib/cairn-agent`).
    pub data_dir: PathBuf,
    /// The heartbeat period (default 10 s).
    pub heartbeat_interval: Duration,
    /// The disk buffer's bound in bytes.
    pub buffer_max_bytes: u64,
    /// The age after which buffered data is dropped.
    pub buffer_max_age: Duration,
    /// Heartbeat tags (`ilogtail_tags` of LoongCollector).
    pub tags: BTreeMap<String, String>,
    /// The IP to report instead of the detected one.
    pub ip_override: Option<String>,
    /// The host name to report instead of the detected one.
    pub hostname_override: Option<String>,
}

impl fmt::Debug for AgentSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentSettings")
            .field("endpoint", &self.endpoint)
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &"<redacted>")
            .field("config_dir", &self.config_dir)
            .field("data_dir", &self.data_dir)
            .field("heartbeat_interval", &self.heartbeat_interval)
            .field("buffer_max_bytes", &self.buffer_max_bytes)
            .field("buffer_max_age", &self.buffer_max_age)
            .field("tags", &self.tags)
            .field("ip_override", &self.ip_override)
            .field("hostname_override", &self.hostname_override)
            .finish()
    }
}

impl AgentSettings {
    /// Settings with every default and the given server and credential (for tests and for
    /// callers that build settings without a file).
    pub fn new(endpoint: &str, access_key_id: &str, access_key_secret: &str) -> Self {
        Self {
            endpoint: endpoint.trim().trim_end_matches('/').to_owned(),
            access_key_id: access_key_id.trim().to_owned(),
            access_key_secret: access_key_secret.trim().to_owned(),
            config_dir: PathBuf::from(DEFAULT_CONFIG_DIR),
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            heartbeat_interval: DEFAULT_HEARTBEAT_INTERVAL,
            buffer_max_bytes: DEFAULT_BUFFER_MAX_BYTES,
            buffer_max_age: DEFAULT_BUFFER_MAX_AGE,
            tags: BTreeMap::new(),
            ip_override: None,
            hostname_override: None,
        }
    }

    /// Reads the TOML file at `path`, applies the `CAIRN_AGENT_*` environment overrides and
    /// validates the result.
    pub fn load(path: &Path) -> Result<Self, ControlError> {
        let text = std::fs::read_to_string(path).map_err(|source| ControlError::Read {
            path: path.to_owned(),
            source,
        })?;
        let settings = Self::parse(&text, path, |name| std::env::var(name).ok())?;
        settings.validate()?;
        Ok(settings)
    }

    /// Settings from the `CAIRN_AGENT_*` environment alone (no file: containers), validated;
    /// every other key takes its default.
    pub fn from_env() -> Result<Self, ControlError> {
        let settings = Self::parse("", Path::new("<environment>"), |name| {
            std::env::var(name).ok()
        })?;
        settings.validate()?;
        Ok(settings)
    }

    /// Parses the file's `text` (`origin` names it in errors) and merges the overrides that
    /// `env` returns (a variable's name -> its value); does not validate.
    pub fn parse(
        text: &str,
        origin: &Path,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ControlError> {
        let file: SettingsFile = toml::from_str(text).map_err(|e| ControlError::Parse {
            path: origin.to_owned(),
            message: e.to_string(),
        })?;
        let env = |name: &str| env(name).filter(|value| !value.trim().is_empty());
        let endpoint = env(ENV_ENDPOINT).or(file.endpoint).unwrap_or_default();
        let access_key_id = env(ENV_ACCESS_KEY_ID)
            .or(file.access_key_id)
            .unwrap_or_default();
        let access_key_secret = env(ENV_ACCESS_KEY_SECRET)
            .or(file.access_key_secret)
            .unwrap_or_default();
        let mut settings = Self::new(&endpoint, &access_key_id, &access_key_secret);
        if let Some(dir) = env(ENV_CONFIG_DIR).map(PathBuf::from).or(file.config_dir) {
            settings.config_dir = dir;
        }
        if let Some(dir) = env(ENV_DATA_DIR).map(PathBuf::from).or(file.data_dir) {
            settings.data_dir = dir;
        }
        if let Some(secs) = file.heartbeat_interval_secs {
            settings.heartbeat_interval = Duration::from_secs(secs);
        }
        if let Some(bytes) = file.buffer_max_bytes {
            settings.buffer_max_bytes = bytes;
        }
        if let Some(secs) = file.buffer_max_age_secs {
            settings.buffer_max_age = Duration::from_secs(secs);
        }
        settings.tags = file.tags;
        settings.ip_override = file.ip.map(|ip| ip.trim().to_owned());
        settings.hostname_override = file.hostname.map(|name| name.trim().to_owned());
        Ok(settings)
    }

    /// Checks every value; the first problem found is returned.
    pub fn validate(&self) -> Result<(), ControlError> {
        let invalid = |field: &'static str, reason: &str| ControlError::InvalidSetting {
            field,
            reason: reason.to_owned(),
        };
        validate_endpoint(&self.endpoint).map_err(|reason| invalid("endpoint", &reason))?;
        if self.access_key_id.is_empty() {
            return Err(invalid(
                "access_key_id",
                &format!("required (in the file or {ENV_ACCESS_KEY_ID})"),
            ));
        }
        if !is_header_safe(&self.access_key_id) || self.access_key_id.contains(':') {
            return Err(invalid(
                "access_key_id",
                "must be printable ASCII without spaces or ':'",
            ));
        }
        if self.access_key_secret.is_empty() {
            return Err(invalid(
                "access_key_secret",
                &format!("required (in the file or {ENV_ACCESS_KEY_SECRET})"),
            ));
        }
        if self.config_dir.as_os_str().is_empty() {
            return Err(invalid("config_dir", "must not be empty"));
        }
        if self.data_dir.as_os_str().is_empty() {
            return Err(invalid("data_dir", "must not be empty"));
        }
        if !(MIN_HEARTBEAT..=MAX_HEARTBEAT).contains(&self.heartbeat_interval) {
            return Err(invalid("heartbeat_interval_secs", "must be 1..=3600"));
        }
        if self.buffer_max_bytes == 0 {
            return Err(invalid("buffer_max_bytes", "must be positive"));
        }
        if self.buffer_max_age.is_zero() {
            return Err(invalid("buffer_max_age_secs", "must be positive"));
        }
        for (name, value) in &self.tags {
            if name.trim().is_empty() || name.len() > MAX_TAG_NAME {
                return Err(invalid("tags", "a tag name must have 1..=128 bytes"));
            }
            if value.len() > MAX_TAG_VALUE || value.chars().any(char::is_control) {
                return Err(invalid(
                    "tags",
                    "a tag value must have at most 256 bytes and no control characters",
                ));
            }
        }
        if let Some(ip) = &self.ip_override {
            if ip.parse::<IpAddr>().is_err() {
                return Err(invalid("ip", "must be an IP address"));
            }
        }
        if let Some(name) = &self.hostname_override {
            if name.is_empty() || !is_header_safe(name) {
                return Err(invalid(
                    "hostname",
                    "must be non-empty printable ASCII without spaces",
                ));
            }
        }
        Ok(())
    }

    /// The URL of `path` (which starts with `/`) on the server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.endpoint)
    }
}

/// `http://host[:port]`, nothing after the authority.
fn validate_endpoint(endpoint: &str) -> Result<(), String> {
    if endpoint.is_empty() {
        return Err(format!("required (in the file or {ENV_ENDPOINT})"));
    }
    if endpoint.starts_with("https://") {
        return Err(
            "https is not supported by the agent's HTTP client; use http:// (behind \
                    a TLS-terminating proxy if the network needs one)"
                .to_owned(),
        );
    }
    let Some(authority) = endpoint.strip_prefix("http://") else {
        return Err("must be http://host[:port]".to_owned());
    };
    if authority.is_empty()
        || !is_header_safe(authority)
        || authority.contains(['/', '?', '#', '@'])
    {
        return Err("must be http://host[:port], with no path, query or user".to_owned());
    }
    if let Some((host, port)) = authority.rsplit_once(':') {
        // `[::1]:80` splits at the last colon; a bare IPv6 literal has a `]` before it.
        if !port.ends_with(']') && (host.is_empty() || port.parse::<u16>().is_err()) {
            return Err("the port must be a number 0..=65535".to_owned());
        }
    }
    Ok(())
}

/// Printable ASCII, no spaces: safe in an HTTP header and a URL authority.
fn is_header_safe(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_graphic())
}
