//! Logstore APIs: CreateLogStore, GetLogStore, UpdateLogStore, DeleteLogStore, ListLogStores.
//!
//! Write protection (Cairn's extension for audit logstores): a logstore created or updated
//! with `"writeProtected": true` can never lose records before its TTL: deleting it (or its
//! project) and shortening its TTL are refused — also for its owner and for root — and the
//! protection cannot be removed. Retention still deletes records once the TTL has passed.
//!
//! Clients send many settings Cairn does not act on yet (`enable_tracking`, `autoSplit`,
//! `telemetryType`, ...). They are accepted, stored and returned as sent, because the Python
//! SDK retries with fewer keys only after a specific error, and refusing them helps nobody.

use cairn_meta::{ListQuery, LogstoreRecord, LogstoreUpdate, NewLogstore};
use cairn_model::{LogstoreName, ResourceArn};
use serde_json::{json, Map, Value};

use super::{now_seconds, Context};
use crate::error::ApiError;
use crate::response::ApiResponse;

/// The longest retention a logstore may have, in days (SLS: 3650).
const MAX_TTL_DAYS: u64 = 3650;
/// The most shards a logstore may have.
const MAX_SHARDS: u64 = 256;
/// The largest page ListLogStores returns.
const MAX_PAGE_SIZE: u64 = 500;

/// Keys the logstore record holds in its own columns; everything else goes into settings.
const OWN_KEYS: [&str; 3] = ["logstoreName", "ttl", "shardCount"];

pub async fn create(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let project = context.authorized_project("log:CreateLogStore").await?;
    let body: Map<String, Value> = context.json_body()?;
    let name_text = body
        .get("logstoreName")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::parameter_invalid("logstoreName is missing"))?;
    let name = LogstoreName::parse(name_text)?;
    let arn = ResourceArn::logstore(&context.state.region, project.account, &project.name, &name);
    cairn_iam::authorize(context.principal, "log:CreateLogStore", &arn)?;
    let ttl_days = bounded_number(&body, "ttl", 30, MAX_TTL_DAYS)?;
    if body
        .get(WRITE_PROTECTED)
        .is_some_and(|flag| !flag.is_boolean())
    {
        return Err(ApiError::parameter_invalid(
            "writeProtected must be true or false",
        ));
    }
    let shard_count = bounded_number(&body, "shardCount", 2, MAX_SHARDS)?;
    let record = context
        .state
        .meta
        .create_logstore(&NewLogstore {
            project: project.name.clone(),
            name,
            ttl_days,
            shard_count,
            settings: settings_of(&body),
            created_at: now_seconds(),
        })
        .await?;
    tracing::info!(project = %project.name, logstore = %record.name, id = %record.id, "logstore created");
    Ok(ApiResponse::empty())
}

pub async fn get(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let (_, logstore) = context.authorized_logstore("log:GetLogStore").await?;
    Ok(ApiResponse::json(&logstore_json(&logstore)))
}

/// The settings key that marks a logstore write-protected.
const WRITE_PROTECTED: &str = "writeProtected";

/// Whether a logstore is write-protected (see the module doc).
pub(crate) fn is_write_protected(logstore: &LogstoreRecord) -> bool {
    logstore
        .settings
        .get(WRITE_PROTECTED)
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// The refusal of a change a write-protected logstore does not allow.
pub(crate) fn write_protected(logstore: &LogstoreName, change: &str) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::FORBIDDEN,
        "LogStoreWriteProtected",
        format!(
            "logstore {logstore} is write-protected: {change} is refused until its records \
             reach their TTL"
        ),
    )
}

