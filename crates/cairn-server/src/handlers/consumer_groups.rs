//! Consumer group APIs, as SLS's consumer libraries use them: Create/List/Update/Delete
//! ConsumerGroup, ConsumerGroupHeartBeat, ConsumerGroupUpdateCheckPoint and GetCheckPoint.
//!
//! State lives in the metastore ([`cairn_meta::ConsumerGroupStore`]), so groups, shard
//! holders and checkpoints survive restarts and are the same on every node. Each call is
//! authorised with SLS's action name on the group's ARN
//! (`acs:log:<region>:<account>:project/<p>/logstore/<l>/consumergroup/<group>`, `.../*` for
//! ListConsumerGroup) before anything of the logstore is read.
//!
//! Invariants: a checkpoint is a cursor of the logstore (checked like PullLogs checks one),
//! so a consumer resuming from it reads on exactly where the checkpoint says; GetCheckPoint
//! answers one entry per requested shard, with an empty checkpoint for a shard never
//! checkpointed (the Python consumer library needs an entry to start from its own position).

use cairn_meta::{
    CheckpointUpdate, ConsumerGroupRecord, ConsumerGroupUpdate, ConsumerHeartbeat, LogstoreRecord,
    ProjectRecord,
};
use cairn_model::{ConsumerGroupName, ConsumerName, ResourceArn};
use serde::Deserialize;
use serde_json::{json, Value};

use super::shards::{check_shard, cursor_offset, ONLY_SHARD};
use super::{now_seconds, parse_bool, Context};
use crate::error::ApiError;
use crate::response::ApiResponse;

/// The longest heartbeat timeout a group may have, in seconds (SLS: 86400).
const MAX_TIMEOUT_SECONDS: u64 = 86_400;

/// CreateConsumerGroup's body; numbers and booleans may also arrive as strings.
#[derive(Deserialize)]
struct CreateBody {
    #[serde(rename = "consumerGroup")]
    consumer_group: Option<String>,
    timeout: Option<Value>,
    order: Option<Value>,
}

/// UpdateConsumerGroup's body: either field, or both.
#[derive(Deserialize)]
struct UpdateBody {
    timeout: Option<Value>,
    order: Option<Value>,
}

/// ConsumerGroupUpdateCheckPoint's body.
#[derive(Deserialize)]
struct CheckpointBody {
    shard: Option<Value>,
    checkpoint: Option<String>,
}

pub async fn create(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let body: CreateBody = context.json_body()?;
    let name_text = body
        .consumer_group
        .ok_or_else(|| ApiError::parameter_invalid("consumerGroup is missing"))?;
    let name = ConsumerGroupName::parse(&name_text)?;
    let (project, logstore) =
        authorized_logstore_of_group(&context, "log:CreateConsumerGroup", Some(&name)).await?;
    let timeout_seconds = timeout_of(body.timeout.as_ref())?
        .ok_or_else(|| ApiError::parameter_invalid("timeout is missing"))?;
    let now = now_seconds();
    let group = ConsumerGroupRecord {
        logstore: logstore.id,
        name,
        timeout_seconds,
        in_order: order_of(body.order.as_ref())?.unwrap_or(false),
        created_at: now,
        last_modified_at: now,
    };
    context.state.meta.create_consumer_group(&group).await?;
    tracing::info!(
        project = %project.name,
        logstore = %logstore.name,
        consumer_group = %group.name,
        timeout_seconds,
        "consumer group created"
    );
    Ok(ApiResponse::empty())
}

pub async fn list(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let (_, logstore) =
        authorized_logstore_of_group(&context, "log:ListConsumerGroup", None).await?;
    let groups = context.state.meta.list_consumer_groups(logstore.id).await?;
    let body: Vec<Value> = groups
        .iter()
        .map(|group| {
            json!({
                "name": group.name.as_str(),
                "timeout": group.timeout_seconds,
                "order": group.in_order,
            })
        })
        .collect();
    Ok(ApiResponse::json(&Value::Array(body)))
}

pub async fn update(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let (logstore, name) = authorized_group(&context, "log:UpdateConsumerGroup").await?;
    let body: UpdateBody = context.json_body()?;
    let update = ConsumerGroupUpdate {
        timeout_seconds: timeout_of(body.timeout.as_ref())?,
        in_order: order_of(body.order.as_ref())?,
        modified_at: now_seconds(),
    };
    if update.timeout_seconds.is_none() && update.in_order.is_none() {
        return Err(ApiError::parameter_invalid(
            "nothing to update: send timeout, order or both",
        ));
    }
    let group = context
        .state
        .meta
        .update_consumer_group(logstore.id, &name, &update)
        .await?;
    tracing::info!(
        logstore = %logstore.name,
        consumer_group = %name,
        timeout_seconds = group.timeout_seconds,
        in_order = group.in_order,
        "consumer group updated"
    );
    Ok(ApiResponse::empty())
}

pub async fn delete(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let (logstore, name) = authorized_group(&context, "log:DeleteConsumerGroup").await?;
    context
        .state
        .meta
        .delete_consumer_group(logstore.id, &name)
        .await?;
    tracing::info!(logstore = %logstore.name, consumer_group = %name, "consumer group deleted");
    Ok(ApiResponse::empty())
}

