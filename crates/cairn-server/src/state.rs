//! What every handler shares: the metastore, IAM, the log engine and metrics.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use cairn_iam::Iam;
use cairn_meta::Metastore;
use cairn_model::AccountId;
use cairn_store::LogEngine;

use crate::metrics::ServerMetrics;

/// The server's shared state; handlers receive it as `Arc<ServerState>`.
pub struct ServerState {
    /// Projects, logstores, index configs, accounts and keys.
    pub meta: Arc<dyn Metastore>,
    /// Identity: AccessKeys and authorisation.
    pub iam: Arc<Iam>,
    /// The durable write path and the in-memory read path.
    pub engine: Arc<LogEngine>,
    /// Prometheus metrics.
    pub metrics: Arc<ServerMetrics>,
    /// The region written into ARNs and project descriptions.
    pub region: String,
    /// The account created at first start; only it may create accounts.
    pub operator_account: AccountId,
    next_shard: AtomicU32,
}

impl ServerState {
    /// Assembles the state.
    pub fn new(
        meta: Arc<dyn Metastore>,
        iam: Arc<Iam>,
        engine: Arc<LogEngine>,
        metrics: Arc<ServerMetrics>,
        region: String,
        operator_account: AccountId,
    ) -> Arc<Self> {
        Arc::new(Self {
            meta,
            iam,
            engine,
            metrics,
            region,
            operator_account,
            next_shard: AtomicU32::new(0),
        })
    }

    /// A shard for a load-balanced write (`/shards/lb`): round robin over `shard_count`.
    pub fn next_shard(&self, shard_count: u32) -> u32 {
        self.next_shard.fetch_add(1, Ordering::Relaxed) % shard_count.max(1)
    }
}
