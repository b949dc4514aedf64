//! The agent control API on the bare endpoint: `POST /Agent/Heartbeat` and
//! `POST /Agent/FetchPipelineConfig`, protobuf in and out (config-server protocol v2 with
//! Cairn's extensions, see [`cairn_protocol::agent`]).
//!
//! Agents sign like every client, with a credential of the account that owns them (an
//! AccessKey, or a user's key whose policies allow `log:AgentHeartbeat` on
//! `acs:log:<region>:<account>:agent`); a write token cannot heartbeat. Each heartbeat:
//! 1. bookkeeping: the server keeps each agent's state under (account, instance id); when it
//!    has none or the stored sequence number + 1 is not the request's, the response carries
//!    `ReportFullState`. A compressed heartbeat (no attributes) is served from the kept state,
//!    or, without one, answered with `ReportFullState` only;
//! 2. matching ([`super::agent_fleet`]): machine rows OK/FAIL, memberships for the agent;
//! 3. configs: every config applied to a joined group whose version the agent does not hold,
//!    with its detail inline (flags never ask for a fetch), and version -1 for every config
//!    the agent holds that is no longer applied. Nothing is cached: an apply or remove shows
//!    in the very next heartbeat;
//! 4. write tokens ([`super::agent_tokens`]): per account, one token for exactly the
//!    logstores of that account's delivered configs, renewed when needed.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};

use cairn_meta::AgentRecord;
use cairn_model::ResourceArn;
use cairn_protocol::agent::{
    response_flags, server_capabilities, CommonResponse, ConfigDetail, FetchConfigRequest,
    FetchConfigResponse, HeartbeatRequest, HeartbeatResponse, DELETED_VERSION,
};
use serde_json::Value;

use super::agent_fleet::{assess, Delivery, Host};
use super::agent_tokens::{issue_tokens, needs_new_tokens, revoke_tokens, token_scope};
use super::pipeline_configs::PIPELINE_KEYS;
use super::{now_seconds, Context};
use crate::error::ApiError;
use crate::response::ApiResponse;
use crate::state::ServerState;

/// Machines and agents silent this long are forgotten, in seconds.
const FORGET_AFTER_SECONDS: i64 = 12 * 3600;
/// Forgetting runs at most this often, in seconds.
const PURGE_INTERVAL_SECONDS: i64 = 600;
/// Bounds on what a heartbeat may carry.
const MAX_INSTANCE_ID_BYTES: usize = 256;
const MAX_IDS: usize = 64;
const MAX_HELD_CONFIGS: usize = 1000;
const MAX_ATTRIBUTE_BYTES: usize = 256;

const PROTOBUF: &str = "application/x-protobuf";

static LAST_PURGE: AtomicI64 = AtomicI64::new(i64::MIN);

/// The agent API's permission check: `log:AgentHeartbeat` in the caller's own account.
fn authorize_agent(context: &Context<'_>) -> Result<(), ApiError> {
    let arn = ResourceArn {
        service: "log".to_owned(),
        region: context.state.region.clone(),
        account: context.principal.account,
        resource: "agent".to_owned(),
    };
    cairn_iam::authorize(context.principal, "log:AgentHeartbeat", &arn)?;
    Ok(())
}

fn instance_id_of(raw: &[u8]) -> Result<String, ApiError> {
    let id = String::from_utf8_lossy(raw).trim().to_owned();
    if id.is_empty() || id.len() > MAX_INSTANCE_ID_BYTES {
        return Err(ApiError::post_body_invalid(format!(
            "instance_id must be 1 to {MAX_INSTANCE_ID_BYTES} bytes"
        )));
    }
    Ok(id)
}

fn check_bounds(request: &HeartbeatRequest) -> Result<(), ApiError> {
    let long_id = |ids: &[String]| ids.iter().any(|id| id.len() > MAX_ATTRIBUTE_BYTES);
    let long_attribute = request.attributes.as_ref().is_some_and(|a| {
        [&a.ip, &a.hostname, &a.hostid]
            .iter()
            .any(|value| value.len() > MAX_ATTRIBUTE_BYTES)
    });
    if request.user_defined_ids.len() > MAX_IDS
        || request.authorized_accounts.len() > MAX_IDS
        || request.continuous_pipeline_configs.len() > MAX_HELD_CONFIGS
        || long_id(&request.user_defined_ids)
        || long_id(&request.authorized_accounts)
        || long_attribute
    {
        return Err(ApiError::post_body_invalid(format!(
            "a heartbeat carries at most {MAX_IDS} user-defined ids and authorised accounts, \
             {MAX_HELD_CONFIGS} configs, and attributes of at most {MAX_ATTRIBUTE_BYTES} bytes"
        )));
    }
    Ok(())
}

/// The configs a full heartbeat says the agent holds (deleted ones excluded).
fn held_in(request: &HeartbeatRequest) -> BTreeMap<String, i64> {
    request
        .continuous_pipeline_configs
        .iter()
        .filter(|held| held.version != DELETED_VERSION)
        .map(|held| (held.name.clone(), held.version))
        .collect()
}

