//! The control plane of the agent: who it is, what it is told to collect, and with which
//! credentials it writes.
//!
//! * [`settings`]: the agent config file (`/etc/cairn/agent.toml`): server endpoint, the agent
//!   credential, the config and data directories, timings, tags;
//! * [`identity`]: the identity files in the config dir, `users/<account-id>` (one empty file
//!   per account allowed to collect from this host) and `user_defined_id` (custom identifiers),
//!   plus the host's name and IP; re-read on every heartbeat, so edits take effect without a
//!   restart (polling, no file watcher: a heartbeat is at most `heartbeat_interval` away);
//! * [`heartbeat`]: [`ControlClient`], the agent side of the config-server protocol v2
//!   (`POST /Agent/Heartbeat`, `/Agent/FetchPipelineConfig`, protobuf, signed with SLS V1),
//!   extended with the host's authorised accounts and custom identifiers; the answer carries
//!   config changes, scoped expiring write tokens and machine-group memberships;
//! * [`tokens`]: [`TokenCache`], the latest write token per (project, logstore);
//! * [`store`]: [`ConfigStore`], the held configs persisted under `data_dir/configs/`, so a
//!   restarted agent collects before its first heartbeat succeeds.
//!
//! Invariants: nothing here panics on input (files, environment, server answers); a
//! [`ConfigChange`] has `detail == None` exactly when it is a deletion (`version == -1`);
//! secrets (the agent's AccessKey secret, write-token secrets) never appear in `Debug` output
//! or logs.

pub mod heartbeat;
pub mod identity;
pub mod settings;
pub mod store;
pub mod tokens;

use std::collections::BTreeMap;
use std::path::PathBuf;

pub use heartbeat::ControlClient;
pub use identity::HostIdentity;
pub use settings::AgentSettings;
pub use store::{ConfigStore, StoreChange, StoredConfig};
pub use tokens::{TokenCache, WriteToken};

/// The version the protocol uses to mean "this config was removed".
pub const DELETED_VERSION: i64 = -1;

/// Everything that can go wrong in the control plane.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// A file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file or directory could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file is not in the expected format (TOML, JSON).
    #[error("cannot parse {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// A setting has a value the agent cannot use.
    #[error("invalid agent setting `{field}`: {reason}")]
    InvalidSetting {
        /// The setting's name in the config file.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The request did not get an HTTP answer (connection refused, timeout, ...).
    #[error("request to {url} failed: {message}")]
    Transport {
        /// The URL called.
        url: String,
        /// The transport error.
        message: String,
    },
    /// The server answered, but not with a message of the protocol.
    #[error("{url} answered HTTP {status} with no valid protobuf body: {message}")]
    BadResponse {
        /// The URL called.
        url: String,
        /// The HTTP status.
        status: u16,
        /// Why the body was refused, or an excerpt of it.
        message: String,
    },
    /// The server answered with a protocol error (`common_response.status != 0`).
    #[error("the config server refused the request (status {status}): {message}")]
    Server {
        /// `common_response.status`.
        status: i32,
        /// `common_response.errorMessage`, lossily decoded.
        message: String,
    },
}

/// What the agent reports about one config it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldConfig {
    /// The config's name.
    pub name: String,
    /// The version held (as received; never 0).
    pub version: i64,
    /// How applying it went.
    pub status: HeldStatus,
    /// A human-readable message, typically why it failed; empty otherwise.
    pub message: String,
}

/// The state of a held config, as `ConfigStatus` of protocol v2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HeldStatus {
    /// Not reported.
    #[default]
    Unset,
    /// Being applied.
    Applying,
    /// Running.
    Applied,
    /// Could not be applied (see the message).
    Failed,
}

impl HeldStatus {
    /// The protocol's enum value (`UNSET=0, APPLYING=1, APPLIED=2, FAILED=3`).
    pub fn wire_value(self) -> i32 {
        match self {
            Self::Unset => 0,
            Self::Applying => 1,
            Self::Applied => 2,
            Self::Failed => 3,
        }
    }
}

/// One change of a pipeline config, as the server sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigChange {
    /// The config's name (`<account>/<project>/<config>` from a Cairn server).
    pub name: String,
    /// The new version; [`DELETED_VERSION`] (-1) when the config was removed.
    pub version: i64,
    /// The config (JSON pipeline config, as sent); `None` exactly for a deletion.
    pub detail: Option<Vec<u8>>,
    /// The detail's `extra` map (Cairn sets `project` and `logstore`), values lossily
    /// decoded as UTF-8.
    pub extra: BTreeMap<String, String>,
}

impl ConfigChange {
    /// Whether this change removes the config.
    pub fn is_delete(&self) -> bool {
        self.version == DELETED_VERSION
    }
}

/// Whether this host is in one of an account's machine groups, as the server judged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// The account (16 digits) that owns the group.
    pub account: String,
    /// The project of the group.
    pub project: String,
    /// The machine group's name.
    pub group: String,
    /// Whether the host is a member and may collect for it.
    pub ok: bool,
    /// Why not, when `ok` is false (e.g. no `users/<account>` file on the host).
    pub reason: String,
}

/// What one successful heartbeat round brought.
#[derive(Debug, Clone, Default)]
pub struct ControlUpdate {
    /// Config changes, in the server's order; details already fetched where the server left
    /// them out.
    pub configs: Vec<ConfigChange>,
    /// Write tokens handed out this round (give the update to [`TokenCache::apply`]).
    pub write_tokens: Vec<WriteToken>,
    /// `write_tokens` is the complete new set (possibly empty): drop every token held before.
    pub write_tokens_replaced: bool,
    /// The host's machine-group memberships.
    pub memberships: Vec<Membership>,
    /// The server asked for the full state; the next heartbeat carries it.
    pub full_state_requested: bool,
}
