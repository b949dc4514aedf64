//! PutLogs: decode, validate, append to the WAL, acknowledge.
//!
//! The body is decompressed under a hard limit ([`MAX_RAW_BODY_BYTES`]) before protobuf
//! decoding, so a decompression bomb is refused without inflating it. The answer is 200 only
//! once the records are fsynced in the write-ahead log. With `/shards/route?key=K&seqid=N` the
//! (key, sequence id) pair is committed with the records and a replay gets
//! `InvalidSequenceId`, which makes agent resends after a crash exactly-once.

use cairn_protocol::compression::{decompress, CompressionType};
use cairn_store::{AppendRequest, ProducerSequence};

use super::Context;
use crate::error::ApiError;
use crate::request::MAX_RAW_BODY_BYTES;
use crate::response::ApiResponse;

/// The most records one PutLogs call may carry (the SDKs' own limit).
const MAX_RECORDS_PER_CALL: usize = 512_000;

pub async fn put_logs(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let (_, logstore) = context.authorized_logstore("log:PostLogStoreLogs").await?;
    let request = context.request;
    if request.header("x-log-mode") == Some("batch_group") {
        return Err(ApiError::parameter_invalid(
            "x-log-mode batch_group is not supported; send one LogGroup per request",
        ));
    }
    let compression = CompressionType::from_header(request.header("x-log-compresstype"))
        .map_err(|error| ApiError::parameter_invalid(error.to_string()))?;
    let raw_size = match request.header("x-log-bodyrawsize") {
        None => None,
        Some(text) => Some(text.trim().parse::<usize>().map_err(|_| {
            ApiError::parameter_invalid(format!(
                "x-log-bodyrawsize must be an integer, got {text:?}"
            ))
        })?),
    };
    let raw = decompress(compression, &request.body, raw_size, MAX_RAW_BODY_BYTES)?;
    let mut group = cairn_protocol::decode_log_group(bytes::Bytes::from(raw))?;
    if group.logs.is_empty() {
        return Err(ApiError::post_body_invalid("the LogGroup holds no logs"));
    }
    if group.logs.len() > MAX_RECORDS_PER_CALL {
        return Err(ApiError::post_body_too_large(format!(
            "{} logs in one call, over the limit of {MAX_RECORDS_PER_CALL}",
            group.logs.len()
        )));
    }
    if group.source.is_empty() {
        group.source = request.source_ip().to_string().into_bytes().into();
    }

    let (shard, producer) = shard_and_producer(&context, logstore.shard_count)?;
    let receipt = context
        .state
        .engine
        .append(AppendRequest {
            logstore: logstore.id,
            shard,
            producer,
            group,
        })
        .await?;
    let metrics = &context.state.metrics;
    metrics.ingested_records.inc_by(receipt.records as u64);
    metrics.ingested_raw_bytes.inc_by(receipt.raw_bytes as u64);
    metrics
        .ingested_wire_bytes
        .inc_by(request.body.len() as u64);
    Ok(ApiResponse::empty())
}

/// The shard a write lands in, and its producer sequence when the client sent one.
///
/// `route?key=K` hashes K onto a shard so one producer's writes stay in order; `seqid=N`
/// makes the write exactly-once for key K. `lb` and the plain path spread round robin.
fn shard_and_producer(
    context: &Context<'_>,
    shard_count: u32,
) -> Result<(u32, Option<ProducerSequence>), ApiError> {
    let request = context.request;
    let Some(key) = request
        .query_param("key")
        .filter(|_| request.path.ends_with("/route"))
    else {
        return Ok((context.state.next_shard(shard_count), None));
    };
    let shard = (fnv1a(key.as_bytes()) % u64::from(shard_count.max(1))) as u32;
    let producer = match request.query_param("seqid") {
        None | Some("") => None,
        Some(text) => Some(ProducerSequence {
            key: key.to_owned(),
            sequence_id: text.trim().parse().map_err(|_| {
                ApiError::parameter_invalid(format!(
                    "seqid must be an unsigned integer, got {text:?}"
                ))
            })?,
        }),
    };
    Ok((shard, producer))
}

/// FNV-1a: a stable hash, so a key maps to the same shard across restarts and versions.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
