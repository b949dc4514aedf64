//! SQL for copy/transform jobs (see [`crate::JobStore`]).
//!
//! Invariants kept here: a job belongs to an existing account (checked in the same write
//! transaction as the insert); progress is one `UPDATE` keyed by owner, name *and*
//! incarnation, so a stale task never writes into a successor job; counters and offsets are
//! stored as non-negative `INTEGER`s (a value above `i64::MAX`, which no real counter reaches,
//! is refused rather than wrapped).

use async_trait::async_trait;
use cairn_model::AccountId;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use super::identity::require_account;
use super::{account_param, decode_account, decode_json, SqliteMetastore};
use crate::{EntityKind, JobProgress, JobRecord, JobState, JobStore, JobStoreError, MetaError};

const JOB_COLUMNS: &str = "account_id, name, incarnation, definition, state, error, \
     records_read, records_written, bytes_written, records_total, checkpoint_offset, \
     end_offset, source_logstore_id, started_at, updated_at, created_at";

/// A counter or offset as stored.
fn count_param(column: &str, value: u64) -> Result<i64, JobStoreError> {
    i64::try_from(value).map_err(|_| {
        JobStoreError::Meta(MetaError::Corrupt(format!(
            "job {column} {value} does not fit the database"
        )))
    })
}

/// An optional counter or offset as stored.
fn optional_count_param(column: &str, value: Option<u64>) -> Result<Option<i64>, JobStoreError> {
    value.map(|value| count_param(column, value)).transpose()
}

/// A counter or offset read back.
fn decode_count(column: &str, raw: i64) -> Result<u64, MetaError> {
    u64::try_from(raw).map_err(|_| MetaError::Corrupt(format!("stored job {column} {raw}")))
}

fn job_from_row(row: &SqliteRow) -> Result<JobRecord, MetaError> {
    let state: String = row.try_get("state")?;
    let definition: String = row.try_get("definition")?;
    let optional = |column: &str| -> Result<Option<u64>, MetaError> {
        let raw: Option<i64> = row.try_get(column)?;
        raw.map(|raw| decode_count(column, raw)).transpose()
    };
    let count =
        |column: &str| -> Result<u64, MetaError> { decode_count(column, row.try_get(column)?) };
    Ok(JobRecord {
        owner: decode_account(row.try_get("account_id")?)?,
        name: row.try_get("name")?,
        incarnation: row.try_get("incarnation")?,
        definition: decode_json("job definition", &definition)?,
        progress: JobProgress {
            state: JobState::from_stored(&state)
                .ok_or_else(|| MetaError::Corrupt(format!("stored job state {state:?}")))?,
            error: row.try_get("error")?,
            records_read: count("records_read")?,
            records_written: count("records_written")?,
            bytes_written: count("bytes_written")?,
            records_total: optional("records_total")?,
            checkpoint_offset: count("checkpoint_offset")?,
            end_offset: optional("end_offset")?,
            source_logstore: row.try_get("source_logstore_id")?,
            started_at: row.try_get("started_at")?,
            updated_at: row.try_get("updated_at")?,
        },
        created_at: row.try_get("created_at")?,
    })
}

fn job_not_found(owner: AccountId, name: &str) -> JobStoreError {
    JobStoreError::JobNotFound {
        owner,
        name: name.to_owned(),
    }
}

#[async_trait]
impl JobStore for SqliteMetastore {
    async fn create_job(&self, job: &JobRecord) -> Result<(), JobStoreError> {
        let definition = serde_json::to_string(&job.definition).map_err(|err| {
            MetaError::Corrupt(format!("job definition cannot be encoded: {err}"))
        })?;
        let progress = &job.progress;
        let mut tx = self.begin_write().await?;
        require_account(&mut tx, job.owner)
            .await
            .map_err(|err| match err {
                err if err.is_not_found(EntityKind::Account) => {
                    JobStoreError::AccountNotFound { account: job.owner }
                }
                err => JobStoreError::Meta(err),
            })?;
        let inserted = sqlx::query(&format!(
            "INSERT INTO jobs ({JOB_COLUMNS}) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(account_param(job.owner))
        .bind(&job.name)
        .bind(&job.incarnation)
        .bind(definition)
        .bind(progress.state.as_str())
        .bind(&progress.error)
        .bind(count_param("records_read", progress.records_read)?)
        .bind(count_param("records_written", progress.records_written)?)
        .bind(count_param("bytes_written", progress.bytes_written)?)
        .bind(optional_count_param(
            "records_total",
            progress.records_total,
        )?)
        .bind(count_param(
            "checkpoint_offset",
            progress.checkpoint_offset,
        )?)
        .bind(optional_count_param("end_offset", progress.end_offset)?)
        .bind(progress.source_logstore)
        .bind(progress.started_at)
        .bind(progress.updated_at)
        .bind(job.created_at)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                return Err(JobStoreError::JobAlreadyExists {
                    owner: job.owner,
                    name: job.name.clone(),
                });
            }
            Err(err) => return Err(err.into()),
        }
        tx.commit().await?;
        Ok(())
    }

    async fn get_job(&self, owner: AccountId, name: &str) -> Result<JobRecord, JobStoreError> {
        let row = sqlx::query(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE account_id = ? AND name = ?"
        ))
        .bind(account_param(owner))
        .bind(name)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| job_not_found(owner, name))?;
        Ok(job_from_row(&row)?)
    }

    async fn list_jobs(&self, owner: AccountId) -> Result<Vec<JobRecord>, JobStoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE account_id = ? ORDER BY name"
        ))
        .bind(account_param(owner))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(job_from_row)
            .collect::<Result<_, MetaError>>()?)
    }

    async fn list_jobs_in_state(&self, state: JobState) -> Result<Vec<JobRecord>, JobStoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE state = ? ORDER BY account_id, name"
        ))
        .bind(state.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(job_from_row)
            .collect::<Result<_, MetaError>>()?)
    }

    async fn save_job_progress(
        &self,
        owner: AccountId,
        name: &str,
        incarnation: &str,
        progress: &JobProgress,
    ) -> Result<(), JobStoreError> {
        let updated = sqlx::query(
            "UPDATE jobs SET state = ?, error = ?, records_read = ?, records_written = ?, \
             bytes_written = ?, records_total = ?, checkpoint_offset = ?, end_offset = ?, \
             source_logstore_id = ?, started_at = ?, updated_at = ? \
             WHERE account_id = ? AND name = ? AND incarnation = ?",
        )
        .bind(progress.state.as_str())
        .bind(&progress.error)
        .bind(count_param("records_read", progress.records_read)?)
        .bind(count_param("records_written", progress.records_written)?)
        .bind(count_param("bytes_written", progress.bytes_written)?)
        .bind(optional_count_param(
            "records_total",
            progress.records_total,
        )?)
        .bind(count_param(
            "checkpoint_offset",
            progress.checkpoint_offset,
        )?)
        .bind(optional_count_param("end_offset", progress.end_offset)?)
        .bind(progress.source_logstore)
        .bind(progress.started_at)
        .bind(progress.updated_at)
        .bind(account_param(owner))
        .bind(name)
        .bind(incarnation)
        .execute(&self.pool)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(job_not_found(owner, name));
        }
        Ok(())
    }

    async fn delete_job(&self, owner: AccountId, name: &str) -> Result<(), JobStoreError> {
        let deleted = sqlx::query("DELETE FROM jobs WHERE account_id = ? AND name = ?")
            .bind(account_param(owner))
            .bind(name)
            .execute(&self.pool)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(job_not_found(owner, name));
        }
        Ok(())
    }
}
