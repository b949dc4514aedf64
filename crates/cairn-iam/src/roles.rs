//! Roles on [`Iam`]: create, read, change the trust policy, delete; and the service-linked
//! roles Cairn's own services act through.
//!
//! Invariants: a stored trust policy was validated by [`TrustPolicy::parse`]; a role's maximum
//! session duration is within [`MIN_SESSION_SECONDS`]..=[`MAX_SESSION_SECONDS`]; deleting a
//! role revokes its live sessions and removes its attachments in one metastore transaction,
//! so its temporary credentials stop working with the next request.
//!
//! Service-linked roles ([`ServiceLinkedRole`]) carry names starting with
//! [`SERVICE_LINKED_ROLE_PREFIX`], which users cannot create and whose trust policy they
//! cannot change; [`Iam::ensure_service_linked_role`] creates one the first time a service
//! needs it and repairs its policy attachment if it was removed. The service-linked roles get
//! `AliyunLogFullAccess` for now: trail delivery writes `actiontrail_*` logstores and log audit
//! reads members' logstores and writes the central ones, which no narrower system policy
//! covers yet; narrowing them to their own logstores is a later step. The agent delivery role
//! is never used without a session policy: its sessions are the agents' write tokens, each
//! narrowed to `log:PostLogStoreLogs` on the logstores it may write (see
//! [`Iam::issue_write_token`]).

use cairn_meta::{IamStoreError, StoredRole};
use cairn_model::{AccountId, ResourceArn, RoleName};
use serde::Serialize;

use crate::policies::{check_description, role_error, PolicyReference, PolicyTarget};
use crate::trust::TrustPolicy;
use crate::{Iam, IamError, SystemPolicy};

/// Session duration when neither the caller nor the role says otherwise, in seconds.
pub const DEFAULT_SESSION_SECONDS: u32 = 3600;
/// Shortest session, in seconds.
pub const MIN_SESSION_SECONDS: u32 = 900;
/// Longest session (12 hours), in seconds.
pub const MAX_SESSION_SECONDS: u32 = 43_200;
/// Names starting with this are reserved for service-linked roles.
pub const SERVICE_LINKED_ROLE_PREFIX: &str = "AliyunServiceRoleFor";

/// A role as shown to users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleRecord {
    /// The account the role lives in.
    pub account: cairn_model::AccountId,
    /// The role's name.
    pub name: RoleName,
    /// The trust policy, JSON text.
    pub trust_policy: String,
    /// Free-form description.
    pub description: String,
    /// Longest session a caller may ask for, in seconds.
    pub max_session_seconds: u32,
    /// When the role was created, unix seconds.
    pub created_at: i64,
    /// When the role was last changed, unix seconds.
    pub updated_at: i64,
}

impl RoleRecord {
    /// The role's ARN, `acs:ram::<account>:role/<name>`.
    pub fn arn(&self) -> ResourceArn {
        ResourceArn::role(self.account, &self.name)
    }

    /// Whether this is a service-linked role, managed by Cairn.
    pub fn is_service_linked(&self) -> bool {
        self.name.as_str().starts_with(SERVICE_LINKED_ROLE_PREFIX)
    }
}

impl From<StoredRole> for RoleRecord {
    fn from(role: StoredRole) -> Self {
        Self {
            account: role.account,
            name: role.name,
            trust_policy: role.trust_policy,
            description: role.description,
            max_session_seconds: role.max_session_seconds,
            created_at: role.created_at,
            updated_at: role.updated_at,
        }
    }
}

/// A role one of Cairn's services acts through in an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceLinkedRole {
    /// Trail delivery writes audit events into the account's `actiontrail_*` logstores.
    TrailDelivery,
    /// Log audit collects the account's logs into the central audit account.
    LogAuditCollection,
    /// Host agents write collected logs into the account's logstores, through write tokens
    /// (sessions of this role narrowed by a session policy).
    AgentDelivery,
}

impl ServiceLinkedRole {
    /// The role's name.
    pub fn role_name(self) -> &'static str {
        match self {
            ServiceLinkedRole::TrailDelivery => "AliyunServiceRoleForCairnTrail",
            ServiceLinkedRole::LogAuditCollection => "AliyunServiceRoleForCairnAudit",
            ServiceLinkedRole::AgentDelivery => "AliyunServiceRoleForCairnAgent",
        }
    }

    /// The service, as given to [`Iam::assume_role_as_service`].
    pub fn service(self) -> &'static str {
        match self {
            ServiceLinkedRole::TrailDelivery => "trail",
            ServiceLinkedRole::LogAuditCollection => "audit",
            ServiceLinkedRole::AgentDelivery => "agent",
        }
    }

    /// The service principal the role trusts (`trail.cairn`, `audit.cairn`, `agent.cairn`).
    pub fn service_principal(self) -> String {
        format!(
            "{}{}",
            self.service(),
            crate::trust::SERVICE_PRINCIPAL_SUFFIX
        )
    }

    /// The system policy the role carries.
    pub fn policy(self) -> SystemPolicy {
        SystemPolicy::AliyunLogFullAccess
    }

    fn description(self) -> &'static str {
        match self {
            ServiceLinkedRole::TrailDelivery => {
                "Service-linked role of Cairn's trail delivery; managed by Cairn."
            }
            ServiceLinkedRole::LogAuditCollection => {
                "Service-linked role of Cairn's log audit collection; managed by Cairn."
            }
            ServiceLinkedRole::AgentDelivery => {
                "Service-linked role of Cairn's host agents' write tokens; managed by Cairn."
            }
        }
    }
}