/// The pipeline JSON handed to an agent: the pipeline keys of the stored config.
fn agent_detail(delivery: &Delivery) -> Vec<u8> {
    let pipeline: serde_json::Map<String, Value> = delivery
        .config
        .detail
        .as_object()
        .map(|object| {
            object
                .iter()
                .filter(|(key, _)| PIPELINE_KEYS.contains(&key.as_str()))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect()
        })
        .unwrap_or_default();
    Value::Object(pipeline).to_string().into_bytes()
}

fn config_detail(name: &str, delivery: &Delivery) -> ConfigDetail {
    let mut detail = ConfigDetail {
        name: name.to_owned(),
        version: delivery.config.version,
        detail: agent_detail(delivery),
        ..ConfigDetail::default()
    };
    if let Some((project, logstore)) = &delivery.target {
        detail
            .extra
            .insert("project".to_owned(), project.as_str().as_bytes().to_vec());
        detail
            .extra
            .insert("logstore".to_owned(), logstore.as_str().as_bytes().to_vec());
    }
    detail
}

fn deletion(name: &str) -> ConfigDetail {
    ConfigDetail {
        name: name.to_owned(),
        version: DELETED_VERSION,
        ..ConfigDetail::default()
    }
}

/// Updates that bring an agent holding `held` to `desired`.
pub(super) fn config_updates(
    desired: &BTreeMap<String, Delivery>,
    held: &BTreeMap<String, i64>,
) -> Vec<ConfigDetail> {
    let changed = desired
        .iter()
        .filter(|(name, delivery)| held.get(*name) != Some(&delivery.config.version))
        .map(|(name, delivery)| config_detail(name, delivery));
    let dropped = held
        .keys()
        .filter(|name| !desired.contains_key(*name))
        .map(|name| deletion(name));
    changed.chain(dropped).collect()
}

/// Forgets machines and agents silent for 12 h, at most every 10 minutes per process.
async fn purge_now_and_then(state: &ServerState, now: i64) {
    let last = LAST_PURGE.load(Ordering::Relaxed);
    if now.saturating_sub(last) < PURGE_INTERVAL_SECONDS
        || LAST_PURGE
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
    {
        return;
    }
    match state.meta.purge_fleet(now - FORGET_AFTER_SECONDS).await {
        Ok(0) => {}
        Ok(purged) => tracing::info!(purged, "silent machines and agents forgotten"),
        Err(error) => tracing::warn!(%error, "could not purge silent machines and agents"),
    }
}

fn protobuf(body: Vec<u8>) -> ApiResponse {
    ApiResponse::bytes(PROTOBUF, body)
}

pub async fn heartbeat(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    authorize_agent(&context)?;
    let request = HeartbeatRequest::from_bytes(&context.request.body)?;
    check_bounds(&request)?;
    let state = context.state;
    let account = context.principal.account;
    let instance_id = instance_id_of(&request.instance_id)?;
    let now = now_seconds();
    purge_now_and_then(state, now).await;

    let stored = state.meta.get_agent(account, &instance_id).await?;
    let in_sequence = stored
        .as_ref()
        .is_some_and(|s| s.sequence_num.wrapping_add(1) == request.sequence_num);
    let mut response = HeartbeatResponse {
        request_id: request.request_id.clone(),
        common_response: Some(CommonResponse::default()),
        capabilities: server_capabilities::REMEMBERS_ATTRIBUTE,
        ..HeartbeatResponse::default()
    };
    if !in_sequence {
        response.flags |= response_flags::REPORT_FULL_STATE;
    }
    let (host, held) = match (&request.attributes, &stored) {
        (Some(attributes), _) => (Host::from_request(&request, attributes), held_in(&request)),
        (None, Some(stored)) if in_sequence => {
            (Host::from_record(stored), stored.held_configs.clone())
        }
        (None, _) => {
            tracing::debug!(%account, instance_id = %instance_id, "compressed heartbeat without state");
            return Ok(protobuf(response.to_bytes()));
        }
    };

    let assessment = assess(state, account, &host).await?;
    state
        .meta
        .record_machines(&assessment.machines(&host, &instance_id, account, now))
        .await?;
    response.memberships = assessment.memberships(account);
    response.continuous_pipeline_config_updates = config_updates(&assessment.desired, &held);

    let scope = token_scope(state, &assessment).await?;
    let scope_text = serde_json::to_string(&scope).map_err(ApiError::internal)?;
    let previous = stored.as_ref();
    let renew = needs_new_tokens(
        previous,
        &scope_text,
        in_sequence,
        request.request_write_tokens,
        now,
    );
    let (token_ids, tokens_issued_at) = if renew {
        let (tokens, ids) = issue_tokens(state, &scope).await?;
        if let Some(previous) = previous.filter(|p| p.token_scope != scope_text) {
            revoke_tokens(state, &previous.token_ids).await;
        }
        response.write_tokens = tokens;
        response.write_tokens_replaced = true;
        (ids, (!scope.is_empty()).then_some(now))
    } else {
        let previous = previous.map(|p| (p.token_ids.clone(), p.tokens_issued_at));
        previous.unwrap_or_default()
    };

    let updates = response.continuous_pipeline_config_updates.len();
    state
        .meta
        .save_agent(&AgentRecord {
            account,
            instance_id: instance_id.clone(),
            sequence_num: request.sequence_num,
            ip: host.ip.clone(),
            hostname: host.hostname.clone(),
            host_id: host.host_id.clone(),
            user_defined_ids: host.user_defined_ids.clone(),
            authorized_accounts: host.authorized_accounts.clone(),
            held_configs: assessment
                .desired
                .iter()
                .map(|(name, delivery)| (name.clone(), delivery.config.version))
                .collect(),
            token_scope: scope_text,
            token_ids,
            tokens_issued_at,
            last_heartbeat_time: now,
        })
        .await?;
    let joined = assessment
        .candidates
        .iter()
        .filter(|c| c.verdict.is_ok())
        .count();
    if updates > 0 || renew {
        tracing::info!(%account, instance_id = %instance_id, ip = %host.ip, joined,
            matched = assessment.candidates.len(), configs = assessment.desired.len(), updates,
            write_tokens = response.write_tokens.len(), tokens_renewed = renew, "agent heartbeat");
    } else {
        tracing::debug!(%account, instance_id = %instance_id, joined, "agent heartbeat");
    }
    Ok(protobuf(response.to_bytes()))
}

