//! SQL for consumer groups (see [`crate::ConsumerGroupStore`]).
//!
//! Invariants kept here: every write that reads before it writes (create, heartbeat,
//! checkpoint) runs in one `BEGIN IMMEDIATE` transaction, so two heartbeats of one group are
//! serialised and a shard can never be handed to two consumers; a heartbeat first deletes the
//! members that missed their heartbeats and frees their shards, then decides with
//! [`assign_shards`] on that state; rows below a group go with it through `ON DELETE CASCADE`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use cairn_model::{ConsumerGroupName, LogstoreId};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};

use super::{decode_text, decode_u32, SqliteMetastore};
use crate::shard_assignment::{assign_shards, AssignmentInput};
use crate::{
    CheckpointUpdate, ConsumerGroupRecord, ConsumerGroupStore, ConsumerGroupStoreError,
    ConsumerGroupUpdate, ConsumerHeartbeat, MetaError, ShardCheckpoint,
};

const GROUP_COLUMNS: &str =
    "logstore_id, name, timeout_seconds, in_order, created_at, last_modified_at";

/// Rows of one group: `?1` is the logstore id, `?2` the group's name.
const OF_GROUP: &str = "logstore_id = ?1 AND group_name = ?2";

fn group_from_row(row: &SqliteRow) -> Result<ConsumerGroupRecord, MetaError> {
    let in_order: i64 = row.try_get("in_order")?;
    Ok(ConsumerGroupRecord {
        logstore: LogstoreId(row.try_get("logstore_id")?),
        name: decode_text(row.try_get("name")?, ConsumerGroupName::parse)?,
        timeout_seconds: decode_u32("timeout_seconds", row.try_get("timeout_seconds")?)?,
        in_order: in_order != 0,
        created_at: row.try_get("created_at")?,
        last_modified_at: row.try_get("last_modified_at")?,
    })
}

fn group_not_found(name: &ConsumerGroupName) -> ConsumerGroupStoreError {
    ConsumerGroupStoreError::GroupNotFound {
        group: name.clone(),
    }
}

