//! A real environment for job tests: a SQLite metastore, IAM with roles and policies, and a
//! log engine, all in one temp dir that can be closed and reopened (a server restart).
//!
//! Accounts: `source` owns project `src-proj` (logstore `app`), `dest` owns `dst-proj`
//! (logstore `central`), and the jobs belong to a third account, `owner`. The reader role
//! lives in `source`, the writer role in `dest`; both trust `owner`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use cairn_iam::{Iam, MasterKey};
use cairn_iam::{PolicyReference, PolicyTarget};
use cairn_jobs::{
    EngineLogAccess, JobDefinition, JobMode, JobName, JobOptions, JobScheduler, JobState,
    JobStatus, SinkSpec, SourceSpec, Transform,
};
use cairn_meta::{Metastore, NewLogstore, ProjectRecord, SqliteMetastore};
use cairn_model::{
    AccountId, Field, LogEntry, LogGroupData, LogRecord, LogTime, LogstoreId, LogstoreName,
    PolicyName, ProjectName, RoleName,
};
use cairn_store::{AppendRequest, EngineConfig, LogEngine};
use tempfile::TempDir;

/// The region in resource ARNs (not the default, to see it carried through).
pub const REGION: &str = "eu-test-1";

/// How long a test waits for a job before failing.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Fast options for tests.
pub fn options() -> JobOptions {
    JobOptions {
        batch_records: 10,
        poll_interval: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        ..JobOptions::default()
    }
}

/// The ids of the accounts and logstores, stable across reopen.
#[derive(Debug, Clone, Copy)]
pub struct Ids {
    pub source: AccountId,
    pub dest: AccountId,
    pub owner: AccountId,
    pub source_logstore: LogstoreId,
    pub dest_logstore: LogstoreId,
}

/// The running components.
pub struct Env {
    pub dir: TempDir,
    pub ids: Ids,
    pub meta: Arc<dyn Metastore>,
    pub sqlite: SqliteMetastore,
    pub iam: Arc<Iam>,
    pub engine: Arc<LogEngine>,
    pub scheduler: JobScheduler,
}

fn project(name: &str) -> ProjectName {
    ProjectName::parse(name).expect("project name")
}

fn logstore(name: &str) -> LogstoreName {
    LogstoreName::parse(name).expect("logstore name")
}

/// A trust policy letting `account` (any of its identities) assume the role.
pub fn trusting(account: AccountId) -> String {
    serde_json::json!({
        "Version": "1",
        "Statement": [{
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Principal": {"RAM": [format!("acs:ram::{account}:root")]},
        }],
    })
    .to_string()
}

/// A policy allowing `actions` on one logstore of `account`.
pub fn allowing(actions: &[&str], account: AccountId, project: &str, logstore: &str) -> String {
    serde_json::json!({
        "Version": "1",
        "Statement": [{
            "Effect": "Allow",
            "Action": actions,
            "Resource": [format!("acs:log:*:{account}:project/{project}/logstore/{logstore}")],
        }],
    })
    .to_string()
}

/// Creates role `name` in `account` trusting `trusted`, with a custom policy allowing
/// `actions` on `project`/`logstore`; returns its ARN.
pub async fn role(
    iam: &Iam,
    account: AccountId,
    name: &str,
    trusted: AccountId,
    actions: &[&str],
    (project, logstore): (&str, &str),
) -> String {
    let role_name = RoleName::parse(name).expect("role name");
    let role = iam
        .create_role(
            account,
            role_name.clone(),
            &trusting(trusted),
            String::new(),
            None,
        )
        .await
        .expect("create role");
    let policy = PolicyName::parse(&format!("{name}-policy")).expect("policy name");
    iam.create_policy(
        account,
        policy.clone(),
        &allowing(actions, account, project, logstore),
        String::new(),
    )
    .await
    .expect("create policy");
    iam.attach_policy(
        account,
        &PolicyReference::Custom(policy),
        &PolicyTarget::Role(role_name),
    )
    .await
    .expect("attach policy");
    role.arn().to_string()
}

