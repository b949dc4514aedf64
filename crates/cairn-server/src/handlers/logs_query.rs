//! Read APIs: GetLogs (v1 and v2), GetHistograms and ListTopics.
//!
//! A search runs over the logstore's records in the requested time range (nanosecond
//! precision, `[from, to)`), keeps those matching the topic and the search expression, orders
//! them by time (oldest first unless `reverse`) and returns one page (`offset`, `line`).
//! SQL after `|` belongs to the query engine, which is not in this version: such a query gets a
//! clear `ParameterInvalid` instead of a silent wrong answer.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use cairn_meta::{EntityKind, LogstoreRecord, ProjectRecord};
use cairn_model::{IndexConfig, LogRecord, LogTime, TokenQuery, Tokenizer};
use cairn_query::sql::SqlResult;
use cairn_query::{parse_query, SearchMatcher};
use cairn_store::TimeOrderedQuery;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::sql_query;
use super::{parse_bool, Context};
use crate::error::ApiError;
use crate::response::ApiResponse;

/// The most rows one GetLogs page returns (SLS: 100).
const MAX_LINES: u64 = 100;

/// What a search asks for, from v1 query parameters or a v2 JSON body.
#[derive(Debug)]
struct SearchParameters {
    from: LogTime,
    to: LogTime,
    query: String,
    topic: Option<String>,
    line: usize,
    offset: usize,
    reverse: bool,
}

/// The rows of one page and what it took to find them.
struct SearchOutcome {
    page: Vec<Arc<LogRecord>>,
    processed: u64,
    elapsed_millis: u128,
}

pub async fn get_logs_v1(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let (project, logstore) = context.authorized_logstore("log:GetLogStoreLogs").await?;
    let parameters = parameters_from_query(&context)?;
    let outcome = match search(&context, &project, &logstore, &parameters).await? {
        QueryOutcome::Search(outcome) => outcome,
        QueryOutcome::Sql {
            result,
            search,
            sql,
        } => {
            let rows: Vec<Value> = result
                .rows
                .iter()
                .map(|row| sql_query::row_json(&result.columns, row))
                .collect();
            return Ok(v1_response(
                rows,
                result.processed_rows,
                result.elapsed.as_millis(),
                &parameters.query,
                Some((search, sql)),
            ));
        }
    };
    let rows: Vec<Value> = outcome.page.iter().map(|r| record_json(r)).collect();
    Ok(v1_response(
        rows,
        outcome.processed,
        outcome.elapsed_millis,
        &parameters.query,
        None,
    ))
}

/// A GetLogs v1 answer: the rows as a JSON array, SLS's meta in `x-log-*` headers.
/// `sql` holds the search and SQL parts of an analytic query.
fn v1_response(
    rows: Vec<Value>,
    processed_rows: u64,
    elapsed_millis: u128,
    query: &str,
    sql: Option<(String, String)>,
) -> ApiResponse {
    let count = rows.len();
    let has_sql = if sql.is_some() { "True" } else { "False" };
    let (where_query, agg_query) = sql.unwrap_or_else(|| (query.to_owned(), String::new()));
    ApiResponse::json(&Value::Array(rows))
        .with_header("x-log-progress", "Complete")
        .with_header("x-log-count", count.to_string())
        .with_header("x-log-processed-rows", processed_rows.to_string())
        .with_header("x-log-elapsed-millisecond", elapsed_millis.to_string())
        .with_header("x-log-has-sql", has_sql)
        .with_header("x-log-query-info", query_info(query).to_string())
        .with_header("x-log-where-query", where_query)
        .with_header("x-log-agg-query", agg_query)
}