/// The group's heartbeat timeout, or `GroupNotFound`.
async fn group_timeout(
    tx: &mut Transaction<'static, Sqlite>,
    logstore: LogstoreId,
    name: &ConsumerGroupName,
) -> Result<i64, ConsumerGroupStoreError> {
    let timeout: Option<i64> = sqlx::query_scalar(
        "SELECT timeout_seconds FROM consumer_groups WHERE logstore_id = ? AND name = ?",
    )
    .bind(logstore.0)
    .bind(name.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    timeout.ok_or_else(|| group_not_found(name))
}

/// A shard number as stored, or back.
fn decode_shard(raw: i64) -> Result<u32, MetaError> {
    decode_u32("shard", raw)
}

#[async_trait]
impl ConsumerGroupStore for SqliteMetastore {
    async fn create_consumer_group(
        &self,
        group: &ConsumerGroupRecord,
    ) -> Result<(), ConsumerGroupStoreError> {
        let mut tx = self.begin_write().await?;
        let logstore_exists = sqlx::query("SELECT 1 FROM logstores WHERE id = ?")
            .bind(group.logstore.0)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !logstore_exists {
            return Err(ConsumerGroupStoreError::LogstoreNotFound {
                logstore: group.logstore,
            });
        }
        let inserted = sqlx::query(&format!(
            "INSERT INTO consumer_groups ({GROUP_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
        ))
        .bind(group.logstore.0)
        .bind(group.name.as_str())
        .bind(i64::from(group.timeout_seconds))
        .bind(i64::from(group.in_order))
        .bind(group.created_at)
        .bind(group.last_modified_at)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                return Err(ConsumerGroupStoreError::GroupAlreadyExists {
                    group: group.name.clone(),
                });
            }
            Err(err) => return Err(err.into()),
        }
        tx.commit().await?;
        Ok(())
    }

    async fn get_consumer_group(
        &self,
        logstore: LogstoreId,
        name: &ConsumerGroupName,
    ) -> Result<ConsumerGroupRecord, ConsumerGroupStoreError> {
        let row = sqlx::query(&format!(
            "SELECT {GROUP_COLUMNS} FROM consumer_groups WHERE logstore_id = ? AND name = ?"
        ))
        .bind(logstore.0)
        .bind(name.as_str())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| group_not_found(name))?;
        Ok(group_from_row(&row)?)
    }

    async fn list_consumer_groups(
        &self,
        logstore: LogstoreId,
    ) -> Result<Vec<ConsumerGroupRecord>, ConsumerGroupStoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {GROUP_COLUMNS} FROM consumer_groups WHERE logstore_id = ? ORDER BY name"
        ))
        .bind(logstore.0)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(group_from_row)
            .collect::<Result<_, MetaError>>()?)
    }

    async fn update_consumer_group(
        &self,
        logstore: LogstoreId,
        name: &ConsumerGroupName,
        update: &ConsumerGroupUpdate,
    ) -> Result<ConsumerGroupRecord, ConsumerGroupStoreError> {
        let row = sqlx::query(&format!(
            "UPDATE consumer_groups SET timeout_seconds = coalesce(?, timeout_seconds), \
             in_order = coalesce(?, in_order), last_modified_at = ? \
             WHERE logstore_id = ? AND name = ? RETURNING {GROUP_COLUMNS}"
        ))
        .bind(update.timeout_seconds.map(i64::from))
        .bind(update.in_order.map(i64::from))
        .bind(update.modified_at)
        .bind(logstore.0)
        .bind(name.as_str())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| group_not_found(name))?;
        Ok(group_from_row(&row)?)
    }

    async fn delete_consumer_group(
        &self,
        logstore: LogstoreId,
        name: &ConsumerGroupName,
    ) -> Result<(), ConsumerGroupStoreError> {
        let deleted = sqlx::query("DELETE FROM consumer_groups WHERE logstore_id = ? AND name = ?")
            .bind(logstore.0)
            .bind(name.as_str())
            .execute(&self.pool)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(group_not_found(name));
        }
        Ok(())
    }

    async fn consumer_group_heartbeat(
        &self,
        heartbeat: &ConsumerHeartbeat,
    ) -> Result<Vec<u32>, ConsumerGroupStoreError> {
        let logstore = heartbeat.logstore.0;
        let group = heartbeat.group.as_str();
        let mut tx = self.begin_write().await?;
        let timeout = group_timeout(&mut tx, heartbeat.logstore, &heartbeat.group).await?;
        // Members that missed their heartbeats leave, and their shards become free.
        sqlx::query(&format!(
            "DELETE FROM consumer_group_members WHERE {OF_GROUP} AND last_heartbeat_at < ?3"
        ))
        .bind(logstore)
        .bind(group)
        .bind(heartbeat.at.saturating_sub(timeout))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO consumer_group_members (logstore_id, group_name, consumer, \
             last_heartbeat_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (logstore_id, group_name, \
             consumer) DO UPDATE SET last_heartbeat_at = max(last_heartbeat_at, ?4)",
        )
        .bind(logstore)
        .bind(group)
        .bind(heartbeat.consumer.as_str())
        .bind(heartbeat.at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(&format!(
            "UPDATE consumer_group_shards SET holder = NULL WHERE {OF_GROUP} \
             AND holder IS NOT NULL AND holder NOT IN \
             (SELECT consumer FROM consumer_group_members WHERE {OF_GROUP})"
        ))
        .bind(logstore)
        .bind(group)
        .execute(&mut *tx)
        .await?;
        let live: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM consumer_group_members WHERE {OF_GROUP}"
        ))
        .bind(logstore)
        .bind(group)
        .fetch_one(&mut *tx)
        .await?;
        let rows = sqlx::query(&format!(
            "SELECT shard, holder FROM consumer_group_shards WHERE {OF_GROUP} \
             AND holder IS NOT NULL"
        ))
        .bind(logstore)
        .bind(group)
        .fetch_all(&mut *tx)
        .await?;
        let mut holders = BTreeMap::new();
        for row in &rows {
            holders.insert(decode_shard(row.try_get("shard")?)?, row.try_get("holder")?);
        }
        let assignment = assign_shards(&AssignmentInput {
            shards: &heartbeat.shards,
            live_consumers: usize::try_from(live).unwrap_or(1),
            holders: &holders,
            consumer: heartbeat.consumer.as_str(),
            reported: &heartbeat.held_shards,
        });
        for shard in &assignment.taken {
            sqlx::query(
                "INSERT INTO consumer_group_shards (logstore_id, group_name, shard, holder) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (logstore_id, group_name, shard) \
                 DO UPDATE SET holder = ?4",
            )
            .bind(logstore)
            .bind(group)
            .bind(i64::from(*shard))
            .bind(heartbeat.consumer.as_str())
            .execute(&mut *tx)
            .await?;
        }
        for shard in &assignment.released {
            sqlx::query(&format!(
                "UPDATE consumer_group_shards SET holder = NULL WHERE {OF_GROUP} AND shard = ?3"
            ))
            .bind(logstore)
            .bind(group)
            .bind(i64::from(*shard))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(assignment.assigned)
    }

    async fn update_consumer_group_checkpoint(
        &self,
        update: &CheckpointUpdate,
    ) -> Result<(), ConsumerGroupStoreError> {
        let logstore = update.logstore.0;
        let group = update.group.as_str();
        let mut tx = self.begin_write().await?;
        let timeout = group_timeout(&mut tx, update.logstore, &update.group).await?;
        if !update.force {
            let not_a_member = || ConsumerGroupStoreError::ConsumerNotFound {
                group: update.group.clone(),
                consumer: update
                    .consumer
                    .as_ref()
                    .map(|c| c.as_str().to_owned())
                    .unwrap_or_default(),
            };
            let consumer = update.consumer.as_ref().ok_or_else(not_a_member)?;
            let last_heartbeat: Option<i64> = sqlx::query_scalar(&format!(
                "SELECT last_heartbeat_at FROM consumer_group_members WHERE {OF_GROUP} \
                 AND consumer = ?3"
            ))
            .bind(logstore)
            .bind(group)
            .bind(consumer.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            if last_heartbeat.is_none_or(|last| update.at.saturating_sub(last) > timeout) {
                return Err(not_a_member());
            }
            let holder: Option<Option<String>> = sqlx::query_scalar(&format!(
                "SELECT holder FROM consumer_group_shards WHERE {OF_GROUP} AND shard = ?3"
            ))
            .bind(logstore)
            .bind(group)
            .bind(i64::from(update.shard))
            .fetch_optional(&mut *tx)
            .await?;
            if holder.flatten().as_deref() != Some(consumer.as_str()) {
                return Err(ConsumerGroupStoreError::ShardNotHeld {
                    group: update.group.clone(),
                    shard: update.shard,
                    consumer: consumer.clone(),
                });
            }
        }
        sqlx::query(
            "INSERT INTO consumer_group_shards (logstore_id, group_name, shard, checkpoint, \
             checkpoint_consumer, checkpoint_updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
             ON CONFLICT (logstore_id, group_name, shard) DO UPDATE SET checkpoint = ?4, \
             checkpoint_consumer = ?5, checkpoint_updated_at = ?6",
        )
        .bind(logstore)
        .bind(group)
        .bind(i64::from(update.shard))
        .bind(&update.checkpoint)
        .bind(update.consumer.as_ref().map_or("", |c| c.as_str()))
        .bind(update.at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn consumer_group_checkpoints(
        &self,
        logstore: LogstoreId,
        name: &ConsumerGroupName,
    ) -> Result<Vec<ShardCheckpoint>, ConsumerGroupStoreError> {
        let mut tx = self.begin_read().await?;
        group_timeout(&mut tx, logstore, name).await?;
        let rows = sqlx::query(&format!(
            "SELECT shard, checkpoint, checkpoint_consumer, checkpoint_updated_at \
             FROM consumer_group_shards WHERE {OF_GROUP} \
             AND checkpoint_updated_at IS NOT NULL ORDER BY shard"
        ))
        .bind(logstore.0)
        .bind(name.as_str())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let checkpoints = rows
            .iter()
            .map(|row| -> Result<ShardCheckpoint, MetaError> {
                Ok(ShardCheckpoint {
                    shard: decode_shard(row.try_get("shard")?)?,
                    checkpoint: row.try_get("checkpoint")?,
                    consumer: row.try_get("checkpoint_consumer")?,
                    updated_at: row.try_get("checkpoint_updated_at")?,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(checkpoints)
    }
}
