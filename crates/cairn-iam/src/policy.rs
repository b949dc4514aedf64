//! Authorisation: the single place where Cairn decides whether a principal may perform an
//! action on a resource.
//!
//! A request is evaluated by collecting one [`Decision`] from each rule that applies and
//! combining them with IAM's precedence: an explicit deny beats any allow, an allow beats the
//! implicit deny that holds when nothing allows. Today there is one rule, the account boundary:
//! a principal is allowed every action on its own account's resources and nothing else. The
//! policy engine to come adds rules here (identity policies of users, permission policies of
//! assumed roles, resource-level denies such as audit logstores') without changing
//! [`authorize`]'s callers; cross-account access will then come only from assumed roles,
//! whose sessions are principals of the role's account.

use cairn_model::ResourceArn;

use crate::{IamError, Principal};

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

/// One request to decide.
#[derive(Debug, Clone, Copy)]
pub struct AccessRequest<'a> {
    /// Who asks.
    pub principal: &'a Principal,
    /// The SLS action name, e.g. `log:PostLogStoreLogs`.
    pub action: &'a str,
    /// The resource acted upon.
    pub resource: &'a ResourceArn,
}

/// Combines rule outcomes: explicit deny > allow > implicit deny. No outcome at all is an
/// implicit deny.
pub fn combine(decisions: impl IntoIterator<Item = Decision>) -> Decision {
    decisions
        .into_iter()
        .max()
        .unwrap_or(Decision::ImplicitDeny)
}

/// Evaluates every rule for a request.
pub fn evaluate(request: &AccessRequest<'_>) -> Decision {
    combine([account_boundary(request)])
}

/// The account boundary: a principal may act on the resources of its own account.
fn account_boundary(request: &AccessRequest<'_>) -> Decision {
    if request.resource.account == request.principal.account {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

/// Decides whether `principal` may perform `action` on `resource`; anything but an allow is
/// [`IamError::Unauthorized`], worded as SLS words it.
pub fn authorize(
    principal: &Principal,
    action: &str,
    resource: &ResourceArn,
) -> Result<(), IamError> {
    let request = AccessRequest {
        principal,
        action,
        resource,
    };
    let decision = evaluate(&request);
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

#[cfg(test)]
mod tests {
    use cairn_model::{AccessKeyId, AccountId, LogstoreName, ProjectName, UserName};

    use super::*;
    use crate::PrincipalIdentity;

    fn account(text: &str) -> AccountId {
        AccountId::parse(text).expect("account id")
    }

    fn principal(account_text: &str, identity: PrincipalIdentity) -> Principal {
        Principal {
            account: account(account_text),
            identity,
            access_key_id: AccessKeyId::parse("LTAIaaaaaaaaaaaaaaaaaaaa").expect("key id"),
            source_ip: None,
        }
    }

    fn project_arn(account_text: &str) -> ResourceArn {
        let project = ProjectName::parse("web").expect("project name");
        ResourceArn::project("cairn", account(account_text), &project)
    }

    #[test]
    fn same_account_is_allowed_for_root_and_users() {
        let user = UserName::parse("alice").expect("user");
        let logstore = ResourceArn::logstore(
            "cairn",
            account("1234567890123456"),
            &ProjectName::parse("web").expect("project"),
            &LogstoreName::parse("access_log").expect("logstore"),
        );
        for identity in [PrincipalIdentity::Root, PrincipalIdentity::User(user)] {
            let caller = principal("1234567890123456", identity);
            authorize(&caller, "log:PostLogStoreLogs", &logstore).expect("allowed");
            authorize(&caller, "log:GetProject", &project_arn("1234567890123456"))
                .expect("allowed");
        }
    }

    #[test]
    fn other_account_is_refused_with_the_sls_message() {
        let caller = principal("6543210987654321", PrincipalIdentity::Root);
        let resource = ResourceArn::parse("acs:log:cairn:1234567890123456:project/p").expect("arn");
        let err = authorize(&caller, "log:PostLogStoreLogs", &resource).expect_err("denied");
        assert!(matches!(err, IamError::Unauthorized { .. }));
        assert_eq!(
            err.to_string(),
            "denied by sts or ram, action: log:PostLogStoreLogs, resource: \
             acs:log:cairn:1234567890123456:project/p"
        );
        let ram = ResourceArn::parse("acs:ram::1234567890123456:user/alice").expect("arn");
        assert!(authorize(&caller, "ram:CreateAccessKey", &ram).is_err());
    }

    #[test]
    fn explicit_deny_beats_allow_beats_implicit_deny() {
        use Decision::*;
        assert_eq!(combine([]), ImplicitDeny);
        assert_eq!(combine([ImplicitDeny, Allow]), Allow);
        assert_eq!(combine([Allow, ExplicitDeny, Allow]), ExplicitDeny);
        assert_eq!(combine([ImplicitDeny, ExplicitDeny]), ExplicitDeny);
        assert!(!ExplicitDeny.is_allowed());
    }
}
