//! SQL for the split catalog (see [`crate::SplitStore`]).
//!
//! Invariants kept here: the overlap check and the write it guards run in one
//! `BEGIN IMMEDIATE` transaction; offsets and sizes are stored as non-negative `INTEGER`s
//! (values above `i64::MAX`, which no real log reaches, are refused rather than wrapped).

use async_trait::async_trait;
use cairn_model::LogstoreId;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};

use super::SqliteMetastore;
use crate::{MetaError, SplitRecord, SplitStore, SplitStoreError};

const SPLIT_COLUMNS: &str = "split_id, logstore_id, first_offset, end_offset, min_time, \
     max_time, row_count, raw_bytes, parquet_bytes, index_bytes, merge_level, published_at";

fn stored(column: &str, value: u64) -> Result<i64, MetaError> {
    i64::try_from(value)
        .map_err(|_| MetaError::Corrupt(format!("split {column} {value} does not fit")))
}

fn split_from_row(row: &SqliteRow) -> Result<SplitRecord, MetaError> {
    let count = |column: &str| -> Result<u64, MetaError> {
        let raw: i64 = row.try_get(column)?;
        u64::try_from(raw).map_err(|_| MetaError::Corrupt(format!("stored split {column} {raw}")))
    };
    let level: i64 = row.try_get("merge_level")?;
    Ok(SplitRecord {
        split_id: row.try_get("split_id")?,
        logstore: LogstoreId(row.try_get("logstore_id")?),
        first_offset: count("first_offset")?,
        end_offset: count("end_offset")?,
        min_time: row.try_get("min_time")?,
        max_time: row.try_get("max_time")?,
        row_count: count("row_count")?,
        raw_bytes: count("raw_bytes")?,
        parquet_bytes: count("parquet_bytes")?,
        index_bytes: count("index_bytes")?,
        merge_level: u32::try_from(level)
            .map_err(|_| MetaError::Corrupt(format!("stored split merge level {level}")))?,
        published_at: row.try_get("published_at")?,
    })
}

/// The first published split of `split.logstore` sharing an offset with `split`, ignoring
/// `except`.
async fn overlapping(
    transaction: &mut Transaction<'static, Sqlite>,
    split: &SplitRecord,
    except: &[String],
) -> Result<Option<String>, MetaError> {
    let rows = sqlx::query(
        "SELECT split_id FROM splits WHERE logstore_id = ? AND first_offset < ? \
         AND end_offset > ? ORDER BY first_offset",
    )
    .bind(split.logstore.0)
    .bind(stored("end_offset", split.end_offset)?)
    .bind(stored("first_offset", split.first_offset)?)
    .fetch_all(&mut **transaction)
    .await?;
    for row in rows {
        let id: String = row.try_get("split_id")?;
        if !except.contains(&id) {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

async fn insert(
    transaction: &mut Transaction<'static, Sqlite>,
    split: &SplitRecord,
) -> Result<(), MetaError> {
    sqlx::query(&format!(
        "INSERT INTO splits ({SPLIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(&split.split_id)
    .bind(split.logstore.0)
    .bind(stored("first_offset", split.first_offset)?)
    .bind(stored("end_offset", split.end_offset)?)
    .bind(split.min_time)
    .bind(split.max_time)
    .bind(stored("row_count", split.row_count)?)
    .bind(stored("raw_bytes", split.raw_bytes)?)
    .bind(stored("parquet_bytes", split.parquet_bytes)?)
    .bind(stored("index_bytes", split.index_bytes)?)
    .bind(i64::from(split.merge_level))
    .bind(split.published_at)
    .execute(&mut **transaction)
    .await?;
    Ok(())
}

fn overlap_error(split: &SplitRecord, existing: String) -> SplitStoreError {
    SplitStoreError::Overlap {
        split_id: split.split_id.clone(),
        logstore: split.logstore,
        first_offset: split.first_offset,
        end_offset: split.end_offset,
        existing,
    }
}

#[async_trait]
impl SplitStore for SqliteMetastore {
    async fn publish_split(&self, split: &SplitRecord) -> Result<(), SplitStoreError> {
        let mut transaction = self.begin_write().await?;
        if let Some(existing) = overlapping(&mut transaction, split, &[]).await? {
            return Err(overlap_error(split, existing));
        }
        insert(&mut transaction, split).await?;
        transaction.commit().await.map_err(MetaError::from)?;
        Ok(())
    }

    async fn replace_splits(
        &self,
        inputs: &[String],
        merged: &SplitRecord,
    ) -> Result<(), SplitStoreError> {
        let mut transaction = self.begin_write().await?;
        for input in inputs {
            let found = sqlx::query("SELECT 1 FROM splits WHERE split_id = ? AND logstore_id = ?")
                .bind(input)
                .bind(merged.logstore.0)
                .fetch_optional(&mut *transaction)
                .await
                .map_err(MetaError::from)?;
            if found.is_none() {
                return Err(SplitStoreError::NotPublished {
                    split_id: input.clone(),
                });
            }
        }
        if let Some(existing) = overlapping(&mut transaction, merged, inputs).await? {
            return Err(overlap_error(merged, existing));
        }
        for input in inputs {
            sqlx::query("DELETE FROM splits WHERE split_id = ?")
                .bind(input)
                .execute(&mut *transaction)
                .await
                .map_err(MetaError::from)?;
        }
        insert(&mut transaction, merged).await?;
        transaction.commit().await.map_err(MetaError::from)?;
        Ok(())
    }

    async fn list_splits(&self, logstore: LogstoreId) -> Result<Vec<SplitRecord>, MetaError> {
        let rows = sqlx::query(&format!(
            "SELECT {SPLIT_COLUMNS} FROM splits WHERE logstore_id = ? ORDER BY first_offset"
        ))
        .bind(logstore.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(split_from_row).collect()
    }

    async fn list_all_splits(&self) -> Result<Vec<SplitRecord>, MetaError> {
        let rows = sqlx::query(&format!(
            "SELECT {SPLIT_COLUMNS} FROM splits ORDER BY logstore_id, first_offset"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(split_from_row).collect()
    }

    async fn expired_splits(&self, now: i64) -> Result<Vec<SplitRecord>, MetaError> {
        let columns = SPLIT_COLUMNS
            .split(", ")
            .map(|column| format!("s.{column}"))
            .collect::<Vec<_>>()
            .join(", ");
        let rows = sqlx::query(&format!(
            "SELECT {columns} FROM splits s JOIN logstores l ON l.id = s.logstore_id \
             WHERE l.ttl_days < 3650 AND s.max_time < ? - l.ttl_days * 86400 ORDER BY s.logstore_id, s.first_offset"
        ))
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(split_from_row).collect()
    }

    async fn delete_splits(&self, split_ids: &[String]) -> Result<(), MetaError> {
        let mut transaction = self.begin_write().await?;
        for id in split_ids {
            sqlx::query("DELETE FROM splits WHERE split_id = ?")
                .bind(id)
                .execute(&mut *transaction)
                .await?;
        }
        transaction.commit().await?;
        Ok(())
    }
}
