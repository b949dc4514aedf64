//! Authorisation: the single place where Cairn decides whether a principal may perform an
//! action on a resource, and the policy language it decides with.
//!
//! - [`PolicyDocument`]: RAM's JSON policies (`Version`, `Statement` of `Effect`, `Action`,
//!   `Resource`, optional `Condition`), with `*`/`?` wildcards — actions match ignoring case,
//!   resources case-sensitively ([`pattern`]); conditions in [`condition`].
//! - [`SystemPolicy`]: the built-in policies, including the separation-of-duties trio and the
//!   naming convention for audit resources.
//! - [`authorize`]: the decision.
//!
//! The decision for a request, in order:
//! 1. the account boundary: the resource must belong to the principal's account (for an
//!    assumed-role session, the role's account). Cross-account access therefore exists only
//!    through assuming a role of the other account;
//! 2. the account's root is allowed everything inside its account;
//! 3. users and role sessions are judged by their identity policies (the policies attached to
//!    the user, or to the role): an explicit deny beats any allow, an allow beats the implicit
//!    deny that holds when nothing applies. A user with no policies may do nothing.
//!
//! Condition keys come from the principal: `acs:SourceIp` from its source address (a principal
//! without one fails every `IpAddress` condition) and `acs:AccessKeyId` from its key.

pub mod condition;
mod document;
pub mod pattern;
mod raw;
mod system;

#[cfg(test)]
mod session_tests;
#[cfg(test)]
mod tests;

use cairn_model::ResourceArn;

pub use condition::RequestContext;
pub(crate) use document::{check_actions, check_version, parse_effect};
pub use document::{Effect, PolicyDocument, Statement, MAX_POLICY_BYTES, MAX_SESSION_POLICY_BYTES};
pub(crate) use raw::{Statements, StringList};
pub use system::{SystemPolicy, AUDIT_RESOURCE_PATTERNS};

use crate::{IamError, Principal, PrincipalIdentity};

/// The outcome of evaluating one rule, or of combining all of them. Variants are declared in
/// ascending precedence, so `Ord` is the combination order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Decision {
    /// Nothing allows the request (the default).
    ImplicitDeny,
    /// A rule allows the request.
    Allow,
    /// A rule explicitly denies the request; nothing can override it.
    ExplicitDeny,
}

impl Decision {
    /// Whether the request may proceed.
    pub fn is_allowed(self) -> bool {
        self == Decision::Allow
    }
}

/// Combines rule outcomes: explicit deny > allow > implicit deny. No outcome at all is an
/// implicit deny.
pub fn combine(decisions: impl IntoIterator<Item = Decision>) -> Decision {
    decisions
        .into_iter()
        .max()
        .unwrap_or(Decision::ImplicitDeny)
}

/// The combined verdict of a set of policies on one request, ignoring account boundaries.
pub fn evaluate_policies<'a>(
    policies: impl IntoIterator<Item = &'a PolicyDocument>,
    action: &str,
    resource: &str,
    context: &RequestContext<'_>,
) -> Decision {
    let mut decision = Decision::ImplicitDeny;
    for policy in policies {
        decision = decision.max(policy.evaluate(action, resource, context));
        if decision == Decision::ExplicitDeny {
            break;
        }
    }
    decision
}

/// The request context of a principal's own requests.
pub(crate) fn principal_context(principal: &Principal) -> RequestContext<'_> {
    RequestContext {
        source_ip: principal.source_ip,
        access_key_id: Some(principal.access_key_id.as_str()),
        external_id: None,
    }
}

/// The verdict of a principal's own permissions on one request, ignoring account boundaries:
/// its identity (root: allow; others: their policies), intersected with its session policy
/// when it has one.
pub(crate) fn evaluate_principal(principal: &Principal, action: &str, resource: &str) -> Decision {
    let context = principal_context(principal);
    let identity = match &principal.identity {
        PrincipalIdentity::Root => Decision::Allow,
        PrincipalIdentity::User(_) | PrincipalIdentity::RoleSession { .. } => {
            evaluate_policies(principal.policies.iter(), action, resource, &context)
        }
    };
    let Some(session_policy) = &principal.session_policy else {
        return identity;
    };
    match (
        identity,
        session_policy.evaluate(action, resource, &context),
    ) {
        (Decision::ExplicitDeny, _) | (_, Decision::ExplicitDeny) => Decision::ExplicitDeny,
        (Decision::Allow, Decision::Allow) => Decision::Allow,
        _ => Decision::ImplicitDeny,
    }
}

/// The verdict on one request (see the module documentation for the rules).
pub fn evaluate(principal: &Principal, action: &str, resource: &ResourceArn) -> Decision {
    if resource.account != principal.account {
        return Decision::ImplicitDeny;
    }
    evaluate_principal(principal, action, &resource.to_string())
}

/// Decides whether `principal` may perform `action` on `resource`; anything but an allow is
/// [`IamError::Unauthorized`], worded as SLS words it.
pub fn authorize(
    principal: &Principal,
    action: &str,
    resource: &ResourceArn,
) -> Result<(), IamError> {
    let decision = evaluate(principal, action, resource);
    if decision.is_allowed() {
        return Ok(());
    }
    tracing::debug!(
        account = %principal.account,
        access_key_id = %principal.access_key_id,
        action,
        resource = %resource,
        ?decision,
        "request denied"
    );
    Err(IamError::Unauthorized {
        action: action.to_owned(),
        resource: resource.to_string(),
    })
}