fn reserved_name(name: &RoleName) -> bool {
    name.as_str().starts_with(SERVICE_LINKED_ROLE_PREFIX)
}

impl Iam {
    /// Creates a role with a validated trust policy. `max_session_seconds` defaults to
    /// [`DEFAULT_SESSION_SECONDS`] and must be within 900..=43200.
    pub async fn create_role(
        &self,
        account: AccountId,
        name: RoleName,
        trust_policy: &str,
        description: String,
        max_session_seconds: Option<u32>,
    ) -> Result<RoleRecord, IamError> {
        if reserved_name(&name) {
            return Err(IamError::InvalidParameter {
                parameter: "RoleName",
                reason: format!(
                    "names starting with {SERVICE_LINKED_ROLE_PREFIX} are reserved for \
                     service-linked roles"
                ),
            });
        }
        self.insert_role(
            account,
            name,
            trust_policy,
            description,
            max_session_seconds,
        )
        .await
    }

    async fn insert_role(
        &self,
        account: AccountId,
        name: RoleName,
        trust_policy: &str,
        description: String,
        max_session_seconds: Option<u32>,
    ) -> Result<RoleRecord, IamError> {
        TrustPolicy::parse(trust_policy)?;
        check_description(&description)?;
        let max_session_seconds = max_session_seconds.unwrap_or(DEFAULT_SESSION_SECONDS);
        if !(MIN_SESSION_SECONDS..=MAX_SESSION_SECONDS).contains(&max_session_seconds) {
            return Err(IamError::InvalidParameter {
                parameter: "MaxSessionDuration",
                reason: format!(
                    "{max_session_seconds} is not between {MIN_SESSION_SECONDS} and \
                     {MAX_SESSION_SECONDS} seconds"
                ),
            });
        }
        let now = self.now();
        let role = StoredRole {
            account,
            name,
            trust_policy: trust_policy.to_owned(),
            description,
            max_session_seconds,
            created_at: now,
            updated_at: now,
        };
        self.metastore
            .create_role(&role)
            .await
            .map_err(|err| role_error(account, err))?;
        tracing::info!(%account, role = %role.name, max_session_seconds, "role created");
        Ok(role.into())
    }

    /// The role `name` of the account.
    pub async fn get_role(
        &self,
        account: AccountId,
        name: &RoleName,
    ) -> Result<RoleRecord, IamError> {
        self.metastore
            .get_role(account, name)
            .await
            .map(RoleRecord::from)
            .map_err(|err| role_error(account, err))
    }

    /// The roles of the account, by name.
    pub async fn list_roles(&self, account: AccountId) -> Result<Vec<RoleRecord>, IamError> {
        let roles = self.metastore.list_roles(account).await?;
        Ok(roles.into_iter().map(RoleRecord::from).collect())
    }

    /// Replaces a role's trust policy (validated first). Sessions already issued keep working
    /// until they expire or are revoked. Service-linked roles cannot be changed.
    pub async fn update_role_trust_policy(
        &self,
        account: AccountId,
        name: &RoleName,
        trust_policy: &str,
    ) -> Result<RoleRecord, IamError> {
        if reserved_name(name) {
            return Err(IamError::InvalidParameter {
                parameter: "RoleName",
                reason: format!("{name} is a service-linked role managed by Cairn"),
            });
        }
        TrustPolicy::parse(trust_policy)?;
        let role = self
            .metastore
            .update_role_trust_policy(account, name, trust_policy, self.now())
            .await
            .map_err(|err| role_error(account, err))?;
        tracing::info!(%account, role = %name, "role trust policy updated");
        Ok(role.into())
    }

    /// Deletes a role: its attachments go, its sessions are revoked.
    pub async fn delete_role(&self, account: AccountId, name: &RoleName) -> Result<(), IamError> {
        let revoked = self
            .metastore
            .delete_role(account, name)
            .await
            .map_err(|err| role_error(account, err))?;
        tracing::info!(%account, role = %name, revoked_sessions = revoked, "role deleted");
        Ok(())
    }

    /// Returns the service-linked role of `service` in the account, creating it (with its
    /// trust policy and system policy) if missing. Idempotent and safe to call concurrently.
    pub async fn ensure_service_linked_role(
        &self,
        account: AccountId,
        service: ServiceLinkedRole,
    ) -> Result<RoleRecord, IamError> {
        let name = RoleName::parse(service.role_name())?;
        let target = PolicyTarget::Role(name.clone());
        let policy = PolicyReference::System(service.policy());
        let role = match self.metastore.get_role(account, &name).await {
            Ok(role) => {
                // The common case: the role is there; attach only if the policy went missing.
                let attached = self.list_attached_policies(account, &target).await?;
                if attached.iter().any(|record| record.name == policy.name()) {
                    return Ok(role.into());
                }
                RoleRecord::from(role)
            }
            Err(IamStoreError::RoleNotFound { .. }) => {
                let created = self
                    .insert_role(
                        account,
                        name.clone(),
                        &TrustPolicy::for_service(&service.service_principal()),
                        service.description().to_owned(),
                        None,
                    )
                    .await;
                match created {
                    Ok(role) => role,
                    // Another caller created it first.
                    Err(IamError::RoleAlreadyExists { .. }) => {
                        self.get_role(account, &name).await?
                    }
                    Err(err) => return Err(err),
                }
            }
            Err(err) => return Err(role_error(account, err)),
        };
        match self.attach_policy(account, &policy, &target).await {
            Ok(()) | Err(IamError::PolicyAlreadyAttached { .. }) => Ok(role),
            Err(err) => Err(err),
        }
    }
}
