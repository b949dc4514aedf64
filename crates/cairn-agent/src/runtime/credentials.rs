//! Which credentials a write uses: the scoped, expiring token the heartbeat handed out for
//! that logstore, or, for configs given locally (`--pipeline`), the agent's own AccessKey.

use std::sync::Arc;

use crate::control::TokenCache;
use crate::delivery::{CredentialSource, WriteCredentials, WriteTarget};

/// Heartbeat tokens first, then an optional fallback.
pub struct TokenCredentials {
    /// Tokens from the heartbeat.
    pub tokens: Arc<TokenCache>,
    /// Used when no token covers the target (local configs only).
    pub fallback: Option<WriteCredentials>,
}

impl CredentialSource for TokenCredentials {
    fn credentials_for(&self, target: &WriteTarget) -> Option<WriteCredentials> {
        self.tokens
            .credentials_for(&target.project, &target.logstore)
            .map(
                |(access_key_id, access_key_secret, security_token)| WriteCredentials {
                    access_key_id,
                    access_key_secret,
                    security_token: Some(security_token).filter(|t| !t.is_empty()),
                },
            )
            .or_else(|| self.fallback.clone())
    }
}