pub async fn get_logs_v2(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let (project, logstore) = context.authorized_logstore("log:GetLogStoreLogs").await?;
    let parameters = parameters_from_body(&context)?;
    let outcome = match search(&context, &project, &logstore, &parameters).await? {
        QueryOutcome::Search(outcome) => outcome,
        QueryOutcome::Sql {
            result,
            search,
            sql,
        } => {
            let rows: Vec<Value> = result
                .rows
                .iter()
                .map(|row| sql_query::row_json(&result.columns, row))
                .collect();
            let meta = json!({
                "progress": "Complete",
                "count": rows.len(),
                "processedRows": result.processed_rows,
                "processedBytes": result.processed_bytes,
                "elapsedMillisecond": result.elapsed.as_millis(),
                "hasSQL": true,
                "whereQuery": search,
                "aggQuery": sql,
                "keys": result.columns,
                "isAccurate": true,
                "limited": if result.truncated { 1 } else { 0 },
                "telementryType": "logging",
                "powerSql": false,
                "terms": [],
                "marker": "",
                "mode": 0,
                "columnTypes": [],
                "highlights": [],
            });
            return Ok(ApiResponse::json(&json!({ "meta": meta, "data": rows })));
        }
    };
    let mut keys = BTreeSet::new();
    let rows: Vec<Value> = outcome
        .page
        .iter()
        .map(|record| {
            keys.extend(record.contents.iter().map(|f| f.key_text().into_owned()));
            record_json(record)
        })
        .collect();
    let meta = json!({
        "progress": "Complete",
        "count": rows.len(),
        "processedRows": outcome.processed,
        "elapsedMillisecond": outcome.elapsed_millis,
        "hasSQL": false,
        "whereQuery": parameters.query,
        "aggQuery": "",
        "cpuSec": 0.0,
        "cpuCores": 0,
        "limited": 0,
        "processedBytes": 0,
        "telementryType": "logging",
        "powerSql": false,
        "insertedSQL": "",
        "keys": keys,
        "terms": [],
        "marker": "",
        "mode": 0,
        "phraseQueryInfo": {"scanAll": false, "beginOffset": 0, "endOffset": 0, "endTime": 0},
        "shard": -1,
        "isAccurate": true,
        "columnTypes": [],
        "highlights": [],
    });
    Ok(ApiResponse::json(&json!({ "meta": meta, "data": rows })))
}

pub async fn get_histograms(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let (project, logstore) = context
        .authorized_logstore("log:GetLogStoreHistogram")
        .await?;
    let mut parameters = parameters_from_query(&context)?;
    parameters.offset = 0;
    parameters.line = usize::MAX;
    let interval = match context.query_u64("interval", 0)? {
        0 => None,
        seconds => Some(u32::try_from(seconds).unwrap_or(u32::MAX)),
    };
    let (search, _) = compile_search(&context, &project, &logstore, &parameters).await?;
    let buckets = if search.matches_everything() {
        sql_query::histogram_of_everything(
            &context,
            sql_query::SqlInput {
                logstore: &logstore,
                index: search.index.as_ref(),
                from: parameters.from,
                to: parameters.to,
                narrowing: None,
            },
            interval,
        )
        .await?
    } else {
        let times = matching_times(&context, &logstore, &parameters, &search).await?;
        cairn_query::histogram(
            parameters.from.seconds,
            parameters.to.seconds.max(parameters.from.seconds),
            interval,
            times.iter().copied(),
        )
    };
    let total: u64 = buckets.iter().map(|b| b.count).sum();
    let body: Vec<Value> = buckets
        .iter()
        .map(|b| json!({"from": b.from, "to": b.to, "count": b.count, "progress": "Complete"}))
        .collect();
    Ok(ApiResponse::json(&Value::Array(body))
        .with_header("x-log-progress", "Complete")
        .with_header("x-log-count", total.to_string()))
}

pub async fn list_topics(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let (_, logstore) = context.authorized_logstore("log:ListTopics").await?;
    let line = context.query_u64("line", 100)?.clamp(1, 1000) as usize;
    let token = context.request.query_param("token").unwrap_or("");
    let mut topics: BTreeSet<String> = BTreeSet::new();
    context
        .state
        .engine
        .visit(
            logstore.id,
            LogTime::new(0, 0),
            LogTime::new(u32::MAX, 999_999_999),
            &TokenQuery::Everything,
            &mut |record| {
                let topic = String::from_utf8_lossy(&record.topic);
                if topic.as_ref() >= token && !topics.contains(topic.as_ref()) {
                    topics.insert(topic.into_owned());
                }
            },
        )
        .await?;
    let page: Vec<&String> = topics.iter().take(line).collect();
    let next = topics.iter().nth(line).cloned().unwrap_or_default();
    Ok(ApiResponse::json(&json!(page))
        .with_header("x-log-count", page.len().to_string())
        .with_header("x-log-nexttoken", next))
}

/// What a GetLogs query produced: a page of records, or a SQL result.
enum QueryOutcome {
    Search(SearchOutcome),
    Sql {
        result: SqlResult,
        /// The search part (before `|`).
        search: String,
        /// The SQL part (after `|`).
        sql: String,
    },
}

