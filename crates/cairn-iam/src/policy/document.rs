//! [`PolicyDocument`]: a permission policy in RAM's JSON form, parsed, validated and ready to
//! evaluate.
//!
//! ```json
//! {"Version": "1",
//!  "Statement": [{"Effect": "Allow" | "Deny",
//!                 "Action": "log:Get*" | ["log:Get*", ...],
//!                 "Resource": "acs:log:*:*:project/web/*" | [...],
//!                 "Condition": {"IpAddress": {"acs:SourceIp": ["10.0.0.0/8"]}}}]}
//! ```
//!
//! Reading a document is two steps: serde parses the JSON into its raw shape (unknown fields
//! are refused, so a `NotAction` is an error, not silently ignored), then [`validate`] checks
//! what serde cannot: the version, the effects, non-empty action and resource lists of
//! well-formed names, the condition operators, keys and CIDRs, and the size limit. A
//! `PolicyDocument` value is therefore always valid, and serialises back to the JSON it came
//! from (modulo whitespace and key order).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::condition::{Condition, RawCondition, RequestContext};
use super::pattern::{action_matches, resource_matches};
use super::raw::{Statements, StringList};
use super::Decision;
use crate::IamError;

/// Longest policy document accepted, in bytes (RAM's limit).
pub const MAX_POLICY_BYTES: usize = 6144;

/// Longest session policy, in bytes. Session policies are written by Cairn itself (an agent's
/// write token lists every logstore it may write, one ARN each), so they get more room than
/// the documents people write.
pub const MAX_SESSION_POLICY_BYTES: usize = 256 * 1024;

/// Longest action or resource pattern, in bytes.
const MAX_PATTERN_BYTES: usize = 512;

/// A permission statement's effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    /// The statement grants the actions.
    Allow,
    /// The statement forbids the actions, whatever else allows them.
    Deny,
}

/// The raw JSON shape of a permission statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStatement {
    #[serde(rename = "Sid", default, skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
    #[serde(rename = "Effect", default, skip_serializing_if = "Option::is_none")]
    effect: Option<String>,
    #[serde(rename = "Action", default, skip_serializing_if = "Option::is_none")]
    action: Option<StringList>,
    #[serde(rename = "Resource", default, skip_serializing_if = "Option::is_none")]
    resource: Option<StringList>,
    #[serde(rename = "Condition", default, skip_serializing_if = "Option::is_none")]
    condition: Option<RawCondition>,
}

/// The raw JSON shape of a permission policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPolicy {
    #[serde(rename = "Version", default, skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(rename = "Statement", default, skip_serializing_if = "Option::is_none")]
    statement: Option<Statements<RawStatement>>,
}

/// One validated statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// Allow or deny.
    pub effect: Effect,
    actions: Vec<String>,
    resources: Vec<String>,
    condition: Condition,
}

impl Statement {
    /// Whether the statement speaks about this request: an action pattern matches (ignoring
    /// case), a resource pattern matches (case-sensitively), and the condition holds.
    pub fn applies(&self, action: &str, resource: &str, context: &RequestContext<'_>) -> bool {
        self.actions.iter().any(|p| action_matches(p, action))
            && self.resources.iter().any(|p| resource_matches(p, resource))
            && self.condition.holds(context)
    }
}

/// A parsed and validated permission policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDocument {
    raw: RawPolicyText,
    statements: Vec<Statement>,
}

/// The raw form kept for serialisation, compared by its JSON text.
#[derive(Debug, Clone)]
struct RawPolicyText(RawPolicy);

impl PartialEq for RawPolicyText {
    fn eq(&self, other: &Self) -> bool {
        serde_json::to_value(&self.0).ok() == serde_json::to_value(&other.0).ok()
    }
}

impl Eq for RawPolicyText {}

fn invalid(reason: impl Into<String>) -> IamError {
    IamError::InvalidPolicy {
        reason: reason.into(),
    }
}

impl PolicyDocument {
    /// Parses and validates a policy document. Anything wrong is [`IamError::InvalidPolicy`]
    /// with a reason a policy author can act on.
    pub fn parse(text: &str) -> Result<Self, IamError> {
        Self::parse_with_limit(text, MAX_POLICY_BYTES)
    }

    /// Parses and validates a session policy: the same language, up to
    /// [`MAX_SESSION_POLICY_BYTES`].
    pub fn parse_session_policy(text: &str) -> Result<Self, IamError> {
        Self::parse_with_limit(text, MAX_SESSION_POLICY_BYTES)
    }

    fn parse_with_limit(text: &str, limit: usize) -> Result<Self, IamError> {
        if text.len() > limit {
            return Err(invalid(format!(
                "the document is {} bytes; the limit is {limit}",
                text.len()
            )));
        }
        let raw: RawPolicy = serde_json::from_str(text)
            .map_err(|err| invalid(format!("not a valid policy document: {err}")))?;
        validate(raw, limit)
    }

