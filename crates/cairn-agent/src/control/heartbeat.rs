//! [`ControlClient`]: the agent side of the config-server protocol v2, with Cairn's
//! extensions (see `cairn_protocol::agent`).
//!
//! One round: build a `HeartbeatRequest` from the host identity and the held configs, `POST
//! {endpoint}/Agent/Heartbeat` (`application/x-protobuf`, signed with SLS V1 by the agent
//! credential, path `/Agent/Heartbeat`, no query), decode the `HeartbeatResponse`, fetch the
//! details the server left out (`POST /Agent/FetchPipelineConfig`), and hand back a
//! [`ControlUpdate`].
//!
//! Invariants:
//! * `sequence_num` starts at 0 and grows by one per *successful* round only (the server
//!   answered with status 0); a failed round is retried with the same number.
//! * `instance_id` is `<uuid>_<ip>_<startup time>`, fixed at the first heartbeat for the life
//!   of the client (the process), as LoongCollector's.
//! * The first request, and the one after an answer with `ReportFullState`, carry
//!   `flags = FullState`. Every request carries the complete state anyway (attributes, tags,
//!   held configs, accounts, identifiers): it is small, and the server never has to guess.
//! * A returned [`ConfigChange`] has a detail unless it is a deletion; an update whose detail
//!   could not be fetched is left out (and logged): the agent does not report that version as
//!   held, so the server offers it again next round. A fetched detail comes with the version
//!   the fetch answer gives. Version 0 (reserved) is ignored.
//! * Instance configs and one-time commands are not used by Cairn and are ignored.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cairn_protocol::agent::{
    agent_capabilities, request_flags, response_flags, AgentAttributes, AgentGroupTag,
    ConfigDetail, ConfigInfo, ConfigStatus, FetchConfigRequest, FetchConfigResponse,
    HeartbeatRequest, HeartbeatResponse,
};
use cairn_protocol::signing::sign_request_v1;

use super::{
    AgentSettings, ConfigChange, ControlError, ControlUpdate, HeldConfig, HeldStatus, HostIdentity,
    Membership, WriteToken, DELETED_VERSION,
};

/// The heartbeat path.
pub const HEARTBEAT_PATH: &str = "/Agent/Heartbeat";
/// The path to fetch pipeline config details.
pub const FETCH_PIPELINE_CONFIG_PATH: &str = "/Agent/FetchPipelineConfig";
/// The `agent_type` Cairn's agent announces.
pub const AGENT_TYPE: &str = "Cairn";
/// The protobuf content type.
const CONTENT_TYPE: &str = "application/x-protobuf";
/// The longest a control request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// The largest answer read (configs are small; this bounds a misbehaving server).
const MAX_RESPONSE_BYTES: usize = 32 << 20;
/// The host id file in the data dir.
const HOST_ID_FILE: &str = "host_id";

/// The agent's client of the config server. One per process: it holds the sequence number
/// and the instance id.
#[derive(Debug)]
pub struct ControlClient {
    settings: AgentSettings,
    http: reqwest::Client,
    sequence_num: u64,
    full_state_pending: bool,
    request_tokens: bool,
    instance_uuid: String,
    instance_id: Option<String>,
    startup_time: i64,
    host_id: String,
    os_detail: String,
}

impl ControlClient {
    /// A client for the server in `settings`, sending through `http`. Reads (or creates)
    /// the host id in `data_dir/host_id`; a failure there is logged, not fatal.
    pub fn new(settings: &AgentSettings, http: reqwest::Client) -> Self {
        Self {
            settings: settings.clone(),
            http,
            sequence_num: 0,
            full_state_pending: true,
            request_tokens: false,
            instance_uuid: uuid::Uuid::new_v4().to_string(),
            instance_id: None,
            startup_time: unix_now(),
            host_id: host_id(&settings.data_dir),
            os_detail: os_detail(),
        }
    }

    /// The sequence number the next heartbeat carries.
    pub fn sequence_num(&self) -> u64 {
        self.sequence_num
    }

