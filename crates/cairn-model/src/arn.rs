//! Resource ARNs: the names that policies and authorisation speak about.
//!
//! Forms (region is `cairn` on a self-hosted server unless configured):
//! - `acs:log:<region>:<account>:project/<project>`
//! - `acs:log:<region>:<account>:project/<project>/logstore/<logstore>`
//! - `acs:log:<region>:<account>:project/<project>/logstore/<logstore>/consumergroup/<group>`
//!   (`<group>` is `*` for calls on all of a logstore's groups, as in SLS)
//! - `acs:log:<region>:<account>:project/*` (project-less calls such as ListProject)
//! - `acs:ram::<account>:user/<name>` and `acs:ram::<account>:role/<name>`

use std::fmt;

use crate::{
    AccountId, ConsumerGroupName, LogstoreName, ModelError, ProjectName, RoleName, UserName,
};

/// A parsed resource ARN.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourceArn {
    /// The service, `log` or `ram`.
    pub service: String,
    /// The region; empty for `ram`.
    pub region: String,
    /// The account that owns the resource.
    pub account: AccountId,
    /// The resource path after the account, e.g. `project/p/logstore/l`.
    pub resource: String,
}

impl ResourceArn {
    /// The ARN of a whole project.
    pub fn project(region: &str, account: AccountId, project: &ProjectName) -> Self {
        Self::log(region, account, format!("project/{project}"))
    }

    /// The ARN of one logstore.
    pub fn logstore(
        region: &str,
        account: AccountId,
        project: &ProjectName,
        logstore: &LogstoreName,
    ) -> Self {
        Self::log(
            region,
            account,
            format!("project/{project}/logstore/{logstore}"),
        )
    }

    /// The ARN of one consumer group of a logstore, or with `group` `None` the ARN SLS uses
    /// for calls on all of its groups (`.../consumergroup/*`, e.g. ListConsumerGroup).
    pub fn consumer_group(
        region: &str,
        account: AccountId,
        project: &ProjectName,
        logstore: &LogstoreName,
        group: Option<&ConsumerGroupName>,
    ) -> Self {
        let group = group.map_or("*", ConsumerGroupName::as_str);
        Self::log(
            region,
            account,
            format!("project/{project}/logstore/{logstore}/consumergroup/{group}"),
        )
    }

    /// The ARN that stands for "every project of the account", used by project-less calls.
    pub fn all_projects(region: &str, account: AccountId) -> Self {
        Self::log(region, account, "project/*".to_owned())
    }

    /// The ARN of a user.
    pub fn user(account: AccountId, user: &UserName) -> Self {
        Self::ram(account, format!("user/{user}"))
    }

    /// The ARN of a role, `acs:ram::<account>:role/<name>`.
    pub fn role(account: AccountId, role: &RoleName) -> Self {
        Self::ram(account, format!("role/{role}"))
    }

    /// The ARN of a RAM resource of an account (`user/x`, `role/x`, `*`).
    pub fn ram(account: AccountId, resource: String) -> Self {
        Self {
            service: "ram".to_owned(),
            region: String::new(),
            account,
            resource,
        }
    }

    fn log(region: &str, account: AccountId, resource: String) -> Self {
        Self {
            service: "log".to_owned(),
            region: region.to_owned(),
            account,
            resource,
        }
    }

    /// Parses `acs:<service>:<region>:<account>:<resource>`.
    pub fn parse(text: &str) -> Result<Self, ModelError> {
        let invalid = || ModelError::InvalidArn(text.chars().take(200).collect());
        let mut parts = text.splitn(5, ':');
        let (Some("acs"), Some(service), Some(region), Some(account), Some(resource)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(invalid());
        };
        if service.is_empty() || resource.is_empty() {
            return Err(invalid());
        }
        Ok(Self {
            service: service.to_owned(),
            region: region.to_owned(),
            account: AccountId::parse(account).map_err(|_| invalid())?,
            resource: resource.to_owned(),
        })
    }
}

impl fmt::Display for ResourceArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "acs:{}:{}:{}:{}",
            self.service, self.region, self.account, self.resource
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_round_trip() {
        let account = AccountId::parse("1234567890123456").unwrap();
        let project = ProjectName::parse("web").unwrap();
        let logstore = LogstoreName::parse("access_log").unwrap();
        let arn = ResourceArn::logstore("cairn", account, &project, &logstore);
        assert_eq!(
            arn.to_string(),
            "acs:log:cairn:1234567890123456:project/web/logstore/access_log"
        );
        assert_eq!(ResourceArn::parse(&arn.to_string()).unwrap(), arn);
        let role = ResourceArn::parse("acs:ram::1234567890123456:role/auditor").unwrap();
        assert_eq!(role.service, "ram");
        assert_eq!(role.resource, "role/auditor");
        assert!(ResourceArn::parse("arn:aws:s3:::bucket").is_err());
        let group = ConsumerGroupName::parse("readers").unwrap();
        assert_eq!(
            ResourceArn::consumer_group("cairn", account, &project, &logstore, Some(&group))
                .to_string(),
            "acs:log:cairn:1234567890123456:project/web/logstore/access_log/consumergroup/readers"
        );
        assert!(
            ResourceArn::consumer_group("cairn", account, &project, &logstore, None)
                .resource
                .ends_with("/consumergroup/*")
        );
    }
}
