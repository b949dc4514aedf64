//! Which machine groups a host joins, and which configs it therefore runs: the rules behind
//! `/Agent/Heartbeat` and `/Agent/FetchPipelineConfig`.
//!
//! A host is a *candidate* of every machine group (of any account) whose machine list holds
//! its IP (`ip` groups) or one of its custom identifiers (`userdefined` groups). A candidate
//! group of account A, seen by an agent signing with a credential of account X, is *joined*
//! only when both hold:
//! 1. the host authorises A: it has the file `users/<A>` (reported in
//!    `authorized_accounts`);
//! 2. A's group trusts X: X is A, or X is in the group's `trustedAccounts`, or the group
//!    has `trustDirectory` and X and A are in the same resource directory.
//!
//! Every candidate is recorded as a machine of its group, OK when joined, FAIL with the
//! reason otherwise, so A's administrators see hosts that match but cannot join. The agent
//! receives every config applied to a joined group, named `<A>/<project>/<config>`, and
//! learns why it is not in the others — without the project and group names of a group whose
//! account does not trust X.

use std::collections::{BTreeMap, HashMap};

use cairn_meta::{
    AgentRecord, CandidateGroup, GroupAttribute, MachineIdentifyType, MachineRecord, MachineStatus,
    PipelineConfigRecord,
};
use cairn_model::{AccountId, LogstoreName, ProjectName};
use cairn_protocol::agent::{AgentAttributes, GroupMembership, HeartbeatRequest};

use super::pipeline_configs::flusher_target;
use crate::error::ApiError;
use crate::state::ServerState;

/// What is known about a host: from its heartbeat, or kept from an earlier one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Host {
    pub ip: String,
    pub hostname: String,
    pub host_id: String,
    pub user_defined_ids: Vec<String>,
    pub authorized_accounts: Vec<String>,
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim().to_owned()
}

/// Trimmed, non-empty, de-duplicated entries.
fn cleaned(items: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items.iter().map(|item| item.trim()) {
        if !item.is_empty() && !out.iter().any(|known| known == item) {
            out.push(item.to_owned());
        }
    }
    out
}

impl Host {
    /// The host as a full heartbeat describes it.
    pub fn from_request(request: &HeartbeatRequest, attributes: &AgentAttributes) -> Self {
        Self {
            ip: text(&attributes.ip),
            hostname: text(&attributes.hostname),
            host_id: text(&attributes.hostid),
            user_defined_ids: cleaned(&request.user_defined_ids),
            authorized_accounts: cleaned(&request.authorized_accounts),
        }
    }

    /// The host as the server kept it.
    pub fn from_record(record: &AgentRecord) -> Self {
        Self {
            ip: record.ip.clone(),
            hostname: record.hostname.clone(),
            host_id: record.host_id.clone(),
            user_defined_ids: record.user_defined_ids.clone(),
            authorized_accounts: record.authorized_accounts.clone(),
        }
    }

    /// The host's key among a group's machines: its host id, else its IP.
    pub fn machine_key(&self) -> &str {
        if self.host_id.is_empty() {
            &self.ip
        } else {
            &self.host_id
        }
    }

    /// Whether the host has `users/<account>`.
    pub fn authorizes(&self, account: AccountId) -> bool {
        let account = account.to_string();
        self.authorized_accounts.contains(&account)
    }
}

/// Why a candidate group does not take the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Refusal {
    /// The group's account does not trust the agent's.
    pub untrusted: bool,
    /// The host has no `users/<owner>` file.
    pub unauthorised: bool,
}

impl Refusal {
    /// The reason shown on the machine (to the group's owner) and to the agent.
    pub fn reason(self, owner: AccountId, agent: AccountId) -> String {
        let mut reasons = Vec::new();
        if self.untrusted {
            reasons.push(format!(
                "the agent's account {agent} is not trusted by this group"
            ));
        }
        if self.unauthorised {
            reasons.push(format!("the host has no users/{owner} file"));
        }
        reasons.join("; ")
    }
}