    /// The instance id, once the first heartbeat was built.
    pub fn instance_id(&self) -> Option<&str> {
        self.instance_id.as_deref()
    }

    /// The host id reported in `attributes.hostid`.
    pub fn host_id(&self) -> &str {
        &self.host_id
    }

    /// Whether the next heartbeat carries the full state (`flags = FullState`).
    pub fn full_state_pending(&self) -> bool {
        self.full_state_pending
    }

    /// Asks for a fresh set of write tokens in the next heartbeat (`request_write_tokens`);
    /// call it when a held config's target has no fresh token, or a write was refused as
    /// unauthorised. Cleared by a successful round.
    pub fn request_write_tokens(&mut self) {
        self.request_tokens = true;
    }

    /// The request the next heartbeat sends (fixes the instance id on first use).
    pub fn build_heartbeat(
        &mut self,
        identity: &HostIdentity,
        held: &[HeldConfig],
    ) -> HeartbeatRequest {
        let instance_id = self
            .instance_id
            .get_or_insert_with(|| {
                format!(
                    "{}_{}_{}",
                    self.instance_uuid, identity.ip, self.startup_time
                )
            })
            .clone();
        let mut extras = HashMap::new();
        if !self.os_detail.is_empty() {
            extras.insert("osDetail".to_owned(), self.os_detail.clone().into_bytes());
        }
        HeartbeatRequest {
            request_id: new_request_id(),
            sequence_num: self.sequence_num,
            capabilities: agent_capabilities::ACCEPTS_CONTINUOUS_PIPELINE_CONFIG
                | agent_capabilities::ACCEPTS_INSTANCE_CONFIG,
            instance_id: instance_id.into_bytes(),
            agent_type: AGENT_TYPE.to_owned(),
            attributes: Some(AgentAttributes {
                version: env!("CARGO_PKG_VERSION").as_bytes().to_vec(),
                ip: identity.ip.clone().into_bytes(),
                hostname: identity.hostname.clone().into_bytes(),
                hostid: self.host_id.clone().into_bytes(),
                extras,
            }),
            tags: self
                .settings
                .tags
                .iter()
                .map(|(name, value)| AgentGroupTag {
                    name: name.clone(),
                    value: value.clone(),
                })
                .collect(),
            running_status: "running".to_owned(),
            startup_time: self.startup_time,
            continuous_pipeline_configs: held.iter().map(config_info).collect(),
            instance_configs: Vec::new(),
            onetime_pipeline_configs: Vec::new(),
            flags: if self.full_state_pending {
                request_flags::FULL_STATE
            } else {
                0
            },
            opaque: Vec::new(),
            authorized_accounts: identity.authorized_accounts.clone(),
            user_defined_ids: identity.user_defined_ids.clone(),
            request_write_tokens: self.request_tokens,
        }
    }

    /// One heartbeat round (see the module doc).
    pub async fn heartbeat(
        &mut self,
        identity: &HostIdentity,
        held: &[HeldConfig],
    ) -> Result<ControlUpdate, ControlError> {
        let request = self.build_heartbeat(identity, held);
        let (status, body) = self.post(HEARTBEAT_PATH, request.to_bytes()).await?;
        let decoded = HeartbeatResponse::from_bytes(&body);
        let response = match decoded {
            Ok(response) => response,
            Err(error) => {
                return Err(self.bad_response(HEARTBEAT_PATH, status, &body, error.to_string()))
            }
        };
        check_common(response.common_response.as_ref(), status, || {
            self.bad_response(
                HEARTBEAT_PATH,
                status,
                &body,
                "no status in the answer".to_owned(),
            )
        })?;
        if response.request_id != request.request_id {
            tracing::debug!("heartbeat answer carries another request id");
        }
        self.sequence_num = self.sequence_num.wrapping_add(1);
        self.full_state_pending = response.flags & response_flags::REPORT_FULL_STATE != 0;
        self.request_tokens = false;
        if !response.instance_config_updates.is_empty()
            || !response.onetime_pipeline_config_updates.is_empty()
        {
            tracing::debug!(
                instance = response.instance_config_updates.len(),
                onetime = response.onetime_pipeline_config_updates.len(),
                "ignoring instance configs and one-time commands"
            );
        }
        let configs = self
            .resolve_configs(response.continuous_pipeline_config_updates)
            .await;
        let update = ControlUpdate {
            configs,
            write_tokens: response.write_tokens.into_iter().map(write_token).collect(),
            write_tokens_replaced: response.write_tokens_replaced,
            memberships: response
                .memberships
                .into_iter()
                .map(|m| Membership {
                    account: m.account,
                    project: m.project,
                    group: m.group,
                    ok: m.ok,
                    reason: m.reason,
                })
                .collect(),
            full_state_requested: self.full_state_pending,
        };
        tracing::debug!(
            sequence_num = request.sequence_num,
            configs = update.configs.len(),
            tokens = update.write_tokens.len(),
            memberships = update.memberships.len(),
            full_state_requested = update.full_state_requested,
            "heartbeat done"
        );
        Ok(update)
    }