/// ConsumerGroupHeartBeat: `?consumer=<name>` with the JSON array of shards the consumer
/// holds; answers the array of shards it is to hold.
pub async fn heartbeat(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let (logstore, group) = authorized_group(&context, "log:ConsumerGroupHeartBeat").await?;
    let consumer = consumer_of(&context)?
        .ok_or_else(|| ApiError::parameter_invalid("consumer is required"))?;
    let held: Vec<i64> = if context.request.body.iter().all(u8::is_ascii_whitespace) {
        Vec::new()
    } else {
        serde_json::from_slice(&context.request.body).map_err(|error| {
            ApiError::parameter_invalid(format!(
                "the heartbeat body must be a JSON array of shard ids: {error}"
            ))
        })?
    };
    let assigned = context
        .state
        .meta
        .consumer_group_heartbeat(&ConsumerHeartbeat {
            logstore: logstore.id,
            group,
            consumer,
            held_shards: held
                .into_iter()
                .filter_map(|shard| u32::try_from(shard).ok())
                .collect(),
            shards: vec![ONLY_SHARD],
            at: now_seconds(),
        })
        .await?;
    Ok(ApiResponse::json(&json!(assigned)))
}

/// ConsumerGroupUpdateCheckPoint: `?consumer=<name>&forceSuccess=<bool>` with
/// `{"shard", "checkpoint"}`.
pub async fn update_checkpoint(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let (logstore, group) = authorized_group(&context, "log:ConsumerGroupUpdateCheckPoint").await?;
    let body: CheckpointBody = context.json_body()?;
    let shard = match &body.shard {
        Some(Value::Number(number)) => check_shard(&number.to_string())?,
        Some(Value::String(text)) => check_shard(text)?,
        _ => return Err(ApiError::parameter_invalid("shard is missing")),
    };
    let checkpoint = body
        .checkpoint
        .ok_or_else(|| ApiError::parameter_invalid("checkpoint is missing"))?;
    cursor_offset(&context, &logstore, &checkpoint)?;
    let force = parse_bool("forceSuccess", context.request.query_param("forceSuccess"))?;
    context
        .state
        .meta
        .update_consumer_group_checkpoint(&CheckpointUpdate {
            logstore: logstore.id,
            group,
            shard,
            consumer: consumer_of(&context)?,
            checkpoint,
            force,
            at: now_seconds(),
        })
        .await?;
    Ok(ApiResponse::empty())
}

/// GetCheckPoint: every shard's checkpoint, or with `?shard=<id>` that shard's, as
/// `[{"shard","checkpoint","updateTime" (microseconds, as SLS),"consumer"}]`.
pub async fn get_checkpoints(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let (logstore, group) = authorized_group(&context, "log:GetConsumerGroupCheckPoint").await?;
    // A negative shard (the Python SDK's default, -1) means all shards, like none.
    if let Some(shard) = context
        .request
        .query_param("shard")
        .filter(|text| !text.trim().is_empty() && !text.trim().starts_with('-'))
    {
        check_shard(shard)?;
    }
    let saved = context
        .state
        .meta
        .consumer_group_checkpoints(logstore.id, &group)
        .await?;
    let entry = match saved
        .iter()
        .find(|checkpoint| checkpoint.shard == ONLY_SHARD)
    {
        Some(checkpoint) => json!({
            "shard": checkpoint.shard,
            "checkpoint": checkpoint.checkpoint,
            "updateTime": checkpoint.updated_at.saturating_mul(1_000_000),
            "consumer": checkpoint.consumer,
        }),
        None => json!({"shard": ONLY_SHARD, "checkpoint": "", "updateTime": 0, "consumer": ""}),
    };
    Ok(ApiResponse::json(&json!([entry])))
}

/// Authorises `action` on the path's consumer group and loads the logstore it belongs to.
/// A name breaking the naming rule cannot exist: `ConsumerGroupNotExist`.
async fn authorized_group(
    context: &Context<'_>,
    action: &str,
) -> Result<(LogstoreRecord, ConsumerGroupName), ApiError> {
    let text = context.item.unwrap_or_default();
    let name =
        ConsumerGroupName::parse(text).map_err(|_| ApiError::consumer_group_not_exist(text))?;
    let (_, logstore) = authorized_logstore_of_group(context, action, Some(&name)).await?;
    Ok((logstore, name))
}

/// Authorises `action` on a group of the path's logstore (`None`: all its groups).
async fn authorized_logstore_of_group(
    context: &Context<'_>,
    action: &str,
    group: Option<&ConsumerGroupName>,
) -> Result<(ProjectRecord, LogstoreRecord), ApiError> {
    context
        .authorized_logstore_resource(action, |region, project, logstore| {
            ResourceArn::consumer_group(region, project.account, &project.name, logstore, group)
        })
        .await
}

/// The `consumer` query parameter, validated; `None` when absent or empty.
fn consumer_of(context: &Context<'_>) -> Result<Option<ConsumerName>, ApiError> {
    match context.request.query_param("consumer") {
        None | Some("") => Ok(None),
        Some(text) => Ok(Some(ConsumerName::parse(text)?)),
    }
}

/// A group's `timeout`: a JSON number or numeric string from 1 to 86400 seconds.
fn timeout_of(value: Option<&Value>) -> Result<Option<u32>, ApiError> {
    let seconds = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(number)) => number.as_u64(),
        Some(Value::String(text)) => text.trim().parse().ok(),
        Some(_) => None,
    };
    match seconds {
        Some(seconds @ 1..=MAX_TIMEOUT_SECONDS) => Ok(Some(seconds as u32)),
        _ => Err(ApiError::parameter_invalid(format!(
            "timeout must be a number of seconds from 1 to {MAX_TIMEOUT_SECONDS}"
        ))),
    }
}

/// A group's `order`: a JSON boolean, or a string as [`parse_bool`] reads it.
fn order_of(value: Option<&Value>) -> Result<Option<bool>, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(flag)) => Ok(Some(*flag)),
        Some(Value::String(text)) => parse_bool("order", Some(text)).map(Some),
        Some(_) => Err(ApiError::parameter_invalid("order must be true or false")),
    }
}