async fn open_components(
    root: &Path,
) -> (
    SqliteMetastore,
    Arc<dyn Metastore>,
    Arc<Iam>,
    Arc<LogEngine>,
) {
    let sqlite = SqliteMetastore::open(&root.join("meta.db"))
        .await
        .expect("metastore");
    let meta: Arc<dyn Metastore> = Arc::new(sqlite.clone());
    let iam = Arc::new(Iam::new(Arc::clone(&meta), MasterKey::generate()));
    let engine = LogEngine::open(EngineConfig {
        wal_dir: root.join("wal"),
        min_free_disk_bytes: 0,
        ..EngineConfig::default()
    })
    .await
    .expect("engine");
    (sqlite, meta, iam, Arc::new(engine))
}

fn new_scheduler(
    meta: &Arc<dyn Metastore>,
    iam: &Arc<Iam>,
    engine: &Arc<LogEngine>,
    options: JobOptions,
) -> JobScheduler {
    let access = EngineLogAccess::new(Arc::clone(engine), Arc::clone(meta), Arc::clone(iam))
        .with_region(REGION);
    JobScheduler::with_options(Arc::new(access), Arc::clone(meta), options)
}

impl Env {
    /// Accounts, projects and logstores; no roles yet.
    pub async fn new(options: JobOptions) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let (sqlite, meta, iam, engine) = open_components(dir.path()).await;
        let source = iam.create_account("source").await.expect("account").id;
        let dest = iam.create_account("dest").await.expect("account").id;
        let owner = iam.create_account("owner").await.expect("account").id;
        let mut ids = Vec::new();
        for (account, project_name, logstore_name) in
            [(source, "src-proj", "app"), (dest, "dst-proj", "central")]
        {
            meta.create_project(&ProjectRecord {
                name: project(project_name),
                account,
                description: String::new(),
                created_at: 1,
                last_modified_at: 1,
            })
            .await
            .expect("project");
            let created = meta
                .create_logstore(&NewLogstore {
                    project: project(project_name),
                    name: logstore(logstore_name),
                    ttl_days: 30,
                    shard_count: 2,
                    settings: serde_json::json!({}),
                    created_at: 1,
                })
                .await
                .expect("logstore");
            ids.push(created.id);
        }
        let scheduler = new_scheduler(&meta, &iam, &engine, options);
        Self {
            dir,
            ids: Ids {
                source,
                dest,
                owner,
                source_logstore: ids[0],
                dest_logstore: ids[1],
            },
            meta,
            sqlite,
            iam,
            engine,
            scheduler,
        }
    }

    /// The usual pair of roles: a reader in `source`, a writer in `dest`, both trusting the
    /// owner. Returns (reader ARN, writer ARN).
    pub async fn roles(&self) -> (String, String) {
        let reader = role(
            &self.iam,
            self.ids.source,
            "job-reader",
            self.ids.owner,
            &["log:GetLogStoreLogs"],
            ("src-proj", "app"),
        )
        .await;
        let writer = role(
            &self.iam,
            self.ids.dest,
            "job-writer",
            self.ids.owner,
            &["log:PostLogStoreLogs"],
            ("dst-proj", "central"),
        )
        .await;
        (reader, writer)
    }

    /// Only the usual writer role (for tests that make their own reader); returns
    /// (empty, writer ARN).
    pub async fn roles_writer_only(&self) -> (String, String) {
        let writer = role(
            &self.iam,
            self.ids.dest,
            "job-writer",
            self.ids.owner,
            &["log:PostLogStoreLogs"],
            ("dst-proj", "central"),
        )
        .await;
        (String::new(), writer)
    }

    /// A job definition copying `src-proj/app` to `dst-proj/central`.
    pub fn definition(
        &self,
        name: &str,
        (reader, writer): &(String, String),
        mode: JobMode,
    ) -> JobDefinition {
        JobDefinition {
            name: JobName::parse(name).expect("job name"),
            display_name: name.to_owned(),
            owner: self.ids.owner,
            source: SourceSpec {
                project: project("src-proj"),
                logstore: logstore("app"),
                role_arn: reader.clone(),
            },
            sink: SinkSpec {
                name: "central".to_owned(),
                project: project("dst-proj"),
                logstore: logstore("central"),
                role_arn: writer.clone(),
            },
            mode,
            transform: Transform::default(),
        }
    }

    /// Simulates a crash and restart: aborts the job tasks (dropping the scheduler), drops
    /// the engine without a shutdown, closes the metastore, and opens everything again from
    /// the same directory with a new scheduler (not started).
    pub async fn restart(self, options: JobOptions) -> Self {
        let Env {
            dir,
            ids,
            meta,
            sqlite,
            iam,
            engine,
            scheduler,
        } = self;
        drop(scheduler);
        // Aborted tasks unwind at their next poll; they hold clones of the engine, whose
        // WAL lock must be free before it is opened again.
        let mut engine = engine;
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            match Arc::try_unwrap(engine) {
                Ok(alone) => {
                    drop(alone);
                    break;
                }
                Err(shared) => {
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "engine still shared"
                    );
                    engine = shared;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
        drop(iam);
        drop(meta);
        sqlite.close().await;
        drop(sqlite);
        let (sqlite, meta, iam, engine) = open_components(dir.path()).await;
        let scheduler = new_scheduler(&meta, &iam, &engine, options);
        Self {
            dir,
            ids,
            meta,
            sqlite,
            iam,
            engine,
            scheduler,
        }
    }

    /// Appends one record per message to the source, all at `seconds`, with `topic`.
    pub async fn put(&self, topic: &str, messages: &[String], seconds: u32) {
        let group = LogGroupData {
            topic: topic.as_bytes().to_vec().into(),
            source: b"10.0.0.7".to_vec().into(),
            tags: vec![Field::new("host", "web-1")],
            logs: messages
                .iter()
                .map(|message| LogEntry {
                    time: LogTime::new(seconds, 0),
                    contents: vec![Field::new("message", message)],
                })
                .collect(),
        };
        self.engine
            .append(AppendRequest {
                logstore: self.ids.source_logstore,
                shard: 0,
                producer: None,
                group,
            })
            .await
            .expect("append to source");
    }

    /// Everything in a logstore, in offset order.
    pub async fn read_all(&self, logstore: LogstoreId) -> Vec<Arc<LogRecord>> {
        let (records, _) = self
            .engine
            .read_from(logstore, 0, usize::MAX)
            .await
            .expect("read the logstore");
        records.into_iter().map(|(_, record)| record).collect()
    }

    /// The destination's `message` values, in order.
    pub async fn dest_messages(&self) -> Vec<String> {
        messages(&self.read_all(self.ids.dest_logstore).await)
    }

    /// Waits until the job leaves `Running`; returns its final status.
    pub async fn finished(&self, name: &str) -> JobStatus {
        let name = JobName::parse(name).expect("job name");
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let (_, status) = self
                .scheduler
                .get(self.ids.owner, &name)
                .await
                .expect("get job");
            if status.state != JobState::Running {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "job {name} still running: {status:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the destination holds `count` records.
    pub async fn dest_reaches(&self, count: usize) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while self.read_all(self.ids.dest_logstore).await.len() < count {
            assert!(
                tokio::time::Instant::now() < deadline,
                "destination has {} of {count} records",
                self.read_all(self.ids.dest_logstore).await.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits until the job's task in this scheduler has ended (its status channel closes).
    pub async fn task_ended(&self, name: &str) {
        let name = JobName::parse(name).expect("job name");
        let mut status = self
            .scheduler
            .watch(self.ids.owner, &name)
            .await
            .expect("watch");
        tokio::time::timeout(PATIENCE, async { while status.changed().await.is_ok() {} })
            .await
            .expect("the job task ends");
    }
}

/// `message` values of records.
pub fn messages(records: &[Arc<LogRecord>]) -> Vec<String> {
    records
        .iter()
        .map(|record| {
            String::from_utf8_lossy(record.field("message").unwrap_or_default()).into_owned()
        })
        .collect()
}

/// Messages `prefix-0 .. prefix-(n-1)`.
pub fn numbered(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("{prefix}-{i}")).collect()
}

/// Asserts that `got` holds every one of `expected` exactly once, and nothing else.
pub fn assert_exactly_once(got: &[String], expected: &[String]) {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for message in got {
        *counts.entry(message).or_default() += 1;
    }
    let duplicated: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        duplicated.is_empty(),
        "written more than once: {duplicated:?}"
    );
    let missing: Vec<_> = expected
        .iter()
        .filter(|m| !counts.contains_key(m.as_str()))
        .collect();
    assert!(missing.is_empty(), "never written: {missing:?}");
    assert_eq!(got.len(), expected.len(), "unexpected records: {got:?}");
}