async fn search(
    context: &Context<'_>,
    project: &ProjectRecord,
    logstore: &LogstoreRecord,
    parameters: &SearchParameters,
) -> Result<QueryOutcome, ApiError> {
    let started = Instant::now();
    let (search, sql) = compile_search(context, project, logstore, parameters).await?;
    let accept = |record: &LogRecord| search.accepts(record);
    if let Some(sql) = sql {
        let narrowing = (!search.matches_everything()).then_some((
            &search.tokens,
            &accept as &(dyn Fn(&LogRecord) -> bool + Sync),
        ));
        let result = sql_query::run_sql(
            context,
            project,
            &sql,
            sql_query::SqlInput {
                logstore,
                index: search.index.as_ref(),
                from: parameters.from,
                to: parameters.to,
                narrowing,
            },
        )
        .await?;
        let search_text = parameters
            .query
            .split_once('|')
            .map_or(parameters.query.as_str(), |(search, _)| search)
            .trim()
            .to_owned();
        return Ok(QueryOutcome::Sql {
            result,
            search: search_text,
            sql,
        });
    }
    let query = TimeOrderedQuery {
        from: parameters.from,
        to: parameters.to,
        tokens: &search.tokens,
        accept: &accept,
        newest_first: parameters.reverse,
        limit: parameters.offset.saturating_add(parameters.line),
    };
    let (found, examined) = context
        .state
        .engine
        .first_by_time(logstore.id, &query)
        .await?;
    let page = found
        .into_iter()
        .skip(parameters.offset)
        .take(parameters.line)
        .collect();
    Ok(QueryOutcome::Search(SearchOutcome {
        page,
        processed: examined,
        elapsed_millis: started.elapsed().as_millis(),
    }))
}

/// A search statement compiled for one logstore: the matcher, the tokens the split index
/// can skip blocks by, and the topic filter.
struct CompiledSearch {
    matcher: SearchMatcher,
    tokens: TokenQuery,
    topic: Option<Vec<u8>>,
    index: Option<IndexConfig>,
}

impl CompiledSearch {
    /// Whether every record in the time range matches (so nothing needs checking).
    fn matches_everything(&self) -> bool {
        self.topic.is_none() && self.matcher.matches_all()
    }

    fn accepts(&self, record: &LogRecord) -> bool {
        self.topic
            .as_deref()
            .is_none_or(|topic| record.topic == topic)
            && (self.matcher.matches_all() || self.matcher.matches(record))
    }
}

/// Compiles the search part of the query; returns it with the SQL part, if any.
async fn compile_search(
    context: &Context<'_>,
    project: &ProjectRecord,
    logstore: &LogstoreRecord,
    parameters: &SearchParameters,
) -> Result<(CompiledSearch, Option<String>), ApiError> {
    let query = parse_query(&parameters.query)?;
    let index = index_config(context, project, logstore).await?;
    let matcher = SearchMatcher::new(&query.search, index.as_ref())?;
    let tokens = matcher.token_query(&Tokenizer::sls_default());
    let compiled = CompiledSearch {
        matcher,
        tokens,
        topic: parameters
            .topic
            .as_ref()
            .map(|topic| topic.as_bytes().to_vec()),
        index,
    };
    Ok((compiled, query.sql))
}

/// The times (seconds) of every record the search matches, visiting the logstore a few
/// blocks at a time.
async fn matching_times(
    context: &Context<'_>,
    logstore: &LogstoreRecord,
    parameters: &SearchParameters,
    search: &CompiledSearch,
) -> Result<Vec<u32>, ApiError> {
    let mut times = Vec::new();
    context
        .state
        .engine
        .visit(
            logstore.id,
            parameters.from,
            parameters.to,
            &search.tokens,
            &mut |record| {
                if search.accepts(record) {
                    times.push(record.time.seconds);
                }
            },
        )
        .await?;
    Ok(times)
}

