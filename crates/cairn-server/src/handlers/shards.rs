//! Shards and cursors: ListShards, GetCursor and GetCursorTime, and the checks PullLogs
//! shares with them.
//!
//! A Cairn logstore is one totally ordered stream (ADR 0008): it has exactly one shard, `0`,
//! read-write, covering the whole hash-key range, whatever `shardCount` says. A cursor is the
//! base64 of a record offset ([`cairn_protocol::cursor`]).
//!
//! Invariants: every request naming a shard other than 0 gets `ShardNotExist`; every cursor
//! handed out lies between the logstore's first and next offset at the time it is made, and a
//! cursor past the next offset (which Cairn never hands out) is refused as `InvalidCursor`;
//! authorisation (`log:ListShards`, `log:GetCursorOrData` on the logstore's ARN) comes before
//! anything about the logstore is read.

use cairn_meta::{LogstoreRecord, ProjectRecord};
use cairn_model::LogTime;
use cairn_protocol::cursor::{decode_cursor, encode_cursor};
use serde_json::json;

use super::{now_seconds, Context};
use crate::error::ApiError;
use crate::response::ApiResponse;

/// The one shard of every logstore.
pub const ONLY_SHARD: u32 = 0;
/// The hash-key range of the one shard: all of it (32 hex digits, as SLS writes MD5 keys).
const INCLUSIVE_BEGIN_KEY: &str = "00000000000000000000000000000000";
const EXCLUSIVE_END_KEY: &str = "ffffffffffffffffffffffffffffffff";

pub async fn list_shards(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let (_, logstore) = context.authorized_logstore("log:ListShards").await?;
    Ok(ApiResponse::json(&json!([{
        "shardID": ONLY_SHARD,
        "status": "readwrite",
        "inclusiveBeginKey": INCLUSIVE_BEGIN_KEY,
        "exclusiveEndKey": EXCLUSIVE_END_KEY,
        "createTime": logstore.created_at,
    }])))
}

pub async fn get_cursor(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let (_, logstore) = authorized_shard(&context, "log:GetCursorOrData").await?;
    let engine = &context.state.engine;
    let from = context.request.query_param("from").unwrap_or("").trim();
    let offset = match from {
        "begin" => engine.first_offset(logstore.id),
        "end" => engine.next_offset(logstore.id),
        "" => {
            return Err(ApiError::parameter_invalid(
                "from is required: begin, end or a unix time in seconds",
            ))
        }
        seconds => {
            let seconds: u64 = seconds.parse().map_err(|_| {
                ApiError::parameter_invalid(format!(
                    "from must be begin, end or a unix time in seconds, got {seconds:?}"
                ))
            })?;
            match u32::try_from(seconds) {
                Ok(seconds) => {
                    engine
                        .offset_at_time(logstore.id, LogTime::new(seconds, 0))
                        .await?
                }
                // No record's time is that late.
                Err(_) => engine.next_offset(logstore.id),
            }
        }
    };
    Ok(ApiResponse::json(
        &json!({ "cursor": encode_cursor(offset) }),
    ))
}

/// GetCursorTime: the time of the record a cursor points at. Cairn keeps no separate receive
/// time, so this is the record's log time (`__time__`); at the end of the shard, where no
/// record is yet, it is the current time.
pub async fn get_cursor_time(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let (_, logstore) = authorized_shard(&context, "log:GetCursorOrData").await?;
    let cursor = context
        .request
        .query_param("cursor")
        .ok_or_else(|| ApiError::parameter_invalid("cursor is required"))?;
    let offset = cursor_offset(&context, &logstore, cursor)?;
    let (records, _) = context
        .state
        .engine
        .read_from(logstore.id, offset, 1)
        .await?;
    let seconds = records
        .first()
        .map_or_else(now_seconds, |(_, record)| i64::from(record.time.seconds));
    Ok(ApiResponse::json(&json!({ "cursor_time": seconds })))
}

/// Authorises `action` on the path's logstore, then checks the path names its one shard.
pub async fn authorized_shard(
    context: &Context<'_>,
    action: &str,
) -> Result<(ProjectRecord, LogstoreRecord), ApiError> {
    let found = context.authorized_logstore(action).await?;
    check_shard(context.item.unwrap_or_default())?;
    Ok(found)
}

/// The shard a path or body names: `ParameterInvalid` if not a number, `ShardNotExist` unless
/// it is [`ONLY_SHARD`].
pub fn check_shard(text: &str) -> Result<u32, ApiError> {
    let shard: i64 = text.trim().parse().map_err(|_| {
        ApiError::parameter_invalid(format!("shard id must be an integer, got {text:?}"))
    })?;
    if shard != i64::from(ONLY_SHARD) {
        return Err(ApiError::shard_not_exist(&shard.to_string()));
    }
    Ok(ONLY_SHARD)
}

/// The offset a cursor of this logstore stands for: `InvalidCursor` if it is malformed or
/// past the shard's end. An offset below the first one still held is allowed: reads start at
/// the first record still there.
pub fn cursor_offset(
    context: &Context<'_>,
    logstore: &LogstoreRecord,
    cursor: &str,
) -> Result<u64, ApiError> {
    let offset = decode_cursor(cursor)?;
    let end = context.state.engine.next_offset(logstore.id);
    if offset > end {
        return Err(ApiError::invalid_cursor(format!(
            "cursor {cursor} is past the end of shard {ONLY_SHARD} (the end cursor is {})",
            encode_cursor(end)
        )));
    }
    Ok(offset)
}
