//! Suite tests for copy/transform jobs ([`crate::JobStore`]).

use super::{account, account_id};
use crate::{JobProgress, JobRecord, JobState, JobStoreError, Metastore};

fn job(owner: u64, name: &str, incarnation: &str) -> JobRecord {
    JobRecord {
        owner: account_id(owner),
        name: name.to_owned(),
        incarnation: incarnation.to_owned(),
        definition: serde_json::json!({ "name": name, "configuration": { "logstore": "src" } }),
        progress: JobProgress {
            state: JobState::Running,
            error: None,
            records_read: 0,
            records_written: 0,
            bytes_written: 0,
            records_total: None,
            checkpoint_offset: 0,
            end_offset: None,
            source_logstore: None,
            started_at: 1_700_000_500,
            updated_at: 1_700_000_500,
        },
        created_at: 1_700_000_500,
    }
}

/// Jobs: created under an existing account, unique per owner, listed by name and by state,
/// progress saved only into the same incarnation, deleted.
pub async fn jobs_round_trip_with_progress_and_incarnations(metastore: &dyn Metastore) {
    metastore
        .create_account(&account(1, "first"))
        .await
        .expect("account");
    metastore
        .create_account(&account(2, "second"))
        .await
        .expect("account");

    let orphan = metastore
        .create_job(&job(99, "copy", "i0"))
        .await
        .expect_err("no such account");
    assert!(
        matches!(orphan, JobStoreError::AccountNotFound { account } if account == account_id(99)),
        "{orphan:?}"
    );

    let copy = job(1, "copy", "i1");
    let archive = job(1, "archive", "i2");
    metastore.create_job(&copy).await.expect("copy");
    metastore.create_job(&archive).await.expect("archive");
    // The same name under another owner is another job.
    metastore
        .create_job(&job(2, "copy", "i3"))
        .await
        .expect("other owner");
    let clash = metastore
        .create_job(&job(1, "copy", "i4"))
        .await
        .expect_err("duplicate");
    assert!(
        matches!(clash, JobStoreError::JobAlreadyExists { .. }),
        "{clash:?}"
    );
    assert!(!clash.is_transient());

    assert_eq!(
        metastore.get_job(account_id(1), "copy").await.expect("get"),
        copy
    );
    let names: Vec<String> = metastore
        .list_jobs(account_id(1))
        .await
        .expect("list")
        .into_iter()
        .map(|job| job.name)
        .collect();
    assert_eq!(names, ["archive", "copy"]);
    assert!(metastore
        .list_jobs(account_id(77))
        .await
        .expect("list")
        .is_empty());

    let progress = JobProgress {
        state: JobState::Failed,
        error: Some("grant log:PostLogStoreLogs".to_owned()),
        records_read: 10,
        records_written: 7,
        bytes_written: 700,
        records_total: Some(12),
        checkpoint_offset: 11,
        end_offset: Some(20),
        source_logstore: Some(5),
        started_at: 1_700_000_500,
        updated_at: 1_700_000_600,
    };
    metastore
        .save_job_progress(account_id(1), "copy", "i1", &progress)
        .await
        .expect("save");
    let saved = metastore.get_job(account_id(1), "copy").await.expect("get");
    assert_eq!(saved.progress, progress);
    assert_eq!(saved.definition, copy.definition);

    // A stale incarnation cannot save.
    let stale = metastore
        .save_job_progress(
            account_id(1),
            "copy",
            "old",
            &job(1, "copy", "old").progress,
        )
        .await
        .expect_err("stale incarnation");
    assert!(
        matches!(stale, JobStoreError::JobNotFound { .. }),
        "{stale:?}"
    );
    assert_eq!(
        metastore
            .get_job(account_id(1), "copy")
            .await
            .expect("get")
            .progress,
        progress
    );

    let running: Vec<(String, String)> = metastore
        .list_jobs_in_state(JobState::Running)
        .await
        .expect("running")
        .into_iter()
        .map(|job| (job.owner.to_string(), job.name))
        .collect();
    assert_eq!(
        running,
        [
            (account_id(1).to_string(), "archive".to_owned()),
            (account_id(2).to_string(), "copy".to_owned()),
        ]
    );
    assert_eq!(
        metastore
            .list_jobs_in_state(JobState::Failed)
            .await
            .expect("failed")
            .len(),
        1
    );

    metastore
        .delete_job(account_id(1), "copy")
        .await
        .expect("delete");
    let gone = metastore
        .get_job(account_id(1), "copy")
        .await
        .expect_err("deleted");
    assert!(
        matches!(gone, JobStoreError::JobNotFound { .. }),
        "{gone:?}"
    );
    let again = metastore
        .delete_job(account_id(1), "copy")
        .await
        .expect_err("already deleted");
    assert!(
        matches!(again, JobStoreError::JobNotFound { .. }),
        "{again:?}"
    );
    // Created again: a new incarnation, and the old one's task cannot write into it.
    metastore
        .create_job(&job(1, "copy", "i5"))
        .await
        .expect("recreate");
    assert!(metastore
        .save_job_progress(account_id(1), "copy", "i1", &progress)
        .await
        .is_err());
    assert_eq!(
        metastore
            .get_job(account_id(1), "copy")
            .await
            .expect("get")
            .incarnation,
        "i5"
    );
}