async fn index_config(
    context: &Context<'_>,
    project: &ProjectRecord,
    logstore: &LogstoreRecord,
) -> Result<Option<IndexConfig>, ApiError> {
    match context
        .state
        .meta
        .get_index(&project.name, &logstore.name)
        .await
    {
        Ok(config) => Ok(Some(config)),
        Err(error) if error.is_not_found(EntityKind::Index) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

fn parameters_from_query(context: &Context<'_>) -> Result<SearchParameters, ApiError> {
    let request = context.request;
    let seconds = |name: &str| -> Result<u32, ApiError> {
        let value = context.query_u64(name, 0)?;
        u32::try_from(value)
            .map_err(|_| ApiError::parameter_invalid(format!("{name} is out of range")))
    };
    let from = LogTime::new(seconds("from")?, seconds("fromNs")?);
    let to = LogTime::new(seconds("to")?, seconds("toNs")?);
    SearchParameters::checked(
        from,
        to,
        request.query_param("query").unwrap_or("").to_owned(),
        request.query_param("topic").map(str::to_owned),
        context.query_u64("line", MAX_LINES)?,
        context.query_u64("offset", 0)?,
        parse_bool("reverse", request.query_param("reverse"))?,
    )
}

/// The v2 body; numbers may arrive as JSON numbers or strings, booleans as either too.
#[derive(Deserialize)]
struct SearchBody {
    from: Option<Value>,
    to: Option<Value>,
    #[serde(rename = "fromNs")]
    from_ns: Option<Value>,
    #[serde(rename = "toNs")]
    to_ns: Option<Value>,
    query: Option<String>,
    topic: Option<String>,
    line: Option<Value>,
    offset: Option<Value>,
    reverse: Option<Value>,
}

fn parameters_from_body(context: &Context<'_>) -> Result<SearchParameters, ApiError> {
    let body: SearchBody = context.json_body()?;
    let number = |name: &str, value: &Option<Value>, default: u64| -> Result<u64, ApiError> {
        match value {
            None | Some(Value::Null) => Some(default),
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) if s.is_empty() => Some(default),
            Some(Value::String(s)) => s.trim().parse().ok(),
            Some(_) => None,
        }
        .ok_or_else(|| {
            ApiError::parameter_invalid(format!("{name} must be a non-negative integer"))
        })
    };
    let seconds = |name: &str, value: &Option<Value>| -> Result<u32, ApiError> {
        u32::try_from(number(name, value, 0)?)
            .map_err(|_| ApiError::parameter_invalid(format!("{name} is out of range")))
    };
    let reverse = match &body.reverse {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => parse_bool("reverse", Some(s))?,
        _ => false,
    };
    SearchParameters::checked(
        LogTime::new(
            seconds("from", &body.from)?,
            seconds("fromNs", &body.from_ns)?,
        ),
        LogTime::new(seconds("to", &body.to)?, seconds("toNs", &body.to_ns)?),
        body.query.unwrap_or_default(),
        body.topic,
        number("line", &body.line, MAX_LINES)?,
        number("offset", &body.offset, 0)?,
        reverse,
    )
}

impl SearchParameters {
    fn checked(
        from: LogTime,
        to: LogTime,
        query: String,
        topic: Option<String>,
        line: u64,
        offset: u64,
        reverse: bool,
    ) -> Result<Self, ApiError> {
        if to < from {
            return Err(ApiError::parameter_invalid(format!(
                "to ({}) is before from ({})",
                to.seconds, from.seconds
            )));
        }
        if line > MAX_LINES {
            return Err(ApiError::parameter_invalid(format!(
                "line must be at most {MAX_LINES}, got {line}"
            )));
        }
        Ok(Self {
            from,
            to,
            query,
            topic: topic.filter(|t| !t.is_empty()),
            line: line as usize,
            offset: usize::try_from(offset).unwrap_or(usize::MAX),
            reverse,
        })
    }
}

/// A record as SLS returns it: every value a string, reserved keys first.
fn record_json(record: &LogRecord) -> Value {
    let mut object = Map::new();
    object.insert("__time__".into(), json!(record.time.seconds.to_string()));
    object.insert(
        "__time_ns_part__".into(),
        json!(record.time.nanos.to_string()),
    );
    object.insert(
        "__topic__".into(),
        json!(String::from_utf8_lossy(&record.topic)),
    );
    object.insert(
        "__source__".into(),
        json!(String::from_utf8_lossy(&record.source)),
    );
    for tag in &record.tags {
        object.insert(
            format!("__tag__:{}", tag.key_text()),
            json!(tag.value_text()),
        );
    }
    for field in &record.contents {
        object.insert(field.key_text().into_owned(), json!(field.value_text()));
    }
    Value::Object(object)
}

fn query_info(query: &str) -> Value {
    json!({"mode": 0, "isAccurate": true, "where": query})
}
