//! Where batches go: the [`LogSink`] trait, its outcomes and errors, and [`NullSink`].
//!
//! A sink is one PutLogs call with a producer key and sequence id. Its contract:
//!
//! * `Ok(PutOutcome::Acked)`: the server committed the group under (key, sequence).
//! * `Ok(PutOutcome::AlreadyCommitted)`: the server had already committed this key at this
//!   sequence or later (`InvalidSequenceId`): the group is delivered — by an earlier attempt.
//! * `Err(SinkError::Transient)`: nothing is known to be committed; retrying may help
//!   (network, 5xx, `ServerBusy`, quota, missing or expired credentials).
//! * `Err(SinkError::Rejected)`: the server refused the data itself (4xx); retrying never helps.

use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use cairn_model::LogGroupData;

/// The logstore a batch goes to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WriteTarget {
    /// The project.
    pub project: String,
    /// The logstore.
    pub logstore: String,
}

/// Credentials to sign a write with (the heartbeat's scoped write tokens).
#[derive(Clone, PartialEq, Eq)]
pub struct WriteCredentials {
    /// AccessKey id (`STS.`-prefixed for temporary credentials).
    pub access_key_id: String,
    /// AccessKey secret.
    pub access_key_secret: String,
    /// STS security token, sent as `x-acs-security-token`.
    pub security_token: Option<String>,
}

impl std::fmt::Debug for WriteCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &"<redacted>")
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// What a successful put means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// Committed now.
    Acked,
    /// Committed by an earlier attempt (`InvalidSequenceId`).
    AlreadyCommitted,
}

/// Why a put failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    /// Worth retrying later.
    #[error("transient send failure: {reason}")]
    Transient {
        /// What happened.
        reason: String,
    },
    /// The server refused the data; never retried.
    #[error("rejected by the server: {code}: {reason}")]
    Rejected {
        /// The SLS error code (`PostBodyInvalid`, ...).
        code: String,
        /// The server's message.
        reason: String,
    },
}

/// One PutLogs with exactly-once semantics per (producer key, sequence).
#[async_trait]
pub trait LogSink: Send + Sync {
    /// Sends `group` to `target` as `producer_key` at `sequence`.
    async fn put(
        &self,
        target: &WriteTarget,
        producer_key: &str,
        sequence: u64,
        group: &LogGroupData,
    ) -> Result<PutOutcome, SinkError>;
}

/// A sink that acknowledges everything and only counts (benchmarks, dry runs).
#[derive(Debug, Default)]
pub struct NullSink {
    puts: AtomicU64,
    logs: AtomicU64,
}

impl NullSink {
    /// A fresh sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// Puts received.
    pub fn puts(&self) -> u64 {
        self.puts.load(Ordering::Relaxed)
    }

    /// Log records received.
    pub fn logs(&self) -> u64 {
        self.logs.load(Ordering::Relaxed)
    }
}

#[async_trait]
impl LogSink for NullSink {
    async fn put(
        &self,
        _target: &WriteTarget,
        _producer_key: &str,
        _sequence: u64,
        group: &LogGroupData,
    ) -> Result<PutOutcome, SinkError> {
        self.puts.fetch_add(1, Ordering::Relaxed);
        self.logs
            .fetch_add(group.logs.len() as u64, Ordering::Relaxed);
        Ok(PutOutcome::Acked)
    }
}
