//! STS on [`Iam`]: assuming roles.
//!
//! [`Iam::assume_role`] issues temporary credentials — an `STS.` AccessKey id, a secret and a
//! security token, valid 900 s to 12 h (default 1 h, never beyond the role's maximum) — that
//! authenticate through [`Iam::authenticate`] like long-term keys, with the token in
//! `x-acs-security-token`. [`Iam::assume_role_as_service`] and [`Iam::principal_for_role`]
//! make a role-session [`Principal`] for Cairn's own services and server-side jobs without
//! issuing credentials.
//!
//! Every assumption checks, in order: the request parameters; that the caller may call
//! `sts:AssumeRole` on the role (root: always, its account's authority is whole; users and
//! sessions: their policies must allow it — the one action whose resource may be in another
//! account); that the role exists; that its trust policy trusts the caller, with
//! `sts:ExternalId` from the request.
//!
//! Invariants: the secret is stored only sealed under the master key (AD = the key id), the
//! token only as its SHA-256; neither is ever logged. Credentials end at their expiry, at
//! [`Iam::revoke_session`], or when the role is deleted.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use cairn_meta::{StoredRole, StsSessionRecord};
use cairn_model::ids::random_alphanumeric;
use cairn_model::{AccessKeyId, AccountId, ResourceArn, RoleName};
use sha2::{Digest, Sha256};

use crate::policies::{role_error, PolicyTarget};
use crate::policy::{evaluate_principal, principal_context, RequestContext};
use crate::roles::{DEFAULT_SESSION_SECONDS, MAX_SESSION_SECONDS, MIN_SESSION_SECONDS};
use crate::trust::{Caller, TrustPolicy, SERVICE_PRINCIPAL_SUFFIX};
use crate::{
    Iam, IamError, PolicyDocument, Principal, PrincipalIdentity, SecretString, SECRET_LEN,
};

/// Prefix of temporary AccessKey ids.
pub const STS_KEY_PREFIX: &str = "STS.";
/// Random characters after the prefix.
const STS_KEY_RANDOM_LEN: usize = 28;
/// Random characters of a security token (after its `CAIS` prefix).
const TOKEN_RANDOM_LEN: usize = 96;
/// How many fresh ids are tried when a generated one is taken.
const ID_ATTEMPTS: usize = 8;
/// Expired sessions are purged at most this often, in seconds.
const PURGE_INTERVAL: i64 = 600;
/// Expired sessions are kept this long (so clients hear "expired", not "unknown").
const PURGE_GRACE: i64 = 86_400;

/// An AssumeRole request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumeRoleRequest {
    /// `acs:ram::<account>:role/<name>`.
    pub role_arn: String,
    /// 2 to 64 characters from `[A-Za-z0-9._@-]`; shows in the audit trail.
    pub session_name: String,
    /// 900 ..= min(43200, the role's maximum); default 3600 (or the role's maximum if lower).
    pub duration_seconds: Option<u32>,
    /// Required when the role's trust policy tests `sts:ExternalId`.
    pub external_id: Option<String>,
}

/// Temporary credentials of an assumed role. Secret and token appear here only.
#[derive(Debug, Clone)]
pub struct TemporaryCredentials {
    /// The temporary AccessKey id, `STS.` + 28 alphanumerics.
    pub access_key_id: AccessKeyId,
    /// The secret to sign requests with.
    pub secret: SecretString,
    /// The token to send in `x-acs-security-token`.
    pub security_token: SecretString,
    /// When the credentials stop working, unix seconds.
    pub expiration: i64,
    /// The assumed role's ARN.
    pub role_arn: String,
    /// `<account>:<role>:<session name>`, the session's identity in audit events.
    pub assumed_role_id: String,
}

/// Parses a role ARN: `acs:ram::<account>:role/<name>`.
pub(crate) fn parse_role_arn(text: &str) -> Result<(ResourceArn, RoleName), IamError> {
    let bad = |reason: String| IamError::InvalidParameter {
        parameter: "RoleArn",
        reason,
    };
    let arn = ResourceArn::parse(text).map_err(|_| {
        bad(format!(
            "{text:?} is not of the form acs:ram::<account>:role/<name>"
        ))
    })?;
    let name = match arn.resource.strip_prefix("role/") {
        Some(name) if arn.service == "ram" && arn.region.is_empty() => name,
        _ => {
            return Err(bad(format!(
                "{text:?} is not of the form acs:ram::<account>:role/<name>"
            )))
        }
    };
    let name = RoleName::parse(name).map_err(|err| bad(err.to_string()))?;
    Ok((ResourceArn::role(arn.account, &name), name))
}

/// Session names: 2 to 64 characters from `[A-Za-z0-9._@-]`.
pub(crate) fn check_session_name(name: &str) -> Result<(), IamError> {
    let valid = (2..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(IamError::InvalidParameter {
            parameter: "RoleSessionName",
            reason: "must be 2 to 64 letters, digits or . _ @ -".to_owned(),
        })
    }
}

