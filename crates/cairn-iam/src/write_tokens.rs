//! Agent write tokens on [`Iam`]: temporary credentials of an account that may do exactly one
//! thing — `log:PostLogStoreLogs` on a given list of that account's logstores.
//!
//! A token is a session of the account's service-linked role `AliyunServiceRoleForCairnAgent`
//! ([`ServiceLinkedRole::AgentDelivery`], trusted by the service principal `agent.cairn`,
//! created on demand), assumed by the agent service with a session policy (like the `Policy`
//! parameter of Alibaba Cloud's AssumeRole) that allows only `log:PostLogStoreLogs` on the
//! listed logstore ARNs. [`authorize`](crate::authorize) intersects the role's policies with
//! the session policy, so the token can neither read those logstores nor write any other,
//! and, like every principal, never leaves its account. Tokens authenticate, expire and are
//! revoked like any STS credentials ([`Iam::revoke_session`]).
//!
//! Invariant: every ARN in a token's session policy is a logstore ARN of the token's account;
//! no ARN carries a wildcard (names of projects and logstores cannot contain one).

use cairn_model::{AccountId, ResourceArn, RoleName};

use crate::policy::RequestContext;
use crate::sts::session_duration;
use crate::trust::Caller;
use crate::{Iam, IamError, PolicyDocument, ServiceLinkedRole, TemporaryCredentials};

/// The one action a write token allows.
pub const WRITE_TOKEN_ACTION: &str = "log:PostLogStoreLogs";

/// The session name of write tokens (shows in the audit trail).
pub const WRITE_TOKEN_SESSION_NAME: &str = "cairn-agent-write";

fn invalid(reason: String) -> IamError {
    IamError::InvalidParameter {
        parameter: "LogstoreArns",
        reason,
    }
}

/// Checks that every ARN is a wildcard-free logstore ARN of `account`; returns them sorted
/// and without duplicates, as text.
fn checked_arns(account: AccountId, arns: &[ResourceArn]) -> Result<Vec<String>, IamError> {
    if arns.is_empty() {
        return Err(invalid(
            "a write token needs at least one logstore".to_owned(),
        ));
    }
    let mut texts = Vec::with_capacity(arns.len());
    for arn in arns {
        let is_logstore = arn.service == "log"
            && arn
                .resource
                .strip_prefix("project/")
                .and_then(|rest| rest.split_once("/logstore/"))
                .is_some_and(|(project, logstore)| {
                    !project.is_empty() && !logstore.is_empty() && !logstore.contains('/')
                });
        if !is_logstore || arn.to_string().contains(['*', '?']) {
            return Err(invalid(format!("{arn} is not a logstore ARN")));
        }
        if arn.account != account {
            return Err(invalid(format!(
                "{arn} belongs to account {}, not to {account}",
                arn.account
            )));
        }
        texts.push(arn.to_string());
    }
    texts.sort();
    texts.dedup();
    Ok(texts)
}

/// The session policy of a write token over `arns`.
fn write_policy(arns: &[String]) -> Result<PolicyDocument, IamError> {
    let document = serde_json::json!({
        "Version": "1",
        "Statement": [{
            "Effect": "Allow",
            "Action": WRITE_TOKEN_ACTION,
            "Resource": arns,
        }],
    });
    PolicyDocument::parse_session_policy(&document.to_string())
}

impl Iam {
    /// Issues a write token of `account`: temporary credentials valid `ttl_seconds` (900 up
    /// to the role's maximum, 3600 by default) whose only permission is
    /// `log:PostLogStoreLogs` on exactly `logstore_arns`, which must be logstore ARNs of
    /// `account` ([`IamError::InvalidParameter`] otherwise). Creates the account's
    /// `AliyunServiceRoleForCairnAgent` the first time.
    pub async fn issue_write_token(
        &self,
        account: AccountId,
        logstore_arns: &[ResourceArn],
        ttl_seconds: u32,
    ) -> Result<TemporaryCredentials, IamError> {
        let arns = checked_arns(account, logstore_arns)?;
        let policy = write_policy(&arns)?;
        let service = ServiceLinkedRole::AgentDelivery;
        let role = self.ensure_service_linked_role(account, service).await?;
        let name = RoleName::parse(service.role_name())?;
        let arn = role.arn();
        let principal = service.service_principal();
        let stored = self
            .trusting_role(
                &arn,
                &name,
                Caller::Service(&principal),
                &RequestContext::default(),
            )
            .await?;
        let duration = session_duration(Some(ttl_seconds), stored.max_session_seconds)?;
        let credentials = self
            .issue_session(
                &stored,
                &arn,
                WRITE_TOKEN_SESSION_NAME,
                (account, &principal),
                duration,
                Some(&policy),
            )
            .await?;
        tracing::debug!(%account, access_key_id = %credentials.access_key_id,
            logstores = arns.len(), expiration = credentials.expiration, "write token issued");
        Ok(credentials)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(n: u64) -> AccountId {
        AccountId::from_u64(1_000_000_000_000_000 + n).expect("account")
    }

    fn arn(text: &str) -> ResourceArn {
        ResourceArn::parse(text).expect("arn")
    }

    #[test]
    fn only_wildcard_free_logstore_arns_of_the_account_are_accepted() {
        let ok = arn("acs:log:cairn:1000000000000001:project/web/logstore/app");
        assert_eq!(
            checked_arns(account(1), &[ok.clone(), ok.clone()]).expect("ok"),
            [ok.to_string()]
        );
        for bad in [
            "acs:log:cairn:1000000000000001:project/web",
            "acs:log:cairn:1000000000000001:project/web/logstore/*",
            "acs:log:cairn:1000000000000001:project/*/logstore/app",
            "acs:log:cairn:1000000000000001:project/web/logstore/app/index",
            "acs:ram::1000000000000001:role/x",
            "acs:log:cairn:1000000000000002:project/web/logstore/app",
        ] {
            assert!(
                checked_arns(account(1), &[arn(bad)]).is_err(),
                "{bad} must be refused"
            );
        }
        assert!(checked_arns(account(1), &[]).is_err());
    }

    #[test]
    fn the_policy_allows_only_posting_to_the_listed_logstores() {
        let arns = vec!["acs:log:cairn:1000000000000001:project/web/logstore/app".to_owned()];
        let policy = write_policy(&arns).expect("policy");
        let context = RequestContext::default();
        assert!(policy
            .evaluate(WRITE_TOKEN_ACTION, &arns[0], &context)
            .is_allowed());
        assert!(!policy
            .evaluate("log:GetLogStoreLogs", &arns[0], &context)
            .is_allowed());
        assert!(!policy
            .evaluate(
                WRITE_TOKEN_ACTION,
                "acs:log:cairn:1000000000000001:project/web/logstore/other",
                &context
            )
            .is_allowed());
    }
}