    /// Turns the server's updates into changes, fetching missing details.
    async fn resolve_configs(&self, updates: Vec<ConfigDetail>) -> Vec<ConfigChange> {
        let mut changes: Vec<ConfigChange> = Vec::with_capacity(updates.len());
        let mut missing: Vec<(usize, ConfigDetail)> = Vec::new();
        for update in updates {
            if update.name.is_empty() || update.version == 0 {
                tracing::warn!(config = %update.name, version = update.version, "ignoring config update without a name or with reserved version 0");
            } else if update.version == DELETED_VERSION {
                changes.push(change(update, None));
            } else if update.detail.is_empty() {
                missing.push((changes.len(), update));
            } else {
                let detail = update.detail.clone();
                changes.push(change(update, Some(detail)));
            }
        }
        if missing.is_empty() {
            return changes;
        }
        let mut fetched = match self.fetch(missing.iter().map(|(_, d)| d)).await {
            Ok(fetched) => fetched,
            Err(error) => {
                tracing::warn!(%error, configs = missing.len(), "cannot fetch config details; they will be offered again");
                BTreeMap::new()
            }
        };
        // Insert the fetched ones where the server listed them, keeping its order.
        for (position, update) in missing.into_iter().rev() {
            // The server's current version wins, should it have moved on since the heartbeat.
            let found = fetched
                .remove(&update.name)
                .filter(|d| d.version > 0 && !d.detail.is_empty());
            match found {
                Some(detail) => {
                    let bytes = detail.detail.clone();
                    changes.insert(position, change(detail, Some(bytes)));
                }
                None => {
                    tracing::warn!(config = %update.name, version = update.version, "config detail not delivered; it will be offered again")
                }
            }
        }
        changes
    }

    /// `POST /Agent/FetchPipelineConfig` for the named configs.
    async fn fetch(
        &self,
        wanted: impl Iterator<Item = &ConfigDetail>,
    ) -> Result<BTreeMap<String, ConfigDetail>, ControlError> {
        let request = FetchConfigRequest {
            request_id: new_request_id(),
            instance_id: self.instance_id.clone().unwrap_or_default().into_bytes(),
            continuous_pipeline_configs: wanted
                .map(|d| ConfigInfo {
                    name: d.name.clone(),
                    version: d.version,
                    ..ConfigInfo::default()
                })
                .collect(),
            instance_configs: Vec::new(),
            onetime_pipeline_configs: Vec::new(),
        };
        let path = FETCH_PIPELINE_CONFIG_PATH;
        let (status, body) = self.post(path, request.to_bytes()).await?;
        let response = FetchConfigResponse::from_bytes(&body)
            .map_err(|e| self.bad_response(path, status, &body, e.to_string()))?;
        check_common(response.common_response.as_ref(), status, || {
            self.bad_response(path, status, &body, "no status in the answer".to_owned())
        })?;
        Ok(response
            .continuous_pipeline_config_updates
            .into_iter()
            .map(|d| (d.name.clone(), d))
            .collect())
    }