/// The session duration: requested or default, within 900 ..= min(43200, role maximum).
pub(crate) fn session_duration(requested: Option<u32>, role_max: u32) -> Result<u32, IamError> {
    let max = role_max.min(MAX_SESSION_SECONDS);
    let duration = requested.unwrap_or(DEFAULT_SESSION_SECONDS.min(max));
    if (MIN_SESSION_SECONDS..=max).contains(&duration) {
        Ok(duration)
    } else {
        Err(IamError::InvalidParameter {
            parameter: "DurationSeconds",
            reason: format!(
                "{duration} is not between {MIN_SESSION_SECONDS} and {max} seconds (the role's \
                 maximum session duration)"
            ),
        })
    }
}

/// SHA-256 of a security token, as stored.
pub(crate) fn token_digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A fresh temporary AccessKey id.
fn generate_sts_key_id() -> Result<AccessKeyId, IamError> {
    Ok(AccessKeyId::parse(&format!(
        "{STS_KEY_PREFIX}{}",
        random_alphanumeric(STS_KEY_RANDOM_LEN)
    ))?)
}

/// Whether `caller` may use `role`, by calling `sts:AssumeRole` on it or by handing it to a
/// Cairn service (a copy job): root of any account always, users and role sessions when their
/// own policies allow `sts:AssumeRole` on the role's ARN, in whatever account it lives. The
/// role's trust policy is checked separately, when the role is assumed.
pub fn authorize_assume_role(caller: &Principal, role: &ResourceArn) -> Result<(), IamError> {
    check_caller_permission(caller, role)
}

/// Whether `caller` may call `sts:AssumeRole` on `role`: root always, others by policy (and
/// by their session policy, if they have one).
fn check_caller_permission(caller: &Principal, role: &ResourceArn) -> Result<(), IamError> {
    let allowed = evaluate_principal(caller, "sts:AssumeRole", &role.to_string()).is_allowed();
    if allowed {
        Ok(())
    } else {
        tracing::debug!(account = %caller.account, access_key_id = %caller.access_key_id,
            role = %role, "AssumeRole denied by the caller's policies");
        Err(IamError::Unauthorized {
            action: "sts:AssumeRole".to_owned(),
            resource: role.to_string(),
        })
    }
}

impl Iam {
    /// Loads a role and checks that its trust policy trusts `caller`.
    pub(crate) async fn trusting_role(
        &self,
        arn: &ResourceArn,
        name: &RoleName,
        caller: Caller<'_>,
        context: &RequestContext<'_>,
    ) -> Result<StoredRole, IamError> {
        let role = self
            .metastore
            .get_role(arn.account, name)
            .await
            .map_err(|err| role_error(arn.account, err))?;
        let trust = TrustPolicy::parse(&role.trust_policy).map_err(|err| {
            IamError::Meta(cairn_meta::MetaError::Corrupt(format!(
                "stored trust policy of {arn} does not parse: {err}"
            )))
        })?;
        trust.check(arn, caller, context)?;
        Ok(role)
    }

    /// A role-session principal of `role`, with the role's policies and no stored credentials.
    async fn session_principal(
        &self,
        role: &StoredRole,
        session_name: &str,
        assumed_by: AccountId,
    ) -> Result<Principal, IamError> {
        let policies = self
            .effective_policies(role.account, &PolicyTarget::Role(role.name.clone()))
            .await?;
        Ok(Principal {
            account: role.account,
            identity: PrincipalIdentity::RoleSession {
                role: role.name.clone(),
                session_name: session_name.to_owned(),
                assumed_by,
            },
            access_key_id: generate_sts_key_id()?,
            source_ip: None,
            policies,
            session_policy: None,
        })
    }

    /// Assumes a role for `caller` and issues temporary credentials (see the module docs for
    /// the checks). Denials: [`IamError::Unauthorized`] (the caller's own policies),
    /// [`IamError::AssumeRoleDenied`] (the trust policy, e.g. a missing ExternalId).
    pub async fn assume_role(
        &self,
        caller: &Principal,
        request: AssumeRoleRequest,
    ) -> Result<TemporaryCredentials, IamError> {
        let (arn, name) = parse_role_arn(&request.role_arn)?;
        check_session_name(&request.session_name)?;
        check_caller_permission(caller, &arn)?;
        let context = RequestContext {
            external_id: request.external_id.as_deref(),
            ..principal_context(caller)
        };
        let role = self
            .trusting_role(&arn, &name, Caller::Principal(caller), &context)
            .await?;
        let duration = session_duration(request.duration_seconds, role.max_session_seconds)?;
        let caller_key = caller.access_key_id.to_string();
        self.issue_session(
            &role,
            &arn,
            &request.session_name,
            (caller.account, &caller_key),
            duration,
            None,
        )
        .await
    }

