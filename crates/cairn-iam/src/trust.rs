//! [`TrustPolicy`]: who may assume a role.
//!
//! ```json
//! {"Version": "1",
//!  "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
//!                 "Principal": {"RAM": ["acs:ram::1234567890123456:root"],
//!                               "Service": ["trail.cairn"]},
//!                 "Condition": {"StringEquals": {"sts:ExternalId": "abc"}}}]}
//! ```
//!
//! Principals: `acs:ram::<account>:root` trusts the account — any of its identities (root,
//! users, role sessions) whose own policies let it call `sts:AssumeRole` on the role;
//! `acs:ram::<account>:user/<name>` one user; `acs:ram::<account>:role/<name>` the sessions of
//! one role; `Service` entries (`<service>.cairn`) one of Cairn's own services. There are no
//! wildcards among principals: trust is always spelled out. Conditions are those of
//! permission policies, with `sts:ExternalId` set from the AssumeRole request (the defence
//! against confused deputies: a third party's role is assumed only by whoever knows the id).
//!
//! A statement trusts a caller when its action matches `sts:AssumeRole`, a principal matches
//! the caller, and its condition holds; a matching `Deny` beats any `Allow`.

use cairn_model::{AccountId, ResourceArn, RoleName, UserName};
use serde::{Deserialize, Serialize};

use crate::policy::condition::{Condition, ConditionKey, RawCondition, RequestContext};
use crate::policy::pattern::action_matches;
use crate::policy::{
    check_actions, check_version, parse_effect, Effect, Statements, StringList, MAX_POLICY_BYTES,
};
use crate::{IamError, Principal, PrincipalIdentity};