    /// Sends a signed protobuf POST; returns the HTTP status and the (bounded) body.
    async fn post(&self, path: &str, body: Vec<u8>) -> Result<(u16, Vec<u8>), ControlError> {
        let url = self.settings.url(path);
        let transport = |e: reqwest::Error| ControlError::Transport {
            url: url.clone(),
            message: error_chain(&e),
        };
        let headers = sign_request_v1(
            &self.settings.access_key_id,
            &self.settings.access_key_secret,
            "POST",
            path,
            &[],
            vec![("Content-Type".to_owned(), CONTENT_TYPE.to_owned())],
            &body,
            SystemTime::now(),
        );
        let mut builder = self.http.post(&url).timeout(REQUEST_TIMEOUT);
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        let mut response = builder.body(body).send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(ControlError::BadResponse {
                    url,
                    status,
                    message: format!("answer larger than {MAX_RESPONSE_BYTES} bytes"),
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok((status, bytes))
    }

    /// A [`ControlError::BadResponse`] quoting the start of `body`.
    fn bad_response(&self, path: &str, status: u16, body: &[u8], why: String) -> ControlError {
        let excerpt: String = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
        ControlError::BadResponse {
            url: self.settings.url(path),
            status,
            message: format!("{why}; body starts with {excerpt:?}"),
        }
    }
}

/// Status 0 in `common` is success; any other is a server error. An answer without a
/// status is success only on a 2xx HTTP status (`otherwise` builds the error).
fn check_common(
    common: Option<&cairn_protocol::agent::CommonResponse>,
    http_status: u16,
    otherwise: impl FnOnce() -> ControlError,
) -> Result<(), ControlError> {
    match common {
        Some(c) if c.status != 0 => Err(ControlError::Server {
            status: c.status,
            message: String::from_utf8_lossy(&c.error_message).into_owned(),
        }),
        _ if !(200..300).contains(&http_status) => Err(otherwise()),
        _ => Ok(()),
    }
}

/// A change from a server detail.
fn change(detail: ConfigDetail, body: Option<Vec<u8>>) -> ConfigChange {
    ConfigChange {
        name: detail.name,
        version: detail.version,
        detail: body,
        extra: detail
            .extra
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
            .collect(),
    }
}

/// What the heartbeat says about a held config.
fn config_info(held: &HeldConfig) -> ConfigInfo {
    let status = match held.status {
        HeldStatus::Unset => ConfigStatus::Unset,
        HeldStatus::Applying => ConfigStatus::Applying,
        HeldStatus::Applied => ConfigStatus::Applied,
        HeldStatus::Failed => ConfigStatus::Failed,
    };
    ConfigInfo {
        name: held.name.clone(),
        version: held.version,
        status: status as i32,
        message: held.message.clone(),
        extra: HashMap::new(),
    }
}

/// The plain token from its wire form.
fn write_token(t: cairn_protocol::agent::WriteToken) -> WriteToken {
    WriteToken {
        project: t.project,
        logstore: t.logstore,
        access_key_id: t.access_key_id,
        access_key_secret: t.access_key_secret,
        security_token: t.security_token,
        expiration: t.expiration,
        account: t.account,
    }
}

/// An error and its causes, `: `-separated (reqwest's own message omits the cause).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A random request id (a UUID in text, as LoongCollector's).
fn new_request_id() -> Vec<u8> {
    uuid::Uuid::new_v4().to_string().into_bytes()
}

/// Unix seconds now.
fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The host id from `data_dir/host_id`, created (a random UUID) when missing.
fn host_id(data_dir: &Path) -> String {
    let path = data_dir.join(HOST_ID_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        let id = text.trim();
        if !id.is_empty() {
            return id.to_owned();
        }
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    let written =
        std::fs::create_dir_all(data_dir).and_then(|()| std::fs::write(&path, format!("{id}\n")));
    if let Err(error) = written {
        tracing::warn!(path = %path.display(), %error, "cannot persist the host id; it changes on restart");
    }
    id
}

/// `PRETTY_NAME` of `/etc/os-release`, or empty.
fn os_detail() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim().trim_matches('"').to_owned())
        })
        .unwrap_or_default()
}