pub async fn fetch_pipeline_config(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    authorize_agent(&context)?;
    let request = FetchConfigRequest::from_bytes(&context.request.body)?;
    if request.continuous_pipeline_configs.len() > MAX_HELD_CONFIGS {
        return Err(ApiError::post_body_invalid(format!(
            "a fetch asks for at most {MAX_HELD_CONFIGS} configs"
        )));
    }
    let account = context.principal.account;
    let instance_id = instance_id_of(&request.instance_id)?;
    let mut response = FetchConfigResponse {
        request_id: request.request_id.clone(),
        ..FetchConfigResponse::default()
    };
    let Some(stored) = context.state.meta.get_agent(account, &instance_id).await? else {
        response.common_response = Some(CommonResponse {
            status: 1,
            error_message: b"unknown agent instance: send a heartbeat first".to_vec(),
        });
        return Ok(protobuf(response.to_bytes()));
    };
    let assessment = assess(context.state, account, &Host::from_record(&stored)).await?;
    response.common_response = Some(CommonResponse::default());
    response.continuous_pipeline_config_updates = request
        .continuous_pipeline_configs
        .iter()
        .map(|wanted| match assessment.desired.get(&wanted.name) {
            Some(delivery) => config_detail(&wanted.name, delivery),
            None => deletion(&wanted.name),
        })
        .collect();
    Ok(protobuf(response.to_bytes()))
}

#[cfg(test)]
mod tests {
    use cairn_meta::PipelineConfigRecord;
    use cairn_model::{AccountId, ProjectName};

    use super::*;

    fn delivery(version: i64) -> Delivery {
        Delivery {
            owner: AccountId::from_u64(1_000_000_000_000_001).expect("account"),
            config: PipelineConfigRecord {
                project: ProjectName::parse("web").expect("project"),
                name: "nginx".to_owned(),
                detail: serde_json::json!({
                    "configName": "nginx", "logSample": "x",
                    "inputs": [{"Type": "input_file"}],
                    "flushers": [{"Type": "flusher_sls", "Project": "web", "Logstore": "access"}],
                }),
                version,
                created_at: 0,
                last_modified_at: 0,
            },
            target: None,
        }
    }

    #[test]
    fn updates_carry_changed_configs_inline_and_drop_the_rest() {
        let desired = BTreeMap::from([("a/web/nginx".to_owned(), delivery(3))]);
        let held = BTreeMap::from([("a/web/nginx".to_owned(), 2), ("a/web/old".to_owned(), 1)]);
        let updates = config_updates(&desired, &held);
        assert_eq!(updates.len(), 2);
        assert_eq!(
            (updates[0].name.as_str(), updates[0].version),
            ("a/web/nginx", 3)
        );
        let detail: Value = serde_json::from_slice(&updates[0].detail).expect("json");
        assert!(detail.get("configName").is_none() && detail.get("logSample").is_none());
        assert_eq!(detail["inputs"][0]["Type"], "input_file");
        assert_eq!(
            (updates[1].name.as_str(), updates[1].version),
            ("a/web/old", -1)
        );
        let current = BTreeMap::from([("a/web/nginx".to_owned(), 3)]);
        assert!(config_updates(&desired, &current).is_empty());
    }
}
