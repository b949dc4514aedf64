//! Policy management on [`Iam`]: custom policies of an account, the system policies every
//! account has, and their attachment to users and roles.
//!
//! Invariants: a stored custom policy was validated by [`PolicyDocument::parse`] when created;
//! a custom policy cannot take a system policy's name; an attached custom policy cannot be
//! deleted ([`IamError::PolicyInUse`]); the documents loaded for a principal that no longer
//! parse fail the authentication rather than being skipped (skipping a `Deny` would widen
//! access).

use std::sync::Arc;

use cairn_meta::{AttachedPolicy, CustomPolicyRecord, IamStoreError, MetaError, PolicyAttachment};
use cairn_model::{AccountId, PolicyName, ResourceArn};
use serde::Serialize;

use crate::{Iam, IamError, PolicyDocument, SystemPolicy};

pub use cairn_meta::{PolicyKind, PolicyTarget};

/// Longest description of a policy or role, in characters.
pub const MAX_DESCRIPTION_LEN: usize = 1024;

/// `created_at` reported for system policies, which exist from the beginning.
pub const SYSTEM_POLICY_CREATED_AT: i64 = 0;

/// A policy named by kind and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PolicyReference {
    /// A built-in policy.
    System(SystemPolicy),
    /// A custom policy of the account.
    Custom(PolicyName),
}

impl PolicyReference {
    /// Resolves a (kind, name) pair as APIs carry it; an unknown system policy name is
    /// [`IamError::PolicyNotFound`].
    pub fn from_parts(kind: PolicyKind, name: PolicyName) -> Result<Self, IamError> {
        match kind {
            PolicyKind::Custom => Ok(PolicyReference::Custom(name)),
            PolicyKind::System => SystemPolicy::from_name(name.as_str())
                .map(PolicyReference::System)
                .ok_or(IamError::PolicyNotFound { name }),
        }
    }

    /// System or custom.
    pub fn kind(&self) -> PolicyKind {
        match self {
            PolicyReference::System(_) => PolicyKind::System,
            PolicyReference::Custom(_) => PolicyKind::Custom,
        }
    }

    /// The policy's name.
    pub fn name(&self) -> PolicyName {
        match self {
            PolicyReference::System(policy) => policy.policy_name(),
            PolicyReference::Custom(name) => name.clone(),
        }
    }
}

/// A policy as shown to users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyRecord {
    /// The policy's name.
    pub name: PolicyName,
    /// System or custom.
    pub kind: PolicyKind,
    /// The policy document, JSON text.
    pub document: String,
    /// What the policy is for.
    pub description: String,
    /// When it was created, unix seconds ([`SYSTEM_POLICY_CREATED_AT`] for system policies).
    pub created_at: i64,
}

impl PolicyRecord {
    fn system(policy: SystemPolicy) -> Self {
        Self {
            name: policy.policy_name(),
            kind: PolicyKind::System,
            document: policy.document().to_json(),
            description: policy.description().to_owned(),
            created_at: SYSTEM_POLICY_CREATED_AT,
        }
    }

    fn custom(record: CustomPolicyRecord) -> Self {
        Self {
            name: record.name,
            kind: PolicyKind::Custom,
            document: record.document,
            description: record.description,
            created_at: record.created_at,
        }
    }
}

/// Checks a description: at most [`MAX_DESCRIPTION_LEN`] characters, no control characters
/// other than line breaks and tabs.
pub(crate) fn check_description(text: &str) -> Result<(), IamError> {
    let printable = !text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'));
    if text.chars().count() <= MAX_DESCRIPTION_LEN && printable {
        Ok(())
    } else {
        Err(IamError::InvalidParameter {
            parameter: "Description",
            reason: format!(
                "must be at most {MAX_DESCRIPTION_LEN} characters, without control characters"
            ),
        })
    }
}

/// Parses the document of an attached policy for evaluation.
fn attached_document(attached: AttachedPolicy) -> Result<PolicyDocument, IamError> {
    match attached.custom {
        None => SystemPolicy::from_name(attached.name.as_str())
            .map(|policy| policy.document().clone())
            .ok_or_else(|| {
                corrupt(format!(
                    "attached system policy {} is unknown",
                    attached.name
                ))
            }),
        Some(custom) => PolicyDocument::parse(&custom.document).map_err(|err| {
            corrupt(format!(
                "stored policy {} does not parse: {err}",
                custom.name
            ))
        }),
    }
}

fn corrupt(reason: String) -> IamError {
    IamError::Meta(MetaError::Corrupt(reason))
}