/// The rules of the module documentation, for one candidate group of `owner`.
pub(super) fn judge(
    owner: AccountId,
    attribute: &GroupAttribute,
    agent: AccountId,
    host_authorizes_owner: bool,
    same_directory: bool,
) -> Result<(), Refusal> {
    let trusted = agent == owner
        || attribute.trusted_accounts.contains(&agent)
        || (attribute.trust_directory && same_directory);
    if trusted && host_authorizes_owner {
        Ok(())
    } else {
        Err(Refusal {
            untrusted: !trusted,
            unauthorised: !host_authorizes_owner,
        })
    }
}

/// A config the host should run.
#[derive(Debug, Clone)]
pub(super) struct Delivery {
    pub owner: AccountId,
    pub config: PipelineConfigRecord,
    pub target: Option<(ProjectName, LogstoreName)>,
}

/// The name an agent knows a config by: `<account>/<project>/<config>`.
pub(super) fn agent_config_name(owner: AccountId, project: &ProjectName, config: &str) -> String {
    format!("{owner}/{project}/{config}")
}

/// A candidate group and whether the host joined it.
#[derive(Debug, Clone)]
pub(super) struct Candidate {
    pub candidate: CandidateGroup,
    pub verdict: Result<(), Refusal>,
}

/// The outcome of matching a host against every machine group.
#[derive(Debug, Clone, Default)]
pub(super) struct Assessment {
    pub candidates: Vec<Candidate>,
    /// By agent config name.
    pub desired: BTreeMap<String, Delivery>,
}

impl Assessment {
    /// Machine rows for every candidate group, as of `now`.
    pub fn machines(
        &self,
        host: &Host,
        instance_id: &str,
        agent: AccountId,
        now: i64,
    ) -> Vec<MachineRecord> {
        self.candidates
            .iter()
            .map(|candidate| {
                let group = &candidate.candidate.group;
                let user_defined_id = match group.machine_identify_type {
                    MachineIdentifyType::Ip => String::new(),
                    MachineIdentifyType::UserDefined => host
                        .user_defined_ids
                        .iter()
                        .find(|id| group.machine_list.contains(id))
                        .cloned()
                        .unwrap_or_default(),
                };
                let (status, reason) = match candidate.verdict {
                    Ok(()) => (MachineStatus::Ok, String::new()),
                    Err(refusal) => (
                        MachineStatus::Fail,
                        refusal.reason(candidate.candidate.owner, agent),
                    ),
                };
                MachineRecord {
                    project: group.project.clone(),
                    group: group.name.clone(),
                    machine_key: host.machine_key().to_owned(),
                    ip: host.ip.clone(),
                    hostname: host.hostname.clone(),
                    host_id: host.host_id.clone(),
                    user_defined_id,
                    instance_id: instance_id.to_owned(),
                    agent_account: agent,
                    status,
                    reason,
                    last_heartbeat_time: now,
                }
            })
            .collect()
    }

    /// What the agent is told about each candidate group. A group whose account does not
    /// trust the agent's is named only by its account.
    pub fn memberships(&self, agent: AccountId) -> Vec<GroupMembership> {
        self.candidates
            .iter()
            .map(|candidate| {
                let owner = candidate.candidate.owner;
                let group = &candidate.candidate.group;
                let (visible, ok, reason) = match candidate.verdict {
                    Ok(()) => (true, true, String::new()),
                    Err(refusal) => (!refusal.untrusted, false, refusal.reason(owner, agent)),
                };
                GroupMembership {
                    account: owner.to_string(),
                    project: if visible {
                        group.project.to_string()
                    } else {
                        String::new()
                    },
                    group: if visible {
                        group.name.clone()
                    } else {
                        String::new()
                    },
                    ok,
                    reason,
                }
            })
            .collect()
    }
}

