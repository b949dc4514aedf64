//! Faults between the job and the store, injected around the real [`EngineLogAccess`]:
//! acknowledgements lost after the write, transient unavailability, and writes too large for
//! one append. The job retries, splits, and still writes every record exactly once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use cairn_iam::Principal;
use cairn_jobs::{
    AppendOutcome, EngineLogAccess, JobError, JobMode, JobScheduler, JobState, LogAccess,
};
use cairn_model::{AccountId, LogGroupData, LogRecord, LogstoreId, LogstoreName, ProjectName};
use cairn_store::ProducerSequence;

use crate::support::{assert_exactly_once, numbered, options, Env, REGION};

/// Delegates to the real access, with faults on appends.
struct Faulty {
    inner: EngineLogAccess,
    appends: AtomicU64,
    /// Groups with more records than this are refused as too large.
    max_records: usize,
}

#[async_trait]
impl LogAccess for Faulty {
    async fn assume(
        &self,
        owner: AccountId,
        role_arn: &str,
        session: &str,
    ) -> Result<Principal, JobError> {
        self.inner.assume(owner, role_arn, session).await
    }

    async fn resolve(
        &self,
        principal: &Principal,
        role_arn: &str,
        side: &'static str,
        project: &ProjectName,
        logstore: &LogstoreName,
        action: &str,
    ) -> Result<LogstoreId, JobError> {
        self.inner
            .resolve(principal, role_arn, side, project, logstore, action)
            .await
    }

    async fn read_from(
        &self,
        logstore: LogstoreId,
        offset: u64,
        max: usize,
    ) -> Result<(Vec<(u64, Arc<LogRecord>)>, u64), JobError> {
        self.inner.read_from(logstore, offset, max).await
    }

    fn next_offset(&self, logstore: LogstoreId) -> u64 {
        self.inner.next_offset(logstore)
    }

    async fn append(
        &self,
        logstore: LogstoreId,
        producer: ProducerSequence,
        group: LogGroupData,
    ) -> Result<AppendOutcome, JobError> {
        if group.logs.len() > self.max_records {
            return Err(JobError::TooLarge {
                bytes: group.logs.len() as u64,
                limit: self.max_records as u64,
            });
        }
        let unavailable = || JobError::Unavailable {
            reason: "injected".to_owned(),
        };
        match self.appends.fetch_add(1, Ordering::SeqCst) % 4 {
            // Refused before writing.
            1 => Err(unavailable()),
            // Written, but the acknowledgement is lost.
            3 => {
                self.inner.append(logstore, producer, group).await?;
                Err(unavailable())
            }
            _ => self.inner.append(logstore, producer, group).await,
        }
    }
}

#[tokio::test]
async fn lost_acknowledgements_transient_faults_and_oversized_writes_still_copy_once() {
    let env = Env::new(options()).await;
    let roles = env.roles().await;
    let mut expected = Vec::new();
    for chunk in 0..6 {
        let batch = numbered(&format!("f{chunk}"), 0..10);
        env.put("t", &batch, 42).await;
        expected.extend(batch);
    }
    let access = Faulty {
        inner: EngineLogAccess::new(
            Arc::clone(&env.engine),
            Arc::clone(&env.meta),
            Arc::clone(&env.iam),
        )
        .with_region(REGION),
        appends: AtomicU64::new(0),
        max_records: 3,
    };
    let scheduler = JobScheduler::with_options(Arc::new(access), Arc::clone(&env.meta), options());
    let definition = env.definition("faulty", &roles, JobMode::OneOff { from: 0, to: 100 });
    scheduler.create(definition).await.expect("create");
    let name = cairn_jobs::JobName::parse("faulty").expect("name");
    let deadline = tokio::time::Instant::now() + crate::support::PATIENCE;
    let status = loop {
        let (_, status) = scheduler.get(env.ids.owner, &name).await.expect("get");
        if status.state != JobState::Running {
            break status;
        }
        assert!(tokio::time::Instant::now() < deadline, "{status:?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(status.state, JobState::Succeeded, "{status:?}");
    assert_exactly_once(&env.dest_messages().await, &expected);
    assert_eq!(status.records_read, 60);
    assert_eq!(status.records_written, 60);
    let bytes: u64 = env
        .read_all(env.ids.dest_logstore)
        .await
        .iter()
        .map(|record| record.raw_size() as u64)
        .sum();
    assert_eq!(status.bytes_written, bytes);
}
