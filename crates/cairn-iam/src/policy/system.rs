//! [`SystemPolicy`]: the policies built into Cairn, the same in every account.
//!
//! | name | grants |
//! |---|---|
//! | `AdministratorAccess` | every action on every resource of the account |
//! | `AliyunLogFullAccess` | every `log:` action |
//! | `AliyunLogReadOnlyAccess` | `log:Get*`, `log:List*`, `log:Pull*` |
//! | `CairnSystemAdministrator` | every `log:` action (projects, logstores, indexes, machine groups, ETL/copy jobs), but explicitly **not** `ram:*`, `trail:*`, nor any action on audit resources |
//! | `CairnSecurityAdministrator` | `ram:*` and `sts:*` (users, keys, policies, roles); nothing on `log:` |
//! | `CairnAuditAdministrator` | `log:Get*`, `log:List*`, `log:Pull*` on audit resources, and `trail:Get*`, `trail:List*`, `trail:LookupEvents`; nothing else |
//!
//! The last three implement separation of duties (MLPS 2.0, GB/T 22239-2019 8.1.5.2: system,
//! audit and security administrators): the system administrator runs the platform but can
//! neither read nor alter the audit record nor grant itself permissions; the audit
//! administrator reads the audit record and changes nothing; the security administrator
//! manages identities and permissions and reads no logs. Explicit denies make the system
//! administrator's limits hold even when another policy is attached too.
//!
//! **Audit resources**, by naming convention (enforced here; trail delivery and log audit create
//! their stores under these names):
//! - logstores whose name starts with `actiontrail_` (trail deliveries) or `audit_` (log audit
//!   central stores), in any project: `acs:log:*:*:project/*/logstore/actiontrail_*`,
//!   `acs:log:*:*:project/*/logstore/audit_*`;
//! - projects whose name starts with `audit-`, and everything in them:
//!   `acs:log:*:*:project/audit-*`.

use std::sync::OnceLock;

use cairn_model::PolicyName;

use super::PolicyDocument;

/// ARN patterns of audit resources (see the module documentation).
pub const AUDIT_RESOURCE_PATTERNS: [&str; 3] = [
    "acs:log:*:*:project/*/logstore/actiontrail_*",
    "acs:log:*:*:project/*/logstore/audit_*",
    "acs:log:*:*:project/audit-*",
];

/// A built-in policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SystemPolicy {
    /// Everything.
    AdministratorAccess,
    /// Every log action.
    AliyunLogFullAccess,
    /// Read-only log access.
    AliyunLogReadOnlyAccess,
    /// Runs the platform; no RAM, no trails, no audit resources.
    CairnSystemAdministrator,
    /// Manages identities and permissions; no logs.
    CairnSecurityAdministrator,
    /// Reads audit resources and trails; nothing else.
    CairnAuditAdministrator,
}

impl SystemPolicy {
    /// Every system policy, in listing order.
    pub const ALL: [SystemPolicy; 6] = [
        SystemPolicy::AdministratorAccess,
        SystemPolicy::AliyunLogFullAccess,
        SystemPolicy::AliyunLogReadOnlyAccess,
        SystemPolicy::CairnSystemAdministrator,
        SystemPolicy::CairnSecurityAdministrator,
        SystemPolicy::CairnAuditAdministrator,
    ];

    /// The policy's name, as attached and listed.
    pub fn name(self) -> &'static str {
        match self {
            SystemPolicy::AdministratorAccess => "AdministratorAccess",
            SystemPolicy::AliyunLogFullAccess => "AliyunLogFullAccess",
            SystemPolicy::AliyunLogReadOnlyAccess => "AliyunLogReadOnlyAccess",
            SystemPolicy::CairnSystemAdministrator => "CairnSystemAdministrator",
            SystemPolicy::CairnSecurityAdministrator => "CairnSecurityAdministrator",
            SystemPolicy::CairnAuditAdministrator => "CairnAuditAdministrator",
        }
    }

    /// The policy's name as a validated [`PolicyName`].
    pub fn policy_name(self) -> PolicyName {
        PolicyName::parse(self.name()).unwrap_or_else(|_| unreachable!("system names are valid"))
    }

    /// The system policy of this name (exact, case-sensitive), if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|policy| policy.name() == name)
    }

    /// What the policy is for, in one sentence.
    pub fn description(self) -> &'static str {
        match self {
            SystemPolicy::AdministratorAccess => "Full access to every resource of the account.",
            SystemPolicy::AliyunLogFullAccess => "Full access to the log service.",
            SystemPolicy::AliyunLogReadOnlyAccess => "Read-only access to the log service.",
            SystemPolicy::CairnSystemAdministrator => {
                "System administrator: manages projects, logstores and jobs; cannot manage \
                 identities or permissions, nor read or change audit logstores and trails."
            }
            SystemPolicy::CairnSecurityAdministrator => {
                "Security administrator: manages users, AccessKeys, policies and roles; cannot \
                 read logs."
            }
            SystemPolicy::CairnAuditAdministrator => {
                "Audit administrator: reads audit logstores and trails; cannot change anything."
            }
        }
    }

    /// The policy document as JSON text.
    pub fn document_text(self) -> &'static str {
        match self {
            SystemPolicy::AdministratorAccess => {
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#
            }
            SystemPolicy::AliyunLogFullAccess => {
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"log:*","Resource":"*"}]}"#
            }
            SystemPolicy::AliyunLogReadOnlyAccess => {
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["log:Get*","log:List*","log:Pull*"],"Resource":"*"}]}"#
            }
            SystemPolicy::CairnSystemAdministrator => {
                r#"{"Version":"1","Statement":[
                    {"Effect":"Allow","Action":"log:*","Resource":"*"},
                    {"Effect":"Deny","Action":["ram:*","trail:*"],"Resource":"*"},
                    {"Effect":"Deny","Action":"log:*","Resource":[
                        "acs:log:*:*:project/*/logstore/actiontrail_*",
                        "acs:log:*:*:project/*/logstore/audit_*",
                        "acs:log:*:*:project/audit-*"]}]}"#
            }
            SystemPolicy::CairnSecurityAdministrator => {
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["ram:*","sts:*"],"Resource":"*"}]}"#
            }
            SystemPolicy::CairnAuditAdministrator => {
                r#"{"Version":"1","Statement":[
                    {"Effect":"Allow","Action":["log:Get*","log:List*","log:Pull*"],"Resource":[
                        "acs:log:*:*:project/*/logstore/actiontrail_*",
                        "acs:log:*:*:project/*/logstore/audit_*",
                        "acs:log:*:*:project/audit-*"]},
                    {"Effect":"Allow","Action":["trail:Get*","trail:List*","trail:LookupEvents"],"Resource":"*"}]}"#
            }
        }
    }

    /// The parsed policy document (parsed once per process).
    pub fn document(self) -> &'static PolicyDocument {
        static DOCUMENTS: OnceLock<Vec<PolicyDocument>> = OnceLock::new();
        let documents = DOCUMENTS.get_or_init(|| {
            Self::ALL
                .iter()
                .map(|policy| {
                    PolicyDocument::parse(policy.document_text()).unwrap_or_else(|err| {
                        unreachable!("system policy {} is invalid: {err}", policy.name())
                    })
                })
                .collect()
        });
        &documents[self as usize]
    }
}

impl std::fmt::Display for SystemPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
