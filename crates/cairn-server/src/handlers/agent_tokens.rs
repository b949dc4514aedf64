//! Write tokens for agents: which logstores a host may write, and when to hand out a new set.
//!
//! Per account, one token ([`cairn_iam::Iam::issue_write_token`], 1 h) covers exactly the
//! logstores the flushers of that account's delivered configs write to; the response lists it
//! once per logstore. A new set is issued (and `write_tokens_replaced` set) when the set of
//! logstores changes, when the last set is half-way to expiry (30 min), when the agent is new
//! or out of sequence (a restart or a lost response), or when it asks
//! (`request_write_tokens`). When the set of logstores changes, the previous tokens are
//! revoked at once, so a removed config stops writing with the next heartbeat. Otherwise no
//! tokens are sent and the agent keeps its own.
//!
//! Invariant: a token never covers a logstore of a project that is no longer its config
//! owner's (a project deleted and created again by another account gets no token).

use std::collections::{BTreeMap, BTreeSet};

use cairn_meta::AgentRecord;
use cairn_model::{AccessKeyId, AccountId, ResourceArn};
use cairn_protocol::agent::WriteToken;

use super::agent_fleet::Assessment;
use crate::error::ApiError;
use crate::state::ServerState;

/// How long a write token lives, in seconds.
pub const WRITE_TOKEN_TTL_SECONDS: u32 = 3600;
/// A set of write tokens is renewed once it is this old, in seconds (half its life).
pub const WRITE_TOKEN_RENEW_SECONDS: i64 = 1800;

/// What each account's tokens cover: (project, logstore) pairs.
pub(super) type TokenScope = BTreeMap<AccountId, BTreeSet<(String, String)>>;

/// The logstores each account's delivered configs write to. Targets in a project of another
/// account (the project changed hands after the config was written) get no token.
pub(super) async fn token_scope(
    state: &ServerState,
    assessment: &Assessment,
) -> Result<TokenScope, ApiError> {
    let mut scope = TokenScope::new();
    let mut owners = BTreeMap::new();
    for delivery in assessment.desired.values() {
        let Some((project, logstore)) = &delivery.target else {
            continue;
        };
        if !owners.contains_key(project) {
            let owner = match state.meta.get_project(project).await {
                Ok(record) => Some(record.account),
                Err(error) if error.is_not_found(cairn_meta::EntityKind::Project) => None,
                Err(error) => return Err(error.into()),
            };
            owners.insert(project.clone(), owner);
        }
        if owners.get(project) == Some(&Some(delivery.owner)) {
            scope
                .entry(delivery.owner)
                .or_default()
                .insert((project.to_string(), logstore.to_string()));
        }
    }
    Ok(scope)
}

/// Whether to hand out a new set of write tokens (see the module documentation).
pub(super) fn needs_new_tokens(
    previous: Option<&AgentRecord>,
    scope: &str,
    in_sequence: bool,
    asked: bool,
    now: i64,
) -> bool {
    let Some(previous) = previous else {
        return true;
    };
    if !in_sequence || asked || previous.token_scope != scope {
        return true;
    }
    previous
        .tokens_issued_at
        .is_some_and(|at| now - at >= WRITE_TOKEN_RENEW_SECONDS)
}

/// Issues one token per account of `scope`; returns the tokens (one entry per logstore) and
/// the issued key ids as `<account>:<key id>`.
pub(super) async fn issue_tokens(
    state: &ServerState,
    scope: &TokenScope,
) -> Result<(Vec<WriteToken>, Vec<String>), ApiError> {
    let mut tokens = Vec::new();
    let mut ids = Vec::new();
    for (account, logstores) in scope {
        let arns: Vec<ResourceArn> = logstores
            .iter()
            .map(|(project, logstore)| ResourceArn {
                service: "log".to_owned(),
                region: state.region.clone(),
                account: *account,
                resource: format!("project/{project}/logstore/{logstore}"),
            })
            .collect();
        let credentials = state
            .iam
            .issue_write_token(*account, &arns, WRITE_TOKEN_TTL_SECONDS)
            .await?;
        ids.push(format!("{account}:{}", credentials.access_key_id));
        for (project, logstore) in logstores {
            tokens.push(WriteToken {
                project: project.clone(),
                logstore: logstore.clone(),
                access_key_id: credentials.access_key_id.to_string(),
                access_key_secret: credentials.secret.expose().to_owned(),
                security_token: credentials.security_token.expose().to_owned(),
                expiration: credentials.expiration,
                account: account.to_string(),
            });
        }
    }
    Ok((tokens, ids))
}

/// Revokes tokens handed out earlier; failures are logged (the tokens expire anyway).
pub(super) async fn revoke_tokens(state: &ServerState, ids: &[String]) {
    for entry in ids {
        let parsed = entry.split_once(':').and_then(|(account, id)| {
            Some((
                AccountId::parse(account).ok()?,
                AccessKeyId::parse(id).ok()?,
            ))
        });
        let Some((account, id)) = parsed else {
            tracing::warn!(entry = %entry, "unreadable stored write token id");
            continue;
        };
        match state.iam.revoke_session(account, &id).await {
            Ok(()) | Err(cairn_iam::IamError::AccessKeyNotFound { .. }) => {}
            Err(error) => {
                tracing::warn!(%error, access_key_id = %id, "could not revoke a write token")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_renewed_on_change_at_half_life_out_of_sequence_or_on_request() {
        let record = AgentRecord {
            account: AccountId::from_u64(1_000_000_000_000_001).expect("account"),
            instance_id: "i".to_owned(),
            sequence_num: 4,
            ip: String::new(),
            hostname: String::new(),
            host_id: String::new(),
            user_defined_ids: Vec::new(),
            authorized_accounts: Vec::new(),
            held_configs: BTreeMap::new(),
            token_scope: "s".to_owned(),
            token_ids: Vec::new(),
            tokens_issued_at: Some(1_000),
            last_heartbeat_time: 1_000,
        };
        assert!(needs_new_tokens(None, "s", false, false, 1_000));
        assert!(!needs_new_tokens(
            Some(&record),
            "s",
            true,
            false,
            1_000 + 1_799
        ));
        assert!(needs_new_tokens(
            Some(&record),
            "s",
            true,
            false,
            1_000 + 1_800
        ));
        assert!(needs_new_tokens(Some(&record), "t", true, false, 1_001));
        assert!(needs_new_tokens(Some(&record), "s", false, false, 1_001));
        assert!(needs_new_tokens(Some(&record), "s", true, true, 1_001));
    }
}