pub async fn update(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let (project, logstore) = context.authorized_logstore("log:UpdateLogStore").await?;
    let body: Map<String, Value> = context.json_body()?;
    if let Some(flag) = body.get(WRITE_PROTECTED) {
        if !flag.is_boolean() {
            return Err(ApiError::parameter_invalid(
                "writeProtected must be true or false",
            ));
        }
    }
    if let Some(name) = body.get("logstoreName").and_then(Value::as_str) {
        if name != logstore.name.as_str() {
            return Err(ApiError::parameter_invalid(format!(
                "logstoreName {name:?} in the body differs from {} in the path",
                logstore.name
            )));
        }
    }
    let mut settings = match logstore.settings.clone() {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    settings.extend(settings_of(&body).as_object().cloned().unwrap_or_default());
    let update = LogstoreUpdate {
        ttl_days: bounded_number(&body, "ttl", u64::from(logstore.ttl_days), MAX_TTL_DAYS)?,
        shard_count: bounded_number(
            &body,
            "shardCount",
            u64::from(logstore.shard_count),
            MAX_SHARDS,
        )?,
        settings: Value::Object(settings),
        modified_at: now_seconds(),
    };
    if is_write_protected(&logstore) {
        if update.ttl_days < logstore.ttl_days {
            return Err(write_protected(&logstore.name, "shortening its TTL"));
        }
        if body.get(WRITE_PROTECTED).and_then(Value::as_bool) == Some(false) {
            return Err(write_protected(&logstore.name, "removing its protection"));
        }
    }
    context
        .state
        .meta
        .update_logstore(&project.name, &logstore.name, &update)
        .await?;
    Ok(ApiResponse::empty())
}

pub async fn delete(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let (project, logstore) = context.authorized_logstore("log:DeleteLogStore").await?;
    if is_write_protected(&logstore) {
        return Err(write_protected(&logstore.name, "deleting it"));
    }
    let id = context
        .state
        .meta
        .delete_logstore(&project.name, &logstore.name)
        .await?;
    context.state.engine.drop_logstore(id).await?;
    tracing::info!(project = %project.name, logstore = %logstore.name, id = %id, "logstore deleted");
    Ok(ApiResponse::empty())
}

pub async fn list(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let project = context.authorized_project("log:ListLogStores").await?;
    let offset = context.query_u64("offset", 0)?;
    let size = context.query_u64("size", 200)?.min(MAX_PAGE_SIZE);
    let mut query = ListQuery::page(offset, size);
    if let Some(name) = context
        .request
        .query_param("logstoreName")
        .filter(|n| !n.is_empty())
    {
        query = query.with_name_containing(name);
    }
    let page = context
        .state
        .meta
        .list_logstores(&project.name, &query)
        .await?;
    let names: Vec<&str> = page.items.iter().map(LogstoreName::as_str).collect();
    Ok(ApiResponse::json(&json!({
        "count": names.len(),
        "total": page.total,
        "logstores": names,
    })))
}

fn logstore_json(logstore: &LogstoreRecord) -> Value {
    let mut object = match &logstore.settings {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    object.insert("logstoreName".into(), json!(logstore.name.as_str()));
    object.insert("ttl".into(), json!(logstore.ttl_days));
    object.insert("shardCount".into(), json!(logstore.shard_count));
    object.insert("createTime".into(), json!(logstore.created_at));
    object.insert("lastModifyTime".into(), json!(logstore.last_modified_at));
    for (key, default) in [
        ("enable_tracking", json!(false)),
        ("autoSplit", json!(false)),
        ("maxSplitShard", json!(64)),
        ("appendMeta", json!(false)),
        ("telemetryType", json!("")),
        ("mode", json!("standard")),
    ] {
        object.entry(key).or_insert(default);
    }
    Value::Object(object)
}

fn settings_of(body: &Map<String, Value>) -> Value {
    Value::Object(
        body.iter()
            .filter(|(key, _)| !OWN_KEYS.contains(&key.as_str()))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect(),
    )
}

/// A positive integer setting in `1..=max`, `default` when absent. Accepts numbers and
/// numeric strings (some clients send `"ttl": "30"`).
fn bounded_number(
    body: &Map<String, Value>,
    key: &str,
    default: u64,
    max: u64,
) -> Result<u32, ApiError> {
    let value = match body.get(key) {
        None | Some(Value::Null) => default,
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
        Some(_) => 0,
    };
    if value == 0 || value > max {
        return Err(ApiError::parameter_invalid(format!(
            "{key} must be an integer from 1 to {max}"
        )));
    }
    u32::try_from(value).map_err(|_| ApiError::parameter_invalid(format!("{key} is too large")))
}