/// Matches `host`, run by an agent of `agent`, against every machine group, and collects the
/// configs applied to the groups it joins.
pub(super) async fn assess(
    state: &ServerState,
    agent: AccountId,
    host: &Host,
) -> Result<Assessment, ApiError> {
    let groups = state
        .meta
        .candidate_groups(&host.ip, &host.user_defined_ids)
        .await?;
    let agent_directory = match groups.iter().any(|c| c.group.attribute.trust_directory) {
        true => state.directory.directory_of(agent).await?,
        false => None,
    };
    let mut directories: HashMap<AccountId, Option<String>> = HashMap::new();
    let mut assessment = Assessment::default();
    for candidate in groups {
        let owner = candidate.owner;
        let attribute = &candidate.group.attribute;
        let same_directory = match (&agent_directory, attribute.trust_directory) {
            (Some(agent_directory), true) => {
                let owner_directory = match directories.get(&owner) {
                    Some(known) => known.clone(),
                    None => {
                        let found = state.directory.directory_of(owner).await?;
                        let found = found.map(|directory| directory.directory_id);
                        directories.insert(owner, found.clone());
                        found
                    }
                };
                owner_directory.as_ref() == Some(&agent_directory.directory_id)
            }
            _ => false,
        };
        let verdict = judge(
            owner,
            attribute,
            agent,
            host.authorizes(owner),
            same_directory,
        );
        if verdict.is_ok() {
            let group = &candidate.group;
            for config in state
                .meta
                .configs_applied_to(&group.project, &group.name)
                .await?
            {
                let name = agent_config_name(owner, &config.project, &config.name);
                let target = flusher_target(&config.detail);
                assessment.desired.entry(name).or_insert(Delivery {
                    owner,
                    config,
                    target,
                });
            }
        }
        assessment.candidates.push(Candidate { candidate, verdict });
    }
    Ok(assessment)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(n: u64) -> AccountId {
        AccountId::from_u64(1_000_000_000_000_000 + n).expect("account")
    }

    #[test]
    fn a_host_joins_only_an_authorised_and_trusting_group() {
        let (owner, other) = (account(1), account(2));
        let plain = GroupAttribute::default();
        assert_eq!(judge(owner, &plain, owner, true, false), Ok(()));
        let no_file = judge(owner, &plain, owner, false, false).expect_err("no file");
        assert_eq!(
            no_file.reason(owner, owner),
            "the host has no users/1000000000000001 file"
        );
        let untrusted = judge(owner, &plain, other, true, true).expect_err("untrusted");
        assert_eq!(
            untrusted.reason(owner, other),
            "the agent's account 1000000000000002 is not trusted by this group"
        );
        let both = judge(owner, &plain, other, false, false).expect_err("both");
        assert!(both.untrusted && both.unauthorised);

        let listed = GroupAttribute {
            trusted_accounts: vec![other],
            ..GroupAttribute::default()
        };
        assert_eq!(judge(owner, &listed, other, true, false), Ok(()));
        assert!(judge(owner, &listed, account(3), true, false).is_err());
        let directory = GroupAttribute {
            trust_directory: true,
            ..GroupAttribute::default()
        };
        assert_eq!(judge(owner, &directory, other, true, true), Ok(()));
        assert!(judge(owner, &directory, other, true, false).is_err());
    }

    #[test]
    fn hosts_are_keyed_by_host_id_then_ip_and_ids_are_cleaned() {
        let request = HeartbeatRequest {
            user_defined_ids: vec![" web ".into(), "".into(), "web".into(), "eu".into()],
            authorized_accounts: vec![account(1).to_string()],
            ..HeartbeatRequest::default()
        };
        let attributes = AgentAttributes {
            ip: b"10.0.0.7".to_vec(),
            ..AgentAttributes::default()
        };
        let host = Host::from_request(&request, &attributes);
        assert_eq!(host.user_defined_ids, ["web", "eu"]);
        assert_eq!(host.machine_key(), "10.0.0.7");
        assert!(host.authorizes(account(1)));
        assert!(!host.authorizes(account(2)));
        let with_id = Host {
            host_id: "b1946ac9".into(),
            ..host
        };
        assert_eq!(with_id.machine_key(), "b1946ac9");
        assert_eq!(
            agent_config_name(account(1), &ProjectName::parse("web").expect("p"), "nginx"),
            "1000000000000001/web/nginx"
        );
    }
}
