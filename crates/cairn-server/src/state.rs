//! What every handler shares: the metastore, IAM, the log engine and metrics.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use cairn_query::sql::SqlEngine;

use cairn_iam::{Iam, ResourceDirectory};
use cairn_jobs::JobScheduler;
use cairn_meta::Metastore;
use cairn_model::AccountId;
use cairn_store::LogEngine;

use crate::metrics::ServerMetrics;

/// Settings of the server that handlers read.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// The region written into ARNs and project descriptions.
    pub region: String,
    /// The account created at first start; only it may create accounts.
    pub operator_account: AccountId,
    /// The domains this server answers as its bare endpoint (e.g. `log.example.com`): a Host
    /// equal to one is project-less, and `<project>.<domain>` names a project.
    pub endpoint_domains: Vec<String>,
}

/// The services the server is built from.
pub struct ServerComponents {
    /// Projects, logstores, index configs, accounts and keys.
    pub meta: Arc<dyn Metastore>,
    /// Identity: AccessKeys, policies, roles, STS and authorisation.
    pub iam: Arc<Iam>,
    /// The resource directory: organisations of accounts.
    pub directory: Arc<ResourceDirectory>,
    /// The durable write path and the in-memory read path.
    pub engine: Arc<LogEngine>,
    /// Copy and transform jobs.
    pub jobs: Arc<JobScheduler>,
    /// Prometheus metrics.
    pub metrics: Arc<ServerMetrics>,
    /// The SQL engine of `search | SQL`.
    pub sql: Arc<SqlEngine>,
}

/// The server's shared state; handlers receive it as `Arc<ServerState>`.
pub struct ServerState {
    /// Projects, logstores, index configs, accounts and keys.
    pub meta: Arc<dyn Metastore>,
    /// Identity: AccessKeys, policies, roles, STS and authorisation.
    pub iam: Arc<Iam>,
    /// The resource directory: organisations of accounts.
    pub directory: Arc<ResourceDirectory>,
    /// Copy and transform jobs.
    pub jobs: Arc<JobScheduler>,
    /// The durable write path and the in-memory read path.
    pub engine: Arc<LogEngine>,
    /// Prometheus metrics.
    pub metrics: Arc<ServerMetrics>,
    /// The SQL engine of `search | SQL`.
    pub sql: Arc<SqlEngine>,
    /// The region written into ARNs and project descriptions.
    pub region: String,
    /// The account created at first start; only it may create accounts.
    pub operator_account: AccountId,
    /// Domains answered as the bare endpoint; see [`ServerSettings::endpoint_domains`].
    pub endpoint_domains: Vec<String>,
    next_shard: AtomicU32,
}

impl ServerState {
    /// Assembles the state.
    pub fn new(components: ServerComponents, settings: ServerSettings) -> Arc<Self> {
        let ServerComponents {
            meta,
            iam,
            directory,
            engine,
            jobs,
            metrics,
            sql,
        } = components;
        let ServerSettings {
            region,
            operator_account,
            endpoint_domains,
        } = settings;
        Arc::new(Self {
            meta,
            iam,
            directory,
            jobs,
            engine,
            metrics,
            sql,
            region,
            operator_account,
            endpoint_domains,
            next_shard: AtomicU32::new(0),
        })
    }

    /// A shard for a load-balanced write (`/shards/lb`): round robin over `shard_count`.
    pub fn next_shard(&self, shard_count: u32) -> u32 {
        self.next_shard.fetch_add(1, Ordering::Relaxed) % shard_count.max(1)
    }
}