impl Iam {
    /// Creates a custom policy after validating its document.
    pub async fn create_policy(
        &self,
        account: AccountId,
        name: PolicyName,
        document: &str,
        description: String,
    ) -> Result<PolicyRecord, IamError> {
        PolicyDocument::parse(document)?;
        check_description(&description)?;
        if SystemPolicy::from_name(name.as_str()).is_some() {
            return Err(IamError::PolicyAlreadyExists { name });
        }
        let record = CustomPolicyRecord {
            account,
            name,
            document: document.to_owned(),
            description,
            created_at: self.now(),
        };
        self.metastore.create_policy(&record).await?;
        tracing::info!(%account, policy = %record.name, "policy created");
        Ok(PolicyRecord::custom(record))
    }

    /// A system policy, or a custom policy of the account.
    pub async fn get_policy(
        &self,
        account: AccountId,
        policy: &PolicyReference,
    ) -> Result<PolicyRecord, IamError> {
        match policy {
            PolicyReference::System(system) => Ok(PolicyRecord::system(*system)),
            PolicyReference::Custom(name) => Ok(PolicyRecord::custom(
                self.metastore.get_policy(account, name).await?,
            )),
        }
    }

    /// Every system policy, then the account's custom policies by name.
    pub async fn list_policies(&self, account: AccountId) -> Result<Vec<PolicyRecord>, IamError> {
        let custom = self.metastore.list_policies(account).await?;
        Ok(SystemPolicy::ALL
            .into_iter()
            .map(PolicyRecord::system)
            .chain(custom.into_iter().map(PolicyRecord::custom))
            .collect())
    }

    /// Deletes a custom policy; refused with [`IamError::PolicyInUse`] while it is attached.
    pub async fn delete_policy(
        &self,
        account: AccountId,
        name: &PolicyName,
    ) -> Result<(), IamError> {
        self.metastore.delete_policy(account, name).await?;
        tracing::info!(%account, policy = %name, "policy deleted");
        Ok(())
    }

    /// Attaches a policy to a user or role of the account.
    pub async fn attach_policy(
        &self,
        account: AccountId,
        policy: &PolicyReference,
        target: &PolicyTarget,
    ) -> Result<(), IamError> {
        let attachment = PolicyAttachment {
            account,
            kind: policy.kind(),
            policy: policy.name(),
            target: target.clone(),
            attached_at: self.now(),
        };
        self.metastore
            .attach_policy(&attachment)
            .await
            .map_err(|err| role_error(account, err))?;
        tracing::info!(%account, policy = %attachment.policy, kind = policy.kind().as_str(),
            %target, "policy attached");
        Ok(())
    }

    /// Detaches a policy from a user or role of the account.
    pub async fn detach_policy(
        &self,
        account: AccountId,
        policy: &PolicyReference,
        target: &PolicyTarget,
    ) -> Result<(), IamError> {
        let name = policy.name();
        self.metastore
            .detach_policy(account, policy.kind(), &name, target)
            .await?;
        tracing::info!(%account, policy = %name, kind = policy.kind().as_str(), %target,
            "policy detached");
        Ok(())
    }

    /// The policies attached to a user or role, by name.
    pub async fn list_attached_policies(
        &self,
        account: AccountId,
        target: &PolicyTarget,
    ) -> Result<Vec<PolicyRecord>, IamError> {
        let attached = self
            .metastore
            .list_attached_policies(account, target)
            .await
            .map_err(|err| role_error(account, err))?;
        attached
            .into_iter()
            .map(|attached| match attached.custom {
                Some(custom) => Ok(PolicyRecord::custom(custom)),
                None => SystemPolicy::from_name(attached.name.as_str())
                    .map(PolicyRecord::system)
                    .ok_or_else(|| {
                        corrupt(format!(
                            "attached system policy {} is unknown",
                            attached.name
                        ))
                    }),
            })
            .collect()
    }

    /// The parsed documents of the policies attached to a user or role: a principal's
    /// effective identity policies.
    pub(crate) async fn effective_policies(
        &self,
        account: AccountId,
        target: &PolicyTarget,
    ) -> Result<Arc<Vec<PolicyDocument>>, IamError> {
        let attached = self
            .metastore
            .list_attached_policies(account, target)
            .await
            .map_err(|err| role_error(account, err))?;
        let documents = attached
            .into_iter()
            .map(attached_document)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Arc::new(documents))
    }
}

/// Maps a store error, naming a missing or clashing role by its full ARN.
pub(crate) fn role_error(account: AccountId, err: IamStoreError) -> IamError {
    match err {
        IamStoreError::RoleNotFound { name } => IamError::RoleNotFound {
            role: ResourceArn::role(account, &name).to_string(),
        },
        IamStoreError::RoleAlreadyExists { name } => IamError::RoleAlreadyExists {
            role: ResourceArn::role(account, &name).to_string(),
        },
        other => other.into(),
    }
}
