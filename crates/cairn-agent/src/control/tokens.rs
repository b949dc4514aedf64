//! Write tokens: the scoped, expiring credentials the heartbeat hands out, one per
//! (project, logstore) the host collects into.
//!
//! [`TokenCache`] keeps the latest token per (project, logstore). A heartbeat's tokens are
//! applied with [`TokenCache::apply`]: when the server marked them as the complete new set
//! (`write_tokens_replaced`) they replace everything held (an empty set revokes all);
//! otherwise they are merged ([`TokenCache::merge`]): a new token replaces the one for its
//! target, targets the answer does not mention keep theirs until they expire (the server may
//! renew only what is close to expiry). Expired tokens are pruned either way. A token is not handed out once it is
//! within [`EXPIRY_MARGIN`] of its expiration, so a batch signed with it still arrives in
//! time; the heartbeat renews long before that.
//!
//! Invariants: [`TokenCache::credentials_for`] never returns an expired token; secrets never
//! appear in `Debug` output. The cache is shared by reference (`&self` everywhere, an internal
//! lock held only for map operations), so the control loop and the senders can share one
//! `Arc<TokenCache>`.

use std::collections::HashMap;
use std::fmt;
use std::sync::RwLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::ControlUpdate;

/// A token this close to its expiration is treated as expired.
pub const EXPIRY_MARGIN: Duration = Duration::from_secs(10);

/// A scoped write credential for one logstore, as the heartbeat delivered it.
#[derive(Clone, PartialEq, Eq)]
pub struct WriteToken {
    /// The project written to.
    pub project: String,
    /// The logstore written to.
    pub logstore: String,
    /// The temporary AccessKey id.
    pub access_key_id: String,
    /// The temporary AccessKey secret.
    pub access_key_secret: String,
    /// The STS token, sent as `x-acs-security-token`.
    pub security_token: String,
    /// When it expires, in Unix seconds.
    pub expiration: i64,
    /// The account (16 digits) that owns the project.
    pub account: String,
}

impl fmt::Debug for WriteToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteToken")
            .field("project", &self.project)
            .field("logstore", &self.logstore)
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &"<redacted>")
            .field("security_token", &"<redacted>")
            .field("expiration", &self.expiration)
            .field("account", &self.account)
            .finish()
    }
}

impl WriteToken {
    /// Whether the token is still usable at `now` (expires later than `now` + margin).
    pub fn is_fresh_at(&self, now: SystemTime) -> bool {
        unix_seconds(now).saturating_add(EXPIRY_MARGIN.as_secs() as i64) < self.expiration
    }
}

/// The credentials to sign a write with: AccessKey id, secret and security token.
pub type Credentials = (String, String, String);

/// Tokens by (project, logstore).
type TokenMap = HashMap<(String, String), WriteToken>;

/// The latest write token per (project, logstore).
#[derive(Default)]
pub struct TokenCache {
    tokens: RwLock<TokenMap>,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let targets: Vec<(String, String)> = match self.tokens.read() {
            Ok(tokens) => tokens.keys().cloned().collect(),
            Err(_) => Vec::new(),
        };
        f.debug_struct("TokenCache")
            .field("targets", &targets)
            .finish()
    }
}

impl TokenCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies a heartbeat's tokens: replaces or merges, as the server said.
    pub fn apply(&self, update: &ControlUpdate) {
        if update.write_tokens_replaced {
            self.replace_at(&update.write_tokens, SystemTime::now());
        } else {
            self.merge_at(&update.write_tokens, SystemTime::now());
        }
    }

    /// Drops every token held, then merges `tokens` at `now` (one atomic step for readers).
    pub fn replace_at(&self, tokens: &[WriteToken], now: SystemTime) {
        let mut held = self
            .tokens
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        held.clear();
        merge_into(&mut held, tokens, now);
    }

    /// Merges a heartbeat's tokens (see the module doc) at the current time.
    pub fn merge(&self, tokens: &[WriteToken]) {
        self.merge_at(tokens, SystemTime::now());
    }

    /// [`TokenCache::merge`] at `now`.
    pub fn merge_at(&self, tokens: &[WriteToken], now: SystemTime) {
        let mut held = self
            .tokens
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        merge_into(&mut held, tokens, now);
    }

    /// The credentials for writing to `project`/`logstore`, if a fresh token is held.
    pub fn credentials_for(&self, project: &str, logstore: &str) -> Option<Credentials> {
        self.credentials_for_at(project, logstore, SystemTime::now())
    }

    /// [`TokenCache::credentials_for`] at `now`.
    pub fn credentials_for_at(
        &self,
        project: &str,
        logstore: &str,
        now: SystemTime,
    ) -> Option<Credentials> {
        self.token_for_at(project, logstore, now).map(|token| {
            (
                token.access_key_id,
                token.access_key_secret,
                token.security_token,
            )
        })
    }

    /// The whole fresh token for `project`/`logstore` at `now` (with its account and
    /// expiration).
    pub fn token_for_at(
        &self,
        project: &str,
        logstore: &str,
        now: SystemTime,
    ) -> Option<WriteToken> {
        let held = self
            .tokens
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        held.get(&(project.to_owned(), logstore.to_owned()))
            .filter(|token| token.is_fresh_at(now))
            .cloned()
    }

    /// How many tokens are held (fresh or not yet pruned).
    pub fn len(&self) -> usize {
        self.tokens
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// Whether no token is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Merges `tokens` into `held` (an earlier-expiring token never replaces a later one: answers
/// may arrive out of order after retries), then prunes what is no longer fresh at `now`.
fn merge_into(held: &mut TokenMap, tokens: &[WriteToken], now: SystemTime) {
    for token in tokens {
        if token.project.is_empty() || token.logstore.is_empty() {
            tracing::warn!(
                project = %token.project,
                logstore = %token.logstore,
                "ignoring write token without a project or logstore"
            );
            continue;
        }
        let key = (token.project.clone(), token.logstore.clone());
        let newer = held
            .get(&key)
            .is_none_or(|current| current.expiration <= token.expiration);
        if newer {
            held.insert(key, token.clone());
        }
    }
    held.retain(|_, token| token.is_fresh_at(now));
}

/// Seconds since the Unix epoch (negative before it).
fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}