    /// Stores a new session of `role` and returns its credentials: valid `duration` seconds,
    /// limited by `session_policy` when given. `caller` is the account that assumes the role
    /// and who it is (an AccessKey id or a service principal), for the record. The caller of
    /// this function has checked the trust policy.
    pub(crate) async fn issue_session(
        &self,
        role: &StoredRole,
        arn: &ResourceArn,
        session_name: &str,
        caller: (AccountId, &str),
        duration: u32,
        session_policy: Option<&PolicyDocument>,
    ) -> Result<TemporaryCredentials, IamError> {
        self.purge_expired_sessions().await;
        let now = self.now();
        let secret = SecretString::new(random_alphanumeric(SECRET_LEN));
        let token = SecretString::new(format!("CAIS{}", random_alphanumeric(TOKEN_RANDOM_LEN)));
        let session_policy = session_policy.map(PolicyDocument::to_json);
        let mut last_clash = None;
        for _ in 0..ID_ATTEMPTS {
            let id = generate_sts_key_id()?;
            let (nonce, ciphertext) = self.seal_secret(&id, &secret)?;
            let session = StsSessionRecord {
                access_key_id: id.clone(),
                account: role.account,
                role: role.name.clone(),
                session_name: session_name.to_owned(),
                assumed_by: caller.0,
                secret_ciphertext: ciphertext,
                secret_nonce: nonce,
                token_sha256: token_digest(token.expose()),
                expiration: now + i64::from(duration),
                revoked: false,
                created_at: now,
                session_policy: session_policy.clone(),
            };
            match self.metastore.create_sts_session(&session).await {
                Ok(()) => {
                    tracing::info!(account = %role.account, role = %role.name,
                        session_name, access_key_id = %id,
                        caller_account = %caller.0, caller = caller.1,
                        expiration = session.expiration,
                        session_policy = session.session_policy.is_some(), "role assumed");
                    return Ok(TemporaryCredentials {
                        access_key_id: id,
                        secret,
                        security_token: token,
                        expiration: session.expiration,
                        role_arn: arn.to_string(),
                        assumed_role_id: format!("{}:{}:{}", role.account, role.name, session_name),
                    });
                }
                Err(err @ cairn_meta::IamStoreError::SessionAlreadyExists { .. }) => {
                    last_clash = Some(err)
                }
                Err(err) => return Err(role_error(role.account, err)),
            }
        }
        Err(last_clash.map(IamError::from).unwrap_or(IamError::Crypto(
            "could not generate a unique temporary AccessKey id",
        )))
    }

    /// A role session for one of Cairn's own services (`trail`, `audit`; or the full
    /// principal `trail.cairn`): the role's trust policy must name the service principal.
    /// No credentials are issued; the principal has no source address.
    pub async fn assume_role_as_service(
        &self,
        service: &str,
        role_arn: &str,
        session_name: &str,
    ) -> Result<Principal, IamError> {
        let principal_name = if service.ends_with(SERVICE_PRINCIPAL_SUFFIX) {
            service.to_owned()
        } else {
            format!("{service}{SERVICE_PRINCIPAL_SUFFIX}")
        };
        let (arn, name) = parse_role_arn(role_arn)?;
        check_session_name(session_name)?;
        let role = self
            .trusting_role(
                &arn,
                &name,
                Caller::Service(&principal_name),
                &RequestContext::default(),
            )
            .await?;
        let principal = self
            .session_principal(&role, session_name, role.account)
            .await?;
        tracing::debug!(service = %principal_name, role = %arn, session_name, "service assumed role");
        Ok(principal)
    }

    /// A role session for a server-side job acting as the root of `owner`: the same checks as
    /// [`Iam::assume_role`] with that root as the caller (the role may be in another account,
    /// which must trust `owner`). No credentials are issued.
    pub async fn principal_for_role(
        &self,
        owner: AccountId,
        role_arn: &str,
        session_name: &str,
        external_id: Option<&str>,
    ) -> Result<Principal, IamError> {
        let (arn, name) = parse_role_arn(role_arn)?;
        check_session_name(session_name)?;
        let root = Principal {
            account: owner,
            identity: PrincipalIdentity::Root,
            access_key_id: generate_sts_key_id()?,
            source_ip: None,
            policies: Arc::default(),
            session_policy: None,
        };
        let context = RequestContext {
            external_id,
            ..RequestContext::default()
        };
        let role = self
            .trusting_role(&arn, &name, Caller::Principal(&root), &context)
            .await?;
        self.session_principal(&role, session_name, owner).await
    }

    /// Revokes a session of a role of `account`; its credentials are refused from the next
    /// request on. [`IamError::AccessKeyNotFound`] if the account has no such session.
    pub async fn revoke_session(
        &self,
        account: AccountId,
        id: &AccessKeyId,
    ) -> Result<(), IamError> {
        self.metastore.revoke_sts_session(account, id).await?;
        tracing::info!(%account, access_key_id = %id, "STS session revoked");
        Ok(())
    }

    /// Deletes sessions expired for more than a day, at most once every ten minutes per
    /// process. Failures are logged, never returned: purging is housekeeping.
    async fn purge_expired_sessions(&self) {
        let now = self.now();
        let last = self.sessions_purged_at.load(Ordering::Relaxed);
        if now.saturating_sub(last) < PURGE_INTERVAL
            || self
                .sessions_purged_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        match self
            .metastore
            .purge_expired_sts_sessions(now - PURGE_GRACE)
            .await
        {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "expired STS sessions purged"),
            Err(error) => tracing::warn!(%error, "could not purge expired STS sessions"),
        }
    }
}
