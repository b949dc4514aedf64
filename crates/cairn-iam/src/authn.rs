//! Authentication on [`Iam`]: from a presented AccessKey id (and security token) to the
//! [`Principal`] it stands for and the secret to verify the request signature with.
//!
//! Long-term keys (`LTAI...`) authenticate as in [`Iam::authenticate_key`]; a user's principal
//! carries the user's attached policies. Temporary keys (`STS.`) must come with the security
//! token issued with them: the token's SHA-256 is compared in constant time with the stored
//! one, then revocation (a revoked session, or one whose role is gone, is unknown), then
//! expiry. Their principal is a role session of the role's account, carrying the role's
//! policies as they are now (detaching a policy from a role takes effect on live sessions) and
//! the session policy it was issued with, if any.
//!
//! Nothing is cached, so a revoked session or a detached policy takes effect on the next
//! request of every server sharing the metastore.

use std::net::IpAddr;
use std::sync::Arc;

use cairn_model::AccessKeyId;
use subtle::ConstantTimeEq;

use crate::policies::PolicyTarget;
use crate::sts::{token_digest, STS_KEY_PREFIX};
use crate::{Iam, IamError, PolicyDocument, Principal, PrincipalIdentity, SecretString};

impl Iam {
    /// Authenticates a request's AccessKey: returns who it is and the secret to verify the
    /// signature with. Refusals: [`IamError::AccessKeyNotFound`] (unknown, deleted, revoked),
    /// [`IamError::AccessKeyDisabled`], [`IamError::InvalidSecurityToken`] (STS key without its
    /// token or with another), [`IamError::CredentialsExpired`]. A security token sent with a
    /// long-term key is ignored.
    pub async fn authenticate(
        &self,
        key: &AccessKeyId,
        security_token: Option<&str>,
        source_ip: Option<IpAddr>,
    ) -> Result<(Principal, SecretString), IamError> {
        if key.as_str().starts_with(STS_KEY_PREFIX) {
            return self
                .authenticate_session(key, security_token, source_ip)
                .await;
        }
        let credential = self.authenticate_key(key).await?;
        let mut principal = credential.principal(source_ip);
        if let Some(user) = &credential.user {
            principal.policies = self
                .effective_policies(credential.account, &PolicyTarget::User(user.clone()))
                .await?;
        }
        Ok((principal, credential.secret))
    }

    async fn authenticate_session(
        &self,
        key: &AccessKeyId,
        security_token: Option<&str>,
        source_ip: Option<IpAddr>,
    ) -> Result<(Principal, SecretString), IamError> {
        let session = self.metastore.get_sts_session(key).await?;
        let Some(token) = security_token else {
            return Err(IamError::InvalidSecurityToken {
                id: key.clone(),
                reason: "temporary (STS.) credentials need their security token in the \
                         x-acs-security-token header",
            });
        };
        let matches: bool = token_digest(token).ct_eq(&session.token_sha256).into();
        if !matches {
            return Err(IamError::InvalidSecurityToken {
                id: key.clone(),
                reason: "the security token does not belong to these temporary credentials",
            });
        }
        if session.revoked {
            return Err(IamError::AccessKeyNotFound { id: key.clone() });
        }
        if self.now() >= session.expiration {
            return Err(IamError::CredentialsExpired {
                id: key.clone(),
                expired_at: session.expiration,
            });
        }
        let target = PolicyTarget::Role(session.role.clone());
        let policies = match self.effective_policies(session.account, &target).await {
            Ok(policies) => policies,
            // The role was deleted: its sessions died with it.
            Err(IamError::RoleNotFound { .. }) => {
                return Err(IamError::AccessKeyNotFound { id: key.clone() })
            }
            Err(err) => return Err(err),
        };
        let session_policy = match &session.session_policy {
            None => None,
            Some(text) => Some(Arc::new(
                PolicyDocument::parse_session_policy(text).map_err(|err| {
                    IamError::Meta(cairn_meta::MetaError::Corrupt(format!(
                        "stored session policy of {key} does not parse: {err}"
                    )))
                })?,
            )),
        };
        let secret = self.open_secret(key, &session.secret_nonce, &session.secret_ciphertext)?;
        let principal = Principal {
            account: session.account,
            identity: PrincipalIdentity::RoleSession {
                role: session.role,
                session_name: session.session_name,
                assumed_by: session.assumed_by,
            },
            access_key_id: key.clone(),
            source_ip,
            policies,
            session_policy,
        };
        Ok((principal, secret))
    }
}