/// The suffix of service principals: `trail.cairn`, `audit.cairn`.
pub const SERVICE_PRINCIPAL_SUFFIX: &str = ".cairn";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrincipal {
    #[serde(rename = "RAM", default, skip_serializing_if = "Option::is_none")]
    ram: Option<StringList>,
    #[serde(rename = "Service", default, skip_serializing_if = "Option::is_none")]
    service: Option<StringList>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrustStatement {
    #[serde(rename = "Sid", default, skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
    #[serde(rename = "Effect", default, skip_serializing_if = "Option::is_none")]
    effect: Option<String>,
    #[serde(rename = "Action", default, skip_serializing_if = "Option::is_none")]
    action: Option<StringList>,
    #[serde(rename = "Principal", default, skip_serializing_if = "Option::is_none")]
    principal: Option<RawPrincipal>,
    #[serde(rename = "Condition", default, skip_serializing_if = "Option::is_none")]
    condition: Option<RawCondition>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrustPolicy {
    #[serde(rename = "Version", default, skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(rename = "Statement", default, skip_serializing_if = "Option::is_none")]
    statement: Option<Statements<RawTrustStatement>>,
}

/// One trusted principal.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Trusted {
    Account(AccountId),
    User(AccountId, UserName),
    Role(AccountId, RoleName),
    Service(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct TrustStatement {
    effect: Effect,
    actions: Vec<String>,
    principals: Vec<Trusted>,
    condition: Condition,
}

/// Who asks to assume a role.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    /// A principal of some account (root, user or role session).
    Principal(&'a Principal),
    /// One of Cairn's services, by its principal name (`trail.cairn`).
    Service(&'a str),
}

impl Caller<'_> {
    fn is(&self, trusted: &Trusted) -> bool {
        match (self, trusted) {
            (Caller::Service(name), Trusted::Service(service)) => name == service,
            (Caller::Principal(principal), Trusted::Account(account)) => {
                principal.account == *account
            }
            (Caller::Principal(principal), Trusted::User(account, user)) => {
                principal.account == *account
                    && principal.identity == PrincipalIdentity::User(user.clone())
            }
            (Caller::Principal(principal), Trusted::Role(account, role)) => {
                principal.account == *account
                    && matches!(&principal.identity,
                        PrincipalIdentity::RoleSession { role: own, .. } if own == role)
            }
            _ => false,
        }
    }

    /// The caller as named in refusals.
    pub fn describe(&self) -> String {
        match self {
            Caller::Service(name) => format!("service {name}"),
            Caller::Principal(principal) => match &principal.identity {
                PrincipalIdentity::Root => format!("acs:ram::{}:root", principal.account),
                PrincipalIdentity::User(user) => {
                    format!("acs:ram::{}:user/{user}", principal.account)
                }
                PrincipalIdentity::RoleSession {
                    role, session_name, ..
                } => format!(
                    "acs:ram::{}:assumed-role/{role}/{session_name}",
                    principal.account
                ),
            },
        }
    }
}

/// A parsed and validated trust policy.
#[derive(Debug, Clone, PartialEq)]
pub struct TrustPolicy {
    raw: RawTrustPolicy,
    statements: Vec<TrustStatement>,
}

fn invalid(reason: impl Into<String>) -> IamError {
    IamError::InvalidPolicy {
        reason: reason.into(),
    }
}

impl TrustPolicy {
    /// Parses and validates a trust policy ([`IamError::InvalidPolicy`] if anything is wrong).
    pub fn parse(text: &str) -> Result<Self, IamError> {
        if text.len() > MAX_POLICY_BYTES {
            return Err(invalid(format!(
                "the trust policy is {} bytes; the limit is {MAX_POLICY_BYTES}",
                text.len()
            )));
        }
        let raw: RawTrustPolicy = serde_json::from_str(text)
            .map_err(|err| invalid(format!("not a valid trust policy: {err}")))?;
        check_version(raw.version.as_deref())?;
        let raw_statements = match &raw.statement {
            Some(statements) if !statements.0.is_empty() => &statements.0,
            _ => return Err(invalid("Statement must hold at least one statement")),
        };
        let mut statements = Vec::with_capacity(raw_statements.len());
        for (index, statement) in raw_statements.iter().enumerate() {
            let at = |reason: String| invalid(format!("statement {}: {reason}", index + 1));
            statements.push(TrustStatement {
                effect: parse_effect(statement.effect.as_deref()).map_err(at)?,
                actions: check_actions(statement.action.as_ref()).map_err(at)?,
                principals: parse_principals(statement.principal.as_ref()).map_err(at)?,
                condition: match &statement.condition {
                    Some(condition) => Condition::validate(condition).map_err(at)?,
                    None => Condition::default(),
                },
            });
        }
        Ok(Self { raw, statements })
    }

    /// A trust policy that lets exactly one service assume the role.
    pub fn for_service(service_principal: &str) -> String {
        serde_json::json!({
            "Version": "1",
            "Statement": [{
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"Service": [service_principal]},
            }],
        })
        .to_string()
    }

    /// The policy as compact JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.raw).unwrap_or_else(|_| String::from("{}"))
    }

    /// Whether the policy lets `caller` assume the role `role`; the error explains a refusal.
    pub fn check(
        &self,
        role: &ResourceArn,
        caller: Caller<'_>,
        context: &RequestContext<'_>,
    ) -> Result<(), IamError> {
        let mut allowed = false;
        let mut external_id_failed = false;
        let mut condition_failed = false;
        for statement in &self.statements {
            let speaks_to_caller = statement
                .actions
                .iter()
                .any(|pattern| action_matches(pattern, "sts:AssumeRole"))
                && statement
                    .principals
                    .iter()
                    .any(|trusted| caller.is(trusted));
            if !speaks_to_caller {
                continue;
            }
            let holds = statement.condition.holds(context);
            match (statement.effect, holds) {
                (Effect::Deny, true) => {
                    return Err(denied(role, "the role's trust policy denies this caller"))
                }
                (Effect::Allow, true) => allowed = true,
                (Effect::Allow, false) => {
                    if statement.condition.tests_key(ConditionKey::ExternalId) {
                        external_id_failed = true;
                    } else {
                        condition_failed = true;
                    }
                }
                (Effect::Deny, false) => {}
            }
        }
        if allowed {
            return Ok(());
        }
        let reason = if external_id_failed && context.external_id.is_none() {
            "the role's trust policy requires an ExternalId; pass the one the role's owner gave you"
                .to_owned()
        } else if external_id_failed {
            "the ExternalId does not match the one the role's trust policy requires".to_owned()
        } else if condition_failed {
            "a condition of the role's trust policy does not hold for this request (e.g. the source address)"
                .to_owned()
        } else {
            format!(
                "the role's trust policy does not trust {}",
                caller.describe()
            )
        };
        Err(denied(role, &reason))
    }
}

fn denied(role: &ResourceArn, reason: &str) -> IamError {
    IamError::AssumeRoleDenied {
        role: role.to_string(),
        reason: reason.to_owned(),
    }
}

fn parse_principals(raw: Option<&RawPrincipal>) -> Result<Vec<Trusted>, String> {
    let raw = raw.ok_or("Principal is required (RAM and/or Service)")?;
    let mut principals = Vec::new();
    for entry in raw.ram.iter().flat_map(|list| list.0.iter()) {
        principals.push(parse_ram_principal(entry)?);
    }
    for entry in raw.service.iter().flat_map(|list| list.0.iter()) {
        let name = entry.strip_suffix(SERVICE_PRINCIPAL_SUFFIX).unwrap_or("");
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid {
            return Err(format!(
                "service principal {entry:?} is not of the form <service>{SERVICE_PRINCIPAL_SUFFIX}"
            ));
        }
        principals.push(Trusted::Service(entry.clone()));
    }
    if principals.is_empty() {
        return Err("Principal names nobody (give RAM and/or Service entries)".to_owned());
    }
    Ok(principals)
}

fn parse_ram_principal(entry: &str) -> Result<Trusted, String> {
    let bad = || {
        format!(
            "RAM principal {entry:?} is not acs:ram::<account>:root, \
             acs:ram::<account>:user/<name> or acs:ram::<account>:role/<name>"
        )
    };
    let arn = ResourceArn::parse(entry).map_err(|_| bad())?;
    if arn.service != "ram" || !arn.region.is_empty() {
        return Err(bad());
    }
    if arn.resource == "root" {
        return Ok(Trusted::Account(arn.account));
    }
    if let Some(user) = arn.resource.strip_prefix("user/") {
        let user = UserName::parse(user).map_err(|err| format!("{}: {err}", bad()))?;
        return Ok(Trusted::User(arn.account, user));
    }
    if let Some(role) = arn.resource.strip_prefix("role/") {
        let role = RoleName::parse(role).map_err(|err| format!("{}: {err}", bad()))?;
        return Ok(Trusted::Role(arn.account, role));
    }
    Err(bad())
}