    /// The statements, in document order.
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    /// The document as compact JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.raw.0).unwrap_or_else(|_| String::from("{}"))
    }

    /// This document's verdict on one request: `ExplicitDeny` if a `Deny` statement applies,
    /// else `Allow` if an `Allow` statement applies, else `ImplicitDeny`.
    pub fn evaluate(&self, action: &str, resource: &str, context: &RequestContext<'_>) -> Decision {
        let mut decision = Decision::ImplicitDeny;
        for statement in &self.statements {
            if statement.applies(action, resource, context) {
                match statement.effect {
                    Effect::Deny => return Decision::ExplicitDeny,
                    Effect::Allow => decision = Decision::Allow,
                }
            }
        }
        decision
    }
}

/// Checks everything about a raw policy that serde does not; `limit` bounds its compact size.
pub(crate) fn validate(raw: RawPolicy, limit: usize) -> Result<PolicyDocument, IamError> {
    let compact = serde_json::to_string(&raw).map_err(|err| invalid(err.to_string()))?;
    if compact.len() > limit {
        return Err(invalid(format!(
            "the document is {} bytes without whitespace; the limit is {limit}",
            compact.len()
        )));
    }
    check_version(raw.version.as_deref())?;
    let raw_statements = match &raw.statement {
        Some(statements) if !statements.0.is_empty() => &statements.0,
        _ => return Err(invalid("Statement must hold at least one statement")),
    };
    let mut statements = Vec::with_capacity(raw_statements.len());
    for (index, statement) in raw_statements.iter().enumerate() {
        let at = |reason: String| invalid(format!("statement {}: {reason}", index + 1));
        statements.push(Statement {
            effect: parse_effect(statement.effect.as_deref()).map_err(at)?,
            actions: check_actions(statement.action.as_ref()).map_err(at)?,
            resources: check_resources(statement.resource.as_ref()).map_err(at)?,
            condition: match &statement.condition {
                Some(condition) => Condition::validate(condition).map_err(at)?,
                None => Condition::default(),
            },
        });
    }
    Ok(PolicyDocument {
        raw: RawPolicyText(raw),
        statements,
    })
}

/// `Version` must be `"1"`, the only version RAM defines.
pub(crate) fn check_version(version: Option<&str>) -> Result<(), IamError> {
    match version {
        Some("1") => Ok(()),
        Some(other) => Err(invalid(format!(
            "Version {other:?} is not supported; use \"1\""
        ))),
        None => Err(invalid("Version is required; use \"1\"")),
    }
}

/// `Effect` must be `Allow` or `Deny`.
pub(crate) fn parse_effect(effect: Option<&str>) -> Result<Effect, String> {
    match effect {
        Some("Allow") => Ok(Effect::Allow),
        Some("Deny") => Ok(Effect::Deny),
        Some(other) => Err(format!(
            "Effect {other:?} is neither \"Allow\" nor \"Deny\""
        )),
        None => Err("Effect is required (\"Allow\" or \"Deny\")".to_owned()),
    }
}

fn check_pattern_text(what: &str, text: &str) -> Result<(), String> {
    if text.is_empty() {
        return Err(format!("an empty {what}"));
    }
    if text.len() > MAX_PATTERN_BYTES {
        return Err(format!("a {what} longer than {MAX_PATTERN_BYTES} bytes"));
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{what} {text:?} contains whitespace"));
    }
    Ok(())
}

/// Actions: a non-empty list of `*` or `<service>:<action>` patterns.
pub(crate) fn check_actions(actions: Option<&StringList>) -> Result<Vec<String>, String> {
    let actions = non_empty("Action", actions)?;
    for action in &actions {
        check_pattern_text("action", action)?;
        let well_formed = action == "*"
            || action
                .split_once(':')
                .is_some_and(|(service, name)| !service.is_empty() && !name.is_empty());
        if !well_formed {
            return Err(format!(
                "action {action:?} is not of the form service:Action (e.g. log:GetLogStoreLogs) or *"
            ));
        }
    }
    Ok(actions)
}

/// Resources: a non-empty list of `*` or `acs:...` ARN patterns.
fn check_resources(resources: Option<&StringList>) -> Result<Vec<String>, String> {
    let resources = non_empty("Resource", resources)?;
    for resource in &resources {
        check_pattern_text("resource", resource)?;
        if resource != "*" && !resource.starts_with("acs:") {
            return Err(format!(
                "resource {resource:?} is neither * nor an ARN (acs:<service>:<region>:<account>:<path>)"
            ));
        }
    }
    Ok(resources)
}

fn non_empty(field: &str, list: Option<&StringList>) -> Result<Vec<String>, String> {
    match list {
        Some(list) if !list.0.is_empty() => Ok(list.0.clone()),
        Some(_) => Err(format!("{field} is an empty list")),
        None => Err(format!("{field} is required")),
    }
}

impl Serialize for PolicyDocument {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.raw.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for PolicyDocument {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawPolicy::deserialize(deserializer)?;
        validate(raw, MAX_POLICY_BYTES).map_err(serde::de::Error::custom)
    }
}
